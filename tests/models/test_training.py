"""The shared training loop: non-finite guards, and resume after SIGKILL to identical weights."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from idelearn.models.training import NonFiniteError, optimiser_step


def test_non_finite_loss_stops_with_the_epoch_named():
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([w], lr=0.1)
    with pytest.raises(NonFiniteError, match="epoch 8"):
        optimiser_step(opt, (w * float("nan")).sum(), epoch=7)
    assert torch.equal(w.data, torch.ones(2))  # nothing was applied


def test_non_finite_gradient_stops_training():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=0.1)
    with pytest.raises(NonFiniteError, match="gradients at epoch 3"):
        optimiser_step(opt, torch.sqrt(w).sum(), epoch=2)  # d/dw sqrt(w) at 0 is inf


TRAIN = ["model=direct_rnn", "dataset=dyson", "dataset.t_final=3", "model.epochs=400", "model.hidden_size=16",
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
        if state.exists() and torch.load(state, weights_only=True)["epoch"] >= 20:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed; make it longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    interrupted_at = torch.load(state, weights_only=True)["epoch"]
    assert 0 < interrupted_at < 400 and not (killed / "model.pt").exists()

    subprocess.run(train_cmd(killed, cache), check=True, capture_output=True, timeout=600)
    a = torch.load(straight / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(killed / "model.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
