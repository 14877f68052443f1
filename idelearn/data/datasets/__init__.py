"""The dataset registry: `dataset=<name>` is `conf/dataset/<name>.yaml` and a schema in a module of this package.

A schema (a `DatasetConfig` subclass whose `name` is the dataset's) holds the keys, their checks
and the code that builds its data: for an IDE `ide_problem` and `parameters` (solved by the
reference solver, every trajectory of a dataset in one batched call), for curves `generate`.
Adding a dataset: its problem in idelearn/equations/, a module here with its schema, and its
YAML; the registry finds the schema by its name (tests/test_layout.py checks both directions).
Generated datasets are cached by config hash (`load_or_generate`).
"""

from __future__ import annotations

import importlib
import pkgutil
import typing
from dataclasses import field, fields, make_dataclass
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from ...schema import Schema, require
from ..cache import cached
from ..dataset import Dataset
from ..ide_datasets import SolverSpec
from .base import DatasetConfig, IDEDatasetConfig
from .custom import CustomConfig
from .from_file import FromFileConfig


def discover() -> dict[str, type[DatasetConfig]]:
    """Every dataset schema of this package's modules, by name."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, DatasetConfig) and obj.__module__ == module.__name__
                    and obj.name != MISSING):
                found[obj.name] = obj
    return dict(sorted(found.items()))


DATASETS: dict[str, type[DatasetConfig]] = discover()
IDE_DATASETS = [name for name, schema in DATASETS.items() if schema.kind == "ide"]
SINGLE_IDE = [s for s in DATASETS.values() if issubclass(s, IDEDatasetConfig) and s.one_trajectory]
GRID_KEYS = ("name", "t_final", "dt", "noise", "noise_seed")


def changeable_keys(schema) -> list[str]:
    return [f.name for f in fields(schema) if f.name not in GRID_KEYS]


def from_run_schema():
    """`dataset=from_run` (extrapolate only): the training run's dataset with some keys changed.

    Its keys are every parameter of the one-trajectory IDE datasets (None = keep), derived from
    their schemas, plus `path`/`t_final` for unseen curves and `train_curves` (the curves trained on).
    """
    keys: dict[str, Any] = {}
    for schema in SINGLE_IDE:
        hints = typing.get_type_hints(schema)  # the types themselves: the schemas' modules define them
        for key in changeable_keys(schema):
            keys.setdefault(key, hints[key])
    specs = [(k, t | None, field(default=None)) for k, t in keys.items()]
    specs += [("name", str, field(default="from_run")),
              ("path", "str | None", field(default=None)),  # unseen curves for curve models (.npy or dataset.npz)
              ("t_final", float, field(default=1.0)),  # time span for curve arrays that store no `t`
              ("train_curves", bool, field(default=False))]  # score the training curves, not the held-out ones

    def check(self):  # the parameters are checked by the training dataset's schema once applied to it
        require(self.path is None or self.path.strip() != "", "dataset.path", "must name a file, got an empty string")
        require(self.t_final > 0, "dataset.t_final", f"must be > 0, got {self.t_final}")

    schema = make_dataclass("FromRunConfig", specs, bases=(Schema,), namespace={"group": "dataset", "check": check})
    schema.__module__ = __name__
    return schema


def load_or_generate(dataset: DatasetConfig, solver: SolverSpec, cache_dir) -> tuple[Dataset, str]:
    """A generated dataset (solved once, then cached by config hash) or a file as it is; and its path."""
    if isinstance(dataset, FromFileConfig):
        return dataset.generate(), str(Path(dataset.path).expanduser().resolve())
    described = {**dataset.plain(), "solver": solver.describe()}
    if isinstance(dataset, CustomConfig):
        described["source_sha256"] = dataset.source_hash()
    data, path = cached(described, lambda: dataset.generate(solver), cache_dir)
    return data, str(path.resolve())


def dataset_config(name: str, values: dict) -> DatasetConfig:
    """Rebuild a dataset config from its stored plain values (a train run's model.pt)."""
    return DATASETS[name].from_plain({k: v for k, v in values.items() if k != "name"})
