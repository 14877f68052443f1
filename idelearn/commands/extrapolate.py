"""idelearn extrapolate: continue a trained model past its training window.

IDE models: the reference solver gives the known window (t <= the training
horizon) and the truth beyond it; the model continues from the window to
t_final. Models trained on measured trajectories (dataset=from_file with
dataset.problem) continue a file's trajectories and are scored where it has
data. Curve models: the first `context` points of unseen curves are given, the
model predicts the rest.
"""

from __future__ import annotations

import numpy as np

from .. import config, pipeline
from ..config import to_object
from ..errors import RunFailure
from ..report.plots import plot_attention, plot_curves, plot_extrapolation, plot_kernels
from .common import limit_threads, log, run_dir, write_json


def register() -> None:
    config.register("extrapolate")


def run(cfg) -> None:
    limit_threads(to_object(cfg.device).threads)
    out = run_dir()
    ckpt_path = pipeline.find_checkpoint(cfg.run)
    ckpt = pipeline.load_checkpoint(ckpt_path)
    model = pipeline.restore(ckpt, f"run: {ckpt_path}")
    p = pipeline.extrapolate(model, ckpt["dataset"], to_object(cfg.dataset), cfg.t_final, cfg.context,
                             to_object(cfg.solver), cfg.start, cfg.from_initial)

    log.info("extrapolated %s from %s", ckpt["model"], ckpt_path)
    metrics = {"model": ckpt["model"], "run": str(ckpt_path), **p.metrics()}
    residual = (ckpt.get("fitted") or {}).get("memory_holdout_residual")
    if residual is not None:
        metrics["memory_holdout_residual"] = residual
    warning = pipeline.memory_warning(residual)
    if warning:
        log.warning(warning)
    np.savez(out / "prediction.npz", t=p.t, G_pred=p.G_pred, G_true=p.G_true, params=p.params)
    write_json(out / "metrics.json", metrics)
    figure = out / "extrapolation.png"
    if p.kind == "ide":
        plot_extrapolation(p.t, p.G_pred[0], p.G_true[0], p.t[p.split - 1], figure, title=ckpt["model"],
                           truth="reference" if p.n_truth is None else "data")
        if p.kernels is not None:
            plot_kernels(p.kernels, p.t[p.split - 1], out / "kernel.png", title=ckpt["model"])
    else:
        plot_curves(p.t, p.G_pred, p.G_true, p.split, figure, title=f"{ckpt['model']}: r2 = {metrics['r2']:.3f}")
        if hasattr(model, "attention_maps"):
            plot_attention(model.attention_maps(p.G_true[:1, :p.split], p.t), out / "attention.png")
    if p.partial:  # results so far are saved and marked partial; the run itself failed
        raise RunFailure(f"the prediction blew up (|G| > solver.max_abs or not finite) after t = "
                         f"{metrics['t_reached']:.6g}; partial results (metrics.json: partial) are in {out}")
    if metrics["rel_l2"] is None:  # measured data that end with the training window
        log.info("forecast to t = %.4g, not scored: the data end at t = %.4g (the training window); wrote %s",
                 metrics["t_final"], metrics["t_truth"], figure)
        return
    log.info("rel_l2 = %.4g over t in (%.4g, %.4g]%s; wrote %s", metrics["rel_l2"], metrics["t_known"],
             metrics.get("t_truth", metrics["t_final"]), f", r2 = {metrics['r2']:.4f}" if "r2" in metrics else "",
             figure)
