"""The house rules a newcomer relies on: equations/ holds pure problem definitions."""

import ast
from pathlib import Path

import idelearn

PACKAGE = Path(idelearn.__file__).parent


def imported_modules(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            out.add(base)
    return out


def test_equations_import_no_data_solvers_models_or_config():
    for path in sorted((PACKAGE / "equations").glob("*.py")):
        for module in imported_modules(path):
            relative_up = module.startswith("..")
            assert not relative_up and not module.startswith("idelearn"), f"{path.name} imports {module}"
