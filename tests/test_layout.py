"""The house rules a newcomer relies on: layers without import cycles, pure equations, and registries whose
every entry has what the tests and the README promise (module, estimator, YAML, tiny run, test file)."""

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import idelearn
from idelearn.data.datasets import DATASETS
from idelearn.models.registry import MODELS, yaml_options

PACKAGE = Path(idelearn.__file__).parent
TESTS = Path(__file__).parent

# Lower layers never import higher ones (equal ranks may import each other, without cycles).
LAYERS = {
    "idelearn": 0, "idelearn.errors": 0, "idelearn.schema": 0,
    "idelearn.equations": 1, "idelearn.solvers": 1,
    "idelearn.data": 2, "idelearn.settings": 2,
    "idelearn.models": 3, "idelearn.report": 3,
    "idelearn.pipeline": 4,
    "idelearn.config": 5,
    "idelearn.suites": 6,
    "idelearn.commands": 7, "idelearn.cli": 7,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    for depth in (2, 1):
        key = ".".join(module.split(".")[:depth])
        if key in LAYERS:
            return LAYERS[key]
    raise AssertionError(f"{module} is in no layer of tests/test_layout.py")


def package_imports(module: str, *, top_level_only: bool = False) -> set[str]:
    """The idelearn modules `module` imports (relative imports resolved; `from . import x` names module x)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("idelearn")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            if not base.startswith("idelearn"):
                continue
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in out if m in MODULES and m != module}


def test_no_import_cycles():
    graph = {m: package_imports(m) for m in MODULES}
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in graph[m]:
            if state.get(n) == "open":
                cycle = stack[stack.index(n):] + [n]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in graph:
        if m not in state:
            visit(m)


@pytest.mark.parametrize("module", MODULES)
def test_no_module_imports_a_higher_layer(module):
    higher = [m for m in package_imports(module) if layer(m) > layer(module)]
    assert not higher, f"{module} (layer {layer(module)}) imports {higher} from a higher layer"


@pytest.mark.parametrize("module", MODULES)
def test_package_imports_sit_at_the_top_of_the_module(module):
    """An import of the package's own modules inside a function hides a cycle or a layer breach."""
    hidden = package_imports(module) - package_imports(module, top_level_only=True)
    assert not hidden, f"{module} imports {hidden} inside a function"


def test_equations_are_pure_problem_definitions():
    """equations/ imports nothing of the package but its own modules (no solvers, data, config)."""
    for module in MODULES:
        if module.startswith("idelearn.equations"):
            outside = {m for m in package_imports(module) if not m.startswith("idelearn.equations")}
            assert not outside, f"{module} imports {outside}"


def test_generate_imports_no_torch():
    """`idelearn generate` (and its --help) never loads torch-based model code: a fresh interpreter after the
    CLI, the generate command and its registered schemas."""
    code = ("import sys; from idelearn import cli; from idelearn.commands import generate; generate.register(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchquad', 'torchdiffeq') "
            "or m.startswith('idelearn.models.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "['idelearn.models.base', 'idelearn.models.registry']", out


# ----------------------------------------------------------------------------- the registries' entries

@pytest.mark.parametrize("name", MODELS)
def test_every_model_has_its_module_yaml_tiny_run_and_test(name):
    model = MODELS[name]
    assert model.name == name and model.config_class.__dataclass_fields__["name"].default == name
    assert model.__module__ == f"idelearn.models.{name}", f"{name}'s estimator lives in {model.__module__}"
    assert model.tiny_data and model.tiny, f"{name} declares no tiny run (tiny_data, tiny)"
    keys = {f.name for f in dataclasses.fields(model.config_class)}
    assert set(model.tiny) <= keys, f"{name}.tiny names keys its schema lacks: {set(model.tiny) - keys}"
    tested = [p for p in (TESTS / "models").glob("test_*.py") if f"_{name}_" in f"{p.stem}_"]
    assert tested, f"no tests/models/test_{name}.py (or a test file naming {name})"


def test_every_dataset_has_its_yaml_and_tiny_run():
    assert set(DATASETS) == set(yaml_options("dataset")) - {"from_run"}  # from_run: a train run's own dataset
    for name, schema in DATASETS.items():
        keys = {f.name for f in dataclasses.fields(schema)}
        assert schema.tiny and set(schema.tiny) <= keys, f"dataset {name}: tiny {schema.tiny} (keys {sorted(keys)})"
