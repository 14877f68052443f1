"""The paper's LSTM memory operator: it learns Dyson's memory integral, steps exactly like its
whole-sequence forward, trains on windows (truncated BPTT), and round-trips through checkpoints."""

import numpy as np
import pytest
import torch

from idelearn.models.features import to_features
from idelearn.models.lstm_operator import LearnedMemory, LSTMOperator, LSTMOperatorModel, fit_lstm_operator
from idelearn.report.metrics import rel_l2
from tests.analytic import dyson_memory
from tests.configs import model_config, round_trip


def net(n_features, **settings):
    """An LSTMOperator with test-sized settings (conf/model/lstm_operator.yaml holds the real ones)."""
    base = dict(hidden_size=16, num_layers=1, ema=0.003)
    return LSTMOperator(n_features, **{**base, **settings})


def fit(model, G, I, **settings):
    base = dict(steps=0, lr=1e-2, batch_size=8, seed=0, gain=1.0, bptt_window=0, val_fraction=0.0)
    return fit_lstm_operator(model, G, I, **{**base, **settings})


H, DT = -1.0, 0.01


def dyson(t, h=H, c=1.0):
    return dyson_memory(t, h, c)


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
    """The state dict holds the LSTM's weights and its two scale buffers, and survives the file."""
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


@pytest.mark.parametrize("steps", [1, 300])
def test_lstm_reports_its_holdout_residual(steps):
    """The estimator scores a second LSTM, trained the same way on the window's first 70 %, on the last 30 %
    (teacher-forced relative residual of I: metrics.json's memory_holdout_residual). On a memory the LSTM can
    learn (I = -0.3 G, G = e^{-2πit}: every phase seen before the tail) measured 0.011-0.016 after 300 steps
    (seeds 0-2; threshold 0.1) and 0.97-0.98 after 1 step (threshold 0.5). On Dyson's memory the same recipe
    measures 0.8-2.3 (t <= 3 or 10, 300-1000 steps): the paper's LSTM is flagged, as its closed loop is tens
    of % off (docs/results.md)."""
    from idelearn.data.dataset import Dataset

    t = np.linspace(0, 3, 301)
    G = np.exp(-2j * np.pi * t)[None, :, None, None]
    data = Dataset(t=t, G=G, I=-0.3 * G, params=np.zeros((1, 1)), param_names=["h"])
    model = LSTMOperatorModel(model_config("lstm_operator", steps=steps, hidden_size=16, num_layers=1, batch_size=4,
                                           gain=0.5, holdout=0.3))
    residual = model.fit(data, seed=0)["memory_holdout_residual"][0]
    assert model.fitted["memory_holdout_residual"] == residual
    assert residual < 0.1 if steps == 300 else residual > 0.5
