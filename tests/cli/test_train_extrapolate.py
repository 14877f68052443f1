"""End-to-end train -> extrapolate through the CLI on tiny settings (one per model family)."""

import json

import numpy as np
import pytest
import torch

from idelearn.models.registry import MODELS
from idelearn.report.metrics import r2, rel_l2


def tiny(name: str) -> list[str]:
    """The smallest `idelearn train` of a model: its registry entry's tiny run."""
    model = MODELS[name]
    return [f"model={name}", *model.tiny_data, *(f"model.{k}={v}" for k, v in model.tiny.items())]


@pytest.mark.parametrize("name", MODELS)
def test_train_then_extrapolate(idelearn, tmp_path, name):
    """The files of both commands, and metrics that are what prediction.npz says over the right span.

    Tiny settings cannot make a learned model accurate (the model tests do that); what a broken pipeline
    gets wrong here is the plumbing: the known window not given as is, the split, the scored span.
    """
    train_dir, pred_dir = tmp_path / "train", tmp_path / "pred"
    cache = f"trainer.cache_dir={tmp_path / 'cache'}"
    idelearn("train", *tiny(name), cache, f"hydra.run.dir={train_dir}", check=True)
    assert {"model.pt", "metrics.json", "train.log", "loss.png"} <= {p.name for p in train_dir.iterdir()}
    ckpt = torch.load(train_dir / "model.pt", weights_only=True)
    assert ckpt["model"] == name and ckpt["config"]["name"] == name and "dataset" in ckpt
    ide = ckpt["dataset"]["kind"] == "ide"
    t_final = {"dmd": 3.0}.get(name, 1.5) if ide else None
    idelearn("extrapolate", f"run={train_dir}", *([f"t_final={t_final}"] if ide else []),
             f"hydra.run.dir={pred_dir}", check=True)
    metrics = json.loads((pred_dir / "metrics.json").read_text())
    with np.load(pred_dir / "prediction.npz", allow_pickle=False) as f:
        t, pred, true = f["t"], f["G_pred"], f["G_true"]
    assert pred.shape == true.shape and len(t) == pred.shape[1]
    split = int(np.searchsorted(t, metrics["t_known"], side="right"))
    np.testing.assert_array_equal(pred[:, :split], true[:, :split])  # the known part is given, unchanged
    assert metrics["rel_l2"] == pytest.approx(rel_l2(pred[:, split:], true[:, split:]), rel=1e-12)
    assert (pred_dir / "extrapolation.png").exists()
    if ide:
        trained_t = {"dmd": 2.0}.get(name, 1.0)
        assert metrics["t_known"] == pytest.approx(trained_t) and t[-1] == pytest.approx(t_final)
    else:
        assert split == metrics["context"] == 10 and t[-1] == pytest.approx(1.0)
        assert metrics["r2"] == pytest.approx(r2(pred[:, split:], true[:, split:]), rel=1e-12)
    if name == "anie":
        assert (pred_dir / "attention.png").exists()
    if name == "dmd":  # nothing to train badly: DMD continues the Dyson window t <= 2 to t = 3 (measured 2e-7..8e-7)
        assert metrics["rel_l2"] < 1e-4
    if name == "kernel_operator":  # the tiny run's 2 terms (t <= 1 pins them down; 12 it does not: K 4 % off) learn
        # K = -iG: measured 1.5e-12..2.0e-12 to t = 1.5, K within 2.2e-11..2.3e-11 (AVX512/AVX2/SSE4.2 kernels)
        assert metrics["rel_l2"] < 1e-10 and metrics["kernel_rel_err_extrapolated"] < 1e-9
        assert (pred_dir / "kernel.png").exists()


INCOMPATIBLE = {
    "lstm_operator on curves": (["model=lstm_operator", "dataset=spirals"], "lstm_operator"),
    "kernel_operator on curves": (["model=kernel_operator", "dataset=lotka_volterra"], "kernel_operator"),
    "dmd on many trajectories": (["model=dmd", "dataset=dyson_multi"], "dmd"),
    "nie on IDE data": (["model=nie", "dataset=dyson"], "nie"),
    "anie on IDE data": (["model=anie", "dataset=matrix_ide"], "anie"),
}


@pytest.mark.parametrize("overrides,name", INCOMPATIBLE.values(), ids=INCOMPATIBLE.keys())
def test_incompatible_combination_fails_at_start(idelearn, tmp_path, overrides, name):
    proc = idelearn("train", *overrides, f"hydra.run.dir={tmp_path / 'run'}", f"trainer.cache_dir={tmp_path}")
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot train" in lines[0] and "needs" in lines[0]
    assert not (tmp_path / "run" / "model.pt").exists()
    assert not any(tmp_path.glob("*/dataset.npz"))  # nothing was solved


def test_extrapolate_refuses_a_crafted_pickle(idelearn, tmp_path):
    import pickle

    run = tmp_path / "fake"
    run.mkdir()
    (run / "model.pt").write_bytes(pickle.dumps({"model": "lstm_operator"}))
    proc = idelearn("extrapolate", f"run={run}", f"hydra.run.dir={tmp_path / 'x'}")
    assert proc.returncode == 2 and "not a loadable" in proc.stderr and "Traceback" not in proc.stderr
