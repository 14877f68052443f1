"""Every fast path of the IDE solver against a plain computation of the same thing (no timings here).

Round-off comparisons, measured with AVX512 and SSE4.2 kernels: memory vs the plain Gregory sum <= 2.8e-15
(relative; threshold 1e-12), relaxed vs direct solve <= 1.9e-15 (1e-12), batched vs one by one: equal
(1e-12), frequency product 1.3e-15 (1e-13), ring buffer vs plain PECE 1.1e-15 (1e-13), broadcasting
kernels: equal (1e-14)."""

import numpy as np
import pytest

from idelearn.equations.matrix_ide import matrix_ide_problem, paper_training_grid
from idelearn.solvers import solve_ide
from idelearn.solvers.history import ExactMemory
from idelearn.solvers.ide import exact_memory
from idelearn.solvers.multistep import adams_integrate
from idelearn.solvers.quadrature import adams_bashforth, adams_moulton, gregory_weights
from idelearn.solvers.relaxed import RelaxedMemory, _freq_product
from idelearn.solvers.startup import collocation_start
from tests.analytic import H_2X2, dyson


def nonlinear_kernel(G, tau):
    """Depends on G nonlinearly and on the lag; (batch, d, d) for any (batch, d, m)."""
    return np.cos(0.3 * G @ G.conj().transpose(0, 2, 1)) * np.exp(-0.1 * tau)


@pytest.mark.parametrize("make", [
    pytest.param(lambda dt, n, p: ExactMemory(nonlinear_kernel, dt, n, p), id="direct"),
    pytest.param(lambda dt, n, p: RelaxedMemory(nonlinear_kernel, dt, n, p, block=8), id="relaxed"),
])
@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 2, 2), (1, 2, 1), (1, 3, 3)], ids=str)
@pytest.mark.parametrize("known", [6, 45], ids=["start_nodes", "long_known_history"])
def test_memory_equals_the_plain_gregory_sum(make, shape, known):
    """I_n = h Σ_j w_j K(G_{n-j}) G_j with the full Gregory weight vector, through predictor-corrector calls."""
    batch, d, m = shape
    order, dt, n_steps = 6, 0.05, 300
    rng = np.random.default_rng(0)
    G = rng.standard_normal((batch, n_steps + 1, d, m)) + 1j * rng.standard_normal((batch, n_steps + 1, d, m))
    A = np.stack([nonlinear_kernel(G[:, i], i * dt) for i in range(n_steps + 1)], axis=1)
    memory = make(dt, n_steps, order)
    state = memory.init(G[:, :known], np.zeros_like(G[:, :known]))
    for n in range(known, n_steps + 1):
        memory.step(state, G[:, n] + 0.1)  # a predicted node, overwritten by the corrector's call
        I_n, state = memory.step(state, G[:, n])
        w = gregory_weights(n, order)
        expected = dt * np.einsum("j,bjik,bjkl->bil", w, A[:, n::-1], G[:, : n + 1])
        np.testing.assert_allclose(I_n, expected, rtol=0, atol=1e-12 * max(1, np.abs(expected).max()))


@pytest.mark.parametrize("problem", [
    pytest.param(lambda: dyson([[-1.0]]), id="dyson_scalar"),
    pytest.param(lambda: dyson(H_2X2), id="dyson_2x2"),
    pytest.param(lambda: matrix_ide_problem(*paper_training_grid([3, 17], [2]).T), id="matrix_ide_batch4"),
])
def test_relaxed_solve_equals_direct(problem):
    p = problem()
    direct = solve_ide(p.F, p.K, p.G0, 4.0, 0.01, order=8, memory="direct")
    relaxed = solve_ide(p.F, p.K, p.G0, 4.0, 0.01, order=8, memory="relaxed")
    np.testing.assert_allclose(relaxed.G, direct.G, rtol=0, atol=1e-12)
    np.testing.assert_allclose(relaxed.I, direct.I, rtol=0, atol=1e-12)


