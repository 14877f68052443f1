"""Curves or a dataset read from a file (dataset.npz or an .npy array)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omegaconf import MISSING

from ...schema import require
from ..dataset import Dataset
from ..io import load_curves
from .base import DatasetConfig


@dataclass
class FromFileConfig(DatasetConfig):
    """Curves or a dataset from a file: dataset.npz (idelearn's format) or an .npy array (n, n_t, dim)."""

    tiny: ClassVar[dict[str, str]] = {"t_final": "1.0"}  # and dataset.path: a file of the test's own
    name: str = "from_file"
    path: str = MISSING
    t_final: float = MISSING  # time span for arrays that store no `t`

    def check(self):
        require(self.path.strip() != "", "dataset.path", "must name a file, got an empty string")
        require(self.t_final > 0, "dataset.t_final", f"must be > 0, got {self.t_final}")

    def generate(self, solver=None, progress=None) -> Dataset:
        return load_curves(self.path, self.t_final)
