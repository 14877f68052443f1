"""Config schemas shared by every command, and the one path from YAML to objects.

Values live in the YAML files under conf/ and nowhere else: a schema declares the
keys, their types and their value checks, and leaves every value MISSING, so
what a user composes is exactly what runs (tests/test_config.py keeps it so).
Group schemas live next to what they build: datasets in `idelearn.data.datasets`,
models in `idelearn.models.registry`, suites in `idelearn.suites`.

Composition: Hydra checks keys and types; `to_object` builds the schema
dataclass, whose `__post_init__` rejects non-finite and subnormal numbers in any
field, elements of the wrong type in list and dict fields, and a `name` changed
away from the schema's own, then runs the schema's `check()`: a meaningful range
for every key (dt > 0, a Hermitian H, sizes with an upper limit, ...), each
failure a UserError naming the key (both keys when a check relates two). The CLI
builds the whole composed config this way before any job runs (cli.precheck).
"""

from __future__ import annotations

import math
import os
import types
import typing
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from .errors import UserError

CONFIG_MODULE = "idelearn.conf"


TINY = float(np.finfo(float).tiny)  # the smallest normal float64, 2.2e-308
MAX_NODES = 10**8  # time nodes of one grid
MAX_VALUES = 10**8  # numbers in one array of a dataset (G, I: 1.6 GB each as complex128)
MAX_SEED = 2**63 - 1
MAX_THREADS = 1024
MAX_ITERATIONS = 10**9  # training steps or epochs


def require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise UserError(f"{key}: {message}")


def numeric_array(key: str, value) -> np.ndarray:
    """`value` (numbers, a list or a nested list) as a float array; every entry finite."""
    try:
        array = np.asarray(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"{key}: expected numbers (a list or nested list), got {value!r}") from None
    require(bool(np.isfinite(array).all()), key, f"must hold finite numbers, got {value!r}")
    return array


