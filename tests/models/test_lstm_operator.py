"""Learned memory operator: the structured LegS memory (its numerics, the kernel fit, the closed loop),
the LSTM (it learns Dyson's memory integral, steps exactly like its whole-sequence forward), checkpoints."""

import numpy as np
import pytest
import torch
from scipy.special import jv, roots_legendre

from idelearn.equations.dyson import dyson_problem
from idelearn.equations.matrix_ide import matrix_ide_problem
from idelearn.models.kernel_operator import matrix_series, memory_along
from idelearn.models.legs import LegS, LegSMemory, legendre, pade_coefficients
from idelearn.models.lstm_operator import LearnedMemory, LSTMOperator, fit_lstm_operator, to_features
from idelearn.models.registry import LSTMOperatorModel
from idelearn.report.metrics import rel_l2
from idelearn.solvers import solve_ide
from idelearn.solvers.multistep import adams_integrate
from tests.configs import model_config


def net(n_features, **settings):
    """An LSTMOperator with test-sized settings (conf/model/lstm_operator.yaml holds the real ones)."""
    base = dict(hidden_size=16, num_layers=1, ema=0.003, memory="lstm", legs_order=128, kernel_degree=8)
    return LSTMOperator(n_features, **{**base, **settings})


def fit(model, G, I, **settings):
    base = dict(dt=DT, steps=0, lr=1e-2, batch_size=8, seed=0, gain=1.0, bptt_window=0, order=8, kernel_steps=25,
                val_fraction=0.0)
    return fit_lstm_operator(model, G, I, **{**base, **settings})


def round_trip(wrapper_cls, net, path):
    """Save a net the way `train` does (registry checkpoint) and rebuild it from the file alone."""
    wrapper = wrapper_cls(model_config(wrapper_cls.name))
    wrapper.net = net
    torch.save(wrapper.checkpoint(), path)
    return wrapper_cls.restore(torch.load(path, weights_only=True)).net


H, DT = -1.0, 0.01


def dyson(t, h=H, c=1.0):
    """Exact G and I = dG/dt + i h G of i dG/dt = h G + c^2 (G*G)(t), G(0) = -i; (1, n_t, 1, 1)."""
    x = 2 * c * np.maximum(t, 1e-300)
    j = np.where(t > 0, jv(1, x) / (c * np.maximum(t, 1e-300)), 1.0)
    dj = np.where(t > 0, -2 * jv(2, x) / np.maximum(t, 1e-300), 0.0)
    ph = np.exp(-1j * h * t)
    return (-1j * ph * j).reshape(1, -1, 1, 1), (-1j * ph * dj).reshape(1, -1, 1, 1)


def exact_projection(f, t, N, q=2000):
    """m_k = ∫_0^t f(s) p_k(s/t) ds by brute-force Gauss quadrature."""
    x, w = roots_legendre(q)
    u = (x + 1) / 2
    return t * legendre(u, N) @ (w / 2 * f(t * u))


def smooth(s):
    return np.cos(3 * s) + s / 5 + np.sin(7.3 * s) / 3


# -- LegS numerics -------------------------------------------------------------------------


def test_bilinear_readout_is_the_convolution():
    """∫_0^t f(t-s) g(s) ds = (1/t) Σ_k (-1)^k m^f_k m^g_k for the orthonormal shifted Legendre basis."""
    f = lambda s: np.cos(1.3 * s) + s**2 / 10  # noqa: E731
    g = lambda s: np.exp(-0.2 * s) * np.sin(s)  # noqa: E731
    t, N = 7.0, 60
    legs = LegS(N, DT)
    got = legs.convolution(exact_projection(f, t, N)[:, None], exact_projection(g, t, N)[:, None], t)[0]
    x, w = roots_legendre(400)
    s = t * (x + 1) / 2
    direct = np.sum(w * t / 2 * f(t - s) * g(s))
    assert abs(got - direct) < 1e-12 * abs(direct)  # measured 1.3e-13


