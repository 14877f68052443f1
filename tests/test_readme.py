"""README's result tables are what the committed suite results give (benchmarks/readme_tables.py)."""

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "benchmarks" / "readme_tables.py")
readme_tables = importlib.util.module_from_spec(spec)
sys.modules["readme_tables"] = readme_tables  # dataclasses look their module up there
spec.loader.exec_module(readme_tables)


def test_readme_tables_are_regenerated_from_the_committed_results():
    readme = (ROOT / "README.md").read_text()
    blocks = readme_tables.BLOCK.findall(readme)
    assert {name for _, name, _, _ in blocks} == set(readme_tables.TABLES)  # every table appears in README
    assert readme_tables.regenerate(readme) == readme, "run: python benchmarks/readme_tables.py"


def test_a_changed_result_changes_the_table(tmp_path):
    """The check can fail: one number changed in a results file shows in the regenerated README."""
    readme = (ROOT / "README.md").read_text()
    for path in (ROOT / "benchmarks" / "results").glob("*.json"):
        results = json.loads(path.read_text())
        results["run"]["date"] = "1999-01-01"
        (tmp_path / path.name).write_text(json.dumps(results))
    assert "1999-01-01" in readme_tables.regenerate(readme, tmp_path)