@pytest.mark.parametrize("memory", ["direct", "relaxed"])
def test_batched_solve_equals_one_by_one(memory):
    grid = paper_training_grid([2, 11, 19], [1, 4])[::4]
    together = matrix_ide_problem(*grid.T)
    sol = solve_ide(together.F, together.K, together.G0, 3.0, 0.01, order=6, memory=memory)
    for k, row in enumerate(grid):
        one = matrix_ide_problem(*row)
        single = solve_ide(one.F, one.K, one.G0, 3.0, 0.01, order=6, memory=memory)
        np.testing.assert_allclose(sol.G[k], single.G[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("d, m", [(1, 1), (2, 2), (2, 1), (3, 3)])
def test_written_out_frequency_product_equals_einsum(d, m):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((d, d, 3, 16)) + 1j * rng.standard_normal((d, d, 3, 16))
    B = rng.standard_normal((d, m, 3, 16)) + 1j * rng.standard_normal((d, m, 3, 16))
    np.testing.assert_allclose(_freq_product(A, B), np.einsum("abzf,bczf->aczf", A, B), rtol=0, atol=1e-13)


def plain_pece(F, memory, G_known, I_known, dt, n_total, order):
    """The textbook AB(p) predictor / AM(p) corrector loop, one term at a time."""
    ab, am = adams_bashforth(order), adams_moulton(order)
    G, I = list(np.moveaxis(G_known, 1, 0)), list(np.moveaxis(I_known, 1, 0))
    g = [F(G[k], k * dt) + I[k] for k in range(len(G))]
    state = memory.init(G_known, I_known)
    for n in range(len(G), n_total):
        G_pred = G[-1] + dt * sum(ab[k] * g[n - 1 - k] for k in range(order))
        I_pred, _ = memory.step(state, G_pred)
        g_pred = F(G_pred, n * dt) + I_pred
        G_new = G[-1] + dt * (am[0] * g_pred + sum(am[k] * g[n - k] for k in range(1, order)))
        I_new, state = memory.step(state, G_new)
        G.append(G_new), I.append(I_new), g.append(F(G_new, n * dt) + I_new)
    return np.stack(G, axis=1)


def test_ring_buffer_stepper_equals_the_plain_loop():
    p = matrix_ide_problem([4, 12], [9, 3], [2, 5], [1, 1])
    order, dt, n_total = 5, 0.02, 200
    G0, I0 = collocation_start(p.F, p.K, p.G0, dt, order)
    fast, _ = adams_integrate(p.F, ExactMemory(p.K, dt, n_total - 1, order), G0, I0, dt, n_total, order,
                              corrector=True)
    plain = plain_pece(p.F, ExactMemory(p.K, dt, n_total - 1, order), G0, I0, dt, n_total, order)
    np.testing.assert_allclose(fast, plain, rtol=0, atol=1e-13)


@pytest.mark.parametrize("K", [lambda G, tau: -0.5, lambda G, tau: -0.5 * np.eye(2)], ids=["scalar", "matrix"])
def test_kernels_that_broadcast_equal_the_full_kernel(K):
    F = lambda G, t: np.stack([0.5 * (G[:, 1] + 1), -0.5 * G[:, 0]], axis=1)  # noqa: E731
    full = lambda G, tau: np.broadcast_to(K(G, tau), (len(G), 2, 2)).copy()  # noqa: E731
    for memory in ("direct", "relaxed"):
        got = solve_ide(F, K, [0.0, 1.0], 2.0, 0.01, order=6, memory=memory)
        ref = solve_ide(F, full, [0.0, 1.0], 2.0, 0.01, order=6, memory=memory)
        np.testing.assert_allclose(got.G, ref.G, rtol=0, atol=1e-14)


def test_memory_choice():
    K = lambda G, tau: 1.0  # noqa: E731
    assert type(exact_memory(K, 0.01, 100, 6, "auto")) is ExactMemory
    assert type(exact_memory(K, 0.01, 100_000, 6, "auto")) is RelaxedMemory
    assert type(exact_memory(K, 0.01, 2000, 6, "auto", batch=100)) is RelaxedMemory
    assert type(exact_memory(K, 0.01, 100_000, 6, "direct")) is ExactMemory
    with pytest.raises(ValueError, match="memory"):
        solve_ide(lambda G, t: G, K, [1.0], 1.0, 0.1, memory="fft")
