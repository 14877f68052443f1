"""Fit time per trajectory of the learned-kernel models with their automatic kernel choice, on one core.

    python benchmarks/fit_time.py                  # every case; writes benchmarks/results/fit_time.json
    python benchmarks/fit_time.py --only matrix    # the cases whose name contains "matrix" (no file written)

Issue 19's target: a fit takes at most 30 s per trajectory on one core. Each case is an `idelearn train`
command composed from the same YAML as the CLI (the models' CPU defaults: `model.family=auto` for
kernel_operator, here `model.kernel=auto` for memory_operator), trained in this process with torch, numpy's
BLAS and scipy's FFT on one thread. "fit_s" is the train command's `wall_s` (the model's fit, data
generation excluded; datasets are cached under outputs/cache), "per_traj_s" that over the trajectories.
The kernel zoo cases are those of conf/suite/kernel_zoo.yaml and kernel_zoo_memory.yaml (scalar lag
memories, window t <= 10, dt = 0.01). "kernel" and "memory_holdout_residual" are the choice and its
score, so a change that only speeds the fit up can be checked to choose the same kernel.
Timings are wall times: on a loaded machine they are upper bounds.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from threadpoolctl import threadpool_limits

from idelearn import pipeline
from idelearn.config import compose, to_object

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "fit_time.json"
CACHE = "outputs/cache"

# paper 1's windows with the defaults a user gets (the paper1 suites name model.family=series instead)
CASES = [
    ("kernel_operator auto, matrix IDE (fig 5 window)", ["model=kernel_operator", "dataset=matrix_ide"]),
    ("kernel_operator auto, matrix IDE, 10 trajectories",
     ["model=kernel_operator", "dataset=matrix_ide_multi", "dataset.n_traj=10"]),
    ("memory_operator kernel=auto, matrix IDE (fig 5 window)",
     ["model=memory_operator", "model.kernel=auto", "dataset=matrix_ide"]),
    ("kernel_operator auto, Dyson", ["model=kernel_operator", "dataset=dyson"]),
    ("memory_operator kernel=auto, Dyson", ["model=memory_operator", "model.kernel=auto", "dataset=dyson"]),
]


def suite_cases(name: str) -> list[tuple[str, list[str]]]:
    suite = OmegaConf.load(ROOT / "conf" / "suite" / f"{name}.yaml")
    model = "memory_operator" if name.endswith("memory") else "kernel_operator"
    return [(f"{name}: {c.case} ({model})", list(c.train)) for c in suite.cases]


def measure(overrides: list[str]) -> dict:
    cfg = compose("train", [*overrides, "device.threads=1", f"trainer.cache_dir={CACHE}"])
    model, dataset, solver, trainer = (to_object(cfg[k]) for k in ("model", "dataset", "solver", "trainer"))
    trained = pipeline.train(model, dataset, solver.spec(), trainer)
    n_traj = trained.data.n_traj
    holdout = trained.history.get("memory_holdout_residual")
    return {"fit_s": trained.wall_s, "n_traj": n_traj, "per_traj_s": trained.wall_s / n_traj,
            "kernel": trained.history.get("kernel_choice"),
            "memory_holdout_residual": float(holdout[-1]) if holdout else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the cases whose name contains this (nothing is written)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = CASES + suite_cases("kernel_zoo") + suite_cases("kernel_zoo_memory")
    if args.only:
        cases = [c for c in cases if args.only in c[0]]
    rows = []
    print(f"{'case':90s} {'fit s':>7s} {'s/traj':>7s}  kernel (hold-out residual)")
    for name, overrides in cases:
        row = {"case": name, "command": " ".join(["idelearn train", *overrides, "device.threads=1"]),
               **measure(overrides)}
        rows.append(row)
        print(f"{name:90s} {row['fit_s']:7.1f} {row['per_traj_s']:7.1f}  {row['kernel']} "
              f"({row['memory_holdout_residual']:.2g})", flush=True)
    worst = max(r["per_traj_s"] for r in rows)
    print(f"slowest: {worst:.1f} s per trajectory (target: 30 s)")
    if args.only:
        return
    results = {"run": {"suite": "fit_time", "command": "python benchmarks/fit_time.py",
                       "date": datetime.date.today().isoformat()},
               "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                           "threads": 1, "load_average": os.getloadavg(), "numpy": np.__version__,
                           "torch": torch.__version__, "python": sys.version.split()[0]},
               "target_s_per_traj": 30.0, "rows": rows}
    RESULT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
