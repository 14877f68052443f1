"""idelearn train: fit a model on a dataset; write model.pt, metrics.json, loss.png."""

from __future__ import annotations

import torch

from .. import config, pipeline
from ..config import default_dataset, to_object
from ..report.plots import plot_loss
from .common import limit_threads, log, run_dir, write_json


def register() -> None:
    config.register("train")


def run(cfg) -> None:
    model_cfg = to_object(cfg.model)
    trainer = to_object(cfg.trainer)
    device_cfg = to_object(cfg.device)
    limit_threads(device_cfg.threads)
    dataset_cfg = to_object(cfg.dataset) if cfg.dataset is not None else default_dataset(model_cfg)
    out = run_dir()
    budget, unit = model_cfg.budget()

    def on_iteration(i: int, record: dict) -> None:
        if i % trainer.log_every == 0 or i == budget - 1:
            log.info("%s %d/%d  %s", unit, i + 1, budget,
                     "  ".join(f"{k}={v:.4g}" for k, v in record.items() if isinstance(v, float)))

    state_path = out / "train_state.pt"
    if state_path.exists() and not trainer.resume:
        state_path.unlink()
    trained = pipeline.train(model_cfg, dataset_cfg, to_object(cfg.solver).spec(), trainer,
                             on_iteration=on_iteration, device=device_cfg.torch_device(), log=log,
                             state_path=state_path)
    torch.save(trained.checkpoint, out / "model.pt")
    metrics = pipeline.train_metrics(trained, model_cfg)
    write_json(out / "metrics.json", metrics)
    warning = pipeline.memory_warning(metrics.get("memory_holdout_residual"))
    if warning:
        log.warning(warning)
    if not warning and metrics.get("kernel_residual", 0.0) > 1e-3:  # no hold-out (model.holdout=0): the fit's own
        log.warning("the fitted kernel leaves %.2g of I unexplained: the memory may not be a matrix function of "
                    "G (e.g. the matrix IDE's elementwise cosine); expect a poor extrapolation",
                    metrics["kernel_residual"])
    if trained.history.get("loss"):
        plot_loss(trained.history, out / "loss.png", title=f"{model_cfg.name} on {dataset_cfg.name}", unit=unit)
    log.info("trained in %.1f s; wrote %s", trained.wall_s, out / "model.pt")
    if trained.data.kind != "ide":
        hint = f" context={getattr(model_cfg, 'context', 20)}"
    elif dataset_cfg.name == "from_file":  # IDE trajectories from a file: continued to its end, scored there
        hint = ""
    else:
        hint = f" t_final={4 * float(trained.data.t[-1]):g}"
    log.info("extrapolate with: idelearn extrapolate run=%s%s", out, hint)