def test_pade_coefficients_apply_the_22_pade_approximant():
    """The O(N) semiseparable form equals the dense (2,2) Padé approximant of exp(-ΔD)."""
    N, delta = 48, 0.004
    k = np.arange(N)
    v = np.sqrt(2 * k + 1.0)
    D = np.diag(k * 1.0) + np.tril(np.outer(v, v), -1)
    E = np.eye(N)
    R = np.linalg.solve(E + delta / 2 * D + delta**2 / 12 * D @ D, E - delta / 2 * D + delta**2 / 12 * D @ D)
    a, c1, c3 = pade_coefficients(np.array([delta]), N)
    y = np.random.default_rng(0).standard_normal((N, 3))
    q = c1[0][:, None] * y
    S = np.cumsum(q, 0) - q
    np.testing.assert_allclose(a[0][:, None] * y + (c3[0][:, None] * S).imag, R @ y, rtol=0, atol=1e-12)  # meas. 1e-15


@pytest.mark.parametrize("n", [3, 40, 1000])
def test_projection_weights_are_exact_for_cubics_and_accurate_for_smooth_functions(n):
    """Measured (relative, n = 3, 40, 1000): cubic 5.2e-13..1.0e-12 (threshold 1e-11); smooth 2.9e-8..1.8e-7
    (threshold 1e-6). Deterministic numerics: the same with AVX512/AVX2/SSE4.2 kernels."""
    N = 64
    legs = LegS(N, DT)
    W = legs.projection_weights(n)
    t = np.arange(n + 1) * DT
    cubic = lambda s: 1 - 2 * s + 5 * s**3  # noqa: E731  (the interpolant reproduces it exactly)
    want = exact_projection(cubic, n * DT, N)
    np.testing.assert_allclose(W @ cubic(t), want, rtol=0, atol=1e-11 * np.abs(want).max())
    ref = exact_projection(smooth, n * DT, N)
    assert np.abs(W @ smooth(t) - ref).max() < 1e-6 * np.abs(ref).max()


def test_recursion_follows_the_projection_of_a_growing_window():
    """Stepping the LegS state from node 300 to 2000 (Padé + exact cubic forcing, chunked tables) keeps the
    convolution readout within 3e-5 of the exact projection's, for N far above what the signal needs.
    Measured 2.8e-7, 3.0e-6, 3.2e-6 at nodes 301, 1200, 2000 (the same with AVX512/AVX2/SSE4.2 kernels);
    the cubic forcing's interpolation error at this step (it does not move with 4x the micro-steps); with the
    forcing's f_{n+1} term dropped it is 0.58."""
    N = 200
    legs = LegS(N, DT)
    f = smooth(np.arange(2001) * DT)[:, None]
    seen = {}
    legs.run(f, m=legs.project(f[:301]), n_from=300, chunk=256,
             each=lambda n, m: seen.__setitem__(n, m[:, 0].copy()) if n in (301, 1200, 2000) else None)
    for n, m in seen.items():
        ref = exact_projection(smooth, n * DT, N)
        I, I_ref = legs.convolution(m[:, None], m[:, None], n * DT)[0], legs.convolution(ref[:, None], ref[:, None],
                                                                                           n * DT)[0]
        assert abs(I - I_ref) < 3e-5 * abs(I_ref), n


def test_the_kernels_memory_along_a_history_is_the_dyson_memory():
    t = np.arange(0, 3 + DT / 2, DT)
    G, I = dyson(t)
    Z = memory_along(np.array([0, -1j]), G, DT, 8)
    assert np.abs(Z[:, 8:] - I[:, 8:]).max() < 1e-9 * np.abs(I).max()  # measured 7.8e-16


# -- the kernel fit and the structured memory in closed loop ---------------------------------


