"""The base of every config schema: `Schema`, value checks and limits (no Hydra, no registries).

Values live in the YAML files under conf/ and nowhere else: a schema declares the
keys, their types and their value checks, and leaves every value MISSING, so
what a user composes is exactly what runs (tests/test_config.py keeps it so).
Group schemas live next to what they build: each dataset in `idelearn.data.datasets`,
each model in its module under `idelearn.models`, each suite in `idelearn.suites`;
`idelearn.config` composes them.

A schema object is built by OmegaConf (`to_object`); its `__post_init__` rejects
non-finite and subnormal numbers in any field, elements of the wrong type in list
and dict fields, and a `name` changed away from the schema's own, then runs the
schema's `check()`: a meaningful range for every key (dt > 0, a Hermitian H, sizes
with an upper limit, ...), each failure a UserError naming the key (both keys when
a check relates two).
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
from omegaconf import MISSING, OmegaConf

from .errors import UserError

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
