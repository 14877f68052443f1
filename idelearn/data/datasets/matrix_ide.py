"""The 2x2 complex matrix IDE (paper 1 eq. 4): one trajectory, or the paper's grid of parameters."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

import numpy as np
from omegaconf import MISSING

from ...equations.matrix_ide import matrix_ide_problem, paper_training_grid
from ...equations.problem import IDEProblem
from ...schema import check_seed, check_size, numeric_array, require
from .base import IDEDatasetConfig


class Cosine(Enum):
    matrix = "matrix"
    elementwise = "elementwise"


@dataclass
class MatrixIDEForm(IDEDatasetConfig):
    """The 2x2 matrix IDE's form: the memory term's sign and which cosine (docs/design.md)."""

    memory_sign: float = MISSING
    cosine: Cosine = MISSING

    def check(self):
        super().check()
        require(self.memory_sign in (-1.0, 1.0), "dataset.memory_sign", f"must be -1 or +1, got {self.memory_sign}")
        self.check_rate("dataset.beta", abs(self.beta) + 1, "the largest frequency of A(t), |dataset.beta| + 1")

    def meta(self):
        return {"equation": "matrix_ide", "parameters": {"memory_sign": self.memory_sign, "cosine": self.cosine.value},
                "note": "memory_sign=-1 with the matrix cosine is the bounded form (docs/design.md); +1 is as printed"}

    def problem_for(self, table: np.ndarray) -> IDEProblem:
        return matrix_ide_problem(*np.atleast_2d(table).T, memory_sign=self.memory_sign, cosine=self.cosine.value)


MATRIX_IDE_PARAMS = ["alpha1", "alpha2", "sigma", "beta"]


@dataclass
class MatrixIDEConfig(MatrixIDEForm):
    """One trajectory of the matrix IDE (paper 1 eq. 4)."""

    one_trajectory: ClassVar[bool] = True
    tiny: ClassVar[dict[str, str]] = {"t_final": "0.2"}
    name: str = "matrix_ide"
    alpha1: float = MISSING
    alpha2: float = MISSING
    sigma: float = MISSING
    beta: float = MISSING

    def check(self):
        super().check()
        require(self.sigma > 0, "dataset.sigma", f"must be > 0, got {self.sigma}")  # alpha1, alpha2: any time

    def parameters(self):
        return np.array([[self.alpha1, self.alpha2, self.sigma, self.beta]]), list(MATRIX_IDE_PARAMS)

    def ide_problem(self):
        return self.problem_for(self.parameters()[0])


@dataclass
class MatrixIDEMultiConfig(MatrixIDEForm):
    """The paper's grid α1, α2 ∈ alpha_values, σ ∈ sigma_values, one β; n_traj: a seeded subset."""

    tiny: ClassVar[dict[str, str]] = {"t_final": "0.2", "n_traj": "3"}
    name: str = "matrix_ide_multi"
    alpha_values: list[Any] = MISSING
    sigma_values: list[Any] = MISSING
    beta: float = MISSING
    n_traj: int | None = MISSING  # None = the whole grid
    seed: int = MISSING

    def check(self):
        super().check()
        alphas = numeric_array("dataset.alpha_values", self.alpha_values)
        sigmas = numeric_array("dataset.sigma_values", self.sigma_values)
        require(alphas.ndim == 1 and alphas.size > 0, "dataset.alpha_values", "must be a non-empty list")
        require(sigmas.ndim == 1 and sigmas.size > 0 and sigmas.min() > 0, "dataset.sigma_values",
                "must be a non-empty list of values > 0")
        require(self.n_traj is None or self.n_traj >= 1, "dataset.n_traj", f"must be >= 1, got {self.n_traj}")
        n_grid = alphas.size**2 * sigmas.size
        n_traj = n_grid if self.n_traj is None else min(self.n_traj, n_grid)
        check_size("dataset.n_traj", n_traj * self.n_nodes() * 4, "trajectories of dataset.alpha_values, "
                   "dataset.sigma_values, dataset.n_traj x nodes of dataset.t_final / dataset.dt x 4")
        check_seed("dataset.seed", self.seed)

    def grid(self) -> np.ndarray:
        grid = paper_training_grid(self.alpha_values, self.sigma_values, self.beta)
        if self.n_traj is not None and self.n_traj < len(grid):
            rows = np.sort(np.random.default_rng(self.seed).choice(len(grid), size=self.n_traj, replace=False))
            grid = grid[rows]
        return grid

    def parameters(self):
        return self.grid(), list(MATRIX_IDE_PARAMS)

    def ide_problem(self):
        return self.problem_for(self.grid())

    def single(self, params):
        return MatrixIDEConfig(**{k: params[k] for k in MATRIX_IDE_PARAMS}, memory_sign=self.memory_sign,
                               cosine=self.cosine, t_final=self.t_final, dt=self.dt, noise=self.noise,
                               noise_seed=self.noise_seed)
