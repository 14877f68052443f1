"""Train and extrapolate on config objects (no Hydra): shared by the commands and the benchmark suites."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .config import DATASETS, FromRunConfig, dataset_config, expected_n_traj
from .data.cache import cached
from .data.dataset import Dataset
from .data.io import load_curves
from .errors import UserError
from .models.registry import MODELS, Incompatible, Model
from .report import metrics as M


def enum_free(values: dict) -> dict:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}


def json_plain(obj):
    """Plain Python (no numpy scalars/arrays), so torch.load(weights_only=True) can read it back."""

    def default(x):
        if isinstance(x, np.ndarray):
            return x.tolist()
        if isinstance(x, np.generic):
            return x.item()
        return str(x)

    return json.loads(json.dumps(obj, default=default))


# ----------------------------------------------------------------------------- training

def check_compatible(model: Model, dataset_name: str, kind: str | None, n_traj: int | None) -> None:
    try:
        if kind is not None and n_traj is not None:
            model.check(kind, n_traj)
    except Incompatible as exc:
        raise UserError(f"model={model.name} cannot train on dataset={dataset_name}: {exc}") from None


def load_dataset_for(dataset_cfg, solver_spec, cache_dir) -> tuple[Dataset, str]:
    """A generated dataset (solved once, then cached by config hash) or a file as it is."""
    if dataset_cfg.name == "from_file":
        return dataset_cfg.generate(), str(Path(dataset_cfg.path).expanduser().resolve())
    described = {**enum_free(dataset_cfg.__dict__), "solver": solver_spec.describe()}
    data, path = cached(described, lambda: dataset_cfg.generate(solver_spec), cache_dir)
    return data, str(path.resolve())


def split_curves(n_curves: int, n_train: int | None, train_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    n_train = n_train if n_train is not None else max(1, int(train_fraction * n_curves))
    if n_train > n_curves:
        raise UserError(f"trainer.n_train: {n_train} is more than the {n_curves} curves in the dataset")
    return np.arange(n_train), np.arange(n_train, n_curves)


@dataclass
class Trained:
    model: Model
    data: Dataset
    history: dict
    wall_s: float
    checkpoint: dict = field(default_factory=dict)


def train(model_cfg, dataset_cfg, solver_spec, trainer, on_epoch=None, device=None, log=None) -> Trained:
    """Fit `model_cfg`'s model on `dataset_cfg` (config dataclasses); returns the model and its checkpoint."""
    model = MODELS[model_cfg.name](**model_cfg.hparams())
    # fail before any solving when the combination cannot work; files are checked once read
    check_compatible(model, dataset_cfg.name, dataset_cfg.kind, expected_n_traj(dataset_cfg))
    data, data_path = load_dataset_for(dataset_cfg, solver_spec, trainer.cache_dir)
    check_compatible(model, dataset_cfg.name, data.kind, data.n_traj)
    train_idx, test_idx = np.arange(data.n_traj), np.array([], dtype=int)
    if data.kind == "trajectory":
        train_idx, test_idx = split_curves(data.n_traj, trainer.n_train, trainer.train_fraction)
    if log is not None:
        log.info("training %s on %s: %d trajectories x %d nodes, device %s", model.name, dataset_cfg.name,
                 len(train_idx), len(data.t), device or "cpu")
    start = time.perf_counter()
    history = model.fit(data.select(train_idx), seed=trainer.seed, on_epoch=on_epoch, device=device,
                        **model_cfg.training())
    wall = time.perf_counter() - start
    checkpoint = model.checkpoint()
    checkpoint.update(json_plain(dict(
        idelearn_version=__version__,
        dataset={"config": enum_free(dataset_cfg.__dict__), "meta": data.meta, "path": data_path,
                 "t_final": float(data.t[-1]), "dt": float(data.t[1] - data.t[0]), "kind": data.kind,
                 "shape": list(data.G.shape[2:]), "param_names": list(data.param_names),
                 "params": data.params.tolist(), "train_indices": train_idx.tolist(),
                 "test_indices": test_idx.tolist()},
    )))
    return Trained(model=model, data=data, history=history, wall_s=wall, checkpoint=checkpoint)


def train_metrics(trained: Trained, model_cfg) -> dict:
    history, ds = trained.history, trained.checkpoint["dataset"]
    metrics = {"model": model_cfg.name, "dataset": ds["config"]["name"], "wall_s": trained.wall_s,
               "epochs": model_cfg.epochs, "n_train": len(ds["train_indices"]), "n_test": len(ds["test_indices"]),
               "final_loss": float(history["loss"][-1]) if history.get("loss") else None}
    val = history.get("val_loss")
    if val:
        metrics["final_val_loss"] = float(val[-1][1] if isinstance(val[-1], (list, tuple)) else val[-1])
    if history.get("s_per_iter"):
        metrics["s_per_iter"] = float(np.median(history["s_per_iter"]))
    return metrics


# ----------------------------------------------------------------------------- checkpoints

