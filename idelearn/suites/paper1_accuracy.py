"""paper1_accuracy: paper 1 figures 5-8 and the figure-7 comparison, as rel_l2 tables.

The cases are in conf/suite/paper1_accuracy.yaml, each a `idelearn train` command and the
`idelearn extrapolate` commands that test it; rel_l2 is over the extrapolated part only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omegaconf import MISSING

from ..errors import RunFailure
from ..models.registry import MODELS
from ..report.plots import plot_extrapolation
from ..schema import Schema, require
from .common import SuiteConfig, extrapolate_run, train_run


@dataclass
class AccuracyTest(Schema):
    group: ClassVar[str] = "suite.cases.tests"
    label: str = MISSING
    extrapolate: list[str] = MISSING  # overrides of `idelearn extrapolate`
    target: float | None = MISSING  # rel_l2 to reach (None: compared, not targeted)

    def check(self):
        require(self.target is None or self.target > 0, "suite.cases.tests.target", f"must be > 0, got {self.target}")


@dataclass
class AccuracyCase(Schema):
    group: ClassVar[str] = "suite.cases"
    case: str = MISSING
    train: list[str] = MISSING  # overrides of `idelearn train`
    tests: list[AccuracyTest] = MISSING
    compare: str | None = MISSING  # cases with the same label are compared model against model

    def check(self):
        models = [o.split("=", 1)[1] for o in self.train if o.startswith("model=")]
        require(len(models) == 1 and models[0] in MODELS, "suite.cases.train",
                f"must choose one model (model=<{'|'.join(MODELS)}>), got {self.train}")


@dataclass
class Paper1AccuracySuite(SuiteConfig):
    name: str = "paper1_accuracy"
    cases: list[AccuracyCase] = MISSING
    only: list[str] | None = MISSING  # run only the cases of these models

    def check(self):
        super().check()
        unknown = [m for m in self.only or [] if not (isinstance(m, str) and m in MODELS)]
        require(self.only is None or (self.only and not unknown), "suite.only", f"must list models "
                f"({', '.join(MODELS)}), or be null for every case; got {self.only}")


def train_model(case: AccuracyCase) -> str:
    return next(o.split("=", 1)[1] for o in case.train if o.startswith("model="))


def run(cfg: Paper1AccuracySuite, report, log) -> None:
    report.heading("paper1_accuracy: extrapolation accuracy (paper 1 figures 5-8)")
    rows, commands = [], []
    # every run composed (and so checked) before any trains: bad overrides stop the suite before any result
    selected = [(i, case) for i, case in enumerate(cfg.cases) if not cfg.only or train_model(case) in cfg.only]
    plans = [(k, case, train_run(cfg, case.train, f"suite.cases[{i}].train"),
              [extrapolate_run(cfg, t.extrapolate, f"suite.cases[{i}].tests[{j}].extrapolate")
               for j, t in enumerate(case.tests)]) for k, (i, case) in enumerate(selected)]
    for _, _, run_, tests in plans:
        for test_ in tests:
            test_.check_after(run_)
    for k, case, run_, tests in plans:
        model_name = run_.model.name
        commands.append(f"{case.case}, {model_name}: `{run_.command}`")
        try:
            trained = run_.train(log)
        except RunFailure as exc:  # recorded, not fatal
            rows.append({"case": case.case, "model": model_name, "note": str(exc)})
            continue
        for j, (test, test_) in enumerate(zip(case.tests, tests)):
            commands.append(f"{case.case}, {model_name}, test {test.label}: `{test_.command}`")
            row = {"case": case.case, "model": model_name, "test": test.label, "target": test.target,
                   "compare": case.compare, "budget": run_.budget, "train_s": trained.wall_s,
                   "n_train_traj": len(trained.checkpoint["dataset"]["train_indices"]),
                   "kernel": trained.history.get("kernel_choice"),  # learned-kernel models: what was chosen
                   "memory_holdout_residual": (trained.history.get("memory_holdout_residual") or [None])[-1],
                   "train_command": run_.command, "extrapolate_command": test_.command}
            try:
                pred = test_.predict(trained)
            except RunFailure as exc:
                rows.append({**row, "note": str(exc)})
                continue
            m = pred.metrics()
            if m["rel_l2"] is None:  # measured data that end with the window: a forecast, nothing to score
                rows.append({**row, "note": f"not scored: the data end at t = {m['t_truth']:g}"})
                continue
            fig = report.out_dir / f"paper1_accuracy_{k}_{j}_{model_name}.png"
            plot_extrapolation(pred.t, pred.G_pred[0], pred.G_true[0], pred.t[pred.split - 1], fig,
                               title=f"{case.case}, {model_name}, test {test.label}: rel_l2 = {m['rel_l2']:.3g}")
            met = None if test.target is None else m["rel_l2"] <= test.target
            note = f"blew up after t = {m['t_reached']:g}" if m.get("partial") else None
            rows.append({**row, "rel_l2": m["rel_l2"], "met": met, "extrapolate_s": m["wall_s"],
                         "t_known": m["t_known"], "t_final": m["t_final"], "figure": fig.name, "note": note})
            log.info("paper1_accuracy %s / %s / %s: rel_l2 = %.3g", case.case, model_name, test.label, m["rel_l2"])
    report.text("rel_l2 = ‖G_pred − G_ref‖₂ / ‖G_ref‖₂ over the extrapolated part (t_known, t_final]; "
                "targets from the issue tracker (the paper shows these cases as figures, without numbers).")
    columns = ["case", "model", "test", "rel_l2", "target", "met", "budget", "n_train_traj", "train_s", "t_known",
               "t_final", "note"]
    if any(r.get("kernel") for r in rows):
        columns[4:4] = ["kernel", "memory_holdout_residual"]
    report.table(rows, columns)
    report.text("Each row, as commands (the suite composes exactly these configs):\n\n"
                + "\n".join(f"- {c}" for c in commands))
    report.results["paper1_accuracy_comparisons"] = comparisons(rows, report)
    for r in (r for r in rows if "figure" in r):
        report.figure(report.out_dir / r["figure"], f"{r['case']} — {r['model']}, test {r['test']}")
    report.results["paper1_accuracy"] = rows


def comparisons(rows: list[dict], report) -> dict:
    """For cases sharing a `compare` label: each model's rel_l2 divided into every other model's."""
    out = {}
    for label in dict.fromkeys(r["compare"] for r in rows if r.get("compare")):
        errors = {r["model"]: r["rel_l2"] for r in rows if r.get("compare") == label and "rel_l2" in r}
        ratios = {m: {o: e / errors[m] for o, e in errors.items() if o != m} for m in errors if errors[m] > 0}
        if ratios:
            report.text(f"Comparison `{label}`: rel_l2 of the other models divided by each model's (> 1: that "
                        "model is better) — " + "; ".join(
                            f"{m}: " + ", ".join(f"{o} {v:.3g}x" for o, v in r.items()) for m, r in ratios.items()))
        out[label] = {"rel_l2": errors, "ratios": ratios}
    return out
