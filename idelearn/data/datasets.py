"""The dataset registry: each `dataset=<name>` is a schema here, with the code that builds its data.

Adding a dataset: its problem in idelearn/equations/, a schema class here (keys + checks +
`generate`, or for an IDE `ide_problem` and `parameters`), an entry in DATASETS, and
conf/dataset/<name>.yaml with its values.

IDE datasets are solved by the reference solver (`generate` through `solve_problem`, every
trajectory of a dataset in one batched call); curve datasets by their generators in
`curve_datasets`; both are cached by config hash (`load_or_generate`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, make_dataclass
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from omegaconf import MISSING

from ..config import Schema, check_seed, check_size, check_time_grid, numeric_array, require
from ..equations.dyson import dyson_problem
from ..equations.general_form import GeneralIDEProblem
from ..equations.matrix_ide import matrix_ide_problem, paper_training_grid
from ..equations.problem import IDEProblem
from ..errors import RunFailure, UserError
from ..solvers.ide import as_batch, matrix_kernel
from . import curve_datasets
from .cache import cached
from .dataset import Dataset
from .ide_datasets import SolverSpec, solve_problem
from .io import load_curves


@dataclass
class DatasetConfig(Schema):
    group: ClassVar[str] = "dataset"
    kind: ClassVar[str | None] = None  # "ide" | "trajectory"; None: known once a file is read
    name: str = MISSING

    def generate(self, solver: SolverSpec, progress=None) -> Dataset:
        raise NotImplementedError

    def n_traj_expected(self) -> int | None:
        """How many trajectories `generate` will make (None: unknown before loading)."""
        return getattr(self, "n_traj", None)


# ----------------------------------------------------------------------------- IDE datasets

@dataclass
class IDEDatasetConfig(DatasetConfig):
    """dG/dt = F(G, t) + ∫ K(G(t-s)) G(s) ds on t_n = n dt up to t_final, solved by the reference solver."""

    kind: ClassVar[str] = "ide"
    t_final: float = MISSING
    dt: float = MISSING

    def check(self):
        check_time_grid("dataset", self.t_final, self.dt)

    def n_nodes(self) -> int:
        return round(self.t_final / self.dt) + 1

    def check_rate(self, key: str, rate: float, what: str) -> None:
        """The grid must resolve the equation's fastest oscillation: rate · dt <= π (Nyquist)."""
        require(rate * self.dt <= np.pi, key, f"{what} times dataset.dt ({self.dt:g}) is {rate * self.dt:.3g} > π: "
                "the grid cannot resolve the equation (lower dataset.dt)")

    def ide_problem(self) -> IDEProblem:
        """F, K and G0 of every trajectory, batched."""
        raise NotImplementedError

    def parameters(self) -> tuple[np.ndarray, list[str]]:
        """(n_traj, k) parameter table and its column names, stored with the data."""
        raise NotImplementedError

    def meta(self) -> dict:
        return {"equation": self.name}

    def n_traj_expected(self) -> int:
        return len(self.parameters()[0])

    def generate(self, solver: SolverSpec, progress=None) -> Dataset:
        params, names = self.parameters()
        return solve_problem(self.ide_problem(), self.t_final, self.dt, solver, params, names, self.meta(), progress)

    def single(self, params: dict) -> IDEDatasetConfig:
        """The one-trajectory dataset of a trajectory with `params` (a row of `parameters`)."""
        return self


@dataclass
class DysonConfig(IDEDatasetConfig):
    """Bethe-lattice Dyson equation, scalar h or a Hermitian matrix H (+ H_imag)."""

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
                           t_final=self.t_final, dt=self.dt)


class Cosine(Enum):
    matrix = "matrix"
    elementwise = "elementwise"


