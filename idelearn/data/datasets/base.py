"""What every dataset schema shares: the IDE datasets' grid and reference solve, the curve datasets' sizes."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from omegaconf import MISSING

from ...equations.problem import IDEProblem
from ...errors import RunFailure, UserError
from ...schema import Schema, check_seed, check_size, check_time_grid, require
from ..dataset import Dataset
from ..ide_datasets import SolverSpec, add_noise, solve_problem


@dataclass
class DatasetConfig(Schema):
    group: ClassVar[str] = "dataset"
    kind: ClassVar[str | None] = None  # "ide" | "trajectory"; None: known once a file is read
    # The overrides of the smallest dataset of this kind that the tests run (the property tests' cheap base runs).
    tiny: ClassVar[dict[str, str]] = {}
    # Curves of a chaotic system: prediction skill is scored in Lyapunov times (1 / this exponent).
    lyapunov_exponent: ClassVar[float | None] = None
    name: str = MISSING

    def generate(self, solver: SolverSpec, progress=None) -> Dataset:
        raise NotImplementedError

    def n_traj_expected(self) -> int | None:
        """How many trajectories `generate` will make (None: unknown before loading)."""
        return getattr(self, "n_traj", None)

    def streaming_term(self):
        """IDE data: F(G (n_traj, d, m), t) of the data's trajectories, for fits from G alone (None: none known)."""
        return None


@dataclass
class IDEDatasetConfig(DatasetConfig):
    """dG/dt = F(G, t) + ∫ K(G(t-s)) G(s) ds on t_n = n dt up to t_final, solved by the reference solver."""

    kind: ClassVar[str] = "ide"
    # One trajectory whose parameters `extrapolate dataset.<key>=...` may change (dataset=from_run).
    one_trajectory: ClassVar[bool] = False
    t_final: float = MISSING
    dt: float = MISSING
    noise: float = MISSING  # relative Gaussian noise added to the stored G and I (training data only)
    noise_seed: int = MISSING

    def check(self):
        check_time_grid("dataset", self.t_final, self.dt)
        require(0 <= self.noise <= 1, "dataset.noise", f"must be in [0, 1] (relative to the RMS of G), "
                f"got {self.noise}")
        check_seed("dataset.noise_seed", self.noise_seed)

    def n_nodes(self) -> int:
        return round(self.t_final / self.dt) + 1

    def check_rate(self, key: str, rate: float, what: str) -> None:
        """The grid must resolve the equation's fastest oscillation: rate · dt <= π (Nyquist)."""
        require(rate * self.dt <= np.pi, key, f"{what} times dataset.dt ({self.dt:g}) is {rate * self.dt:.3g} > π: "
                "the grid cannot resolve the equation (lower dataset.dt)")

    def ide_problem(self) -> IDEProblem:
        """F, K and G0 of every trajectory, batched."""
        raise NotImplementedError

    def streaming_term(self):
        return self.ide_problem().F

    def parameters(self) -> tuple[np.ndarray, list[str]]:
        """(n_traj, k) parameter table and its column names, stored with the data."""
        raise NotImplementedError

    def meta(self) -> dict:
        return {"equation": self.name}

    def n_traj_expected(self) -> int:
        return len(self.parameters()[0])

    def generate(self, solver: SolverSpec, progress=None) -> Dataset:
        params, names = self.parameters()
        data = solve_problem(self.ide_problem(), self.t_final, self.dt, solver, params, names, self.meta(), progress)
        return add_noise(data, self.noise, self.noise_seed)

    def single(self, params: dict) -> IDEDatasetConfig:
        """The one-trajectory dataset of a trajectory with `params` (a row of `parameters`)."""
        return self


class UserFunction:
    """A schema whose `problem` names a user's function "module:function" (a file module.py in the working
    directory, or an installed module), called with the dict `kwargs`."""

    problem: str | None
    kwargs: Any

    def check_problem_keys(self) -> None:
        require(":" in self.problem and all(self.problem.split(":", 1)), "dataset.problem",
                f"expected module:function, got {self.problem!r}")
        require(self.kwargs is None or isinstance(self.kwargs, dict), "dataset.kwargs",
                f"expected a dict of keyword arguments, e.g. {{omega: 2.0}}, got {self.kwargs!r}")

    def function(self):
        module_name, attr = self.problem.split(":", 1)
        sys.path.insert(0, os.getcwd())  # a module file beside the user, as `python -c` would see it
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise UserError(f"dataset.problem: cannot import {module_name!r} "
                            f"({type(exc).__name__}: {exc})") from None
        finally:
            sys.path.remove(os.getcwd())
        fn = getattr(module, attr, None)
        require(callable(fn), "dataset.problem", f"{module_name} has no function {attr!r}")
        return fn

    def made(self):
        """What the user's function returns when called with `kwargs`; anything it raises is one line."""
        try:
            return self.function()(**(self.kwargs or {}))
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"dataset.problem: {self.problem}(**dataset.kwargs) raised "
                            f"{type(exc).__name__}: {exc}") from None


@dataclass
class CurvesConfig(DatasetConfig):
    """Seeded sets of curves (paper 2 appendix C) on t = linspace(0, t_final, n_t)."""

    kind: ClassVar[str] = "trajectory"
    n_traj: int = MISSING
    n_t: int = MISSING
    t_final: float = MISSING
    seed: int = MISSING

    max_t_final: ClassVar[float] = 1e4  # the ODE solves' cost grows with t_final (Lorenz: ~35 s per 1000)

    def check(self):
        require(self.n_traj >= 1, "dataset.n_traj", f"must be >= 1, got {self.n_traj}")
        require(self.n_t >= 2, "dataset.n_t", f"must be >= 2, got {self.n_t}")
        check_size("dataset.n_traj", self.n_traj * self.n_t * 3, "dataset.n_traj x dataset.n_t x 3")
        require(0 < self.t_final <= self.max_t_final, "dataset.t_final", f"must be in (0, {self.max_t_final:g}], "
                f"got {self.t_final:g}")
        require(self.t_final / (self.n_t - 1) >= 1e-300, "dataset.n_t", f"spaces dataset.t_final = "
                f"{self.t_final:g} by {self.t_final / (self.n_t - 1):.3g}: too fine to represent (< 1e-300)")
        check_seed("dataset.seed", self.seed)


def solved(name: str, make) -> Dataset:
    """Curves made by `make`; a solver that fails or gives non-finite curves fails the run (exit 1)."""
    try:
        with np.errstate(all="ignore"):
            data = make()
    except RuntimeError as exc:  # solve_ivp gave up, or the spirals' fixed point did not converge
        raise RunFailure(f"dataset={name}: the solve failed: {exc}") from None
    if not np.isfinite(data.G).all():
        raise RunFailure(f"dataset={name}: the solution is not finite; nothing was kept")
    return data
