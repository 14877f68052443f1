"""IDE datasets (Dyson, matrix IDE; single and multi-trajectory) solved by a chosen method.

Pure: arguments in, `Dataset` out. Every trajectory of a dataset is solved in
one batched call of the solver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import __version__
from ..equations.dyson import dyson_problem
from ..equations.matrix_ide import matrix_ide_problem, paper_training_grid
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
    """The solve blew up; `.data` holds the dataset up to the last good node (meta: partial, t_reached)."""

    def __init__(self, message: str, data: Dataset):
        super().__init__(message)
        self.data = data


def solve_problem(problem: IDEProblem, t_final: float, dt: float, solver: SolverSpec,
                  params: np.ndarray, param_names: list[str], meta: dict, progress=None) -> Dataset:
    start = time.perf_counter()
    partial = None
    try:
        sol = solve_ide(problem.F, problem.K, problem.G0, t_final, dt, order=solver.order,
                        method=solver.method, corrector=solver.corrector, progress=progress,
                        max_abs=solver.max_abs, memory=solver.memory)
        t, G, I = sol.t, sol.G, sol.I
    except BlowUpError as exc:
        partial, G, I = exc, exc.G, exc.I
        t = np.arange(G.shape[1]) * dt
    wall = time.perf_counter() - start
    meta = dict(meta, solver=solver.describe(), grid={"t_final": float(t[-1]), "dt": dt, "n_t": len(t)},
                wall_s=wall, idelearn_version=__version__, kind="ide")
    data = Dataset(t=t, G=G, I=I, params=np.asarray(params, dtype=float), param_names=param_names, meta=meta)
    if partial is not None:
        data.meta.update(partial=True, t_reached=float(t[-1]), t_requested=t_final)
        raise PartialSolution(f"{partial} (requested t_final = {t_final:g}; solver.max_abs = "
                              f"{solver.max_abs:g})", data)
    return data


def dyson(H: np.ndarray, c: float, t_final: float, dt: float, solver: SolverSpec, progress=None) -> Dataset:
    """One trajectory of the Dyson equation for a Hermitian H (d, d)."""
    H = np.asarray(H, dtype=complex)
    params = np.concatenate([H.real.ravel(), H.imag.ravel(), [c]])[None]
    names = [f"H_re_{i}{j}" for i in range(len(H)) for j in range(len(H))]
    names += [f"H_im_{i}{j}" for i in range(len(H)) for j in range(len(H))] + ["c"]
    if H.shape == (1, 1):
        params, names = np.array([[H[0, 0].real, c]]), ["h", "c"]
    matrix = {"re": H.real.tolist(), "im": H.imag.tolist()} if H.imag.any() else H.real.tolist()
    meta = {"equation": "dyson",
            "parameters": {"h": float(H[0, 0].real), "c": c} if H.shape == (1, 1) else {"H": matrix, "c": c},
            "exact": "G(t) = U diag(-i e^{-i eps t} J1(2ct)/(ct)) U^dagger"}
    return solve_problem(dyson_problem(H, c), t_final, dt, solver, params, names, meta, progress)


def dyson_multi(h: np.ndarray, c: float, t_final: float, dt: float, solver: SolverSpec, progress=None) -> Dataset:
    """Scalar Dyson trajectories, one per value in h (paper 1 §4: h ~ U[1, 10], c = 1)."""
    h = np.asarray(h, dtype=float)
    H = h[:, None, None].astype(complex)
    params = np.stack([h, np.full_like(h, c)], axis=1)
    meta = {"equation": "dyson", "parameters": {"h": "per trajectory (params)", "c": c}}
    return solve_problem(dyson_problem(H, c), t_final, dt, solver, params, ["h", "c"], meta, progress)


def sample_h(n_traj: int, low: float, high: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, size=n_traj)


MATRIX_IDE_PARAMS = ["alpha1", "alpha2", "sigma", "beta"]


def matrix_ide(params: np.ndarray, memory_sign: float, cosine: str, t_final: float, dt: float,
               solver: SolverSpec, progress=None) -> Dataset:
    """Matrix IDE trajectories, one per row (alpha1, alpha2, sigma, beta) of params."""
    params = np.atleast_2d(np.asarray(params, dtype=float))
    problem = matrix_ide_problem(*params.T, memory_sign=memory_sign, cosine=cosine)
    meta = {"equation": "matrix_ide", "parameters": {"memory_sign": memory_sign, "cosine": cosine},
            "note": "memory_sign=-1 with the matrix cosine is the bounded form (DESIGN.md §4); +1 is as printed"}
    return solve_problem(problem, t_final, dt, solver, params, MATRIX_IDE_PARAMS, meta, progress)


def matrix_ide_grid(alpha_values, sigma_values, beta: float, n_traj: int | None, seed: int) -> np.ndarray:
    """The paper's grid, optionally a seeded random subset of n_traj rows."""
    grid = paper_training_grid(alpha_values, sigma_values, beta)
    if n_traj is not None and n_traj < len(grid):
        rows = np.sort(np.random.default_rng(seed).choice(len(grid), size=n_traj, replace=False))
        grid = grid[rows]
    return grid
