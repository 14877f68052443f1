"""The fused rollout (fused_stepper.adams_fused) reproduces adams_integrate with the model's memory step for
step, for each learned memory (the paper's LSTM, the structured LegS memory)."""

import numpy as np
import pytest
import torch

from idelearn.equations import lag_memories
from idelearn.models import fused_stepper
from idelearn.models.lag_kernels import LagFit
from idelearn.models.lstm_operator import LearnedMemory, LSTMOperator, LSTMOperatorModel
from idelearn.models.memory_operator import MemoryKernel, MemoryKind, MemoryOperatorModel, StructuredMemory
from idelearn.solvers import solve_ide
from idelearn.solvers.multistep import BlowUpError, adams_integrate
from tests.configs import model_config

DT, N0, N_TOTAL = 0.01, 40, 240


def random_model(d, ema=0.01, hidden=16, layers=2, seed=0):
    """A random LSTM operator with non-trivial scales, so that a wrong feature order or scale shows."""
    torch.manual_seed(seed)
    nf = 2 * d * d
    model = LSTMOperator(nf, hidden, layers, ema=ema).eval()
    with torch.no_grad():
        model.x_scale.copy_(0.5 + torch.rand(nf))
        model.y_scale.copy_(0.2 * (0.5 + torch.rand(nf)))
    return model


def random_structured(seed=0, legs_order=24, degree=3):
    """A structured memory with a damping kernel (a_0 = -1, like the matrix IDE's) plus random terms."""
    model = StructuredMemory(legs_order, degree)
    rng = np.random.default_rng(seed)
    coef = 0.2 * (rng.standard_normal(degree + 1) + 1j * rng.standard_normal(degree + 1))
    coef[0] = -1.0
    model.set_kernel(coef)
    model.dt.fill_(DT)
    return model


def problem(B, d, seed=1):
    """Dyson-like F (its own Hermitian H per trajectory) and a known window that decays and rotates."""
    rng = np.random.default_rng(seed)
    H = rng.standard_normal((B, d, d)) + 1j * rng.standard_normal((B, d, d))
    H = (H + H.conj().transpose(0, 2, 1)) / 2
    t = np.arange(N0) * DT
    G = np.exp(-(0.3 + 1j) * t)[None, :, None, None] * (np.eye(d) + 0.2 * rng.standard_normal((B, 1, d, d)))
    I = -0.5j * G
    return (lambda G, t: -1j * (H @ G)), G, I


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


# The LSTM runs in float32 on both paths, in a different order of operations: measured with AVX512/AVX2/
# SSE4.2 kernels (ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS, OPENBLAS_CORETYPE), relative to max |.|:
# LSTM G <= 1.9e-9, I <= 2.3e-8 (numpy and torch engines); LegS alone G, I <= 1e-14; LegS + LSTM G <= 2.8e-9,
# I <= 8.5e-9; other settings <= 3.9e-9; float64 engine 6.4e-10; registry 1.3e-9. Thresholds 1e-5 (1e-6 for
# G with the structured memory): >= 350x. max |I| after the window >= 1.3 in every case (threshold 0.01).


@pytest.mark.parametrize("engine", ["numpy", "torch"])
@pytest.mark.parametrize("B,d", [(1, 1), (4, 1), (1, 2), (4, 2)])
def test_fast_equals_plain(B, d, engine):
    model = random_model(d)
    F, Gk, Ik = problem(B, d)
    G_ref, I_ref = adams_integrate(F, LearnedMemory(model), Gk, Ik, DT, N_TOTAL, order=3)
    G, I = fused_stepper.adams_fused(model, F, Gk, Ik, DT, N_TOTAL, order=3, engine=engine)
    assert G.shape == I.shape == (B, N_TOTAL, d, d)
    np.testing.assert_array_equal(G[:, :N0], Gk)
    assert rel(G, G_ref) < 1e-5 and rel(I, I_ref) < 1e-5


