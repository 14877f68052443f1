"""Cost per step of a pure lag memory: the exponential recurrence against the Gregory history sum.

    python benchmarks/recurrence_speed.py          # writes benchmarks/results/recurrence_speed.json

The damped-cosine memory K = −0.5 e^{−0.5τ} cos 2τ (two complex rates, idelearn/equations/lag_memories.py),
continued from the reference window t <= 10 to T by the same AB8 + AM8 stepper, once with the exact
recurrence (solvers/recurrence.py) and once with the Gregory memory (direct sum, or the relaxed FFT
sum that memory="auto" takes on long horizons). dt = 0.05. Each time is the median of 3 runs, the
methods interleaved; BLAS on one thread. "difference": max |G_recurrence − G_gregory|.

The structured memory (`model=memory_operator model.kernel=auto`) steps with AB3 and no corrector; its two
memories for this kernel are timed the same way with that stepper: `memory=exp` (the recurrence at
order 3) and `memory=legs` (LegS of K(τ) along the trajectory, N modes; the readout needs
N ≳ frequency × T / 2, so a fixed N loses accuracy on longer horizons), through the generic stepper
(adams_integrate + LagLegSMemory) and, for N = 256, through the fused loop that `extrapolate` takes
(fused_stepper.adams_fused: the same maths, equal to round-off). The exact kernel stands in for the
fitted one (the fit finds these rates to ~1e-15, tests/models/test_memory_operator.py).
"*_error": max |G − G_gregory| (the AB8 + AM8 reference); "fused_vs_generic": max |G_fused − G_generic| (N = 256).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from idelearn.equations.lag_memories import damped_cosine
from idelearn.models.fused_stepper import adams_fused
from idelearn.models.kernel_operator import continue_with_kernel
from idelearn.models.lag_kernels import LagFit
from idelearn.models.legs import LagLegSMemory
from idelearn.models.memory_operator import StructuredMemory
from idelearn.solvers import solve_ide
from idelearn.solvers.multistep import adams_integrate
from idelearn.solvers.recurrence import ExponentialRecurrenceMemory

DT, ORDER, AB = 0.05, 8, 3
LEGS_MODES = (256, 1024)
RATES, COEF = [0.5 + 2j, 0.5 - 2j], [-0.25, -0.25]
FUSED_MODES = 256


def structured(N: int) -> StructuredMemory:
    """The structured memory as model.kernel=auto leaves it for this kernel (a pure lag kernel, LegS of N modes)."""
    net = StructuredMemory(N, 1, n_rates=len(RATES), lag_degree=0)
    net.set_lag(LagFit("exp", np.array(RATES), np.array([COEF]), 1.0))
    net.dt.fill_(DT)
    return net.eval()


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
            "memory_operator_exp": lambda n=n_total: adams_integrate(
                F, ExponentialRecurrenceMemory(RATES, COEF, DT, AB), window.G, window.I, DT, n, order=AB)[0],
            **{f"memory_operator_legs{N}": lambda n=n_total, N=N: adams_integrate(
                F, LagLegSMemory(LagFit("exp", np.array(RATES), np.array([COEF]), 1.0), N, DT), window.G, window.I,
                DT, n, order=AB)[0] for N in LEGS_MODES},
            f"memory_operator_legs{FUSED_MODES}_fused": lambda n=n_total: adams_fused(
                structured(FUSED_MODES), F, window.G, window.I, DT, n, order=AB)[0],
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
               "difference": float(np.abs(out["recurrence"] - out["gregory"]).max()),
               **{f"{name}_error": float(np.abs(out[name] - out["gregory"]).max()) for name in methods
                  if name.startswith("memory_operator")},
               "fused_vs_generic": float(np.abs(out[f"memory_operator_legs{FUSED_MODES}_fused"]
                                                - out[f"memory_operator_legs{FUSED_MODES}"]).max())}
        rows.append(row)
        print(row)
    path = Path(__file__).resolve().parent / "results" / "recurrence_speed.json"
    results = {"run": {"suite": "recurrence_speed", "command": "python benchmarks/recurrence_speed.py",
                       "date": datetime.date.today().isoformat()},
               "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                           "numpy": np.__version__},
               "dt": DT, "order": ORDER, "memory_operator_ab_order": AB, "rows": rows}
    path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    torch.set_num_threads(1)  # the fused loop's prefix sums run in torch
    with threadpool_limits(1):
        main()
