"""The structured memory operator: the LegS numerics, the kernel fit, the closed loop, checkpoints."""

import dataclasses
import types

import numpy as np
import pytest
import torch
from scipy.special import roots_legendre

from idelearn.equations import lag_memories
from idelearn.equations.dyson import dyson_problem
from idelearn.equations.matrix_ide import matrix_ide_problem
from idelearn.errors import UserError
from idelearn.models.kernel_operator import FitTarget, matrix_series, memory_along
from idelearn.models.legs import LegS, LegSMemory, legendre, pade_coefficients
from idelearn.models.lstm_operator import LSTMOperatorModel
from idelearn.models.memory_operator import (
    MemoryKernel,
    MemoryKind,
    MemoryOperatorModel,
    StructuredMemory,
    fit_memory_operator,
)
from idelearn.report.metrics import rel_l2
from idelearn.solvers import solve_ide
from idelearn.solvers.multistep import adams_integrate
from tests.analytic import dyson_memory
from tests.configs import model_config, round_trip


def fit(model, G, I, holdout=0.0):
    return fit_memory_operator(model, G, I, dt=DT, order=8, kernel_steps=25, seed=0, val_fraction=0.0,
                               holdout=holdout)


H, DT = -1.0, 0.01


def dyson(t, h=H, c=1.0):
    return dyson_memory(t, h, c)


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
    Measured 2.8e-7, 3.0e-6, 3.2e-6 at nodes 301, 1200, 2000 (the same with AVX512/AVX2/SSE4.2 kernels):
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
    model = StructuredMemory(legs_order=128, kernel_degree=6)
    res = fit(model, sol.G, sol.I)["kernel_residual"][0]
    a = model.kernel_coef
    assert abs(a[1] - (-1j * 0.49)) < 1e-6 and np.abs(np.delete(a, 1)).max() < 1e-4 and res < 1e-6
    p = matrix_ide_problem(10, 15, 2, 1)
    sol = solve_ide(p.F, p.K, p.G0, 20.0, DT, order=8)
    model = StructuredMemory(legs_order=128, kernel_degree=8)
    history = fit(model, sol.G, sol.I, holdout=0.3)
    res = history["kernel_residual"][0]
    assert history["memory_holdout_residual"][0] < 1e-4  # φ fitted on t <= 14 explains t > 14 (measured 1.7e-7)
    want = np.zeros(9, complex)
    want[[0, 4, 8]] = -1, 1 / 32, -1 / 6144
    assert np.abs(model.kernel_coef - want).max() < 1e-5 and res < 1e-5


def test_a_memory_of_another_form_is_flagged_on_the_holdout_tail():
    """The elementwise cosine is no matrix function of G: φ fitted on t <= 14 leaves a hold-out residual far
    above the warning threshold 1e-2 (measured 4.2); the matrix cosine's stays far below (test above)."""
    from idelearn.pipeline import MEMORY_WARNING_THRESHOLD

    p = matrix_ide_problem(10, 15, 2, 1, cosine="elementwise")
    sol = solve_ide(p.F, p.K, p.G0, 20.0, DT, order=8)
    history = fit(StructuredMemory(legs_order=128, kernel_degree=8), sol.G, sol.I, holdout=0.3)
    assert history["memory_holdout_residual"][0] > MEMORY_WARNING_THRESHOLD


def closed_loop(problem, t_train, t_final, legs_order=128, kernel_degree=8):
    sol = solve_ide(problem.F, problem.K, problem.G0, t_final, DT, order=8)
    n0 = int(round(t_train / DT)) + 1
    model = StructuredMemory(legs_order=legs_order, kernel_degree=kernel_degree)
    hist = fit(model, sol.G[:, :n0], sol.I[:, :n0])
    G, _ = adams_integrate(problem.F, model.memory(DT), sol.G[:, :n0], sol.I[:, :n0], DT, len(sol.t))
    return rel_l2(G[:, n0:], sol.G[:, n0:]), model, hist, sol


