"""paper2: Table 1 (seconds per training iteration) and Table 5 (r2 on the 2D IE spirals)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import pipeline
from ..config import (
    MODEL_CONFIGS,
    FromFileConfig,
    FromRunConfig,
    LorenzConfig,
    LotkaVolterraConfig,
    SpiralsConfig,
    TrainerConfig,
)
from ..data.ide_datasets import SolverSpec
from ..errors import RunFailure
from ..report.plots import plot_curves

# Paper 2 Table 1 (RTX 3090 GPU, s/iteration) and Table 5 (their "R²", squared Pearson correlation).
PAPER_S_PER_ITER = {("direct_rnn", "lotka_volterra"): 0.0116, ("direct_rnn", "lorenz"): 0.012,
                    ("direct_rnn", "spirals"): 0.02, ("nie", "lotka_volterra"): 0.0312, ("nie", "lorenz"): 0.38,
                    ("nie", "spirals"): 0.154, ("anie", "lotka_volterra"): 0.0115, ("anie", "lorenz"): 0.252,
                    ("anie", "spirals"): 0.116}
PAPER_R2 = {"anie": 0.7366, "direct_rnn": 0.3410}
MODELS = ("direct_rnn", "nie", "anie")


TINY = {"direct_rnn": {"hidden_size": 8}, "nie": {"hidden": 8, "n_samples": 4},
        "anie": {"d_model": 8, "n_heads": 2, "dim_feedforward": 8}}


def model_config(name: str, epochs, context: int, small: bool = False):
    cfg = MODEL_CONFIGS[name](**(TINY[name] if small else {}))
    if epochs is not None:
        cfg.epochs = epochs
    if hasattr(cfg, "context"):
        cfg.context = context
    return cfg


def s_per_iter(trained) -> float:
    h = trained.history
    if h.get("s_per_iter"):
        return float(np.median(h["s_per_iter"]))
    return trained.wall_s / max(1, len(h.get("loss", [])))  # one optimiser step per epoch


def run(cfg, report, log) -> None:
    report.heading("paper2: neural integral equations (paper 2 Tables 1 and 5)")
    solver = SolverSpec()
    datasets = {"lotka_volterra": LotkaVolterraConfig(n_traj=cfg.timing_n_traj),
                "lorenz": LorenzConfig(n_traj=cfg.timing_n_traj),
                "spirals": SpiralsConfig(n_traj=cfg.timing_n_traj)}
    timing = []
    for ds_name, ds_cfg in datasets.items():
        for name in MODELS:
            trainer = TrainerConfig(cache_dir=cfg.cache_dir, train_fraction=0.5)
            model_cfg = model_config(name, cfg.timing_epochs, ds_cfg.n_t // 2, cfg.small)
            row = {"dataset": ds_name, "model": name, "paper_s_per_iter_gpu": PAPER_S_PER_ITER[(name, ds_name)],
                   "epochs": model_cfg.epochs}
            try:
                trained = pipeline.train(model_cfg, ds_cfg, solver, trainer, log=log)
            except RunFailure as exc:  # recorded, not fatal: the other rows still say something
                timing.append({**row, "note": str(exc)})
                continue
            curve_model = pipeline.extrapolate_curves(trained.model, trained.checkpoint["dataset"],
                                                      FromRunConfig(), ds_cfg.n_t // 2).metrics()
            timing.append({**row, "s_per_iter": s_per_iter(trained), "r2_unseen": curve_model["r2"],
                           "r2_unseen_median": curve_model["r2_median"], "train_s": trained.wall_s})
            log.info("paper2 timing %s/%s: %.4f s/iter", ds_name, name, timing[-1]["s_per_iter"])
    report.heading("Table 1: seconds per training iteration", 3)
    epochs_text = "its CPU-default number of epochs" if cfg.timing_epochs is None else f"{cfg.timing_epochs} epochs"
    report.text(f"Each model trained {epochs_text} on {cfg.timing_n_traj} generated curves (half held out), given "
                "the first half of each curve and fitted to the second half, as in the paper. `r2_unseen`: "
                "mean r2 on the held-out curves, `r2_unseen_median` its median over curves. Our iteration = "
                "one optimiser step on a mini-batch, on this CPU; direct_rnn = the LSTM baseline.")
    report.table(timing, ["dataset", "model", "s_per_iter", "paper_s_per_iter_gpu", "r2_unseen", "r2_unseen_median",
                          "epochs", "train_s", "note"])

    path = Path(cfg.spirals_path).expanduser()
    if path.exists():
        data_cfg, source = FromFileConfig(path=str(path)), f"the authors' curves ({path})"
        trainer = TrainerConfig(cache_dir=cfg.cache_dir, n_train=cfg.spirals_n_train)
    else:
        data_cfg, source = SpiralsConfig(n_traj=400), "generated spirals (the authors' file was not found)"
        trainer = TrainerConfig(cache_dir=cfg.cache_dir, n_train=cfg.spirals_n_train)
    r2_rows = []
    for name in MODELS:
        model_cfg = model_config(name, getattr(cfg, f"{name}_epochs"), cfg.context, cfg.small)
        try:
            trained = pipeline.train(model_cfg, data_cfg, solver, trainer, log=log)
        except RunFailure as exc:
            r2_rows.append({"model": name, "paper_reports_r2": PAPER_R2.get(name), "note": str(exc)})
            continue
        pred = pipeline.extrapolate_curves(trained.model, trained.checkpoint["dataset"], FromRunConfig(), cfg.context)
        m = pred.metrics()
        fig = report.out_dir / f"paper2_spirals_{name}.png"
        plot_curves(pred.t, pred.G_pred, pred.G_true, pred.split, fig, title=f"{name}: r2 = {m['r2']:.3f}")
        r2_rows.append({"model": name, "r2": m["r2"], "r2_median": m["r2_median"], "r2_paper_measure": m["r2_paper"],
                        "paper_reports_r2": PAPER_R2.get(name), "rel_l2": m["rel_l2"], "train_s": trained.wall_s,
                        "epochs": model_cfg.epochs, "figure": fig.name})
        log.info("paper2 spirals %s: r2 = %.3f (paper measure %.3f)", name, m["r2"], m["r2_paper"])
    report.heading(f"Table 5: unseen spirals given the first {cfg.context} points", 3)
    report.text(f"Data: {source}; trained on the first {cfg.spirals_n_train} curves, tested on the rest. `r2`: the "
                "coefficient of determination per curve and coordinate over the predicted points, averaged; "
                "`r2_paper_measure`: the authors' measure (squared Pearson correlation of the flattened curve). "
                "`paper_reports_r2` is the paper's Table 5 (their measure; the LSTM row is our direct_rnn).")
    report.table(r2_rows, ["model", "r2", "r2_median", "r2_paper_measure", "paper_reports_r2", "rel_l2", "train_s",
                           "note"])
    for r in (r for r in r2_rows if "figure" in r):
        report.figure(report.out_dir / r["figure"], f"{r['model']} on unseen spirals")
    report.results["paper2"] = {"timing": timing, "spirals": r2_rows, "spirals_source": source}
