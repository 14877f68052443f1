"""The shared training loop: non-finite guards, and resume after SIGKILL to identical weights."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from idelearn.models import training
from idelearn.models.lstm_operator import LSTMOperator, fit_lstm_operator
from idelearn.models.training import VAL_MONITOR, NonFiniteError, optimiser_step, validation_rows


def test_non_finite_loss_stops_with_the_step_named():
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([w], lr=0.1)
    with pytest.raises(NonFiniteError, match="nan at step 8"):
        optimiser_step(opt, (w * float("nan")).sum(), "step 8")
    assert torch.equal(w.data, torch.ones(2))  # nothing was applied


def test_non_finite_gradient_stops_training():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=0.1)
    with pytest.raises(NonFiniteError, match="gradients at epoch 3"):
        optimiser_step(opt, torch.sqrt(w).sum(), "epoch 3")  # d/dw sqrt(w) at 0 is inf


TRAIN = ["model=direct_rnn", "dataset=dyson", "dataset.t_final=3", "model.steps=400", "model.hidden_size=16",
         "trainer.checkpoint_every=5", "device.threads=1"]


def train_cmd(run_dir, cache):
    return [sys.executable, "-m", "idelearn.cli", "train", *TRAIN, f"trainer.cache_dir={cache}",
            f"hydra.run.dir={run_dir}"]


@pytest.mark.slow
def test_resume_after_sigkill_reaches_the_same_weights(tmp_path):
    cache = tmp_path / "cache"
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(train_cmd(straight, cache), check=True, capture_output=True, timeout=600)

    proc = subprocess.Popen(train_cmd(killed, cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    state = killed / "train_state.pt"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if state.exists() and torch.load(state, weights_only=True)["iteration"] >= 20:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed; make it longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    interrupted_at = torch.load(state, weights_only=True)["iteration"]
    assert 0 < interrupted_at < 400 and not (killed / "model.pt").exists()

    subprocess.run(train_cmd(killed, cache), check=True, capture_output=True, timeout=600)
    a = torch.load(straight / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(killed / "model.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_validation_monitors_a_subset_then_scores_every_held_out_trajectory(monkeypatch):
    """The schedule, and that it changes neither the weights nor the final validation loss."""
    rows = [validation_rows(ep, 25) for ep in range(25)]
    assert [ep for ep, r in enumerate(rows) if r is not None] == [0, 10, 20, 24]
    held_out = list(range(200))
    assert held_out[rows[10]] == held_out[:VAL_MONITOR] and held_out[rows[24]] == held_out

    t = np.linspace(0, 2, 21)
    h = np.linspace(0.5, 3, 6 * VAL_MONITOR)  # 20 % held out: more than VAL_MONITOR trajectories
    G = np.exp(-1j * h[:, None] * t)[..., None, None]
    I = -0.3 * G

    def fit():
        torch.manual_seed(0)
        model = LSTMOperator(2, 8, 1, ema=0.003)
        hist = fit_lstm_operator(model, G, I, steps=12, lr=1e-2, batch_size=16, seed=0, gain=1.0, bptt_window=0)
        return model, hist

    monitored, hist = fit()
    monkeypatch.setattr(training, "VAL_MONITOR", len(h))  # the old schedule: all of them every time
    scored_all, hist_all = fit()
    for a, b in zip(monitored.parameters(), scored_all.parameters()):
        assert torch.equal(a, b)
    assert hist["val_loss"][-1] == hist_all["val_loss"][-1]
    assert hist["val_loss"][1] != hist_all["val_loss"][1]  # epoch 10 scored a subset vs all of them