def test_structured_memory_extrapolates_dyson():
    """Fitted on t <= 5 (h = -1), AB3 + LegS memory to t = 20: measured 3.2e-5 (the AB3 floor; threshold
    1e-3); the paper's LSTM is tens of % here (README). An unfitted kernel (I = 0) is far off (1.22).
    Degree 4: one trajectory pins down 5 terms (kernel residual 1e-12..1e-11 with AVX512/AVX2/SSE4.2
    kernels; threshold 1e-6), not 9 (L-BFGS then stops at a residual of 4e-9..3e-7, CPU-dependent)."""
    err, model, hist, sol = closed_loop(dyson_problem(np.array([[H]]), 1.0), 5.0, 20.0, kernel_degree=4)
    assert err < 1e-3 and hist["kernel_residual"][0] < 1e-6
    model.kernel.zero_()
    G, _ = adams_integrate(dyson_problem(np.array([[H]]), 1.0).F, model.memory(DT), sol.G[:, :501],
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
        fit(StructuredMemory(legs_order=8, kernel_degree=2), G, G)
    with pytest.raises(ValueError, match="legs_order"):
        StructuredMemory(legs_order=2, kernel_degree=2)


def test_checkpoint_round_trip_keeps_the_kernel(tmp_path):
    err, model, *_ = closed_loop(dyson_problem(np.array([[H]]), 1.0), 1.0, 1.5, legs_order=32)
    rebuilt = round_trip(MemoryOperatorModel, model, tmp_path / "model.pt")
    assert rebuilt.legs_order == 32
    np.testing.assert_array_equal(rebuilt.kernel_coef, model.kernel_coef)
    assert float(rebuilt.dt) == DT


# the lag-kernel keys (issue 19): checkpoints written before them restore with their YAML values
ADDED_SINCE_THE_SPLIT = ("kernel", "fit_on", "max_rates", "max_degree", "n_starts", "grid_size", "ridges", "holdout",
                         "parsimony", "exact_score")


def test_checkpoint_without_the_keys_added_since_loads_and_extrapolates_the_same(tmp_path):
    problem = dyson_problem(np.array([[H]]), 1.0)
    _, net, *_ = closed_loop(problem, 1.0, 1.5, legs_order=32)
    model = MemoryOperatorModel(model_config("memory_operator", legs_order=32))
    model.net = net
    ckpt = model.checkpoint()
    ckpt["config"] = {k: v for k, v in ckpt["config"].items() if k not in ADDED_SINCE_THE_SPLIT + ("memory",)}
    torch.save(ckpt, tmp_path / "model.pt")
    rebuilt = MemoryOperatorModel.restore(torch.load(tmp_path / "model.pt", weights_only=True))
    assert rebuilt.config.kernel is MemoryKernel.series and rebuilt.config.fit_on is FitTarget.memory
    sol = solve_ide(problem.F, problem.K, problem.G0, 1.5, DT, order=8)
    n0 = int(round(1.0 / DT)) + 1
    args = dict(F=problem.F, I_known=sol.I[:, :n0])
    np.testing.assert_array_equal(rebuilt.extrapolate(sol.G[:, :n0], sol.t, **args),
                                  model.extrapolate(sol.G[:, :n0], sol.t, **args))


def test_checkpoint_of_the_old_lstm_operator_with_memory_legs_loads_as_memory_operator(tmp_path):
    """Before the split, `model=lstm_operator` with its default `memory=legs` was this model: such a
    checkpoint (config and net config with the LSTM's keys and none of the keys added since, buffers
    x_scale/y_scale besides the fit) still loads, as a memory_operator with the same fit."""
    _, model, *_ = closed_loop(dyson_problem(np.array([[H]]), 1.0), 1.0, 1.5, legs_order=32)
    new = MemoryOperatorModel(model_config("memory_operator"))
    new.net = model
    ckpt = new.checkpoint()
    then = {k: v for k, v in ckpt["config"].items() if k not in ADDED_SINCE_THE_SPLIT}
    old_config = {**then, "name": "lstm_operator", "memory": "legs", "hidden_size": 64, "num_layers": 2,
                  "ema": 0.003, "steps": 1000, "lr": 0.01, "batch_size": 8, "gain": 1.0, "bptt_window": 0}
    old = {**ckpt, "model": "lstm_operator", "config": old_config,
           "net_config": {"n_features": 2, "hidden_size": 64, "num_layers": 2, "ema": 0.003, "memory": "legs",
                          "legs_order": 32, "kernel_degree": 8},
           "state_dict": {**ckpt["state_dict"], "x_scale": torch.ones(2), "y_scale": torch.ones(2)}}
    torch.save(old, tmp_path / "model.pt")
    rebuilt = LSTMOperatorModel.restore(torch.load(tmp_path / "model.pt", weights_only=True))
    assert rebuilt.name == "memory_operator" and rebuilt.net.legs_order == 32
    np.testing.assert_array_equal(rebuilt.net.kernel_coef, model.kernel_coef)
    old["config"]["memory"] = "legs_lstm"
    with pytest.raises(UserError, match="memory_operator"):
        LSTMOperatorModel.restore(old)


def test_matrix_series_is_the_matrix_power_series():
    rng = np.random.default_rng(0)
    G = rng.standard_normal((3, 2, 2)) + 1j * rng.standard_normal((3, 2, 2))
    a = np.array([0.5, -1j, 0.25, 0.1 + 0.2j])
    want = sum(c * np.linalg.matrix_power(G, k) for k, c in enumerate(a))
    np.testing.assert_allclose(matrix_series(a, G), want, rtol=1e-13)  # measured 1.4e-16


# -- lag kernels K(G, τ) (model.kernel=auto) -------------------------------------------------------

LAG_DT = 0.05  # 201 nodes on the window t <= 10: each fit ~0.5 s


def lag_closed_loop(case, memory="legs", max_degree=1):
    """memory_operator with model.kernel=auto fitted on t <= 10 of a lag_memories case, extrapolated to 40."""
    F, K, G0 = getattr(lag_memories, case)()
    sol = solve_ide(F, K, G0, 40.0, LAG_DT, order=8)
    n0 = int(round(10 / LAG_DT)) + 1
    data = types.SimpleNamespace(G=sol.G[:, :n0], I=sol.I[:, :n0], dt=LAG_DT, n_traj=1, meta={})
    model = MemoryOperatorModel(model_config("memory_operator", kernel=MemoryKernel.auto, memory=MemoryKind(memory),
                                             order=8, legs_order=64, max_degree=max_degree))
    history = model.fit(data, seed=0)
    G = model.extrapolate(sol.G[:, :n0], sol.t, F=F, I_known=sol.I[:, :n0])
    return model, history, sol, rel_l2(G[:, n0:], sol.G[:, n0:])


@pytest.fixture(scope="module")
def exponential_exp():
    return lag_closed_loop("exponential", memory="exp", max_degree=0)


def test_lag_kernel_through_legs_extrapolates_a_damped_cosine_memory():
    """Case c (K = −0.5 e^{−τ/2} cos 2τ): the hold-out picks 2 complex rates; LegS of K(G(τ), τ) along the
    trajectory, AB3, t <= 10 -> 40 at dt = 0.05: measured 2.0e-4 (the AB3 floor: 1.6e-6 at dt = 0.01);
    threshold 2e-3. The series φ(G) alone is 0.96 here (issue 19); a LegS projecting K at the wrong lag
    (node n+1 for n) measured 0.25."""
    _, history, _, err = lag_closed_loop("damped_cosine")
    assert history["kernel_choice"].startswith("exp J=2 P=0")
    assert err < 2e-3


def test_lag_kernel_through_legs_and_through_the_recurrence_extrapolate_an_exponential_memory(exponential_exp):
    """Case a (K = −0.5 e^{−τ}): one rate. memory=exp (the exact recurrence, order 3) measured 4.7e-4, the
    LegS memory of the same fit 4.8e-4 (AB3 floor at dt = 0.05; 3.7e-6 and 3.8e-6 at dt = 0.01);
    threshold 3e-3. A recurrence with the wrong sign of the coefficient measured 3e3, LegS at the wrong lag 0.06."""
    model, history, sol, err = exponential_exp
    assert history["kernel_choice"].startswith("exp J=1 P=0")
    assert history["kernel_residual"][0] < 1e-10  # the chosen lag kernel's, not the series φ's (0.21); measured 4e-16
    np.testing.assert_allclose(model.net.lag_fit().rates, [1.0], atol=1e-8)
    assert err < 3e-3
    legs = MemoryOperatorModel(dataclasses.replace(model.config, memory=MemoryKind.legs))
    legs.net = model.net
    n0 = int(round(10 / LAG_DT)) + 1
    G = legs.extrapolate(sol.G[:, :n0], sol.t, F=lag_memories.exponential()[0], I_known=sol.I[:, :n0])
    assert rel_l2(G[:, n0:], sol.G[:, n0:]) < 3e-3


def test_memory_exp_refuses_kernels_that_depend_on_G():
    with pytest.raises(UserError, match="max_degree"):
        model_config("memory_operator", kernel=MemoryKernel.auto, memory=MemoryKind.exp, max_degree=1).check()
    with pytest.raises(UserError, match="kernel=auto"):
        model_config("memory_operator", memory=MemoryKind.exp, max_degree=0).check()
    net = StructuredMemory(legs_order=8, kernel_degree=1, n_rates=1, lag_degree=1)
    net.dt.fill_(0.1)
    with pytest.raises(ValueError, match="P = 1"):
        net.memory(kind="exp")


def test_checkpoint_round_trip_keeps_the_lag_kernel(exponential_exp, tmp_path):
    """model.pt alone rebuilds the fitted lag kernel (rates, coefficients as buffers) and extrapolates the same."""
    model, _, sol, _ = exponential_exp
    torch.save(model.checkpoint(), tmp_path / "model.pt")
    rebuilt = MemoryOperatorModel.restore(torch.load(tmp_path / "model.pt", weights_only=True))
    assert rebuilt.config.memory is MemoryKind.exp and rebuilt.net.has_lag
    np.testing.assert_array_equal(rebuilt.net.lag_fit().rates, model.net.lag_fit().rates)
    np.testing.assert_array_equal(rebuilt.net.lag_fit().coef, model.net.lag_fit().coef)
    n0 = int(round(10 / LAG_DT)) + 1
    F = lag_memories.exponential()[0]
    args = dict(F=F, I_known=sol.I[:, :n0])
    np.testing.assert_array_equal(rebuilt.extrapolate(sol.G[:, :n0], sol.t, **args),
                                  model.extrapolate(sol.G[:, :n0], sol.t, **args))


def test_lag_kernel_from_G_alone_extrapolates_a_G_times_exp_memory():
    """fit_on=trajectory (measured data: no I at all, in the fit or to start the stepper) on case d,
    K = −i G(t−s) e^{−0.3τ}: the hold-out picks one rate with P = 1 and finds rate 0.3 and coefficient −i
    (measured errors 8.5e-10 and 6.1e-10, threshold 5e-9); AB3 + LegS from t <= 10 to 40 at dt = 0.05 measured 1.54e-3, the
    AB3 floor (the same with I known, and with the kernel fitted to I); threshold 1e-2. The series φ alone
    cannot be fitted without I (kernel=series is refused)."""
    F, K, G0 = lag_memories.g_times_exp()
    sol = solve_ide(F, K, G0, 40.0, LAG_DT, order=8)
    n0 = int(round(10 / LAG_DT)) + 1
    data = types.SimpleNamespace(G=sol.G[:, :n0], I=None, dt=LAG_DT, n_traj=1, meta={})
    config = model_config("memory_operator", kernel=MemoryKernel.auto, fit_on=FitTarget.trajectory, order=8,
                          legs_order=64)
    model = MemoryOperatorModel(config)
    history = model.fit(data, seed=0, F=F)
    assert history["kernel_choice"].startswith("exp J=1 P=1")
    fit = model.net.lag_fit()
    assert abs(fit.rates[0] - 0.3) < 5e-9 and abs(fit.coef[1, 0] * fit.scale**-1 + 1j) < 5e-9
    G = model.extrapolate(sol.G[:, :n0], sol.t, F=F, I_known=None)
    assert rel_l2(G[:, n0:], sol.G[:, n0:]) < 1e-2
    with pytest.raises(UserError, match="kernel=auto"):
        dataclasses.replace(config, kernel=MemoryKernel.series).check()