@pytest.mark.parametrize("B,d", [(1, 1), (3, 1), (1, 2), (3, 2), (1, 3)])
def test_fast_equals_plain_with_the_structured_memory(B, d):
    """Every special case of the fused LegS loop (φ by Horner on scalars, by Cayley-Hamilton for one 2x2, by
    matrix products otherwise; the d = 1 and d > 1 readouts), over more steps than one table chunk and one
    window of the f buffer (_LegSLoop.CHUNK), so the window slides and the tables are rebuilt."""
    model = random_structured()
    F, Gk, Ik = problem(B, d)
    n_total = N0 + fused_stepper._LegSLoop.CHUNK + 60
    G_ref, I_ref = adams_integrate(F, model.memory(DT), Gk, Ik, DT, n_total, order=3)
    G, I = fused_stepper.adams_fused(model, F, Gk, Ik, DT, n_total, order=3)
    assert rel(I[:, N0:], I_ref[:, N0:]) < 1e-5 and rel(G, G_ref) < 1e-6
    assert np.abs(I[:, N0:]).max() > 0.01  # the memory is not trivially zero


@pytest.mark.parametrize("ema,layers,order", [(0.0, 2, 3), (0.01, 1, 2), (0.01, 3, 4)])
def test_other_settings(ema, layers, order):
    """No running amplitude, one or three layers (the head's window then spans unused columns), AB2/AB4."""
    model = random_model(2, ema=ema, layers=layers)
    F, Gk, Ik = problem(3, 2)
    G_ref, _ = adams_integrate(F, LearnedMemory(model), Gk, Ik, DT, N_TOTAL, order=order)
    G, _ = fused_stepper.adams_fused(model, F, Gk, Ik, DT, N_TOTAL, order=order)
    assert rel(G, G_ref) < 1e-5


def test_float64_engine():
    model = random_model(1)
    F, Gk, Ik = problem(2, 1)
    G_ref, _ = adams_integrate(F, LearnedMemory(model), Gk, Ik, DT, N_TOTAL, order=3)
    G, _ = fused_stepper.adams_fused(model, F, Gk, Ik, DT, N_TOTAL, dtype=np.float64)
    assert rel(G, G_ref) < 1e-5


def test_blow_up_is_reported_like_the_plain_path():
    model = random_model(1)
    F, Gk, Ik = problem(1, 1)
    grow = lambda G, t: 50.0 * G  # noqa: E731
    with pytest.raises(BlowUpError) as exc:
        fused_stepper.adams_fused(model, grow, Gk, Ik, DT, 2000, max_abs=1e3)
    assert exc.value.G.shape[1] == exc.value.n_reached and np.abs(exc.value.G).max() <= 1e3


def test_registry_uses_fast_path_and_falls_back():
    """extrapolate: fused loop by default; the corrector goes through adams_integrate."""
    F, Gk, Ik = problem(2, 1)
    t = np.arange(N_TOTAL) * DT
    for corrector, model in [(False, LSTMOperatorModel), (True, LSTMOperatorModel), (False, MemoryOperatorModel),
                             (True, MemoryOperatorModel)]:
        m = model(model_config(model.name, ab_order=3, corrector=corrector))
        m.net = random_model(1) if model is LSTMOperatorModel else random_structured()
        memory = LearnedMemory(m.net) if model is LSTMOperatorModel else m.net.memory()
        assert fused_stepper.supported(m.net, corrector) == (not corrector)
        G_ref, _ = adams_integrate(F, memory, Gk, Ik, DT, N_TOTAL, order=3, corrector=corrector)
        assert rel(m.extrapolate(Gk, t, F=F, I_known=Ik), G_ref) < 1e-5


def lag_structured(fit, legs_order=64):
    """A structured memory holding the lag kernel `fit` (as model.kernel=auto leaves it)."""
    model = StructuredMemory(legs_order, 1, n_rates=len(fit.rates), lag_degree=fit.degree)
    model.set_lag(fit)
    model.dt.fill_(DT)
    return model.eval()


def zoo_window(case):
    """A lag-memory zoo IDE (lag_memories.<case>) solved on the known window: F, G, I (1, N0, 1, 1)."""
    F, K, G0 = getattr(lag_memories, case)()
    ref = solve_ide(F, K, G0, (N0 - 1) * DT, DT, order=6)
    return F, ref.G, ref.I


def random_lag_fit(degree, n_rates=3, seed=2, scale=1.5):
    """A lag kernel with random decaying complex rates and random coefficients (a_0 = damping, like the zoo's)."""
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0.2, 1.5, n_rates) + 1j * rng.uniform(-3, 3, n_rates)
    coef = 0.3 * (rng.standard_normal((degree + 1, n_rates)) + 1j * rng.standard_normal((degree + 1, n_rates)))
    coef[0] -= 0.5
    return LagFit("exp", rates, coef, scale)


