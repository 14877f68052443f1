"""The Bethe-lattice Dyson equation (paper 1 eq. 5): one trajectory (scalar h or a Hermitian H) or many h."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from omegaconf import MISSING

from ...equations.dyson import dyson_problem
from ...equations.problem import IDEProblem
from ...schema import check_seed, check_size, numeric_array, require
from .base import IDEDatasetConfig


@dataclass
class DysonConfig(IDEDatasetConfig):
    """Bethe-lattice Dyson equation, scalar h or a Hermitian matrix H (+ H_imag)."""

    one_trajectory: ClassVar[bool] = True
    tiny: ClassVar[dict[str, str]] = {"t_final": "0.2"}
    name: str = "dyson"
    h: float = MISSING
    H: Any = MISSING  # nested list: real part of a Hermitian matrix; overrides h
    H_imag: Any = MISSING
    random_H: int | None = MISSING  # d: a seeded random d x d Hermitian H instead (overrides h)
    H_seed: int = MISSING
    c: float = MISSING

    def check(self):
        super().check()
        require(self.random_H is None or self.random_H >= 1, "dataset.random_H", f"must be >= 1, got {self.random_H}")
        require(self.random_H is None or self.H is None, "dataset.random_H", "and dataset.H exclude each other")
        check_seed("dataset.H_seed", self.H_seed)
        if self.random_H is not None:  # before H is drawn: a huge d would not fit in memory
            check_size("dataset.random_H", self.n_nodes() * self.random_H**2,
                       "dataset.random_H² x nodes of dataset.t_final / dataset.dt")
        H = self.hamiltonian()
        with np.errstate(over="ignore"):
            norm = float(np.abs(H).sum(axis=1).max())  # bounds the spectral radius; inf when it overflows
        self.check_rate("dataset.h" if self.H is None else "dataset.H", norm, "the largest frequency |h| (‖H‖∞)")
        self.check_rate("dataset.c", 2 * abs(self.c), "the memory's frequency 2|c|")
        check_size("dataset.H", self.n_nodes() * H.size, "entries of dataset.H x nodes of dataset.t_final / dataset.dt")

    def hamiltonian(self) -> np.ndarray:
        if self.random_H is not None:  # (A + A†) / (2 sqrt(d)), A standard complex normal: spectrum within ~[-2, 2]
            d = self.random_H
            rng = np.random.default_rng(self.H_seed)
            A = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
            return (A + A.conj().T) / (2 * np.sqrt(d))
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
        require(np.isfinite(H).all(), "dataset.H", "must be finite")
        require(np.allclose(H, H.conj().T, atol=1e-12), "dataset.H", "must be Hermitian (H == H^dagger)")
        return H

    def ide_problem(self) -> IDEProblem:
        return dyson_problem(self.hamiltonian(), self.c)

    def parameters(self):
        H = self.hamiltonian()
        if H.shape == (1, 1):
            return np.array([[H[0, 0].real, self.c]]), ["h", "c"]
        d = len(H)
        names = [f"H_{part}_{i}{j}" for part in ("re", "im") for i in range(d) for j in range(d)]
        return np.concatenate([H.real.ravel(), H.imag.ravel(), [self.c]])[None], names + ["c"]

    def meta(self):
        return {"equation": "dyson", "exact": "G(t) = U diag(-i e^{-i eps t} J1(2ct)/(ct)) U^dagger"}


@dataclass
class DysonMultiConfig(IDEDatasetConfig):
    """Scalar Dyson trajectories with h ~ U[h_low, h_high] (seeded), one c (paper 1 §4)."""

    tiny: ClassVar[dict[str, str]] = {"t_final": "0.2", "n_traj": "3"}
    name: str = "dyson_multi"
    h_low: float = MISSING
    h_high: float = MISSING
    c: float = MISSING
    n_traj: int = MISSING
    seed: int = MISSING

    def check(self):
        super().check()
        require(self.h_high >= self.h_low, "dataset.h_high", f"must be >= dataset.h_low ({self.h_low:g}), got "
                f"{self.h_high:g}")
        self.check_rate("dataset.h_low", abs(self.h_low), "|dataset.h_low|")
        self.check_rate("dataset.h_high", abs(self.h_high), "|dataset.h_high|")
        self.check_rate("dataset.c", 2 * abs(self.c), "the memory's frequency 2|c|")
        require(self.n_traj >= 1, "dataset.n_traj", f"must be >= 1, got {self.n_traj}")
        check_size("dataset.n_traj", self.n_traj * self.n_nodes(), "dataset.n_traj x nodes of dataset.t_final / "
                   "dataset.dt")
        check_seed("dataset.seed", self.seed)

    def h_values(self) -> np.ndarray:
        return np.random.default_rng(self.seed).uniform(self.h_low, self.h_high, size=self.n_traj)

    def ide_problem(self):
        return dyson_problem(self.h_values()[:, None, None].astype(complex), self.c)

    def parameters(self):
        h = self.h_values()
        return np.stack([h, np.full_like(h, self.c)], axis=1), ["h", "c"]

    def meta(self):
        return {"equation": "dyson", "parameters": {"h": "per trajectory (params)", "c": self.c}}

    def single(self, params):
        return DysonConfig(h=params["h"], H=None, H_imag=None, random_H=None, H_seed=0, c=self.c,
                           t_final=self.t_final, dt=self.dt, noise=self.noise, noise_seed=self.noise_seed)
