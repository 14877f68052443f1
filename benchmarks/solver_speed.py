"""Speed of the exact IDE solver: direct vs relaxed (FFT) memory, long horizons, many trajectories.

    python benchmarks/solver_speed.py            # full: up to 128k steps, 2000 trajectories (minutes)
    python benchmarks/solver_speed.py --quick    # under a minute

Every time is the median of --repeat runs, modes interleaved so that a busy machine slows
both alike; BLAS runs on one thread (threadpoolctl), as the per-step products are tiny.
Errors are max |G - exact| for the Dyson equation (Bethe lattice, non-diagonal Hermitian
2x2 H, c = 1, dt = 0.01, order 8); the matrix IDE has no exact solution, so there the
batched solve is compared with trajectories solved one by one.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from idelearn.equations.dyson import dyson_exact, dyson_problem
from idelearn.equations.matrix_ide import matrix_ide_problem, paper_training_grid
from idelearn.solvers import solve_ide

H = np.array([[0.5, 0.3 - 0.4j], [0.3 + 0.4j, -1.2]])
DT = 0.01


def timed(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def dyson_runs(steps: list[int], modes: list[str], repeat: int, direct_max: int) -> dict:
    """(n_steps, mode) -> (median seconds, max error vs exact); runs interleaved across repeats."""
    p = dyson_problem(H, 1.0)
    times, errors = {}, {}
    for _ in range(repeat):
        for n in steps:
            for mode in modes:
                if mode == "direct" and n > direct_max:
                    continue
                start = time.perf_counter()
                sol = solve_ide(p.F, p.K, p.G0, n * DT, DT, order=8, memory=mode)
                times.setdefault((n, mode), []).append(time.perf_counter() - start)
                errors[(n, mode)] = float(np.abs(sol.G[0] - dyson_exact(sol.t, H, 1.0)).max())
    return {key: (float(np.median(t)), errors[key]) for key, t in times.items()}


def trajectories(n_traj: int, t_final: float, order: int, check: int, repeat: int):
    grid = paper_training_grid()[:: max(1, len(paper_training_grid()) // n_traj)][:n_traj]
    p = matrix_ide_problem(*grid.T)
    seconds, sol = timed(lambda: solve_ide(p.F, p.K, p.G0, t_final, DT, order=order), repeat)
    worst = 0.0
    for k in np.linspace(0, len(grid) - 1, check).astype(int):
        one = matrix_ide_problem(*grid[k])
        single = solve_ide(one.F, one.K, one.G0, t_final, DT, order=order, memory="direct")
        worst = max(worst, float(np.abs(sol.G[k] - single.G[0]).max()))
    return len(grid), seconds, worst


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat (< 1 minute)")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--direct-max", type=int, default=128_000, help="largest n_steps timed for direct")
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)
    if args.quick:
        steps, growth, crossover, n_traj, check = [2_000, 16_000], (2_000, 16_000), [500, 2_000], 100, 2
    else:
        steps, growth, crossover, n_traj, check = [16_000, 32_000, 64_000, 128_000], (16_000, 128_000), \
            [500, 1_000, 2_000, 4_000, 8_000], 2000, 3

    print(f"Dyson 2x2 (non-diagonal Hermitian H), dt = {DT}, order 8; median of {repeat}")
    runs = dyson_runs(sorted(set(steps + crossover)), ["direct", "relaxed"], repeat, args.direct_max)
    print(f"{'steps':>8} {'t_final':>8} {'direct s':>9} {'relaxed s':>9} {'direct/relaxed':>14} "
          f"{'err direct':>10} {'err relaxed':>11}")
    for n in sorted(set(steps + crossover)):
        d, r = runs.get((n, "direct")), runs[(n, "relaxed")]
        d_s, d_e, ratio = ("-" * 9, "-" * 10, "-" * 14)
        if d:
            d_s, d_e, ratio = f"{d[0]:9.2f}", f"{d[1]:10.1e}", f"{d[0] / r[0]:14.2f}"
        print(f"{n:8d} {n * DT:8.0f} {d_s} {r[0]:9.2f} {ratio} {d_e} {r[1]:11.1e}")
    lo, hi = growth
    for mode in ("direct", "relaxed"):
        if (lo, mode) in runs and (hi, mode) in runs:
            print(f"growth {lo} -> {hi} steps ({mode}): {runs[(hi, mode)][0] / runs[(lo, mode)][0]:.1f}x")
    if 16_000 in steps:
        print("t <= 160 (16k steps): " + ", ".join(f"{mode} {runs[(16_000, mode)][0]:.2f} s"
                                                   for mode in ("direct", "relaxed") if (16_000, mode) in runs))

    n, seconds, worst = trajectories(n_traj, 20.0, 8, check, 1)
    print(f"matrix IDE, {n} trajectories, t <= 20, dt = {DT}, order 8, memory=auto: {seconds:.1f} s "
          f"(max |batched - one by one| over {check} of them: {worst:.1e})")


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
