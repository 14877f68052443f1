"""paper2: Table 1 (seconds per training iteration) and Table 5 (r2 on the 2D IE spirals).

The runs are in conf/suite/paper2.yaml: each model of `models` is trained with the overrides of
each curve case and tested by each of the case's `idelearn extrapolate` overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
from omegaconf import MISSING

from ..errors import RunFailure
from ..models.registry import MODELS
from ..report import metrics as M
from ..report.plots import plot_curves, plot_r2_distribution
from ..schema import Schema, require
from .common import SuiteConfig, extrapolate_run, train_run

# Paper 2 Table 1 (RTX 3090 GPU, s/iteration) and Table 5 (their "R²", squared Pearson correlation).
PAPER_S_PER_ITER = {("direct_rnn", "lotka_volterra"): 0.0116, ("direct_rnn", "lorenz"): 0.012,
                    ("direct_rnn", "spirals"): 0.02, ("nie", "lotka_volterra"): 0.0312, ("nie", "lorenz"): 0.38,
                    ("nie", "spirals"): 0.154, ("anie", "lotka_volterra"): 0.0115, ("anie", "lorenz"): 0.252,
                    ("anie", "spirals"): 0.116}
PAPER_TABLE5 = {"anie": (0.7366, 0.1440), "direct_rnn": (0.3410, 0.1132), "latent_ode": (0.1778, 0.06932)}


@dataclass
class CurveCase(Schema):
    group: ClassVar[str] = "suite"
    train: list[str] = MISSING  # overrides of `idelearn train` (the model is added per row)
    tests: dict[str, list[str]] = MISSING  # label -> overrides of `idelearn extrapolate`


@dataclass
class Training(Schema):
    """One way of training Table 5's models: overrides appended to `spirals.train`."""

    group: ClassVar[str] = "suite"
    overrides: list[str] = MISSING  # for every model
    model_overrides: dict[str, list[str]] = MISSING  # for that model, after `overrides`


@dataclass
class Paper2Suite(SuiteConfig):
    name: str = "paper2"
    models: list[str] = MISSING
    timing: dict[str, CurveCase] = MISSING  # Table 1: dataset label -> case, tested on unseen and training curves
    spirals: CurveCase = MISSING  # Table 5
    trainings: dict[str, Training] = MISSING  # Table 5's trainings: label -> overrides (first or random segments)
    cases: dict[str, CurveCase] = MISSING  # further runs, each naming its model (model=... in train)

    def check(self):
        super().check()
        unknown = [m for m in self.models if m not in MODELS]
        require(not unknown, "suite.models", f"unknown models {unknown}; known: {', '.join(MODELS)}")
        for label, training in self.trainings.items():
            unknown = sorted(set(training.model_overrides) - set(MODELS))
            require(not unknown, f"suite.trainings.{label}.model_overrides",
                    f"unknown models {unknown}; known: {', '.join(MODELS)}")


def s_per_iter(trained) -> float:
    h = trained.history
    if h.get("s_per_iter"):
        return float(np.median(h["s_per_iter"]))
    return trained.wall_s / max(1, len(h.get("loss", [])))  # one optimiser step per iteration


def plan(cfg, model: str | None, case: CurveCase, source: str):
    """The train run and the test runs by label of one case, composed (so checked) before anything runs.
    model None: the case's train overrides name it."""
    train = [f"model={model}", *case.train] if model else case.train
    tests = {label: extrapolate_run(cfg, overrides, f"{source}.tests.{label}")
             for label, overrides in case.tests.items()}
    return train_run(cfg, train, f"{source}.train" + (", suite.models" if model else "")), tests


def train_and_test(runs, log):
    """One row per test of the case: (rows, predictions by test label); a failed training is one row."""
    run_, tests = runs
    model = run_.model.name
    base = {"model": model, "budget": run_.budget, "train_command": run_.command}
    try:
        trained = run_.train(log)
    except RunFailure as exc:  # recorded, not fatal: the other rows still say something
        return [{**base, "note": str(exc)}], {}
    rows, predictions = [], {}
    for label, test_ in tests.items():
        row = {**base, "test": label, "extrapolate_command": test_.command, "train_s": trained.wall_s,
               "s_per_iter": s_per_iter(trained)}
        try:
            pred = test_.predict(trained)
        except RunFailure as exc:
            rows.append({**row, "note": str(exc)})
            continue
        m = pred.metrics()
        row.update({k: m.get(k) for k in ("r2", "r2_median", "r2_std", "r2_paper", "r2_paper_std", "rel_l2", "context",
                                          "start", "valid_time_median", "vpt_lyapunov_median", "vpt_lyapunov_mean")})
        rows.append(row)
        predictions[label] = pred
    return rows, predictions


