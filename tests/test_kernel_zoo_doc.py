"""docs/kernel_zoo.md's tables are what the committed kernel_zoo results give (benchmarks/kernel_zoo_table.py)."""

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # kernel_zoo_table imports readme_tables beside it
spec = importlib.util.spec_from_file_location("kernel_zoo_table", ROOT / "benchmarks" / "kernel_zoo_table.py")
kernel_zoo_table = importlib.util.module_from_spec(spec)
sys.modules["kernel_zoo_table"] = kernel_zoo_table
spec.loader.exec_module(kernel_zoo_table)
sys.path.remove(str(ROOT / "benchmarks"))


def test_doc_tables_are_regenerated_from_the_committed_results():
    doc = kernel_zoo_table.DOC.read_text()
    names = {name for _, name, _, _ in kernel_zoo_table.readme_tables.BLOCK.findall(doc)}
    assert names == set(kernel_zoo_table.TABLES)
    assert kernel_zoo_table.regenerate(doc) == doc, "run: python benchmarks/kernel_zoo_table.py"


def test_a_changed_result_changes_the_tables(tmp_path):
    results = json.loads((ROOT / "benchmarks" / "results" / "kernel_zoo.json").read_text())
    row = next(r for r in results["paper1_accuracy"] if r.get("test") == "ω = 1")
    row["rel_l2"] = 0.123456
    (tmp_path / "kernel_zoo.json").write_text(json.dumps(results))
    new = kernel_zoo_table.regenerate(kernel_zoo_table.DOC.read_text(), tmp_path)
    assert "0.12" in new.split("<!-- /results:kernel_zoo_summary -->")[0]