def test_kernel_fit_recovers_both_papers_kernels():
    """Dyson: φ(G) = -i c² G; matrix IDE: -cos(G²/4) = -1 + G⁴/32 - G⁸/6144 + ... (from one window each).
    Measured with AVX512/AVX2/SSE4.2 kernels: Dyson a_1 off by 7e-11..1.3e-9 (threshold 1e-6), the others
    <= 3.2e-8 (1e-4), residual <= 6.9e-11 (1e-6); matrix IDE coefficients off by 9.7e-8 (1e-5), residual
    7.1e-8 (1e-5)."""
    p = dyson_problem(np.array([[-1.0]]), 0.7)
    sol = solve_ide(p.F, p.K, p.G0, 5.0, DT, order=8)
    model = net(2, memory="legs", kernel_degree=6)
    res = fit(model, sol.G, sol.I)["kernel_residual"][0]
    a = model.kernel_coef
    assert abs(a[1] - (-1j * 0.49)) < 1e-6 and np.abs(np.delete(a, 1)).max() < 1e-4 and res < 1e-6
    p = matrix_ide_problem(10, 15, 2, 1)
    sol = solve_ide(p.F, p.K, p.G0, 20.0, DT, order=8)
    model = net(8, memory="legs", kernel_degree=8)
    res = fit(model, sol.G, sol.I)["kernel_residual"][0]
    want = np.zeros(9, complex)
    want[[0, 4, 8]] = -1, 1 / 32, -1 / 6144
    assert np.abs(model.kernel_coef - want).max() < 1e-5 and res < 1e-5


def closed_loop(problem, t_train, t_final, memory="legs", legs_order=128, steps=0, kernel_degree=8, **settings):
    sol = solve_ide(problem.F, problem.K, problem.G0, t_final, DT, order=8)
    n0 = int(round(t_train / DT)) + 1
    d = problem.G0.shape[-1]
    torch.manual_seed(0)  # the LSTM's initial weights do not depend on which tests ran before
    model = net(2 * d * d, memory=memory, legs_order=legs_order, kernel_degree=kernel_degree)
    hist = fit(model, sol.G[:, :n0], sol.I[:, :n0], steps=steps, **settings)
    G, _ = adams_integrate(problem.F, LearnedMemory(model, DT), sol.G[:, :n0], sol.I[:, :n0], DT, len(sol.t))
    return rel_l2(G[:, n0:], sol.G[:, n0:]), model, hist, sol


def test_structured_memory_extrapolates_dyson():
    """Fitted on t <= 5 (h = -1), AB3 + LegS memory to t = 20: measured 3.2e-5 (the AB3 floor; threshold
    1e-3); the paper's LSTM is tens of % here (README). An unfitted kernel (I = 0) is far off (1.22).
    Degree 4: one trajectory pins down 5 terms (kernel residual 1e-12..1e-11 with AVX512/AVX2/SSE4.2
    kernels; threshold 1e-6), not 9 (L-BFGS then stops at a residual of 4e-9..3e-7, CPU-dependent)."""
    err, model, hist, sol = closed_loop(dyson_problem(np.array([[H]]), 1.0), 5.0, 20.0, kernel_degree=4)
    assert err < 1e-3 and hist["kernel_residual"][0] < 1e-6
    model.kernel.zero_()
    G, _ = adams_integrate(dyson_problem(np.array([[H]]), 1.0).F, LearnedMemory(model, DT), sol.G[:, :501],
                           sol.I[:, :501], DT, len(sol.t))
    assert rel_l2(G[:, 501:], sol.G[:, 501:]) > 0.3  # measured 1.22


@pytest.mark.slow
def test_structured_memory_extrapolates_the_matrix_ide():
    """Paper figure 5 (α = (10, 15), σ = 2, β = 1): fitted on t <= 20, AB3 to t = 60; measured 5.4e-5 (the
    same with AVX512/AVX2/SSE4.2 kernels)."""
    err, *_ = closed_loop(matrix_ide_problem(10, 15, 2, 1), 20.0, 60.0)
    assert err < 2e-3


def test_legs_memory_steps_twice_from_one_state_and_matches_the_exact_memory():
    """LegSMemory along the exact Dyson G gives the exact I, and step() leaves its state alone. Measured
    5.3e-7 (5.6e-7, 7.6e-7 with 128, 160 modes: the step's floor, not the modes'); threshold 5e-6."""
    t = np.arange(0, 8 + DT / 2, DT)
    G, I = dyson(t)
    mem = LegSMemory(np.array([0, -1j]), 96, DT)
    state = mem.init(G[:, :300])
    out = []
    for n in range(300, len(t)):
        I_n, new = mem.step(state, G[:, n])
        if n == 500:
            np.testing.assert_array_equal(mem.step(state, G[:, n])[0], I_n)
        out.append(I_n)
        state = new
    assert rel_l2(np.stack(out, 1), I[:, 300:]) < 5e-6


