"""The model registry: `model=<name>` is `conf/model/<name>.yaml` and the module `idelearn.models.<name>`.

A model's module holds its schema, its estimator (exported as `MODEL`) and its numerics (see
`base`); its YAML holds every value and registers it: the registry lists the YAML files of
conf/model/. A model's module is imported only when the model is used, so commands that train
nothing never import torch (tests/test_layout.py checks that every entry has its module,
its estimator under its own name, and its tiny run).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from importlib.resources import files

from .base import Model


def yaml_options(group: str) -> tuple[str, ...]:
    """The options of a config group: the names of its YAML files in the package's conf/."""
    return tuple(sorted(p.name[:-5] for p in files("idelearn.conf").joinpath(group).iterdir()
                        if p.name.endswith(".yaml")))


class Registry(Mapping):
    """name -> estimator class, each module imported on first use."""

    def __init__(self, package: str, names: tuple[str, ...]):
        self.package, self.names = package, names

    def __getitem__(self, name: str) -> type[Model]:
        if name not in self.names:
            raise KeyError(name)
        return importlib.import_module(f"{self.package}.{name}").MODEL

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


MODELS: Mapping[str, type[Model]] = Registry(__package__, yaml_options("model"))