@dataclass
class MatrixIDEForm(IDEDatasetConfig):
    """The 2x2 matrix IDE's form: the memory term's sign and which cosine (DESIGN.md §4)."""

    memory_sign: float = MISSING
    cosine: Cosine = MISSING

    def check(self):
        super().check()
        require(self.memory_sign in (-1.0, 1.0), "dataset.memory_sign", f"must be -1 or +1, got {self.memory_sign}")
        self.check_rate("dataset.beta", abs(self.beta) + 1, "the largest frequency of A(t), |dataset.beta| + 1")

    def meta(self):
        return {"equation": "matrix_ide", "parameters": {"memory_sign": self.memory_sign, "cosine": self.cosine.value},
                "note": "memory_sign=-1 with the matrix cosine is the bounded form (DESIGN.md §4); +1 is as printed"}

    def problem_for(self, table: np.ndarray) -> IDEProblem:
        return matrix_ide_problem(*np.atleast_2d(table).T, memory_sign=self.memory_sign, cosine=self.cosine.value)


MATRIX_IDE_PARAMS = ["alpha1", "alpha2", "sigma", "beta"]


@dataclass
class MatrixIDEConfig(MatrixIDEForm):
    """One trajectory of the matrix IDE (paper 1 eq. 4)."""

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
                               cosine=self.cosine, t_final=self.t_final, dt=self.dt)


def _no_convolution_form(*args):
    raise UserError("dataset.problem: returns the general form (solve_general_ide), which has no F(G, t) and "
                    "K(G, tau) of the convolution form")