def _check_finite(key: str, value) -> None:
    """Every number inside `value` (nested lists and dicts included) must be finite and not subnormal
    (|x| < 2.2e-308 has lost precision, and its reciprocal overflows: no solver can use it)."""
    if isinstance(value, bool):
        return
    if isinstance(value, float):
        require(math.isfinite(value), key, f"must be a finite number, got {value}")
        require(value == 0 or abs(value) >= TINY, key, f"must be 0 or at least {TINY:.3g} in magnitude "
                f"(a subnormal number), got {value}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_finite(f"{key}[{i}]", item)
    elif isinstance(value, dict):
        for k, item in value.items():
            _check_finite(f"{key}.{k}", item)


def _check_elements(key: str, value, hint) -> None:
    """The elements of a list / dict field have the declared scalar type (OmegaConf lets a nested list
    through inside an optional or nested container, e.g. `suite.horizons=[[],-2]`)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return
        hint = next((a for a in args if a is not type(None)), Any)
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list and args:
        require(isinstance(value, list), key, f"must be a list, got {value!r}")
        for i, item in enumerate(value):
            _check_elements(f"{key}[{i}]", item, args[0])
    elif origin is dict and len(args) == 2:
        require(isinstance(value, dict), key, f"must be a mapping, got {value!r}")
        for k, item in value.items():
            _check_elements(f"{key}.{k}", item, args[1])
    elif hint in (int, float, str):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = {str: isinstance(value, str), float: number, int: number and isinstance(value, int)}[hint]
        require(ok, key, f"must be a {hint.__name__}, got {value!r}")


@dataclass
class Schema:
    """Base of every schema: `group` prefixes its keys in error messages."""

    group: ClassVar[str] = ""

    def __post_init__(self):
        prefix = f"{self.group}." if self.group else ""
        hints = _type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            if OmegaConf.is_config(value):
                value = OmegaConf.to_container(value)
            _check_finite(f"{prefix}{f.name}", value)
            if isinstance(value, (list, dict)):
                _check_elements(f"{prefix}{f.name}", value, hints.get(f.name, Any))
        identity = next((f.default for f in fields(self) if f.name == "name"), None)
        if isinstance(identity, str) and identity != MISSING:  # dataset.name=... cannot make dyson another dataset
            require(self.name == identity, f"{prefix}name", f"is {identity!r} for {self.group}={identity} (choose "
                    f"another with {self.group}=<name>), got {self.name!r}")
        try:
            self.check()
        except UserError:
            raise
        except (TypeError, ValueError, ArithmeticError) as exc:  # a value no check foresaw: still bad input
            raise UserError(f"{self.group or type(self).__name__}: a value cannot be used "
                            f"({type(exc).__name__}: {exc})") from None

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
        unknown = sorted(set(values) - set(kinds))
        require(not unknown, cls.group or cls.__name__, f"unknown keys {unknown} (known: {', '.join(kinds)})")
        built = {}
        for key, value in values.items():
            enum = _enum_type(cls, key) if key in kinds else None
            built[key] = enum(value) if enum is not None and value is not None else value
        return cls(**built)


def _type_hints(cls) -> dict:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # a hint that cannot be resolved: no element checks
        return {}


def _enum_type(cls, key: str):
    hint = _type_hints(cls).get(key)
    return hint if isinstance(hint, type) and issubclass(hint, Enum) else None


def check_time_grid(prefix: str, t_final: float, dt: float, max_nodes: int = MAX_NODES) -> None:
    """An IDE time grid t_n = n dt up to t_final: dt > 0, at least one step, not absurdly many.

    A failure names both keys when both are involved, so the one a user changed is always named.
    """
    require(dt > 0, f"{prefix}.dt", f"must be > 0, got {dt}")
    require(t_final > 0, f"{prefix}.t_final", f"must be > 0, got {t_final}")
    require(t_final >= dt, f"{prefix}.t_final", f"must be >= {prefix}.dt ({dt:g}), got {t_final:g}")
    require(t_final / dt <= max_nodes, f"{prefix}.dt", f"{dt:g} gives {t_final / dt:.3g} steps to {prefix}.t_final = "
            f"{t_final:g}; at most {max_nodes:.0e}")


def check_size(key: str, n_values: float, hint: str) -> None:
    """A dataset array of n_values numbers: at most MAX_VALUES (`hint` names the keys that set its size)."""
    require(n_values <= MAX_VALUES, key, f"gives {n_values:.3g} numbers per array ({hint}); at most {MAX_VALUES:.0e}")


def creatable_dir(path: str) -> bool:
    """True when `path` is a directory, or could be made one: its nearest existing ancestor is a writable
    directory (checked without creating anything)."""
    try:
        p = Path(path).expanduser().absolute()
        if p.exists():
            return p.is_dir() and os.access(p, os.W_OK | os.X_OK)
        while not p.exists():
            p = p.parent
        return p.is_dir() and os.access(p, os.W_OK | os.X_OK)
    except (OSError, ValueError):  # a name too long for the file system, ...
        return False


def check_seed(key: str, seed: int) -> None:
    require(0 <= seed <= MAX_SEED, key, f"must be in 0..2**63-1, got {seed}")


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
        require(0 <= self.threads <= MAX_THREADS, "device.threads", f"must be in 0..{MAX_THREADS}, got {self.threads}")

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
        check_seed("trainer.seed", self.seed)
        require(self.n_train is None or self.n_train >= 1, "trainer.n_train", f"must be >= 1, got {self.n_train}")
        require(0 < self.train_fraction <= 1, "trainer.train_fraction", f"must be in (0, 1], got {self.train_fraction}")
        require(1 <= self.log_every <= MAX_ITERATIONS, "trainer.log_every", f"must be in 1..{MAX_ITERATIONS:.0e}, "
                f"got {self.log_every}")
        require(creatable_dir(self.cache_dir), "trainer.cache_dir", f"{self.cache_dir!r} is not a directory that "
                "exists or can be created")
        require(0 <= self.checkpoint_every <= MAX_ITERATIONS, "trainer.checkpoint_every",
                f"must be in 0..{MAX_ITERATIONS:.0e} (0: none), got {self.checkpoint_every}")


# ----------------------------------------------------------------------------- primary configs (one per command)

def check_dataset_choice(command: str, dataset, allowed: tuple[str, ...] | None = None) -> None:
    """`dataset=` names a dataset this command can use (generate and train: not from_run)."""
    from .data.datasets import DATASETS

    names = allowed or tuple(DATASETS)
    require(dataset is None or dataset.name in names, "dataset", f"{command} takes dataset={'|'.join(names)}; "
            f"got dataset={dataset.name if dataset is not None else None}")


@dataclass
class GenerateConfig(Schema):
    dataset: Any = MISSING
    solver: SolverConfig = MISSING
    device: DeviceConfig = MISSING

    def check(self):
        check_dataset_choice("generate", self.dataset)


@dataclass
class TrainConfig(Schema):
    model: Any = MISSING
    dataset: Any = None  # None: the model's default_dataset
    solver: SolverConfig = MISSING
    trainer: TrainerConfig = MISSING
    device: DeviceConfig = MISSING

    def check(self):
        check_dataset_choice("train", self.dataset)


@dataclass
class ExtrapolateConfig(Schema):
    run: str | None = MISSING  # a train run directory (or its model.pt); None = the latest
    t_final: float | None = MISSING  # IDE models: extrapolate to this time (default: 4x the training window)
    context: int | None = MISSING  # curve models: observed points given (default: the model's)
    start: int = MISSING  # curve models: the given points are start .. start+context-1 (paper 2's shifted test)
    from_initial: bool = MISSING  # IDE models with an exact memory: solve from G(0) alone, not the known window
    dataset: Any = MISSING
    solver: SolverConfig = MISSING
    device: DeviceConfig = MISSING

    def check(self):
        check_dataset_choice("extrapolate", self.dataset, ("from_run", "from_file"))
        require(self.run is None or self.run.strip() != "", "run", "must name a train run directory or its model.pt")
        require(self.t_final is None or self.t_final > 0, "t_final", f"must be > 0, got {self.t_final}")
        require(self.context is None or self.context >= 1, "context", f"must be >= 1, got {self.context}")
        require(0 <= self.start <= MAX_NODES, "start", f"must be in 0..{MAX_NODES:.0e}, got {self.start}")


@dataclass
class BenchmarkConfig(Schema):
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
