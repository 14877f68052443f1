"""The result tables of README.md and docs/results.md, generated from the benchmark suites' results.json.

    python benchmarks/readme_tables.py                       # rewrite the tables from benchmarks/results/
    python benchmarks/readme_tables.py --check               # exit 1 if a table differs from what they give
    python benchmarks/readme_tables.py --take outputs/benchmark/<run dir>   # keep a run's results.json

Each table sits between `<!-- results:NAME -->` and `<!-- /results:NAME -->` in README.md (the one
headline table) or docs/results.md (all the others), and names the command that produced it. A suite
run's results.json is kept as benchmarks/results/<suite>.json (`--take`), so prose and measurement
cannot drift apart: tests/test_readme.py checks every table against its results.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
RESULTS_DOC = ROOT / "docs" / "results.md"
DOCUMENTS = (README, RESULTS_DOC)

# Results measured before issue 18 renamed the learned memory models carry this in results["run"]["model_names"]:
# their `lstm_operator` ran `model.memory` (default `legs`, the structured memory that is now `memory_operator`).
OLD_NAMES = "before issue 18"
RENAMED = ("† Measured before issue 18 renamed the models, as `model=lstm_operator` with `model.memory=legs` "
           "(its default then, now `model=memory_operator`), `lstm` (now `model=lstm_operator`, the paper's LSTM) "
           "or `legs_lstm` (an LSTM on the LegS memory's residual).")
MEMORY = re.compile(r"model\.memory=(\w+)")
TODAY = {"legs": "memory_operator†", "lstm": "lstm_operator†", "legs_lstm": "legs_lstm†"}


def today_name(results: dict, model: str | None, command: str = "") -> str | None:
    """The model's name today: results from before the rename name the memory they ran."""
    if model != "lstm_operator" or results["run"].get("model_names") != OLD_NAMES:
        return model
    memory = MEMORY.search(command)
    return TODAY[memory.group(1) if memory else "legs"]


def renamed(results: dict, rows: list[dict]) -> list[dict]:
    return [{**row, "model": today_name(results, row.get("model"), row.get("train_command", ""))} for row in rows]


def number(digits: int = 3) -> Callable:
    return lambda v: "–" if v is None else f"{v:.{digits}g}"


def percent(v) -> str:
    if v is None:
        return "–"
    return f"{100 * v:.3g} %" if v < 10 else f"{v:.3g}×"  # past 1000 %: a factor reads better