def run(cfg: Paper2Suite, report, log) -> None:
    timing_runs = {(label, model): plan(cfg, model, case, f"suite.timing.{label}")
                   for label, case in cfg.timing.items() for model in cfg.models}
    case_runs = {label: plan(cfg, None, case, f"suite.cases.{label}") for label, case in cfg.cases.items()}
    spiral_runs = {(model, label): plan(cfg, model, replace(cfg.spirals, train=[
        *cfg.spirals.train, *training.overrides, *training.model_overrides.get(model, [])]),
        f"suite.spirals, suite.trainings.{label}") for model in cfg.models for label, training in cfg.trainings.items()}
    report.heading("paper2: neural integral equations (paper 2 Tables 1 and 5)")
    timing = []
    for (label, model), runs in timing_runs.items():
        rows, _ = train_and_test(runs, log)
        row = {"dataset": label, "paper_s_per_iter_gpu": PAPER_S_PER_ITER.get((model, label)), **rows[0]}
        for r in rows:  # one row per dataset and model: r2 (and valid time) of each test side by side
            row.update({f"{key}_{r['test']}": r.get(key) for key in ("r2", "r2_median", "vpt_lyapunov_median")
                        if "test" in r})
        timing.append(row)
    report.heading("Table 1: seconds per training iteration", 3)
    report.text("Each model trained with its CPU defaults on the generated curves (half held out), given the "
                "first half of each curve and fitted to the second half, as in the paper; r2 (mean and median "
                "over curves) on the unseen and on the training curves, and for Lorenz the valid prediction "
                "time (normalised error below 0.4) in Lyapunov times. Our iteration = one optimiser step on a "
                "mini-batch, on this CPU; direct_rnn = the LSTM baseline, latent_ode = the paper's NODE.")
    tests = list(next(iter(cfg.timing.values())).tests) if cfg.timing else []
    report.table(timing, ["dataset", "model", "s_per_iter", "paper_s_per_iter_gpu"]
                 + [f"{key}_{test}" for test in tests for key in ("r2", "r2_median")]
                 + [f"vpt_lyapunov_median_{tests[0]}"] * bool(tests) + ["budget", "train_s", "note"])

    further = []
    for label, runs in case_runs.items():
        rows, _ = train_and_test(runs, log)
        further += [{"case": label, **r} for r in rows]
    if further:
        report.heading("Lotka–Volterra and Lorenz: what it takes", 3)
        report.text("Beyond Table 1's settings (paper 2 does not report these): more curves, longer training, "
                    "log-space curves for Lotka–Volterra; a grid fine enough to measure the valid prediction time "
                    "on Lorenz (0.09 Lyapunov times per step; the paper's grid steps 0.92).")
        report.table(further, ["case", "model", "test", "r2", "r2_median", "vpt_lyapunov_median", "vpt_lyapunov_mean",
                               "budget", "train_s", "note"])

    table5, per_curve = [], {}
    first = next(iter(cfg.trainings), None)  # the paper's training (conf/suite/paper2.yaml lists it first)
    for (model, training), runs in spiral_runs.items():
        rows, predictions = train_and_test(runs, log)
        for row in rows:
            paper = PAPER_TABLE5.get(model)
            # the paper trained on first segments: its numbers sit beside those rows only
            row["paper_reports"] = None if paper is None or training != first else f"{paper[0]:.3f} ± {paper[1]:.3f}"
            row["trained_on"] = training
        table5 += rows
        for label, pred in predictions.items():
            pred_part, true_part = pred.G_pred[:, pred.split:], pred.G_true[:, pred.split:]
            per_curve[f"{model} ({training}), {label}"] = M.r2_paper_per_curve(pred_part, true_part)
            fig = report.out_dir / f"paper2_spirals_{model}_{len(per_curve)}.png"
            r2 = next(r["r2"] for r in rows if r.get("test") == label)
            plot_curves(pred.t, pred.G_pred, pred.G_true, pred.split, fig,
                        title=f"{model} trained on {training}, {label}: r2 = {r2:.3f}")
            report.figure(fig, f"{model} trained on {training}, on unseen spirals, {label}")
    report.heading("Table 5: unseen spirals", 3)
    report.text("`r2`: the coefficient of determination per curve and coordinate over the predicted points; "
                "`r2_paper`: the authors' measure (squared Pearson correlation of the flattened curve); each "
                "as mean ± std over the held-out curves, the layout of the paper's table. `paper_reports` is "
                "the paper's Table 5 (their measure; their LSTM is our direct_rnn, their NODE our latent_ode). "
                "Tests: the first points of each curve (ours), or points start..start+context-1 as a new "
                "initial segment (the paper's: points 20-40, the rest predicted). Trained on first segments "
                "(the paper's protocol) or on segments starting anywhere along the curves (`model.random_start`).")
    report.table(table5, ["model", "trained_on", "test", "r2", "r2_std", "r2_median", "r2_paper", "r2_paper_std",
                          "paper_reports", "budget", "train_s", "note"])
    if per_curve:
        fig = report.out_dir / "paper2_table5_per_curve.png"
        plot_r2_distribution(per_curve, fig, measure="squared Pearson correlation (the paper's R²)")
        report.figure(fig, "Per-curve r2 (the paper's measure) on the unseen spirals, like the paper's figure 7")
    def row_label(r):
        return r["model"] + (f" trained on {r['trained_on']}" if r.get("trained_on") else "")

    report.text("Each row, as commands (the suite composes exactly these configs):\n\n" + "\n".join(
        f"- {row_label(r)}, {r.get('test', '')}: `{r['train_command']}` then `{r.get('extrapolate_command', '–')}`"
        for r in timing + table5 + further))
    report.results["paper2"] = {"timing": timing, "spirals": table5, "cases": further,
                                "spirals_per_curve_r2_paper": {k: v.tolist() for k, v in per_curve.items()}}