@dataclass
class CustomConfig(IDEDatasetConfig):
    """A user's own IDE: `problem` is "module:function" (a file module.py in the working directory, or an
    installed module), called with `kwargs`; it returns an IDEProblem, or (F, K, G0), with
    F(G, t) -> (batch, d, m), K(G, tau) -> (batch, d, d) (or anything broadcasting to it) and G0 of
    shape (d,), (d, m) or (batch, d, m), as for `idelearn.solvers.solve_ide`; or the general form
    (idesolver's), a GeneralIDEProblem (idelearn.equations.general_form) or a dict of its fields
    (y_0, c, d, k, f, lower_bound, upper_bound), solved by `idelearn.solvers.solve_general_ide` on the
    dataset's grid: kind "general_ide", which models that need the convolution form refuse."""

    name: str = "custom"
    problem: str = MISSING
    kwargs: Any = MISSING  # a dict of keyword arguments; None: none

    def check(self):
        super().check()
        require(":" in self.problem and all(self.problem.split(":", 1)), "dataset.problem",
                f"expected module:function, got {self.problem!r}")
        require(self.kwargs is None or isinstance(self.kwargs, dict), "dataset.kwargs",
                f"expected a dict of keyword arguments, e.g. {{omega: 2.0}}, got {self.kwargs!r}")
        self.ide_problem()  # imports and calls it: a wrong path or return type fails before anything runs
        if self.general_form() is not None:  # milliseconds: a problem it cannot solve fails here too, in one line
            self.solve_general()

    def function(self):
        import importlib
        import os
        import sys

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
        try:
            return self.function()(**(self.kwargs or {}))
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"dataset.problem: {self.problem}(**dataset.kwargs) raised "
                            f"{type(exc).__name__}: {exc}") from None

    # --- the general form (solve_general_ide): a delimited addition, see general_form()
    @property
    def kind(self) -> str:
        return "general_ide" if self.general_form() is not None else "ide"

    def general_form(self) -> GeneralIDEProblem | None:
        """The user's problem in the general form, or None when it is the convolution form."""
        made = self.made()
        if isinstance(made, dict):
            unknown = sorted(set(made) - {f.name for f in fields(GeneralIDEProblem)})
            require("y_0" in made and not unknown, "dataset.problem", f"{self.problem} returned a dict: expected "
                    f"GeneralIDEProblem's fields (y_0 and any of c, d, k, f, lower_bound, upper_bound); "
                    f"{'unknown ' + str(unknown) if unknown else 'no y_0'}")
            made = GeneralIDEProblem(**made)
        if not isinstance(made, GeneralIDEProblem):
            return None
        y0 = np.asarray(made.y_0)
        require(y0.ndim <= 1 and y0.size > 0 and y0.dtype.kind in "iufc" and np.isfinite(y0).all(), "dataset.problem",
                f"{self.problem} returned y_0 = {made.y_0!r}: expected a finite scalar or vector")
        return made

    def solve_general(self) -> tuple[np.ndarray, object]:
        from ..solvers.general import solve_general_ide

        t = np.arange(self.n_nodes()) * self.dt
        problem = self.general_form()
        try:
            with np.errstate(all="ignore"):
                return t, solve_general_ide(t, problem.y_0, **problem.functions())
        except ValueError as exc:
            raise UserError(f"dataset.problem: {self.problem}: {exc}") from None

    def generate(self, solver=None, progress=None) -> Dataset:
        if self.general_form() is None:
            return super().generate(solver, progress)
        start = time.perf_counter()
        t, sol = self.solve_general()
        as_nodes = lambda v: np.asarray(v, dtype=complex).reshape(-1, len(t)).T[None, :, :, None]  # (1, n_t, dim, 1)
        params, names = self.parameters()
        grid = {"t_final": float(t[-1]), "dt": self.dt, "n_t": len(t)}
        meta = dict(self.meta(), form="general", kind="ide", grid=grid,
                    solver={"method": "solve_general_ide", "order": sol.order, "refine": sol.refine,
                            "error_estimate": sol.error_estimate}, wall_s=time.perf_counter() - start)
        return Dataset(t=t, G=as_nodes(sol.y), I=as_nodes(sol.integral), params=params, param_names=names, meta=meta)
    # --- end of the general form

    def ide_problem(self) -> IDEProblem:
        general = self.general_form()
        if general is not None:  # no F or K to give: a model that would call them refused the data already
            return IDEProblem(F=_no_convolution_form, K=_no_convolution_form, G0=as_batch(np.atleast_1d(general.y_0)))
        made = self.made()
        if isinstance(made, tuple) and len(made) == 3:
            made = IDEProblem(*made)
        ok = isinstance(made, IDEProblem) and callable(made.F) and callable(made.K)
        require(ok, "dataset.problem", f"{self.problem} returned {type(made).__name__}; expected an "
                "idelearn.equations.problem.IDEProblem or a tuple (F, K, G0) with callable F and K")
        try:
            G0 = as_batch(made.G0)
        except (TypeError, ValueError) as exc:
            raise UserError(f"dataset.problem: {self.problem} returned an unusable G0 ({exc})") from None
        require(np.isfinite(G0).all(), "dataset.problem", f"{self.problem} returned a non-finite G0")
        return IDEProblem(F=made.F, K=matrix_kernel(made.K, (G0.shape[0], G0.shape[1], G0.shape[1])), G0=G0)

    def parameters(self):
        numbers = {k: float(v) for k, v in (self.kwargs or {}).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        n_traj = len(self.ide_problem().G0)
        return np.tile(np.array([list(numbers.values())], dtype=float), (n_traj, 1)), list(numbers)

    def meta(self):
        return {"equation": "custom", "problem": self.problem, "kwargs": dict(self.kwargs or {}),
                "source_sha256": self.source_hash()}

    def source_hash(self) -> str:
        """The function's source file's hash: part of the cache key, so an edited problem is solved again."""
        import hashlib
        import inspect

        try:
            return hashlib.sha256(Path(inspect.getsourcefile(self.function())).read_bytes()).hexdigest()[:16]
        except (TypeError, OSError):
            return "unknown"


# ----------------------------------------------------------------------------- curve datasets

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


@dataclass
class LotkaVolterraConfig(CurvesConfig):
    name: str = "lotka_volterra"

    def generate(self, solver=None, progress=None):
        return solved(self.name, lambda: curve_datasets.lotka_volterra(self.n_traj, self.n_t, self.t_final, self.seed))


@dataclass
class LorenzConfig(CurvesConfig):
    name: str = "lorenz"

    def generate(self, solver=None, progress=None):
        return solved(self.name, lambda: curve_datasets.lorenz(self.n_traj, self.n_t, self.t_final, self.seed))


@dataclass
class SpiralsConfig(CurvesConfig):
    name: str = "spirals"

    def generate(self, solver=None, progress=None):
        return solved(self.name, lambda: curve_datasets.spirals(self.n_traj, self.n_t, self.t_final, self.seed))


@dataclass
class FromFileConfig(DatasetConfig):
    """Curves or a dataset from a file: dataset.npz (idelearn's format) or an .npy array (n, n_t, dim)."""

    name: str = "from_file"
    path: str = MISSING
    t_final: float = MISSING  # time span for arrays that store no `t`

    def check(self):
        require(self.path.strip() != "", "dataset.path", "must name a file, got an empty string")
        require(self.t_final > 0, "dataset.t_final", f"must be > 0, got {self.t_final}")

    def generate(self, solver=None, progress=None) -> Dataset:
        return load_curves(self.path, self.t_final)


DATASETS: dict[str, type[DatasetConfig]] = {c.name: c for c in (
    DysonConfig, DysonMultiConfig, MatrixIDEConfig, MatrixIDEMultiConfig, CustomConfig,
    LotkaVolterraConfig, LorenzConfig, SpiralsConfig, FromFileConfig)}

# One-trajectory IDE datasets: what `extrapolate dataset.<key>=...` can change.
SINGLE_IDE = (DysonConfig, MatrixIDEConfig, CustomConfig)
GRID_KEYS = ("name", "t_final", "dt")


def changeable_keys(schema) -> list[str]:
    return [f.name for f in fields(schema) if f.name not in GRID_KEYS]


def from_run_schema():
    """`dataset=from_run` (extrapolate only): the training run's dataset with some keys changed.

    Its keys are every parameter of the one-trajectory IDE datasets (None = keep), derived from
    their schemas, plus `path`/`t_final` for unseen curves and `train_curves` (the curves trained on).
    """
    keys: dict[str, Any] = {}
    for schema in SINGLE_IDE:
        hints = {f.name: f.type for f in fields(schema)}
        for key in changeable_keys(schema):
            keys.setdefault(key, hints[key])
    specs = [(k, f"{t} | None" if isinstance(t, str) else t | None, field(default=None)) for k, t in keys.items()]
    specs += [("name", str, field(default="from_run")),
              ("path", "str | None", field(default=None)),  # unseen curves for curve models (.npy or dataset.npz)
              ("t_final", float, field(default=1.0)),  # time span for curve arrays that store no `t`
              ("train_curves", bool, field(default=False))]  # score the training curves, not the held-out ones

    def check(self):  # the parameters are checked by the training dataset's schema once applied to it
        require(self.path is None or self.path.strip() != "", "dataset.path", "must name a file, got an empty string")
        require(self.t_final > 0, "dataset.t_final", f"must be > 0, got {self.t_final}")

    schema = make_dataclass("FromRunConfig", specs, bases=(Schema,), namespace={"group": "dataset", "check": check})
    schema.__module__ = __name__
    return schema


def load_or_generate(dataset: DatasetConfig, solver: SolverSpec, cache_dir) -> tuple[Dataset, str]:
    """A generated dataset (solved once, then cached by config hash) or a file as it is; and its path."""
    if isinstance(dataset, FromFileConfig):
        return dataset.generate(), str(Path(dataset.path).expanduser().resolve())
    described = {**dataset.plain(), "solver": solver.describe()}
    if isinstance(dataset, CustomConfig):
        described["source_sha256"] = dataset.source_hash()
    data, path = cached(described, lambda: dataset.generate(solver), cache_dir)
    return data, str(path.resolve())


def dataset_config(name: str, values: dict) -> DatasetConfig:
    """Rebuild a dataset config from its stored plain values (a train run's model.pt)."""
    return DATASETS[name].from_plain({k: v for k, v in values.items() if k != "name"})
