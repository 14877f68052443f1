"""A user's own IDE: a function `module:function` that returns its F, K and G0, or the general form
(idesolver's) for `solve_general_ide`."""

from __future__ import annotations

import hashlib
import inspect
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from omegaconf import MISSING

from ...equations.general_form import GeneralIDEProblem
from ...equations.problem import IDEProblem
from ...errors import UserError
from ...schema import require
from ...solvers.general import solve_general_ide
from ...solvers.ide import as_batch, matrix_kernel
from ..dataset import Dataset
from .base import IDEDatasetConfig, UserFunction


class _FormKind:
    """A custom dataset's `kind`: "ide" for the schema (it makes IDE data), and for a problem in the general
    form "general_ide", which models that need the convolution form refuse (they accept kind "ide")."""

    def __get__(self, obj, owner=None):
        return "ide" if obj is None or obj.general_form() is None else "general_ide"


def _no_convolution_form(*args):
    raise UserError("dataset.problem: returns the general form (solve_general_ide), which has no F(G, t) and "
                    "K(G, tau) of the convolution form")


@dataclass
class CustomConfig(UserFunction, IDEDatasetConfig):
    """A user's own IDE: `problem` is "module:function" (a file module.py in the working directory, or an
    installed module), called with `kwargs`; it returns an IDEProblem, or (F, K, G0), with
    F(G, t) -> (batch, d, m), K(G, tau) -> (batch, d, d) (or anything broadcasting to it) and G0 of
    shape (d,), (d, m) or (batch, d, m), as for `idelearn.solvers.solve_ide`; or the general form
    (idesolver's), a GeneralIDEProblem (idelearn.equations.general_form) or a dict of its fields
    (y_0, c, d, k, f, lower_bound, upper_bound), solved by `idelearn.solvers.solve_general_ide` on the
    dataset's grid."""

    one_trajectory: ClassVar[bool] = True
    # a user's IDE that the package itself provides
    tiny: ClassVar[dict[str, str]] = {"t_final": "0.2", "problem": "idelearn.equations.dyson:dyson_problem",
                                      "kwargs": "{H:[[1.0]],c:1.0}"}
    kind = _FormKind()
    name: str = "custom"
    problem: str = MISSING
    kwargs: Any = MISSING  # a dict of keyword arguments; None: none

    def check(self):
        super().check()
        self.check_problem_keys()
        self.ide_problem()  # imports and calls it: a wrong path or return type fails before anything runs
        if self.general_form() is not None:  # milliseconds: a problem it cannot solve fails here too, in one line
            self.solve_general()

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
        require(y0.ndim <= 1 and y0.size > 0 and y0.dtype.kind in "iufc" and np.isfinite(y0).all(),
                "dataset.problem", f"{self.problem} returned y_0 = {made.y_0!r}: expected a finite scalar or vector")
        return made

    def solve_general(self):
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
        try:
            return hashlib.sha256(Path(inspect.getsourcefile(self.function())).read_bytes()).hexdigest()[:16]
        except (TypeError, OSError):
            return "unknown"
