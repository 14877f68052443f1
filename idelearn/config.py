"""Config schemas (Hydra structured configs): the one place where config becomes objects.

Every YAML file under conf/ extends one of these dataclasses, so a wrong key or
a wrong type fails when Hydra composes the config. Value checks that types
cannot express (dt > 0, a Hermitian H, ...) run in __post_init__ and raise
UserError naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, List, Optional

import numpy as np
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from .data import ide_datasets
from .data.dataset import Dataset
from .data.ide_datasets import SolverSpec
from .errors import UserError


def require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise UserError(f"{key}: {message}")


def numeric_array(key: str, value) -> np.ndarray:
    try:
        return np.asarray(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value, dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"{key}: expected numbers (a list or nested list), got {value!r}") from None


def check_grid(prefix: str, t_final: float, dt: float) -> None:
    require(dt > 0, f"{prefix}.dt", f"must be > 0, got {dt}")
    require(t_final >= dt, f"{prefix}.t_final", f"must be >= dt ({dt}), got {t_final}")


# ----------------------------------------------------------------------------- solvers

class SolverName(Enum):
    abm = "abm"
    fe_simpson = "fe_simpson"


@dataclass
class SolverConfig:
    name: SolverName = SolverName.abm
    order: int = 8
    corrector: bool = True

    def __post_init__(self):
        require(3 <= self.order <= 8, "solver.order", f"must be in 3..8, got {self.order}")

    def spec(self) -> SolverSpec:
        return SolverSpec(method=self.name.value, order=self.order, corrector=self.corrector)


# ----------------------------------------------------------------------------- datasets

@dataclass
class DysonConfig:
    name: str = "dyson"
    h: float = -1.0
    H: Optional[Any] = None  # nested list: real part of a Hermitian matrix; overrides h
    H_imag: Optional[Any] = None
    c: float = 1.0
    t_final: float = 10.0
    dt: float = 0.01

    def __post_init__(self):
        check_grid("dataset", self.t_final, self.dt)
        self.hamiltonian()  # validates H

    def hamiltonian(self) -> np.ndarray:
        if self.H is None:
            require(self.H_imag is None, "dataset.H_imag", "needs dataset.H")
            return np.array([[complex(self.h)]])
        H = numeric_array("dataset.H", self.H).astype(complex)
        if self.H_imag is not None:
            Hi = numeric_array("dataset.H_imag", self.H_imag)
            require(Hi.shape == H.shape, "dataset.H_imag", f"shape {Hi.shape} differs from dataset.H {H.shape}")
            H = H + 1j * Hi
        require(H.ndim == 2 and H.shape[0] == H.shape[1] and H.size > 0, "dataset.H",
                f"must be a square matrix, got shape {H.shape}")
        require(np.allclose(H, H.conj().T, atol=1e-12), "dataset.H", "must be Hermitian (H == H^dagger)")
        return H

    def generate(self, solver: SolverSpec, progress=None) -> Dataset:
        return ide_datasets.dyson(self.hamiltonian(), self.c, self.t_final, self.dt, solver, progress)


@dataclass
class DysonMultiConfig:
    name: str = "dyson_multi"
    h_low: float = 1.0
    h_high: float = 10.0
    c: float = 1.0
    n_traj: int = 2000
    seed: int = 0
    t_final: float = 10.0
    dt: float = 0.01

    def __post_init__(self):
        check_grid("dataset", self.t_final, self.dt)
        require(self.n_traj >= 1, "dataset.n_traj", f"must be >= 1, got {self.n_traj}")
        require(self.h_high >= self.h_low, "dataset.h_high", "must be >= dataset.h_low")

    def generate(self, solver: SolverSpec, progress=None) -> Dataset:
        h = ide_datasets.sample_h(self.n_traj, self.h_low, self.h_high, self.seed)
        return ide_datasets.dyson_multi(h, self.c, self.t_final, self.dt, solver, progress)


class Cosine(Enum):
    matrix = "matrix"
    elementwise = "elementwise"


def check_sign(sign: float) -> None:
    require(sign in (-1.0, 1.0), "dataset.memory_sign", f"must be -1 or +1, got {sign}")


@dataclass
class MatrixIDEConfig:
    name: str = "matrix_ide"
    alpha1: float = 10.0
    alpha2: float = 15.0
    sigma: float = 2.0
    beta: float = 1.0
    memory_sign: float = -1.0
    cosine: Cosine = Cosine.matrix
    t_final: float = 20.0
    dt: float = 0.01

    def __post_init__(self):
        check_grid("dataset", self.t_final, self.dt)
        check_sign(self.memory_sign)
        require(self.sigma > 0, "dataset.sigma", f"must be > 0, got {self.sigma}")

    def generate(self, solver: SolverSpec, progress=None) -> Dataset:
        params = [[self.alpha1, self.alpha2, self.sigma, self.beta]]
        return ide_datasets.matrix_ide(params, self.memory_sign, self.cosine.value, self.t_final,
                                       self.dt, solver, progress)


@dataclass
class MatrixIDEMultiConfig:
    name: str = "matrix_ide_multi"
    alpha_values: List[Any] = field(default_factory=lambda: list(range(1, 21)))
    sigma_values: List[Any] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    beta: float = 1.0
    n_traj: Optional[int] = None  # a seeded random subset of the grid; None = the whole grid
    seed: int = 0
    memory_sign: float = -1.0
    cosine: Cosine = Cosine.matrix
    t_final: float = 20.0
    dt: float = 0.01

    def __post_init__(self):
        check_grid("dataset", self.t_final, self.dt)
        check_sign(self.memory_sign)
        alphas = numeric_array("dataset.alpha_values", self.alpha_values)
        sigmas = numeric_array("dataset.sigma_values", self.sigma_values)
        require(alphas.ndim == 1 and alphas.size > 0, "dataset.alpha_values", "must be a non-empty list")
        require(sigmas.ndim == 1 and sigmas.size > 0 and sigmas.min() > 0, "dataset.sigma_values",
                "must be a non-empty list of values > 0")
        require(self.n_traj is None or self.n_traj >= 1, "dataset.n_traj", f"must be >= 1, got {self.n_traj}")

    def generate(self, solver: SolverSpec, progress=None) -> Dataset:
        grid = ide_datasets.matrix_ide_grid(self.alpha_values, self.sigma_values, self.beta, self.n_traj, self.seed)
        return ide_datasets.matrix_ide(grid, self.memory_sign, self.cosine.value, self.t_final, self.dt,
                                       solver, progress)


def check_curves(n_traj: int, n_t: int, t_final: float) -> None:
    require(n_traj >= 1, "dataset.n_traj", f"must be >= 1, got {n_traj}")
    require(n_t >= 2, "dataset.n_t", f"must be >= 2, got {n_t}")
    require(t_final > 0, "dataset.t_final", f"must be > 0, got {t_final}")


@dataclass
class LotkaVolterraConfig:
    name: str = "lotka_volterra"
    n_traj: int = 100
    n_t: int = 100
    t_final: float = 15.0
    seed: int = 0

    def __post_init__(self):
        check_curves(self.n_traj, self.n_t, self.t_final)

    def generate(self, solver=None, progress=None) -> Dataset:
        from .equations.lotka_volterra import lotka_volterra

        return lotka_volterra(n_traj=self.n_traj, n_t=self.n_t, t_final=self.t_final, seed=self.seed)


@dataclass
class LorenzConfig:
    name: str = "lorenz"
    n_traj: int = 100
    n_t: int = 100
    t_final: float = 100.0
    seed: int = 0

    def __post_init__(self):
        check_curves(self.n_traj, self.n_t, self.t_final)

    def generate(self, solver=None, progress=None) -> Dataset:
        from .equations.lorenz import lorenz

        return lorenz(n_traj=self.n_traj, n_t=self.n_t, t_final=self.t_final, seed=self.seed)


@dataclass
class SpiralsConfig:
    name: str = "spirals"
    n_traj: int = 500
    n_t: int = 100
    t_final: float = 1.0
    seed: int = 0

    def __post_init__(self):
        check_curves(self.n_traj, self.n_t, self.t_final)

    def generate(self, solver=None, progress=None) -> Dataset:
        from .equations.spirals import spirals

        return spirals(n_traj=self.n_traj, n_t=self.n_t, t_final=self.t_final, seed=self.seed)


DATASETS = {
    "dyson": DysonConfig,
    "dyson_multi": DysonMultiConfig,
    "matrix_ide": MatrixIDEConfig,
    "matrix_ide_multi": MatrixIDEMultiConfig,
    "lotka_volterra": LotkaVolterraConfig,
    "lorenz": LorenzConfig,
    "spirals": SpiralsConfig,
}


# ----------------------------------------------------------------------------- devices

class DeviceName(Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


@dataclass
class DeviceConfig:
    name: DeviceName = DeviceName.auto
    threads: int = 0  # torch/BLAS threads per process; 0 = library default

    def torch_device(self):
        import torch

        if self.name is DeviceName.cuda and not torch.cuda.is_available():
            raise UserError("device.name: cuda requested but no CUDA device is available")
        if self.name is DeviceName.auto:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.name.value)


# ----------------------------------------------------------------------------- primary configs

@dataclass
class GenerateConfig:
    dataset: Any = MISSING
    solver: SolverConfig = MISSING
    device: DeviceConfig = MISSING


def register() -> None:
    """Register every schema with Hydra; YAML files in conf/ extend them by name."""
    cs = ConfigStore.instance()
    for name, schema in DATASETS.items():
        cs.store(group="dataset", name=f"schema_{name}", node=schema)
    cs.store(group="solver", name="schema", node=SolverConfig)
    cs.store(group="device", name="schema", node=DeviceConfig)
    cs.store(name="schema_generate", node=GenerateConfig)


def to_object(node: DictConfig):
    """Turn a composed config node into its schema dataclass (runs the value checks)."""
    return OmegaConf.to_object(node)
