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
from dataclasses import dataclass  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from omegaconf import MISSING  # noqa: E402

from .. import pipeline  # noqa: E402
from ..data.datasets import dataset_config  # noqa: E402
from ..equations.dyson import dyson_exact, dyson_problem  # noqa: E402
from ..errors import UserError  # noqa: E402
from ..models.fast_lstm import adams_lstm  # noqa: E402
from ..models.lstm_operator import LSTMOperator  # noqa: E402
from ..solvers import solve_ide  # noqa: E402
from .common import SuiteConfig, train_run  # noqa: E402

PAPER = {20: (0.8684, 60.3825), 40: (1.5028, 166.0921), 80: (2.5220, 475.0468), 160: (4.7412, 1602.8664)}


@dataclass
class Paper1TimingSuite(SuiteConfig):
    name: str = "paper1_timing"
    train: list[str] = MISSING  # the lstm_operator run to time (its speed, not its accuracy, is measured)
    run: str | None = MISSING  # an lstm_operator train run to time instead
    horizons: list[float] = MISSING
    fe_max_horizon: float = MISSING  # the O(n²) FE + Simpson baseline runs up to this T
    coarse_steps: list[float] = MISSING  # candidate dt of the reference, largest first
    tolerance: float = MISSING  # max error the coarse reference must meet
    reference_order: int = MISSING
    matrix_sizes: list[int] = MISSING
    cost_steps: list[int] = MISSING  # the two solves the cost model is fitted on


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def learned_model(cfg, log):
    """The lstm_operator to time, its Dyson problem (a DysonConfig) and where it came from."""
    if cfg.run:
        ckpt = pipeline.load_checkpoint(pipeline.find_checkpoint(cfg.run))
        model, record, origin = pipeline.restore(ckpt), ckpt["dataset"], f"reused {cfg.run}"
    else:
        run_ = train_run(cfg, cfg.train)
        trained = run_.train(log)
        model, record = trained.model, trained.checkpoint["dataset"]
        origin = f"trained here by `{run_.command}` ({trained.wall_s:.0f} s)"
    problem = dataset_config(record["config"]["name"], record["config"])
    if model.name != "lstm_operator" or problem.name != "dyson" or problem.H is not None:
        raise UserError(f"suite.train: paper1_timing times an lstm_operator on scalar dyson data, got "
                        f"{model.name} on {problem.name}")
    return model, problem, origin


def coarsest_step(cfg, dyson, horizon):
    H, p = dyson.hamiltonian(), dyson.ide_problem()
    for dt in cfg.coarse_steps:  # largest first
        sol = solve_ide(p.F, p.K, p.G0, horizon, dt, order=cfg.reference_order)
        if np.max(np.abs(sol.G[0] - dyson_exact(sol.t, H, dyson.c))) <= cfg.tolerance:
            return dt
    return dyson.dt


def per_step_costs(net_config: dict, sizes, steps, lstm_steps: int = 2000) -> list[dict]:
    """By matrix size d: µs per step of AB3 + an LSTM operator of the timed model's size (the fast path
    `extrapolate` uses, input 2d² features), and the reference's cost split into a per-step part a and
    a per-history-node part b, fitted from two solve times t(N) = a N + b N²/2 (Dyson, random
    Hermitian H, order 8)."""
    rows = []
    rng = np.random.default_rng(0)
    for d in sizes:
        A = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
        p = dyson_problem((A + A.conj().T) / (2 * d), 1.0)
        net = LSTMOperator(**{**net_config, "n_features": 2 * d * d}).eval()
        known = np.repeat(p.G0[:, None], 3, axis=1)
        _, lstm_s = timed(lambda: adams_lstm(net, p.F, known, np.zeros_like(known), 0.01, 3 + lstm_steps))
        times = [timed(lambda: solve_ide(p.F, p.K, p.G0, n * 0.01, 0.01, order=8))[1] for n in steps]
        a, b = np.linalg.solve([[n, n * n / 2] for n in steps], times)
        rows.append({"d": d, "lstm_us_per_step": 1e6 * lstm_s / lstm_steps, "reference_us_per_step": 1e6 * a,
                     "memory_ns_per_node": 1e9 * b if b > 0 else None})  # None: too small to resolve
    return rows


def run(cfg: Paper1TimingSuite, report, log) -> None:
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
    costs = per_step_costs(model.net.config, cfg.matrix_sizes, cfg.cost_steps)
    n_max = int(round(horizon_max / dt))
    for cost in costs:  # reference ≈ a n + b n²/2; learned ≈ c_lstm n: equal at n* = 2 (c_lstm - a) / b
        if cost["memory_ns_per_node"] is None:
            continue
        gap_us = max(cost["lstm_us_per_step"] - cost["reference_us_per_step"], 0.0)
        n_star = 2 * gap_us * 1e3 / cost["memory_ns_per_node"]
        cost["crossover_T"] = n_star * dt
        cost[f"reference_T{horizon_max:g}_s_model"] = (cost["reference_us_per_step"] * 1e-6 * n_max
                                                      + cost["memory_ns_per_node"] * 1e-9 * n_max**2 / 2)

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
    report.heading("Per-step costs and larger matrices", 3)
    report.text("Measured for d x d matrices: the cost of one AB3 step with a 2x64 LSTM operator (input 2d² "
                "features; the fused path `extrapolate` uses) and "
                "the reference's cost fitted as a·n + b·n²/2 for n steps (a per step, b per stored history "
                "node). The learned operator, c_lstm·n, is cheaper beyond n* = 2(c_lstm − a)/b steps, "
                "T* = n*·dt (an untrained network of the same size: the cost does not depend on its weights):")
    report.table(costs, ["d", "lstm_us_per_step", "reference_us_per_step", "memory_ns_per_node", "crossover_T",
                         f"reference_T{horizon_max:g}_s_model"])
    report.results["paper1_timing"] = {"rows": rows, "slopes": slopes, "dt_coarse": dt_coarse, "per_step": costs,
                                       "model": origin}


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
