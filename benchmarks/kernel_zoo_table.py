"""docs/kernel_zoo.md's tables, generated from the kernel_zoo suite's results.

    idelearn benchmark suite=kernel_zoo                          # writes outputs/benchmark/<run>/results.json
    idelearn benchmark suite=kernel_zoo_memory                   # the same kernels for memory_operator
    python benchmarks/readme_tables.py --take outputs/benchmark/<run>   # keeps benchmarks/results/kernel_zoo.json
    python benchmarks/kernel_zoo_table.py                        # rewrites the tables of docs/kernel_zoo.md
    python benchmarks/kernel_zoo_table.py --check                # exit 1 if they differ from the results

Each table sits between `<!-- results:NAME -->` and `<!-- /results:NAME -->` (readme_tables.py's markers).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import readme_tables
from readme_tables import RESULTS, ROOT, Table, number, percent, seconds, text

DOC = ROOT / "docs" / "kernel_zoo.md"
SETTINGS = [("memory", "0"), ("memory", "0.0001"), ("trajectory", "0"), ("trajectory", "0.0001")]


def summary(results: dict) -> list[dict]:
    """One row per kernel: rel_l2 (ω = 1) for each fit target and noise level, with its target."""
    rows: dict[str, dict] = {}
    for r in results["paper1_accuracy"]:
        if r.get("test") != "ω = 1":
            continue
        kernel, setting = r["case"].split(", fit_on=")
        fit_on, noise = setting.split(", noise ")
        row = rows.setdefault(kernel, {"kernel": kernel})
        value = "–" if r.get("rel_l2") is None else f"{r['rel_l2']:.2g}"
        if r.get("target") is not None:
            value += f" (≤ {r['target']:g}{'' if r.get('met') else ', **missed**'})"
        row[f"{fit_on} {noise}"] = value
    return list(rows.values())


TABLES = {
    "kernel_zoo_summary": Table("kernel_zoo", summary, [("kernel", "kernel", text)] + [
        (f"{f} {n}", f"fit_on={f}, noise {float(n):g}", text) for f, n in SETTINGS]),
    "kernel_zoo_memory": Table("kernel_zoo_memory", summary, [("kernel", "kernel", text)] + [
        (f"{f} {n}", f"memory_operator, fit_on={f}, noise {float(n):g}", text)
        for f, n in SETTINGS if (f, n) != ("trajectory", "0")]),
    "kernel_zoo": Table("kernel_zoo", lambda r: r["paper1_accuracy"], [
        ("case", "case", text), ("test", "test", text), ("kernel", "kernel chosen", text),
        ("memory_holdout_residual", "hold-out residual", number(2)), ("rel_l2", "rel_l2", percent),
        ("target", "target", percent), ("met", "met", text), ("train_s", "train s", seconds), ("note", "note", text)]),
}


def regenerate(doc: str, results_dir: Path = RESULTS) -> str:
    return readme_tables.regenerate(doc, results_dir, TABLES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the tables differ from the results")
    args = parser.parse_args()
    old = DOC.read_text()
    new = regenerate(old)
    if args.check:
        if new != old:
            print("docs/kernel_zoo.md's tables differ from benchmarks/results/: run benchmarks/kernel_zoo_table.py",
                  file=sys.stderr)
            sys.exit(1)
        return
    DOC.write_text(new)


if __name__ == "__main__":
    main()
