"""idelearn train: fit a model on a dataset; write model.pt, metrics.json, loss.png."""

from __future__ import annotations

import torch

from .. import pipeline
from ..config import to_object
from ..report.plots import plot_loss
from .common import limit_threads, log, run_dir, write_json


def run(cfg) -> None:
    model_cfg = to_object(cfg.model)
    trainer = to_object(cfg.trainer)
    device_cfg = to_object(cfg.device)
    limit_threads(device_cfg.threads)
    dataset_cfg = to_object(cfg.dataset) if cfg.dataset is not None else pipeline.default_dataset(model_cfg)
    out = run_dir()

    def on_epoch(epoch: int, record: dict) -> None:
        if epoch % trainer.log_every == 0 or epoch == model_cfg.epochs - 1:
            log.info("epoch %d/%d  %s", epoch + 1, model_cfg.epochs,
                     "  ".join(f"{k}={v:.4g}" for k, v in record.items() if isinstance(v, float)))

    state_path = out / "train_state.pt"
    if state_path.exists() and not trainer.resume:
        state_path.unlink()
    trained = pipeline.train(model_cfg, dataset_cfg, to_object(cfg.solver).spec(), trainer, on_epoch=on_epoch,
                             device=device_cfg.torch_device(), log=log, state_path=state_path)
    trained.checkpoint["config"] = pipeline.json_plain(pipeline.enum_free(
        {"model": model_cfg.__dict__, "trainer": trainer.__dict__}))
    torch.save(trained.checkpoint, out / "model.pt")
    write_json(out / "metrics.json", pipeline.train_metrics(trained, model_cfg))
    if trained.history.get("loss"):
        plot_loss(trained.history, out / "loss.png", title=f"{model_cfg.name} on {dataset_cfg.name}")
    log.info("trained in %.1f s; wrote %s", trained.wall_s, out / "model.pt")
    hint = "t_final=40" if trained.data.kind == "ide" else f"context={getattr(model_cfg, 'context', 20)}"
    log.info("extrapolate with: idelearn extrapolate run=%s %s", out, hint)
