"""Config schemas shared by every command, and the one path from YAML to objects.

Values live in the YAML files under conf/ and nowhere else: a schema declares the
keys, their types and their value checks, and leaves every value MISSING, so
what a user composes is exactly what runs (tests/test_config.py keeps it so).
Group schemas live next to what they build: datasets in `idelearn.data.datasets`,
models in `idelearn.models.registry`, suites in `idelearn.suites`.

Composition: Hydra checks keys and types; `to_object` builds the schema
dataclass, whose `__post_init__` rejects non-finite numbers in any field and
then runs the schema's own `check()` (dt > 0, a Hermitian H, ...), each failure
a UserError naming the key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, ClassVar

import numpy as np
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from .errors import UserError

CONFIG_MODULE = "idelearn.conf"


def require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise UserError(f"{key}: {message}")


def numeric_array(key: str, value) -> np.ndarray:
    try:
        return np.asarray(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value, dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"{key}: expected numbers (a list or nested list), got {value!r}") from None


def _check_finite(key: str, value) -> None:
    """Every number inside `value` (nested lists and dicts included) must be finite."""
    if isinstance(value, bool):
        return
    if isinstance(value, float):
        require(math.isfinite(value), key, f"must be a finite number, got {value}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_finite(f"{key}[{i}]", item)
    elif isinstance(value, dict):
        for k, item in value.items():
            _check_finite(f"{key}.{k}", item)


@dataclass
class Schema:
    """Base of every schema: `group` prefixes its keys in error messages."""

    group: ClassVar[str] = ""

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if OmegaConf.is_config(value):
                value = OmegaConf.to_container(value)
            _check_finite(f"{self.group}.{f.name}", value)
        self.check()

    def check(self) -> None:
        """Value checks that types cannot express; raise UserError naming the key."""

    def plain(self) -> dict:
        """The fields as plain Python (enums by value): what checkpoints and reports store."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.value if isinstance(value, Enum) else value
        return out

    @classmethod
    def from_plain(cls, values: dict):
        """Inverse of `plain` (enums rebuilt from their values); runs the value checks."""
        kinds = {f.name: f.type for f in fields(cls)}
        built = {}
        for key, value in values.items():
            enum = _enum_type(cls, key) if key in kinds else None
            built[key] = enum(value) if enum is not None and value is not None else value
        return cls(**built)


def _enum_type(cls, key: str):
    import typing

    hint = typing.get_type_hints(cls).get(key)
    return hint if isinstance(hint, type) and issubclass(hint, Enum) else None


def check_time_grid(prefix: str, t_final: float, dt: float, max_nodes: float = 1e8) -> None:
    """An IDE time grid t_n = n dt up to t_final: dt > 0, at least one step, not absurdly many."""
    require(dt > 0, f"{prefix}.dt", f"must be > 0, got {dt}")
    require(t_final >= dt, f"{prefix}.t_final", f"must be >= dt ({dt}), got {t_final}")
    require(t_final / dt <= max_nodes, f"{prefix}.dt", f"gives {t_final / dt:.3g} steps to t_final = {t_final}; "
            f"at most {max_nodes:.0e}")


# ----------------------------------------------------------------------------- solver, device, trainer

class SolverName(Enum):
    abm = "abm"
    fe_simpson = "fe_simpson"


class MemoryMode(Enum):
    auto = "auto"  # relaxed from about 2000 trajectory-steps on (measured crossover)
    direct = "direct"  # O(n) history sum per step
    relaxed = "relaxed"  # blocked online FFT, O(n log² n) in all


@dataclass
class SolverConfig(Schema):
    group: ClassVar[str] = "solver"
    name: SolverName = MISSING
    order: int = MISSING
    corrector: bool = MISSING
    memory: MemoryMode = MISSING
    max_abs: float = MISSING

    def check(self):
        require(3 <= self.order <= 8, "solver.order", f"must be in 3..8, got {self.order}")
        require(self.max_abs > 0, "solver.max_abs", f"must be > 0, got {self.max_abs}")

    def spec(self):
        from .data.ide_datasets import SolverSpec

        return SolverSpec(method=self.name.value, order=self.order, corrector=self.corrector,
                          memory=self.memory.value, max_abs=self.max_abs)