def seconds(v) -> str:
    return "–" if v is None else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def text(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    return "one fit" if v == "1 fits" else str(v)  # results written before the suites said "one fit"


def fig7_ratios(results: dict) -> list[dict]:
    """The figure-7 comparison: each learned model's rel_l2 and how many times lower it is than the baselines'."""
    fig7 = results["paper1_accuracy_comparisons"].get("fig7", {"rel_l2": {}, "ratios": {}})
    return renamed(results, [{"model": m, "rel_l2": e, **fig7["ratios"].get(m, {})}
                             for m, e in fig7["rel_l2"].items() if m not in ("direct_rnn", "dmd")])


# README's headline: both papers' first memory case and the figure-7 case with every model (case, old model name).
HEADLINE = [("fig 8 row 1: Dyson single trajectory", "lstm_operator", "h = -1"),
            ("fig 8 row 1: Dyson single trajectory", "kernel_operator", "h = -1"),
            ("fig 8 rows 2-3: Dyson multi-trajectory", "lstm_operator", "h = 11.5"),
            ("fig 7: matrix IDE multi-trajectory", "lstm_operator", None),
            ("fig 7: matrix IDE multi-trajectory", "kernel_operator", None),
            ("fig 7: matrix IDE multi-trajectory", "direct_rnn", None),
            ("fig 7: DMD on the test trajectory's window", "dmd", None)]


def headline(results: dict) -> list[dict]:
    """HEADLINE's rows, each found exactly once (a renamed case fails here instead of dropping out silently)."""
    rows = []
    for case, model, test in HEADLINE:
        found = [r for r in results["paper1_accuracy"]
                 if r["case"] == case and r["model"] == model and test in (None, r["test"])]
        if len(found) != 1:
            raise KeyError(f"headline row {case!r} / {model} / {test}: {len(found)} rows in the results")
        rows += found
    return renamed(results, rows)


@dataclass
class Table:
    suite: str
    rows: Callable[[dict], list[dict]]
    columns: list[tuple[str, str, Callable]]  # (key, header, format)

    def render(self, results: dict) -> str:
        run = results["run"]
        machine = results["machine"]
        headers = [h.replace("lstm_operator", today_name(results, "lstm_operator")) for _, h, _ in self.columns]
        lines = [f"Measured by `{run['command']}` on {run['date']} ({machine['cpu']}, {machine['cores']} cores, "
                 f"torch {machine['torch']}); results in `benchmarks/results/{self.suite}.json`.", "",
                 "| " + " | ".join(headers) + " |",
                 "|" + "---|" * len(self.columns)]
        for row in self.rows(results):
            lines.append("| " + " | ".join(fmt(row.get(key)) for key, _, fmt in self.columns) + " |")
        if "†" in "\n".join(lines):
            lines += ["", RENAMED]
        return "\n".join(lines)


def levers(results: dict) -> list[dict]:
    return renamed(results, results["paper1_accuracy"])


TABLES = {
    "headline": Table("paper1_accuracy", headline, [
        ("case", "case", text), ("model", "model", text), ("test", "test", text),
        ("rel_l2", "rel_l2", percent), ("target", "target", percent),
        ("budget", "training", text), ("train_s", "train s", seconds), ("note", "note", text)]),
    "paper1_accuracy": Table("paper1_accuracy", lambda r: renamed(r, r["paper1_accuracy"]), [
        ("case", "case", text), ("model", "model", text), ("test", "test", text),
        ("rel_l2", "rel_l2", percent), ("target", "target", percent), ("met", "met", text),
        ("budget", "training", text), ("train_s", "train s", seconds), ("note", "note", text)]),
    "paper1_levers": Table("paper1_levers", levers, [
        ("case", "lever", text), ("model", "model", text), ("test", "test", text), ("rel_l2", "rel_l2", percent),
        ("target", "target", percent), ("budget", "training", text), ("train_s", "train s", seconds),
        ("note", "note", text)]),
    "kernel_families": Table("kernel_families", lambda r: r["paper1_accuracy"], [
        ("case", "family", text), ("test", "test", text), ("rel_l2", "rel_l2", percent), ("target", "target", percent),
        ("budget", "training", text), ("train_s", "train s", seconds), ("note", "note", text)]),
    "paper1_timing": Table("paper1_timing", lambda r: r["paper1_timing"]["rows"], [
        ("T", "T", number()), ("ab3_learned_s", "AB3 + lstm_operator s", number(2)),
        ("ab3_learned_err", "its max error", number(2)), ("fe_simpson_s", "FE + Simpson s", number(2)),
        ("fe_simpson_err", "its max error", number(2)), ("abm8_s", "ABM8 s", number(2)),
        ("abm8_err", "its max error", number(2)), ("abm8_coarse_s", "ABM8 coarse dt s", number(2)),
        ("abm8_coarse_err", "its max error", number(2)), ("paper_ab3_rnn_s", "paper: AB3 + RNN s", number(3)),
        ("paper_fe_sr_s", "paper: FE + SR s", number(4))]),
    "paper1_timing_sizes": Table("paper1_timing", lambda r: r["paper1_timing"]["sizes"], [
        ("d", "d", text), ("reference_s", "reference s", number(2)), ("reference_err", "its max error", number(2)),
        ("lstm_operator_s", "lstm_operator s", number(2)), ("lstm_operator_err", "its max error", number(2)),
        ("lstm_operator_matched_reference_s", "reference as accurate, s", number(2)),
        ("kernel_operator_s", "kernel_operator s", number(2)), ("kernel_operator_err", "its max error", number(2)),
        ("kernel_operator_matched_reference_s", "reference as accurate, s", number(2))]),
    "paper1_fig7_ratios": Table("paper1_accuracy", fig7_ratios, [
        ("model", "model", text), ("rel_l2", "rel_l2", percent), ("direct_rnn", "direct_rnn's rel_l2 / its", number(3)),
        ("dmd", "dmd's rel_l2 / its", number(3))]),
    # Table 1 and the cases: the quiet-machine run of 2026-11-30 (its timings); Table 5: paper2.json,
    # the run with Table 5 trained both ways (2026-12-05, a loaded machine)
    "paper2_table1": Table("paper2_2026-11-30", lambda r: r["paper2"]["timing"], [
        ("dataset", "dataset", text), ("model", "model", text), ("s_per_iter", "s / iteration", number(3)),
        ("paper_s_per_iter_gpu", "paper reports (GPU)", number(3)), ("r2_unseen", "r2 unseen", number(3)),
        ("r2_median_unseen", "median", number(3)), ("r2_train", "r2 training curves", number(3)),
        ("r2_median_train", "median", number(3)), ("vpt_lyapunov_median_unseen", "VPT unseen (Lyapunov t.)", number(2)),
        ("budget", "training", text), ("train_s", "train s", seconds), ("note", "note", text)]),
    "paper2_cases": Table("paper2_2026-11-30", lambda r: r["paper2"]["cases"], [
        ("case", "case", text), ("model", "model", text), ("test", "curves", text), ("r2", "r2", number(3)),
        ("r2_median", "median", number(3)), ("vpt_lyapunov_median", "VPT median (Lyapunov t.)", number(2)),
        ("budget", "training", text), ("train_s", "train s", seconds), ("note", "note", text)]),
    "paper2_table5": Table("paper2", lambda r: r["paper2"]["spirals"], [
        ("model", "model", text), ("trained_on", "trained on", text), ("test", "test", text), ("r2", "r2", number(3)),
        ("r2_std", "± std", number(2)),
        ("r2_median", "median", number(3)), ("r2_paper", "r2, the paper's measure", number(3)),
        ("r2_paper_std", "± std", number(2)), ("paper_reports", "paper reports", text),
        ("budget", "training", text), ("train_s", "train s", seconds), ("note", "note", text)]),
}

BLOCK = re.compile(r"(<!-- results:(\w+) -->\n)(.*?)(<!-- /results:\2 -->)", re.S)  # the body may be empty


def regenerate(readme: str, results_dir: Path = RESULTS, tables: dict | None = None) -> str:
    """`readme` with every `<!-- results:NAME -->` block rendered from its suite's results (`tables`: TABLES)."""
    tables = TABLES if tables is None else tables

    def replace(match):
        name = match.group(2)
        table = tables[name]
        path = results_dir / f"{table.suite}.json"
        body = table.render(json.loads(path.read_text())) if path.exists() else f"(no {path.name} yet)"
        return match.group(1) + body + "\n" + match.group(4)

    return BLOCK.sub(replace, readme)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a document's tables differ")
    parser.add_argument("--take", type=Path, help="a benchmark run directory whose results.json to keep")
    args = parser.parse_args()
    if args.take:
        results = json.loads((args.take / "results.json").read_text())
        RESULTS.mkdir(exist_ok=True)
        shutil.copy(args.take / "results.json", RESULTS / f"{results['run']['suite']}.json")
    stale = []
    for document in DOCUMENTS:
        old = document.read_text()
        new = regenerate(old)
        if new != old:
            stale.append(document.relative_to(ROOT))
            if not args.check:
                document.write_text(new)
    if args.check and stale:
        print(f"result tables in {', '.join(map(str, stale))} differ from benchmarks/results/: "
              "run benchmarks/readme_tables.py", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