def test_structured_memory_needs_square_G():
    G = np.ones((1, 20, 2, 1), complex)
    with pytest.raises(ValueError, match="square"):
        fit(net(4, memory="legs"), G, G)
    with pytest.raises(ValueError, match="memory"):
        net(2, memory="fir")


def test_legs_plus_lstm_trains_on_what_the_kernel_leaves():
    """memory='legs_lstm': the LSTM's target is I - I_legs (~1e-8 |I| here), so its output is scaled down to that
    size. Measured 1.64e-5 after 30 steps, as legs alone (threshold 1e-4); y_scale 4.1e-9 (threshold 1e-6).
    (On the full Dyson case the LSTM residual made 4.4e-5 into 1.3e-4: it only adds error where the kernel
    is exact.)"""
    err, model, hist, _ = closed_loop(dyson_problem(np.array([[H]]), 1.0), 3.0, 6.0, memory="legs_lstm", steps=30,
                                      batch_size=2)
    assert "kernel_residual" in hist and len(hist["loss"]) == 30
    assert err < 1e-4
    assert float(model.y_scale.max()) < 1e-6  # the residual's scale


def test_checkpoint_round_trip_keeps_the_kernel(tmp_path):
    err, model, *_ = closed_loop(dyson_problem(np.array([[H]]), 1.0), 1.0, 1.5, legs_order=32)
    rebuilt = round_trip(LSTMOperatorModel, model, tmp_path / "model.pt")
    assert rebuilt.memory == "legs" and rebuilt.legs_order == 32
    np.testing.assert_array_equal(rebuilt.kernel_coef, model.kernel_coef)
    assert float(rebuilt.dt) == DT


def test_matrix_series_is_the_matrix_power_series():
    rng = np.random.default_rng(0)
    G = rng.standard_normal((3, 2, 2)) + 1j * rng.standard_normal((3, 2, 2))
    a = np.array([0.5, -1j, 0.25, 0.1 + 0.2j])
    want = sum(c * np.linalg.matrix_power(G, k) for k, c in enumerate(a))
    np.testing.assert_allclose(matrix_series(a, G), want, rtol=1e-13)  # measured 1.4e-16


# -- the LSTM (memory="lstm", the paper's model) ------------------------------------------------


def ab3(memory, G_known, I_known, n_steps, h=H, dt=DT):
    """AB3 on dG/dt = -i h G + I: history f_k from the known window (exact I), memory warmed on G_known."""
    F = lambda G: -1j * h * G  # noqa: E731
    state = memory.init(G_known, I_known)
    f = [F(G_known[:, k]) + I_known[:, k] for k in (-3, -2, -1)]
    G, out = G_known[:, -1], []
    for _ in range(n_steps):
        G = G + dt * (23 * f[2] - 16 * f[1] + 5 * f[0]) / 12
        I, state = memory.step(state, G)
        f = [f[1], f[2], F(G) + I]
        out.append(G)
    return np.stack(out, 1)


T_TRAIN, T_TEST = 3.0, 3.1


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    t = np.arange(0, T_TEST + DT / 2, DT)
    G, I = dyson(t)
    n0 = int(round(T_TRAIN / DT)) + 1
    model = net(2, hidden_size=32, num_layers=2)
    hist = fit(model, G[:, :n0], I[:, :n0], steps=600, lr=3e-2, batch_size=4, gain=0.5)
    return model, G, I, n0, hist


