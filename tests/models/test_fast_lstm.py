"""The fused LSTM rollout (fast_lstm.adams_lstm) reproduces LearnedMemory + adams_integrate."""

import numpy as np
import pytest
import torch

from idelearn.models import fast_lstm
from idelearn.models.lstm_operator import LearnedMemory, LSTMOperator
from idelearn.models.registry import LSTMOperatorModel
from idelearn.solvers.multistep import BlowUpError, adams_integrate
from tests.configs import model_config

DT, N0, N_TOTAL = 0.01, 40, 240




def random_model(d, ema=0.01, hidden=16, layers=2, seed=0, **kw):
    """A random operator with non-trivial scales, so that a wrong feature order or scale shows."""
    torch.manual_seed(seed)
    nf = 2 * d * d
    model = LSTMOperator(nf, hidden, layers, ema=ema, **kw).eval()
    with torch.no_grad():
        model.x_scale.copy_(0.5 + torch.rand(nf))
        model.y_scale.copy_(0.2 * (0.5 + torch.rand(nf)))
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


@pytest.mark.parametrize("engine", ["numpy", "torch"])
@pytest.mark.parametrize("B,d", [(1, 1), (4, 1), (1, 2), (4, 2)])
def test_fast_equals_plain(B, d, engine):
    model = random_model(d)
    F, Gk, Ik = problem(B, d)
    G_ref, I_ref = adams_integrate(F, LearnedMemory(model), Gk, Ik, DT, N_TOTAL, order=3)
    G, I = fast_lstm.adams_lstm(model, F, Gk, Ik, DT, N_TOTAL, order=3, engine=engine)
    assert G.shape == I.shape == (B, N_TOTAL, d, d)
    np.testing.assert_array_equal(G[:, :N0], Gk)
    assert rel(G, G_ref) < 1e-5 and rel(I, I_ref) < 1e-5


@pytest.mark.parametrize("ema,layers,order", [(0.0, 2, 3), (0.01, 1, 2), (0.01, 3, 4)])
def test_other_settings(ema, layers, order):
    """No running amplitude, one or three layers (the head's window then spans unused columns), AB2/AB4."""
    model = random_model(2, ema=ema, layers=layers)
    F, Gk, Ik = problem(3, 2)
    G_ref, _ = adams_integrate(F, LearnedMemory(model), Gk, Ik, DT, N_TOTAL, order=order)
    G, _ = fast_lstm.adams_lstm(model, F, Gk, Ik, DT, N_TOTAL, order=order)
    assert rel(G, G_ref) < 1e-5


def test_float64_engine():
    model = random_model(1)
    F, Gk, Ik = problem(2, 1)
    G_ref, _ = adams_integrate(F, LearnedMemory(model), Gk, Ik, DT, N_TOTAL, order=3)
    G, _ = fast_lstm.adams_lstm(model, F, Gk, Ik, DT, N_TOTAL, dtype=np.float64)
    assert rel(G, G_ref) < 1e-5


def test_blow_up_is_reported_like_the_plain_path():
    model = random_model(1)
    F, Gk, Ik = problem(1, 1)
    grow = lambda G, t: 50.0 * G  # noqa: E731
    with pytest.raises(BlowUpError) as exc:
        fast_lstm.adams_lstm(model, grow, Gk, Ik, DT, 2000, max_abs=1e3)
    assert exc.value.G.shape[1] == exc.value.n_reached and np.abs(exc.value.G).max() <= 1e3


def test_registry_uses_fast_path_and_falls_back():
    """extrapolate: fused loop by default; the corrector and the FIR path go through adams_integrate."""
    F, Gk, Ik = problem(2, 1)
    t = np.arange(N_TOTAL) * DT
    for corrector, fir_len in [(False, 0), (True, 0), (False, 3)]:
        m = LSTMOperatorModel(model_config("lstm_operator", ab_order=3, corrector=corrector))
        m.net = random_model(1, fir_len=fir_len)
        assert fast_lstm.supported(m.net, corrector) == (not corrector and fir_len == 0)
        G_ref, _ = adams_integrate(F, LearnedMemory(m.net), Gk, Ik, DT, N_TOTAL, order=3, corrector=corrector)
        assert rel(m.extrapolate(Gk, t, F=F, I_known=Ik), G_ref) < 1e-5
