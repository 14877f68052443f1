"""idelearn extrapolate: continue a trained model past its training window.

IDE models: the reference solver gives the known window (t <= the training
horizon) and the truth beyond it; the model continues from the window to
t_final. Curve models: the first `context` points of unseen curves are given,
the model predicts the rest.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..config import DATASETS, FromRunConfig, dataset_config, to_object
from ..data.io import load_curves
from ..errors import UserError
from ..models.registry import MODELS
from ..report import metrics as M
from ..report.plots import plot_attention, plot_curves, plot_extrapolation
from .common import limit_threads, log, run_dir, write_json


def find_checkpoint(run: str | None) -> Path:
    if run is None:
        found = sorted(Path("outputs/train").glob("**/model.pt"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise UserError("run: no train run found under outputs/train; give run=<train run dir>")
        return found[-1]
    path = Path(run).expanduser()
    path = path / "model.pt" if path.is_dir() else path
    if not path.exists():
        raise UserError(f"run: no model.pt at {path}")
    return path


def load_checkpoint(path: Path) -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle with code, a truncated file, not a torch file
        raise UserError(f"run: {path} is not a loadable idelearn checkpoint ({type(exc).__name__})") from None
    missing = [k for k in ("model", "hparams", "dataset") if k not in ckpt]
    if missing or ckpt["model"] not in MODELS:
        raise UserError(f"run: {path} is not an idelearn checkpoint (missing {missing or ['a known model']})")
    return ckpt


def ide_target(trained: dict, changes: dict):
    """The single-trajectory dataset config to extrapolate: the training one with `changes` applied."""
    name = trained["config"]["name"]
    base = dataset_config(name, trained["config"])
    if hasattr(base, "single"):  # multi-trajectory training: start from its first trajectory
        base = base.single(dict(zip(trained["param_names"], trained["params"][0])))
    values = {k: v for k, v in base.__dict__.items()}
    for key, value in changes.items():
        if key not in values:
            raise UserError(f"dataset.{key}: not a parameter of {base.name} (the model was trained on {name})")
        values[key] = value
    return dataset_config(base.name, {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()})


def run(cfg) -> None:
    device_cfg = to_object(cfg.device)
    limit_threads(device_cfg.threads)
    out = run_dir()
    ckpt_path = find_checkpoint(cfg.run)
    ckpt = load_checkpoint(ckpt_path)
    model = MODELS[ckpt["model"]].restore(ckpt)
    trained = ckpt["dataset"]
    target = to_object(cfg.dataset)
    if not isinstance(target, FromRunConfig):
        target = FromRunConfig(path=getattr(target, "path", None), t_final=getattr(target, "t_final", 1.0))
    log.info("extrapolating %s from %s", ckpt["model"], ckpt_path)

    if trained["kind"] == "ide":
        if target.path is not None:
            raise UserError("dataset.path: IDE models extrapolate a solved trajectory; give its parameters instead")
        t_train = trained["t_final"]
        t_final = cfg.t_final if cfg.t_final is not None else 4 * t_train
        if t_final <= t_train:
            raise UserError(f"t_final: must exceed the training horizon {t_train}, got {t_final}")
        single = ide_target(trained, target.changes())
        single.t_final = t_final
        if list(single.problem().G0.shape[1:]) != trained["shape"]:
            raise UserError(f"dataset: the model was trained on {trained['shape']} matrices; "
                            f"this problem has {list(single.problem().G0.shape[1:])}")
        reference = single.generate(to_object(cfg.solver).spec())
        n_known = int(round(t_train / single.dt)) + 1
        start = time.perf_counter()
        G_pred = model.extrapolate(reference.G[:, :n_known], reference.t, F=single.problem().F,
                                   I_known=reference.I[:, :n_known])
        wall = time.perf_counter() - start
        t, G_true, split = reference.t, reference.G, n_known
        params = reference.params
    else:
        context = cfg.context if cfg.context is not None else model.hparams.get("context", 20)
        if target.path is not None:
            curves = load_curves(target.path, target.t_final)
        else:
            curves = load_curves(trained["path"]).select(trained["test_indices"] or [0])
        if curves.G.shape[-1] != trained["shape"][0]:
            raise UserError(f"dataset.path: curves have dimension {curves.G.shape[-1]}, "
                            f"the model was trained on dimension {trained['shape'][0]}")
        if not 1 <= context < len(curves.t):
            raise UserError(f"context: must be in 1..{len(curves.t) - 1}, got {context}")
        start = time.perf_counter()
        G_pred = model.extrapolate(curves.G[:, :context], curves.t)
        wall = time.perf_counter() - start
        t, G_true, split, params = curves.t, curves.G, context, curves.params

    pred, true = G_pred[:, split:], G_true[:, split:]
    n_steps = max(1, (len(t) - split) * len(G_pred))
    metrics = {"model": ckpt["model"], "rel_l2": M.rel_l2(pred, true), "max_abs": M.max_abs(pred, true),
               "wall_s": wall, "us_per_step": 1e6 * wall / n_steps, "n_traj": int(len(G_pred)),
               "t_known": float(t[split - 1]), "t_final": float(t[-1]), "run": str(ckpt_path)}
    if trained["kind"] != "ide":
        metrics.update(r2=M.r2(pred, true), r2_paper=M.r2_paper(pred, true), context=int(split),
                       mae_per_time=M.mae_per_time(pred, true).tolist())
    np.savez(out / "prediction.npz", t=t, G_pred=G_pred, G_true=G_true, params=params)
    write_json(out / "metrics.json", metrics)
    figure = out / "extrapolation.png"
    if trained["kind"] == "ide":
        plot_extrapolation(t, G_pred[0], G_true[0], t[split - 1], figure, title=f"{ckpt['model']}")
    else:
        plot_curves(t, G_pred, G_true, split, figure, title=f"{ckpt['model']}: r2 = {metrics['r2']:.3f}")
        if hasattr(model, "attention_maps"):
            plot_attention(model.attention_maps(G_true[:1, :split], t), out / "attention.png")
    log.info("rel_l2 = %.4g over t in (%.4g, %.4g]%s; wrote %s", metrics["rel_l2"], metrics["t_known"],
             metrics["t_final"], f", r2 = {metrics['r2']:.4f}" if "r2" in metrics else "", figure)
