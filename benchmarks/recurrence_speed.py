"""Cost per step of a pure lag memory: the exponential recurrence against the Gregory history sum.

    python benchmarks/recurrence_speed.py          # writes benchmarks/results/recurrence_speed.json

The damped-cosine memory K = −0.5 e^{−0.5τ} cos 2τ (two complex rates, idelearn/equations/lag_memories.py),
continued from the reference window t <= 10 to T by the same AB8 + AM8 stepper, once with the exact
recurrence (solvers/recurrence.py) and once with the Gregory memory (direct sum, or the relaxed FFT
sum that memory="auto" takes on long horizons). dt = 0.05. Each time is the median of 3 runs, the
methods interleaved; BLAS on one thread. "difference": max |G_recurrence − G_gregory|.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from idelearn.equations.lag_memories import damped_cosine
from idelearn.models.kernel_operator import continue_with_kernel
from idelearn.solvers import solve_ide
from idelearn.solvers.multistep import adams_integrate
from idelearn.solvers.recurrence import ExponentialRecurrenceMemory

DT, ORDER = 0.05, 8
RATES, COEF = [0.5 + 2j, 0.5 - 2j], [-0.25, -0.25]


def main() -> None:
    F, K, G0 = damped_cosine()
    window = solve_ide(F, K, G0, 10.0, DT, order=ORDER)
    rows = []
    for T in (100.0, 1000.0):
        n_total = int(round(T / DT)) + 1
        n_steps = n_total - len(window.t)
        methods = {
            "recurrence": lambda n=n_total: adams_integrate(F, ExponentialRecurrenceMemory(RATES, COEF, DT, ORDER),
                                                            window.G, window.I, DT, n, order=ORDER, corrector=True)[0],
            "gregory": lambda n=n_total: continue_with_kernel(F, K, window.G, window.I, DT, n, order=ORDER,
                                                              memory="auto", corrector=True)[0],
        }
        times = {name: [] for name in methods}
        out = {}
        for _ in range(3):
            for name, fn in methods.items():
                start = time.perf_counter()
                out[name] = fn()
                times[name].append(time.perf_counter() - start)
        row = {"T": T, "steps": n_steps,
               **{f"{name}_us_per_step": 1e6 * float(np.median(t)) / n_steps for name, t in times.items()},
               "difference": float(np.abs(out["recurrence"] - out["gregory"]).max())}
        rows.append(row)
        print(row)
    path = Path(__file__).resolve().parent / "results" / "recurrence_speed.json"
    results = {"run": {"suite": "recurrence_speed", "command": "python benchmarks/recurrence_speed.py",
                       "date": datetime.date.today().isoformat()},
               "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                           "numpy": np.__version__},
               "dt": DT, "order": ORDER, "rows": rows}
    path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
