"""idesolver's analytic problems solved by `solve_general_ide` with its defaults: max error and wall time.

    python benchmarks/peer_problems.py              # prints a table, writes benchmarks/results/peer_problems.json
                                                    # and the table in docs/migrating_from_idesolver.md
    python benchmarks/peer_problems.py --repeat 5   # fewer repeats

Each time is the median (and the best) of --repeat solves, problems interleaved so that a busy machine
slows them alike; BLAS runs on one thread (the solver asks for that itself). The peer's times and errors
are the ones measured while planning (issue 20: JoshKarpel/idesolver 3.x on numpy < 2, its own test
suite, a quiet and a loaded run of one 2-core machine); idesolver itself is not installed here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from idelearn.equations.general_examples import peer_problems
from idelearn.solvers import solve_general_ide

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "peer_problems.json"
DOC = ROOT / "docs" / "migrating_from_idesolver.md"

# (seconds: quiet, loaded), max error: idesolver on its own test problems, as measured for issue 20
PEER = {
    "complex, k = 1, d = -3i": ((3.9, 8.4), 2.2e-6),
    "2-D system -> (sin x, cos x)": ((6.6, 9.6), 2.3e-7),
    "zero right-hand side": (None, 0.0),
    "defaults (zero right-hand side)": (None, 0.0),
    "Gelmi 1: Fredholm, k = x/(1+s)": ((0.45, 0.66), 1.3e-7),
    "Gelmi 2: Fredholm, k = sin(2π(2x+s))": ((1.4, 2.7), 1.1e-7),
    "Gelmi 3: Fredholm, k = x·s, f = y²": ((0.27, 0.95), 3.0e-7),
    "Gelmi 4: limits [x, √x], k = x·s": ((0.12, 0.41), 7.9e-8),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-doc", action="store_true", help="leave the table in docs/ as it is")
    args = parser.parse_args(argv)

    problems = peer_problems()
    times: dict[str, list[float]] = {p.name: [] for p in problems}
    solutions = {}
    for p in problems:  # warm-up: the exact-arithmetic weights are computed once per process
        solve_general_ide(**p.kwargs())
    for _ in range(args.repeat):
        for p in problems:
            start = time.perf_counter()
            solutions[p.name] = solve_general_ide(**p.kwargs())
            times[p.name].append(time.perf_counter() - start)

    rows = []
    for p in problems:
        sol = solutions[p.name]
        peer_s, peer_err = PEER[p.name]
        median = float(np.median(times[p.name]))
        rows.append({
            "problem": p.name, "kind": p.kind, "n_x": len(p.x), "x_max": float(p.x[-1]),
            "max_error": float(np.max(np.abs(sol.y - p.exact(p.x)))), "error_estimate": sol.error_estimate,
            "median_s": median, "best_s": float(min(times[p.name])), "method": sol.method, "refine": sol.refine,
            "peer_s": list(peer_s) if peer_s else None, "peer_max_error": peer_err,
            "speedup_vs_peer_quiet": peer_s[0] / median if peer_s else None,
        })

    print(f"solve_general_ide defaults (order 9, tol 1e-9); median / best of {args.repeat}")
    print(f"{'problem':40s} {'max error':>10s} {'median ms':>10s} {'best ms':>8s} {'peer s':>11s} {'speed-up':>9s}")
    for r in rows:
        peer = f"{r['peer_s'][0]}-{r['peer_s'][1]}" if r["peer_s"] else "instant"
        speedup = f"{r['speedup_vs_peer_quiet']:.0f}x" if r["speedup_vs_peer_quiet"] else "-"
        print(f"{r['problem']:40s} {r['max_error']:10.1e} {1e3 * r['median_s']:10.1f} {1e3 * r['best_s']:8.1f} "
              f"{peer:>11s} {speedup:>9s}")

    command = "python benchmarks/peer_problems.py" + ("" if argv is None and len(sys.argv) == 1 else
                                                       " " + " ".join(argv if argv is not None else sys.argv[1:]))
    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "numpy": np.__version__, "python": platform.python_version()},
        "run": {"command": command, "date": date.today().isoformat(), "repeat": args.repeat,
                "note": "timings on a shared machine are noisy; the median is the one compared"},
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")
    if not args.no_doc:
        write_doc_table(rows, command)
        print(f"wrote the table in {DOC}")


def _ms(seconds: float) -> str:
    ms = 1e3 * seconds
    return f"{ms:.2g} ms" if ms < 10 else f"{ms:.0f} ms"


def write_doc_table(rows: list[dict], command: str) -> None:
    """The table between `<!-- table: ... -->` and `<!-- /table -->` in the migration guide, from `rows`."""
    lines = [f"<!-- table: {command} -->", "| problem | max error | time: median (best) | idesolver: time, max error |",
             "|---|---|---|---|"]
    for r in rows:
        peer = (f"{r['peer_s'][0]:g}–{r['peer_s'][1]:g} s, {r['peer_max_error']:.1e}" if r["peer_s"] else "instant")
        error = "0" if r["max_error"] == 0 else f"{r['max_error']:.1e}"
        lines.append(f"| {r['problem']} | {error} | {_ms(r['median_s'])} ({_ms(r['best_s'])}) | {peer} |")
    lines.append("<!-- /table -->")
    text = DOC.read_text()
    start, end = text.index("<!-- table:"), text.index("<!-- /table -->") + len("<!-- /table -->")
    DOC.write_text(text[:start] + "\n".join(lines) + text[end:])


if __name__ == "__main__":
    main()