def test_lstm_learns_dyson_memory(trained):
    """The LSTM fits I on the window, and AB3 + learned I tracks the exact solution just past it.

    Measured (seed 0; the same digits with AVX512/AVX2/SSE4.2 kernels and 1 or 2 threads): loss down to
    0.0013 of its start (threshold 0.05), I on [0, 3] 0.83 % (threshold 10 %), G on (3, 3.1] 0.97 %
    (threshold 5 %); seeds 0-4: 0.83-1.4 % and 0.66-1.1 %. Models that learned nothing: random LSTMs
    (seeds 1-5) 10.0-13.6 % on G, I = 0 11.8 %. The horizon is 10 steps because the LSTM's error grows
    about as fast as a memoryless model's past the window: at t = 3.3 it was 4-7 % against 46-53 %
    (300 steps) and 8-10 % with the fit of 600 steps here, too near to leave a margin both ways.
    """
    model, G, I, n0, hist = trained
    assert hist["loss"][-1] < 0.05 * hist["loss"][0]
    with torch.no_grad():
        I_fit = model(torch.from_numpy(to_features(G[:, :n0])))[0].numpy()
    assert rel_l2(I_fit, to_features(I[:, :n0])) < 0.1
    G_pred = ab3(LearnedMemory(model), G[:, :n0], I[:, :n0], G.shape[1] - n0)
    assert rel_l2(G_pred, G[:, n0:]) < 0.05

    torch.manual_seed(1)  # the test can tell a model that learned nothing
    fresh = net(2, hidden_size=32, num_layers=2)
    fresh.x_scale.copy_(model.x_scale), fresh.y_scale.copy_(model.y_scale)
    G_bad = ab3(LearnedMemory(fresh), G[:, :n0], I[:, :n0], G.shape[1] - n0)
    assert rel_l2(G_bad, G[:, n0:]) > 0.05  # measured 13.6 %


def test_lstm_checkpoint_round_trip(trained, tmp_path):
    """An LSTM-only model keeps the keys checkpoints had before the structured memory existed."""
    model = trained[0]
    assert {k for k in model.state_dict() if "." not in k} == {"x_scale", "y_scale"}
    rebuilt = round_trip(LSTMOperatorModel, model, tmp_path / "model.pt")
    x = torch.from_numpy(to_features(trained[1]))
    with torch.no_grad():
        assert torch.equal(model(x)[0], rebuilt(x)[0])


def test_lstm_step_matches_forward(trained):
    """init on a prefix + step node by node == forward over the whole sequence."""
    model, G, I = trained[:3]
    G2 = np.concatenate([G, 0.5j * G], 0)[:, :200]  # a batch of two histories
    with torch.no_grad():
        whole = model(torch.from_numpy(to_features(G2)))[0].numpy()
    mem = LearnedMemory(model)
    state = mem.init(G2[:, :50], None)
    for n in range(50, 200):
        I_n, new = mem.step(state, G2[:, n])
        # float32: measured at most 0.0093 of the allowed 1e-6 + 1e-4 |I| (1.8e-7 absolute)
        np.testing.assert_allclose(to_features(I_n), whole[:, n], rtol=1e-4, atol=1e-6)
        if n == 120:  # a predictor-corrector calls step twice from one state
            np.testing.assert_array_equal(mem.step(state, G2[:, n])[0], I_n)
        state = new


def test_bptt_window_trains_windows_and_equals_full_bptt_when_it_covers_the_sequence():
    """A window as long as the sequence is plain BPTT (same weights); a shorter one still learns I."""
    t = np.arange(0, T_TRAIN + DT / 2, DT)
    G, I = dyson(t)

    def windowed_fit(window, steps, lr=1e-2):
        torch.manual_seed(0)
        model = net(2)
        hist = fit(model, G, I, steps=steps, lr=lr, batch_size=4, gain=0.5, bptt_window=window)
        return model, hist

    full, _ = windowed_fit(0, 3)
    covering, _ = windowed_fit(len(t), 3)
    for a, b in zip(full.parameters(), covering.parameters()):
        assert torch.equal(a, b)

    windowed, hist = windowed_fit(len(t) // 3, 1000, lr=3e-2)
    with torch.no_grad():
        I_fit = windowed(torch.from_numpy(to_features(G)))[0].numpy()
    # measured 0.046 (seed 0; 0.037-0.050 over seeds 0-2, 0.13-0.15 with the 150 steps at lr 1e-2 this
    # test had); the same models untrained 0.90-1.11. Threshold 0.3: 6x over the worst seed, 3x under.
    assert rel_l2(I_fit, to_features(I)) < 0.3


def test_fit_takes_steps_not_epochs():
    t = np.arange(0, 1 + DT / 2, DT)
    G, I = dyson(t)
    hist = fit(net(2), G, I, steps=4)
    assert len(hist["loss"]) == 4
    with pytest.raises(TypeError):
        fit(net(2), G, I, epochs=4)