def find_checkpoint(run: str | None, root: str = "outputs/train") -> Path:
    if run is None:
        found = sorted(Path(root).glob("**/model.pt"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise UserError(f"run: no train run found under {root}; give run=<train run dir>")
        return found[-1]
    path = Path(run).expanduser()
    path = path / "model.pt" if path.is_dir() else path
    if not path.exists():
        raise UserError(f"run: no model.pt at {path}")
    return path


def load_checkpoint(path: Path) -> dict:
    """Read model.pt without executing code (weights_only=True); refuse anything else in one line."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle with code, a truncated file, not a torch file
        raise UserError(f"run: {path} is not a loadable idelearn checkpoint ({type(exc).__name__})") from None
    missing = [k for k in ("model", "hparams", "dataset") if not isinstance(ckpt, dict) or k not in ckpt]
    if missing or ckpt["model"] not in MODELS:
        raise UserError(f"run: {path} is not an idelearn checkpoint (missing {missing or ['a known model']})")
    return ckpt


def restore(ckpt: dict) -> Model:
    return MODELS[ckpt["model"]].restore(ckpt)


# ----------------------------------------------------------------------------- extrapolation

@dataclass
class Prediction:
    t: np.ndarray
    G_pred: np.ndarray
    G_true: np.ndarray
    split: int  # first predicted node
    params: np.ndarray
    wall_s: float
    kind: str

    def metrics(self) -> dict:
        pred, true = self.G_pred[:, self.split:], self.G_true[:, self.split:]
        n_steps = max(1, (len(self.t) - self.split) * len(self.G_pred))
        out = {"rel_l2": M.rel_l2(pred, true), "max_abs": M.max_abs(pred, true), "wall_s": self.wall_s,
               "us_per_step": 1e6 * self.wall_s / n_steps, "n_traj": int(len(self.G_pred)),
               "t_known": float(self.t[self.split - 1]), "t_final": float(self.t[-1])}
        if self.kind != "ide":
            out.update(r2=M.r2(pred, true), r2_paper=M.r2_paper(pred, true), context=int(self.split),
                       mae_per_time=M.mae_per_time(pred, true).tolist())
        return out


def ide_target(trained: dict, changes: dict):
    """The single-trajectory dataset config to extrapolate: the training one with `changes` applied."""
    name = trained["config"]["name"]
    base = dataset_config(name, trained["config"])
    if hasattr(base, "single"):  # multi-trajectory training: start from its first trajectory
        base = base.single(dict(zip(trained["param_names"], trained["params"][0])))
    values = enum_free(base.__dict__)
    for key, value in changes.items():
        if key not in values:
            raise UserError(f"dataset.{key}: not a parameter of {base.name} (the model was trained on {name})")
        values[key] = value
    return dataset_config(base.name, values)


def extrapolate_ide(model: Model, trained: dict, changes: dict, t_final: float | None, solver_spec) -> Prediction:
    """Reference solve to t_final; the model continues from the known window t <= training horizon."""
    t_train = trained["t_final"]
    t_final = t_final if t_final is not None else 4 * t_train
    if t_final <= t_train:
        raise UserError(f"t_final: must exceed the training horizon {t_train}, got {t_final}")
    single = ide_target(trained, changes)
    single.t_final = t_final
    problem = single.problem()
    if list(problem.G0.shape[1:]) != trained["shape"]:
        raise UserError(f"dataset: the model was trained on {trained['shape']} matrices; "
                        f"this problem has {list(problem.G0.shape[1:])}")
    reference = single.generate(solver_spec)
    n_known = int(round(t_train / single.dt)) + 1
    start = time.perf_counter()
    G_pred = model.extrapolate(reference.G[:, :n_known], reference.t, F=problem.F, I_known=reference.I[:, :n_known])
    wall = time.perf_counter() - start
    return Prediction(reference.t, G_pred, reference.G, n_known, reference.params, wall, "ide")


def extrapolate_curves(model: Model, trained: dict, target: FromRunConfig, context: int | None) -> Prediction:
    """Given the first `context` points of unseen curves, predict the rest."""
    context = context if context is not None else model.hparams.get("context", 20)
    if target.path is not None:
        curves = load_curves(target.path, target.t_final)
    else:  # the curves held out of training
        curves = load_curves(trained["path"]).select(trained["test_indices"] or [0])
    if curves.G.ndim != 3 or curves.G.shape[-1] != trained["shape"][0]:
        raise UserError(f"dataset.path: curves of shape {curves.G.shape[1:]} do not match the model's "
                        f"dimension {trained['shape'][0]}")
    if not 1 <= context < len(curves.t):
        raise UserError(f"context: must be in 1..{len(curves.t) - 1}, got {context}")
    start = time.perf_counter()
    G_pred = model.extrapolate(curves.G[:, :context], curves.t)
    wall = time.perf_counter() - start
    return Prediction(curves.t, G_pred, curves.G, context, curves.params, wall, "trajectory")


def default_dataset(model_cfg):
    return DATASETS[model_cfg.default_dataset]()
