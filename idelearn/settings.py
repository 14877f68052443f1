"""The schemas of the groups every command shares: solver, device, trainer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from omegaconf import MISSING

from .data.ide_datasets import SolverSpec
from .errors import UserError
from .schema import MAX_ITERATIONS, MAX_THREADS, Schema, check_seed, creatable_dir, require


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

    def spec(self) -> SolverSpec:
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
        import torch  # here: generate and extrapolate of IDE data never need torch

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