# The exact kernels of the zoo cases as lag fits: c damped cosine (P = 0, two rates); d g_times_exp
# K = -i G e^{-0.3τ} (P = 1), written with scale s = 2 so that the 1/s of X = G/s is exercised.
DAMPED_COSINE = LagFit("exp", np.array([0.5 + 2j, 0.5 - 2j]), np.array([[-0.25, -0.25]], dtype=complex), 1.0)
G_TIMES_EXP = LagFit("exp", np.array([0.3 + 0j]), np.array([[0.0], [-2j]]), 2.0)


# Measured max |fused − generic| / max |generic| over the steps (float64 on both paths; the kernel evaluated in
# another order, Horner / Cayley-Hamilton against powers): damped_cosine G 1.6e-15, I 2.3e-15; g_times_exp G 5.5e-16,
# I 1.6e-15; random 2x2 P = 1 G 6.5e-16, I 9.0e-16; three 2x2 trajectories P = 2 G 6.6e-16, I 1.2e-15; three
# scalar trajectories P = 2 G 6.1e-16, I 1.8e-15. Thresholds 1e-14 (G), 2e-14 (I): >= 6x. The kernel taken at
# node n+1's lag instead of node n's puts G off by 1e-3 .. 1e-2.
@pytest.mark.parametrize("case", ["damped_cosine", "g_times_exp", "random_2x2", "random_batch_2x2",
                                  "random_batch_1x1"])
def test_fused_equals_plain_with_a_lag_kernel(case):
    """The fused LegS loop with a lag kernel K(G, τ) = Σ_k a_k(τ) (G/s)^k (the column at node n is
    K(G_n, n dt)) reproduces adams_integrate + legs.LagLegSMemory to float64 round-off: the scalar Horner case
    (P = 0 and P = 1), the 2x2 Cayley-Hamilton case, and the matrix-series case of several trajectories; over
    more steps than one chunk, so the a_k(τ_n) tables are rebuilt."""
    if case in ("damped_cosine", "g_times_exp"):
        fit = DAMPED_COSINE if case == "damped_cosine" else G_TIMES_EXP
        F, Gk, Ik = zoo_window(case)
    else:
        B, d = {"random_2x2": (1, 2), "random_batch_2x2": (3, 2), "random_batch_1x1": (3, 1)}[case]
        fit = random_lag_fit(1 if case == "random_2x2" else 2)
        F, Gk, Ik = problem(B, d)
    model = lag_structured(fit)
    n_total = N0 + fused_stepper._LegSLoop.CHUNK + 60
    G_ref, I_ref = adams_integrate(F, model.memory(DT), Gk, Ik, DT, n_total, order=3)
    G, I = fused_stepper.adams_fused(model, F, Gk, Ik, DT, n_total, order=3)
    assert rel(G, G_ref) < 1e-14 and rel(I[:, N0:], I_ref[:, N0:]) < 2e-14
    assert np.abs(I[:, N0:]).max() > 0.01  # the memory is not trivially zero


def test_extrapolate_fuses_legs_lag_kernels_only(monkeypatch):
    """memory_operator.extrapolate: a lag kernel with memory=legs goes through the fused loop (and agrees with
    the generic stepper); memory=exp (the O(J) recurrence) and the corrector take adams_integrate."""
    F, Gk, Ik = zoo_window("damped_cosine")
    t = np.arange(N_TOTAL) * DT
    calls = []
    fused = fused_stepper.adams_fused
    monkeypatch.setattr(fused_stepper, "adams_fused", lambda *a, **k: calls.append(1) or fused(*a, **k))
    for memory, corrector, expect_fused in [("legs", False, True), ("legs", True, False), ("exp", False, False)]:
        m = MemoryOperatorModel(model_config("memory_operator", ab_order=3, corrector=corrector,
                                             memory=MemoryKind(memory), kernel=MemoryKernel.auto, max_degree=0))
        m.net = lag_structured(DAMPED_COSINE)
        assert fused_stepper.supported(m.net, corrector, memory) == expect_fused
        calls.clear()
        G_ref, _ = adams_integrate(F, m.net.memory(DT, kind=memory, order=3), Gk, Ik, DT, N_TOTAL, order=3,
                                   corrector=corrector)
        G = m.extrapolate(Gk, t, F=F, I_known=Ik)
        assert bool(calls) == expect_fused and rel(G, G_ref) < 1e-14  # measured 1.3e-15 fused, 0 otherwise
