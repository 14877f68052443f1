"""An IDE problem solved into a `Dataset` by a chosen method (the schemas in `datasets` call this).

Pure: arguments in, `Dataset` out. Every trajectory of a dataset is solved in
one batched call of the solver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import __version__
from ..equations.problem import IDEProblem
from ..solvers import solve_ide
from ..solvers.multistep import BlowUpError
from .dataset import Dataset


@dataclass(frozen=True)
class SolverSpec:
    method: str = "abm"
    order: int = 8
    corrector: bool = True
    max_abs: float = 1e6  # |G| beyond this (or non-finite) stops the solve: a blow-up
    memory: str = "auto"

    def describe(self) -> dict:
        order = self.order if self.method == "abm" else 1
        return {"method": self.method, "order": order, "corrector": self.corrector, "memory": self.memory}


class PartialSolution(RuntimeError):
    """The solve blew up; `.data` holds the dataset up to the last good node (meta: partial, t_reached),
    or is None when fewer than 2 nodes were good (no time grid to keep: nothing is saved)."""

    def __init__(self, message: str, data: Dataset | None):
        super().__init__(message)
        self.data = data


def solve_problem(problem: IDEProblem, t_final: float, dt: float, solver: SolverSpec,
                  params: np.ndarray, param_names: list[str], meta: dict, progress=None) -> Dataset:
    start = time.perf_counter()
    partial = None
    try:
        with np.errstate(all="ignore"):  # overflow on the way to a blow-up: the guard below reports it
            sol = solve_ide(problem.F, problem.K, problem.G0, t_final, dt, order=solver.order,
                            method=solver.method, corrector=solver.corrector, progress=progress,
                            max_abs=solver.max_abs, memory=solver.memory)
        t, G, I = sol.t, sol.G, sol.I
    except BlowUpError as exc:
        partial, G, I = exc, exc.G, exc.I
        t = np.arange(G.shape[1]) * dt
    wall = time.perf_counter() - start
    detail = f"requested t_final = {t_final:g}; solver.max_abs = {solver.max_abs:g}"
    if partial is not None and len(t) < 2:
        raise PartialSolution(f"{partial} ({detail}); nothing was kept: a dataset needs 2 good nodes", None)
    meta = dict(meta, solver=solver.describe(), grid={"t_final": float(t[-1]), "dt": dt, "n_t": len(t)},
                wall_s=wall, idelearn_version=__version__, kind="ide")
    data = Dataset(t=t, G=G, I=I, params=np.asarray(params, dtype=float), param_names=param_names, meta=meta)
    if partial is not None:
        data.meta.update(partial=True, t_reached=float(t[-1]), t_requested=t_final)
        raise PartialSolution(f"{partial} ({detail})", data)
    return data


def add_noise(data: Dataset, level: float, seed: int) -> Dataset:
    """The dataset with seeded complex Gaussian noise on G and I: per trajectory, standard deviation
    `level` times that trajectory's RMS |G| (|I| for I), Re and Im independent (each level/√2)."""
    if level == 0:
        return data
    rng = np.random.default_rng(seed)

    def noisy(X):
        rms = np.sqrt((np.abs(X) ** 2).reshape(len(X), -1).mean(axis=1)).reshape((-1,) + (1,) * (X.ndim - 1))
        return X + level * rms * (rng.normal(size=X.shape) + 1j * rng.normal(size=X.shape)) / np.sqrt(2)

    meta = dict(data.meta, noise={"level": level, "seed": seed})
    return Dataset(t=data.t, G=noisy(data.G), I=noisy(data.I), params=data.params, param_names=data.param_names,
                   meta=meta)
