"""idelearn train: fit a model on a dataset; write model.pt, metrics.json, loss.png."""

from __future__ import annotations

import json
import time

import numpy as np
import torch
from omegaconf import OmegaConf

from .. import __version__
from ..config import DATASETS, expected_n_traj, to_object
from ..data.cache import cached
from ..errors import UserError
from ..models.registry import MODELS, Incompatible
from ..report.plots import plot_loss
from .common import limit_threads, log, run_dir, write_json


def plain(node) -> dict:
    return OmegaConf.to_container(node, resolve=True, enum_to_str=True)


def json_plain(obj):
    """Plain Python (no numpy scalars/arrays), so torch.load(weights_only=True) can read it back."""

    def default(x):
        if isinstance(x, np.ndarray):
            return x.tolist()
        if isinstance(x, np.generic):
            return x.item()
        return str(x)

    return json.loads(json.dumps(obj, default=default))


def dataset_choice(cfg, model_cfg):
    """The dataset config named on the command line, or the model's default; and its plain dict."""
    if cfg.dataset is None:
        dataset_cfg = DATASETS[model_cfg.default_dataset]()
        described = dict(dataset_cfg.__dict__)
    else:
        dataset_cfg = to_object(cfg.dataset)
        described = plain(cfg.dataset)
    return dataset_cfg, {k: (v.value if hasattr(v, "value") else v) for k, v in described.items()}


def check_compatible(model, model_name: str, dataset_name: str, kind: str | None, n_traj: int | None) -> None:
    try:
        if kind is not None and n_traj is not None:
            model.check(kind, n_traj)
    except Incompatible as exc:
        raise UserError(f"model={model_name} cannot train on dataset={dataset_name}: {exc}") from None


def load_training_data(dataset_cfg, described: dict, solver_cfg, trainer):
    """The dataset, generated once and cached (files are read as they are)."""
    solver = solver_cfg.spec()
    if dataset_cfg.name == "from_file":
        return dataset_cfg.generate(), dataset_cfg.path
    data, path = cached({**described, "solver": solver.describe()}, lambda: dataset_cfg.generate(solver),
                        trainer.cache_dir)
    return data, str(path.resolve())


def split_curves(n_curves: int, trainer) -> tuple[np.ndarray, np.ndarray]:
    n_train = trainer.n_train if trainer.n_train is not None else max(1, int(trainer.train_fraction * n_curves))
    if n_train > n_curves:
        raise UserError(f"trainer.n_train: {n_train} is more than the {n_curves} curves in the dataset")
    return np.arange(n_train), np.arange(n_train, n_curves)


def run(cfg) -> None:
    model_cfg = to_object(cfg.model)
    trainer = to_object(cfg.trainer)
    device_cfg = to_object(cfg.device)
    limit_threads(device_cfg.threads)
    device = device_cfg.torch_device()
    out = run_dir()

    dataset_cfg, dataset_described = dataset_choice(cfg, model_cfg)
    model = MODELS[model_cfg.name](**model_cfg.hparams())
    # fail before any solving when the combination cannot work; files are checked once read
    check_compatible(model, model_cfg.name, dataset_cfg.name, dataset_cfg.kind, expected_n_traj(dataset_cfg))
    data, dataset_path = load_training_data(dataset_cfg, dataset_described, to_object(cfg.solver), trainer)
    check_compatible(model, model_cfg.name, dataset_cfg.name, data.kind, data.n_traj)
    train_idx, test_idx = np.arange(data.n_traj), np.array([], dtype=int)
    if data.kind == "trajectory":
        train_idx, test_idx = split_curves(data.n_traj, trainer)
    train_data = data.select(train_idx)
    log.info("training %s on %s: %d trajectories x %d nodes, device %s", model_cfg.name, dataset_described["name"],
             train_data.n_traj, len(data.t), device)

    def on_epoch(epoch: int, record: dict) -> None:
        if epoch % trainer.log_every == 0 or epoch == model_cfg.epochs - 1:
            log.info("epoch %d/%d  %s", epoch + 1, model_cfg.epochs,
                     "  ".join(f"{k}={v:.4g}" for k, v in record.items() if isinstance(v, float)))

    start = time.perf_counter()
    history = model.fit(train_data, seed=trainer.seed, on_epoch=on_epoch, device=device, **model_cfg.training())
    wall = time.perf_counter() - start

    checkpoint = model.checkpoint()
    checkpoint.update(json_plain(dict(
        idelearn_version=__version__,
        dataset={"config": dataset_described, "meta": data.meta, "path": dataset_path,
                 "t_final": float(data.t[-1]), "dt": float(data.t[1] - data.t[0]), "kind": data.kind,
                 "shape": list(data.G.shape[2:]), "param_names": list(data.param_names),
                 "params": data.params.tolist(), "train_indices": train_idx.tolist(),
                 "test_indices": test_idx.tolist()},
        config=plain(cfg),
    )))
    torch.save(checkpoint, out / "model.pt")
    metrics = {"model": model_cfg.name, "dataset": dataset_described["name"], "wall_s": wall,
               "epochs": model_cfg.epochs, "final_loss": float(history["loss"][-1]) if history.get("loss") else None,
               "n_train": int(len(train_idx)), "n_test": int(len(test_idx))}
    val = history.get("val_loss")
    if val:
        metrics["final_val_loss"] = float(val[-1][1] if isinstance(val[-1], (list, tuple)) else val[-1])
    if history.get("s_per_iter"):
        metrics["s_per_iter"] = float(np.median(history["s_per_iter"]))
    write_json(out / "metrics.json", metrics)
    if history.get("loss"):
        plot_loss(history, out / "loss.png", title=f"{model_cfg.name} on {dataset_described['name']}")
    log.info("trained in %.1f s; wrote %s", wall, out / "model.pt")
    hint = "t_final=40" if data.kind == "ide" else f"context={getattr(model_cfg, 'context', 20)}"
    log.info("extrapolate with: idelearn extrapolate run=%s %s", out, hint)
