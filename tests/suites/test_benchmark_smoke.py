"""The smoke suite runs every benchmark pipeline on tiny settings; its report must be complete."""

import json
import re


def test_smoke_suite_writes_a_complete_report(idelearn, tmp_path):
    out = tmp_path / "bench"
    idelearn("benchmark", "suite=smoke", f"suite.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={out}", check=True)
    report = (out / "report.md").read_text()
    results = json.loads((out / "results.json").read_text())
    assert {"machine", "paper1_timing", "paper1_accuracy", "paper2"} <= set(results)
    assert "cores" in report and "torch" in report  # the header states the machine
    rows = [ln for ln in report.splitlines() if ln.startswith("| ") and not ln.startswith("| case |")]
    body = [r for r in rows if not re.match(r"^\| [a-zA-Z_ ]+ \|( [a-zA-Z_0-9 ]+ \|)+$", r)]
    assert body, "no table rows"
    number = re.compile(r"\| -?\d")
    for row in body:
        assert number.search(row), f"a table row without numbers: {row}"
    for figure in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report):
        assert (out / figure).exists(), figure
    timing = results["paper1_timing"]["rows"]
    assert all(r["abm8_err"] < 1e-8 and r["ab3_learned_s"] > 0 for r in timing)  # abm8_err: measured 1e-15
