"""paper1_timing: paper 1 Table 1 side by side, on the Dyson equation with its exact solution.

Wall time to produce G(t) up to T for (a) AB3 + learned operator (stepping from the known
window t <= t_train), (b) the paper's forward Euler + Simpson solver, (c) the high-order
reference at the same dt and at the coarsest dt that still meets the tolerance; each with
its max error against the exact solution. The learned operator is the suite's `train` run
(or a given `run`); its Dyson dataset (h, c, t_train, dt) sets the problem for all columns.
"""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")
import dataclasses  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from omegaconf import MISSING  # noqa: E402

from .. import pipeline  # noqa: E402
from ..config import compose, to_object  # noqa: E402
from ..data.datasets import dataset_config  # noqa: E402
from ..data.ide_datasets import SolverSpec  # noqa: E402
from ..equations.dyson import dyson_exact  # noqa: E402
from ..errors import UserError  # noqa: E402
from ..schema import MAX_NODES, require  # noqa: E402
from ..solvers import solve_ide  # noqa: E402
from .common import SuiteConfig, TrainRun, train_run  # noqa: E402

PAPER = {20: (0.8684, 60.3825), 40: (1.5028, 166.0921), 80: (2.5220, 475.0468), 160: (4.7412, 1602.8664)}


@dataclass
class Paper1TimingSuite(SuiteConfig):
    name: str = "paper1_timing"
    train: list[str] = MISSING  # the learned IDE model to time, on scalar dyson data
    run: str | None = MISSING  # a train run of such a model to time instead
    horizons: list[float] = MISSING
    fe_max_horizon: float = MISSING  # the O(n²) FE + Simpson baseline runs up to this T
    coarse_steps: list[float] = MISSING  # candidate dt of the reference, largest first
    tolerance: float = MISSING  # max error the coarse reference must meet
    reference_order: int = MISSING
    scan_sizes: list[int] = MISSING  # matrix Dyson with a random Hermitian d x d H (dataset.random_H=d)
    scan_models: dict[str, list[str]] = MISSING  # label -> train overrides, each trained per d
    scan_t_final: float = MISSING

    def check(self):
        super().check()
        require(self.run is None or self.run.strip() != "", "suite.run", "must name a train run (or null)")
        require(len(self.horizons) > 0 and min(self.horizons) > 0, "suite.horizons",
                f"must be a non-empty list of times > 0, got {self.horizons}")
        require(self.fe_max_horizon > 0, "suite.fe_max_horizon", f"must be > 0, got {self.fe_max_horizon}")
        require(len(self.coarse_steps) > 0 and 0 < min(self.coarse_steps) and
                max(self.coarse_steps) <= max(self.horizons), "suite.coarse_steps",
                f"must be a non-empty list of steps in (0, max(suite.horizons)], got {self.coarse_steps}")
        require(max(self.horizons) / min(self.coarse_steps) <= MAX_NODES, "suite.coarse_steps",
                f"{min(self.coarse_steps):g} gives {max(self.horizons) / min(self.coarse_steps):.3g} steps to the "
                f"largest of suite.horizons; at most {MAX_NODES:.0e}")
        require(self.tolerance > 0, "suite.tolerance", f"must be > 0, got {self.tolerance}")
        require(3 <= self.reference_order <= 8, "suite.reference_order", f"must be in 3..8, got {self.reference_order}")
        require(all(1 <= d <= 64 for d in self.scan_sizes), "suite.scan_sizes",
                f"must be matrix sizes in 1..64, got {self.scan_sizes}")
        require(self.scan_t_final > 0, "suite.scan_t_final", f"must be > 0, got {self.scan_t_final}")


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def learned_model(cfg, log):
    """The learned model to time, its Dyson problem (a DysonConfig) and where it came from.

    Everything is checked (the run or the train command, the horizons) before anything is trained."""
    if cfg.run:
        try:
            ckpt = pipeline.load_checkpoint(pipeline.find_checkpoint(cfg.run))
            model, record, origin = pipeline.restore(ckpt), ckpt["dataset"], f"reused {cfg.run}"
        except UserError as exc:
            raise UserError(f"suite.{exc}") from None
        name, problem = model.name, dataset_config(record["config"]["name"], record["config"])
    else:
        run_ = train_run(cfg, cfg.train, "suite.train")
        name, problem = run_.model.name, run_.dataset
    if problem.name != "dyson" or problem.H is not None or problem.random_H is not None:
        raise UserError(f"suite.{'run' if cfg.run else 'train'}: paper1_timing times a model trained on scalar "
                        f"dyson data, got {name} on {problem.name}")
    outside = [T for T in cfg.horizons if not problem.t_final < T <= MAX_NODES * problem.dt]
    if outside:
        raise UserError(f"suite.horizons: {outside} not in ({problem.t_final:g}, {MAX_NODES * problem.dt:g}]: "
                        f"past the model's training window t <= {problem.t_final:g}, at most {MAX_NODES:.0e} steps "
                        f"of dt = {problem.dt:g}")
    if not cfg.run:
        trained = run_.train(log)
        model = trained.model
        origin = f"trained here by `{run_.command}` ({trained.wall_s:.0f} s)"
    return model, problem, origin


