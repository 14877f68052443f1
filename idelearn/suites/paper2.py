"""paper2: Table 1 (seconds per training iteration) and Table 5 (r2 on the 2D IE spirals).

The runs are in conf/suite/paper2.yaml: each model of `models` is trained with the overrides
of each curve case and tested by the case's `idelearn extrapolate` overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from omegaconf import MISSING

from ..config import Schema, require
from ..errors import RunFailure
from ..models.registry import MODELS
from ..report.plots import plot_curves
from .common import SuiteConfig, extrapolate_run, train_run

# Paper 2 Table 1 (RTX 3090 GPU, s/iteration) and Table 5 (their "R²", squared Pearson correlation).
PAPER_S_PER_ITER = {("direct_rnn", "lotka_volterra"): 0.0116, ("direct_rnn", "lorenz"): 0.012,
                    ("direct_rnn", "spirals"): 0.02, ("nie", "lotka_volterra"): 0.0312, ("nie", "lorenz"): 0.38,
                    ("nie", "spirals"): 0.154, ("anie", "lotka_volterra"): 0.0115, ("anie", "lorenz"): 0.252,
                    ("anie", "spirals"): 0.116}
PAPER_R2 = {"anie": 0.7366, "direct_rnn": 0.3410}


@dataclass
class CurveCase(Schema):
    group: ClassVar[str] = "suite"
    train: list[str] = MISSING  # overrides of `idelearn train` (the model is added per row)
    extrapolate: list[str] = MISSING  # overrides of `idelearn extrapolate` (held-out curves)


@dataclass
class Paper2Suite(SuiteConfig):
    name: str = "paper2"
    models: list[str] = MISSING
    timing: dict[str, CurveCase] = MISSING  # Table 1: dataset label -> case
    spirals: CurveCase = MISSING  # Table 5

    def check(self):
        super().check()
        unknown = [m for m in self.models if not (isinstance(m, str) and m in MODELS)]
        require(not unknown, "suite.models", f"unknown models {unknown}; known: {', '.join(MODELS)}")


def s_per_iter(trained) -> float:
    h = trained.history
    if h.get("s_per_iter"):
        return float(np.median(h["s_per_iter"]))
    return trained.wall_s / max(1, len(h.get("loss", [])))  # one optimiser step per iteration


def plan(cfg, model: str, case: CurveCase, source: str):
    """The train and extrapolate runs of one row, composed (before anything runs)."""
    return (train_run(cfg, [f"model={model}", *case.train], f"{source}.train, suite.models"),
            extrapolate_run(cfg, case.extrapolate, f"{source}.extrapolate"))


def train_and_test(model: str, runs, log):
    """(row with the commands, trained or None, metrics or None); a failed run is a row with a note."""
    run_, test_ = runs
    budget, unit = run_.model.budget()
    row = {"model": model, "budget": f"{budget} {unit}s", "train_command": run_.command,
           "extrapolate_command": test_.command}
    try:
        trained = run_.train(log)
    except RunFailure as exc:  # recorded, not fatal: the other rows still say something
        return {**row, "note": str(exc)}, None, None
    pred = test_.predict(trained)
    return {**row, "train_s": trained.wall_s}, trained, pred


def run(cfg: Paper2Suite, report, log) -> None:
    timing_runs = {(label, model): plan(cfg, model, case, f"suite.timing.{label}")
                   for label, case in cfg.timing.items() for model in cfg.models}
    spiral_runs = {model: plan(cfg, model, cfg.spirals, "suite.spirals") for model in cfg.models}
    report.heading("paper2: neural integral equations (paper 2 Tables 1 and 5)")
    timing, commands = [], []
    for (label, model), runs in timing_runs.items():
        row, trained, pred = train_and_test(model, runs, log)
        row = {"dataset": label, "paper_s_per_iter_gpu": PAPER_S_PER_ITER.get((model, label)), **row}
        commands.append(f"{label}, {model}: `{row['train_command']}` then `{row['extrapolate_command']}`")
        if trained is not None:
            m = pred.metrics()
            row.update(s_per_iter=s_per_iter(trained), r2_unseen=m["r2"], r2_unseen_median=m["r2_median"])
            log.info("paper2 timing %s/%s: %.4f s/iter", label, model, row["s_per_iter"])
        timing.append(row)
    report.heading("Table 1: seconds per training iteration", 3)
    report.text("Each model trained with its CPU defaults on the generated curves (half held out), given the "
                "first half of each curve and fitted to the second half, as in the paper. `r2_unseen`: mean r2 "
                "on the held-out curves, `r2_unseen_median` its median over curves. Our iteration = one "
                "optimiser step on a mini-batch, on this CPU; direct_rnn = the LSTM baseline.")
    report.table(timing, ["dataset", "model", "s_per_iter", "paper_s_per_iter_gpu", "r2_unseen", "r2_unseen_median",
                          "budget", "train_s", "note"])

    r2_rows = []
    for model, runs in spiral_runs.items():
        row, trained, pred = train_and_test(model, runs, log)
        row["paper_reports_r2"] = PAPER_R2.get(model)
        commands.append(f"spirals, {model}: `{row['train_command']}` then `{row['extrapolate_command']}`")
        if trained is not None:
            m = pred.metrics()
            fig = report.out_dir / f"paper2_spirals_{model}.png"
            plot_curves(pred.t, pred.G_pred, pred.G_true, pred.split, fig, title=f"{model}: r2 = {m['r2']:.3f}")
            row.update(r2=m["r2"], r2_median=m["r2_median"], r2_paper_measure=m["r2_paper"], rel_l2=m["rel_l2"],
                       context=m["context"], figure=fig.name)
            log.info("paper2 spirals %s: r2 = %.3f (paper measure %.3f)", model, m["r2"], m["r2_paper"])
        r2_rows.append(row)
    report.heading("Table 5: unseen spirals", 3)
    report.text("`r2`: the coefficient of determination per curve and coordinate over the predicted points, "
                "averaged; `r2_paper_measure`: the authors' measure (squared Pearson correlation of the flattened "
                "curve). `paper_reports_r2` is the paper's Table 5 (their measure; the LSTM row is our direct_rnn).")
    report.table(r2_rows, ["model", "r2", "r2_median", "r2_paper_measure", "paper_reports_r2", "rel_l2", "context",
                           "budget", "train_s", "note"])
    report.text("Each row, as commands (the suite composes exactly these configs):\n\n"
                + "\n".join(f"- {c}" for c in commands))
    for r in (r for r in r2_rows if "figure" in r):
        report.figure(report.out_dir / r["figure"], f"{r['model']} on unseen spirals")
    report.results["paper2"] = {"timing": timing, "spirals": r2_rows}