class DeviceName(Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


@dataclass
class DeviceConfig(Schema):
    group: ClassVar[str] = "device"
    name: DeviceName = MISSING
    threads: int = MISSING  # torch/BLAS threads per process; 0 = library default

    def check(self):
        require(self.threads >= 0, "device.threads", f"must be >= 0, got {self.threads}")

    def torch_device(self):
        import torch

        if self.name is DeviceName.cuda and not torch.cuda.is_available():
            raise UserError("device.name: cuda requested but no CUDA device is available")
        if self.name is DeviceName.auto:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.name.value)


@dataclass
class TrainerConfig(Schema):
    group: ClassVar[str] = "trainer"
    seed: int = MISSING
    n_train: int | None = MISSING  # curve data: the first n_train curves train, the rest are held out
    train_fraction: float = MISSING  # curve data, when n_train is None
    log_every: int = MISSING  # optimiser steps (or epochs) between log lines
    cache_dir: str = MISSING  # generated datasets are cached here by config hash
    checkpoint_every: int = MISSING  # steps (or epochs) between training-state checkpoints (0 = none)
    resume: bool = MISSING  # continue from train_state.pt when the run directory has one

    def check(self):
        require(self.checkpoint_every >= 0, "trainer.checkpoint_every", f"must be >= 0, got {self.checkpoint_every}")
        require(self.log_every >= 1, "trainer.log_every", f"must be >= 1, got {self.log_every}")
        require(0 < self.train_fraction <= 1, "trainer.train_fraction", f"must be in (0, 1], got {self.train_fraction}")
        require(self.n_train is None or self.n_train >= 1, "trainer.n_train", f"must be >= 1, got {self.n_train}")


# ----------------------------------------------------------------------------- primary configs (one per command)

@dataclass
class GenerateConfig:
    dataset: Any = MISSING
    solver: SolverConfig = MISSING
    device: DeviceConfig = MISSING


@dataclass
class TrainConfig:
    model: Any = MISSING
    dataset: Any = None  # None: the model's default_dataset
    solver: SolverConfig = MISSING
    trainer: TrainerConfig = MISSING
    device: DeviceConfig = MISSING


@dataclass
class ExtrapolateConfig:
    run: str | None = MISSING  # a train run directory (or its model.pt); None = the latest
    t_final: float | None = MISSING  # IDE models: extrapolate to this time (default: 4x the training window)
    context: int | None = MISSING  # curve models: observed points given (default: the model's)
    start: int = MISSING  # curve models: the given points are start .. start+context-1 (paper 2's shifted test)
    from_initial: bool = MISSING  # IDE models with an exact memory: solve from G(0) alone, not the known window
    dataset: Any = MISSING
    solver: SolverConfig = MISSING
    device: DeviceConfig = MISSING


@dataclass
class BenchmarkConfig:
    suite: Any = MISSING
    device: DeviceConfig = MISSING


def register() -> None:
    """Register every schema with Hydra; the YAML files in conf/ extend them by name."""
    from .data.datasets import DATASETS, from_run_schema
    from .models.registry import MODELS
    from .suites import SUITES

    cs = ConfigStore.instance()
    for name, schema in DATASETS.items():
        cs.store(group="dataset", name=f"schema_{name}", node=schema)
    cs.store(group="dataset", name="schema_from_run", node=from_run_schema())
    for name, model in MODELS.items():
        cs.store(group="model", name=f"schema_{name}", node=model.config_class)
    for name, suite in SUITES.items():
        cs.store(group="suite", name=f"schema_{name}", node=suite.config_class)
    cs.store(group="solver", name="schema", node=SolverConfig)
    cs.store(group="device", name="schema", node=DeviceConfig)
    cs.store(group="trainer", name="schema", node=TrainerConfig)
    cs.store(name="schema_generate", node=GenerateConfig)
    cs.store(name="schema_train", node=TrainConfig)
    cs.store(name="schema_extrapolate", node=ExtrapolateConfig)
    cs.store(name="schema_benchmark", node=BenchmarkConfig)


def to_object(node: DictConfig):
    """Turn a composed config node into its schema dataclass (runs the value checks)."""
    return OmegaConf.to_object(node)


def compose(command: str, overrides: list[str]) -> DictConfig:
    """The config `idelearn <command> <overrides>` would run, composed in-process.

    Benchmark suites build every run this way, so a suite runs exactly what a user's
    command runs. Works inside a running Hydra app (the benchmark command) and outside one.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    register()
    if GlobalHydra.instance().is_initialized():
        return hydra_compose(config_name=command, overrides=list(overrides))
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        return hydra_compose(config_name=command, overrides=list(overrides))