def coarsest_step(cfg, dyson, horizon):
    H, p = dyson.hamiltonian(), dyson.ide_problem()
    for dt in cfg.coarse_steps:  # largest first
        sol = solve_ide(p.F, p.K, p.G0, horizon, dt, order=cfg.reference_order)
        if np.max(np.abs(sol.G[0] - dyson_exact(sol.t, H, dyson.c))) <= cfg.tolerance:
            return dt
    return dyson.dt


def plan_scan(cfg: Paper1TimingSuite) -> dict[int, dict[str, TrainRun]]:
    """Every training run of the size scan by d and label, built (so checked) before anything runs."""
    plan = {d: {label: train_run(cfg, [*overrides, "dataset=dyson", f"dataset.random_H={d}"],
                                 f"suite.scan_models.{label}") for label, overrides in cfg.scan_models.items()}
            for d in cfg.scan_sizes}
    for runs in plan.values():
        for run_ in runs.values():
            require(cfg.scan_t_final > run_.dataset.t_final, "suite.scan_t_final", f"must exceed the training "
                    f"window's dataset.t_final={run_.dataset.t_final:g} ({run_.sources}), got {cfg.scan_t_final:g}")
            steps = cfg.scan_t_final / run_.dataset.dt
            require(steps <= MAX_NODES, "suite.scan_t_final", f"gives {steps:.3g} steps of the training grid's "
                    f"dataset.dt={run_.dataset.dt:g} ({run_.sources}); at most {MAX_NODES:.0e}")
    return plan


def size_scan(cfg: Paper1TimingSuite, plan: dict[int, dict[str, TrainRun]], log) -> list[dict]:
    """By matrix size d (Dyson, random Hermitian H): the reference's time and max error to scan_t_final at
    the training grid's dt, each learned model's (trained per d, continuing the known window), and the
    reference at the coarsest dt that is at least as accurate as each learned model."""
    rows = []
    solver = SolverSpec(order=cfg.reference_order, memory="relaxed")
    for d, runs in plan.items():
        dyson = dataclasses.replace(to_object(compose("generate", ["dataset=dyson", f"dataset.random_H={d}"]).dataset),
                                    t_final=cfg.scan_t_final)
        H, p = dyson.hamiltonian(), dyson.ide_problem()

        def reference(dt):
            sol, seconds = timed(lambda: solve_ide(p.F, p.K, p.G0, cfg.scan_t_final, dt, order=cfg.reference_order,
                                                   memory="relaxed"))
            return seconds, float(np.abs(sol.G[0] - dyson_exact(sol.t, H, dyson.c)).max())

        row = {"d": d}
        row["reference_s"], row["reference_err"] = reference(dyson.dt)
        for label, run_ in runs.items():
            trained = run_.train(log)
            pred = pipeline.extrapolate_ide(trained.model, trained.checkpoint["dataset"], {}, cfg.scan_t_final, solver)
            err = float(np.abs(pred.G_pred[0] - dyson_exact(pred.t, H, dyson.c)).max())
            row.update({f"{label}_s": pred.wall_s, f"{label}_err": err, f"{label}_train_s": trained.wall_s})
            for dt in sorted({*cfg.coarse_steps, dyson.dt}, reverse=True):  # the cheapest reference as accurate
                seconds, ref_err = reference(dt)
                if ref_err <= err:
                    row[f"{label}_matched_reference_s"], row[f"{label}_matched_dt"] = seconds, dt
                    break
            log.info("paper1_timing d=%d %s: %.2f s, error %.2g (reference %.2f s, error %.2g)", d, label,
                     pred.wall_s, err, row["reference_s"], row["reference_err"])
        rows.append(row)
    return rows


def crossover(rows: list[dict], label: str) -> str:
    """The smallest d where the learned model is faster than the reference at least as accurate, or none."""
    for r in rows:
        matched = r.get(f"{label}_matched_reference_s")
        if matched is not None and r[f"{label}_s"] < matched:
            return f"d = {r['d']}"
    return "none of the sizes measured"


def run(cfg: Paper1TimingSuite, report, log) -> None:
    plan = plan_scan(cfg)
    model, dyson, origin = learned_model(cfg, log)
    H, c, dt, t_train = dyson.hamiltonian(), dyson.c, dyson.dt, dyson.t_final
    report.heading(f"paper1_timing: time to produce G(t) up to T (Dyson, h = {dyson.h:g}, c = {c:g})")
    p = dyson.ide_problem()
    horizon_max = max(cfg.horizons)
    window = solve_ide(p.F, p.K, p.G0, t_train, dt, order=cfg.reference_order)
    dt_coarse = coarsest_step(cfg, dyson, horizon_max)
    rows = []
    for T in cfg.horizons:
        t = np.arange(int(round(T / dt)) + 1) * dt
        exact = dyson_exact(t, H, c)
        row = {"T": T}
        G, row["ab3_learned_s"] = timed(lambda: model.extrapolate(window.G, t, F=p.F, I_known=window.I))
        row["ab3_learned_err"] = float(np.max(np.abs(G[0] - exact)))
        if T <= cfg.fe_max_horizon:
            sol, row["fe_simpson_s"] = timed(lambda: solve_ide(p.F, p.K, p.G0, T, dt, method="fe_simpson"))
            row["fe_simpson_err"] = float(np.max(np.abs(sol.G[0] - exact)))
        sol, row["abm8_s"] = timed(lambda: solve_ide(p.F, p.K, p.G0, T, dt, order=cfg.reference_order))
        row["abm8_err"] = float(np.max(np.abs(sol.G[0] - exact)))
        sol, row["abm8_coarse_s"] = timed(lambda: solve_ide(p.F, p.K, p.G0, T, dt_coarse, order=cfg.reference_order))
        row["abm8_coarse_err"] = float(np.max(np.abs(sol.G[0] - dyson_exact(sol.t, H, c))))
        if T in PAPER:
            row["paper_ab3_rnn_s"], row["paper_fe_sr_s"] = PAPER[T]
        rows.append(row)
        log.info("paper1_timing T=%g: learned %.2f s, FE+SR %s s, ABM8 %.2f s, ABM8(dt=%g) %.2f s", T,
                 row["ab3_learned_s"], f"{row.get('fe_simpson_s', float('nan')):.2f}", row["abm8_s"], dt_coarse,
                 row["abm8_coarse_s"])

    slopes = {}
    for key in ("ab3_learned_s", "fe_simpson_s", "abm8_s", "abm8_coarse_s"):
        pts = [(r["T"], r[key]) for r in rows if key in r]
        if len(pts) >= 2:
            x, y = np.log(np.array(pts).T)
            slopes[key] = float(np.polyfit(x, y, 1)[0])
    scan = size_scan(cfg, plan, log)

    report.text(f"Learned operator: {origin}; it steps with AB3 from the known window t ≤ {t_train:g} "
                f"(taken from the reference solution, as in the paper). Reference: ABM order "
                f"{cfg.reference_order} at dt = {dt:g} and at dt = {dt_coarse:g}, the coarsest of "
                f"{list(cfg.coarse_steps)} with max error ≤ {cfg.tolerance:g} at T = {horizon_max:g}. "
                f"FE + Simpson (the paper's solver) runs to T ≤ {cfg.fe_max_horizon:g}.")
    columns = ["T", "ab3_learned_s", "ab3_learned_err", "fe_simpson_s", "fe_simpson_err", "abm8_s", "abm8_err",
               "abm8_coarse_s", "abm8_coarse_err", "paper_ab3_rnn_s", "paper_fe_sr_s"]
    report.table(rows, columns)
    report.text("Columns `paper_*` are what paper 1 Table 1 reports (their hardware: A100 node); all others "
                "were measured here. Fitted slopes of log(time) vs log(T): "
                + ", ".join(f"{k}: {v:.2f}" for k, v in slopes.items()) + ".")
    report.text(verdict(rows))
    fig_path = report.out_dir / "paper1_timing.png"
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for key, label in (("ab3_learned_s", "AB3 + learned operator"), ("fe_simpson_s", "FE + Simpson"),
                       ("abm8_s", f"ABM8, dt={dt:g}"), ("abm8_coarse_s", f"ABM8, dt={dt_coarse:g}")):
        pts = [(r["T"], r[key]) for r in rows if key in r]
        if pts:
            x, y = zip(*pts)
            ax.loglog(x, y, "o-", label=f"{label} (slope {slopes.get(key, float('nan')):.2f})")
    ax.set_xlabel("T")
    ax.set_ylabel("wall time [s]")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(fig_path, dpi=110)
    plt.close(fig)
    report.figure(fig_path, "Wall time vs horizon T, log-log, with fitted slopes")
    report.heading("Larger matrices: where a learned step pays off", 3)
    report.text(f"Matrix Dyson equation with a random Hermitian d x d H (`dataset.random_H=d`), to T = "
                f"{cfg.scan_t_final:g}: the reference (ABM{cfg.reference_order}, relaxed FFT memory) at the "
                "training grid's dt, and each learned model, trained per d and continuing its known window; "
                "errors are max |G − exact| over the whole trajectory; `*_matched_reference_s` is the "
                "reference at the coarsest dt that is at least as accurate as that model (the fair price "
                "of the same accuracy).")
    columns = ["d", "reference_s", "reference_err"]
    for label in cfg.scan_models:
        columns += [f"{label}_s", f"{label}_err", f"{label}_matched_reference_s", f"{label}_train_s"]
    report.table(scan, columns)
    crossovers = {label: crossover(scan, label) for label in cfg.scan_models}
    report.text("Smallest d where the learned model is faster than the equally accurate reference — "
                + "; ".join(f"{label}: {where}" for label, where in crossovers.items()) + ".")
    report.results["paper1_timing"] = {"rows": rows, "slopes": slopes, "dt_coarse": dt_coarse, "sizes": scan,
                                       "crossover": crossovers, "model": origin}


def verdict(rows) -> str:
    """Which method is fastest among those at least as accurate as the learned operator, per T."""
    parts = []
    for r in rows:
        candidates = [(r[k + "_s"], k) for k in ("ab3_learned", "fe_simpson", "abm8", "abm8_coarse")
                      if k + "_s" in r and r[k + "_err"] <= r["ab3_learned_err"]]
        best = min(candidates)[1]
        parts.append(f"T = {r['T']:g}: {best}")
    return ("Fastest method with max error no larger than the learned operator's, per horizon — "
            + "; ".join(parts) + ". The learned operator pays off only where it is listed.")
