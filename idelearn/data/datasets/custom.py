"""A user's own IDE: a function `module:function` that returns its F, K and G0."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from omegaconf import MISSING

from ...equations.problem import IDEProblem
from ...errors import UserError
from ...schema import require
from ...solvers.ide import as_batch, matrix_kernel
from .base import IDEDatasetConfig


@dataclass
class CustomConfig(IDEDatasetConfig):
    """A user's own IDE: `problem` is "module:function" (a file module.py in the working directory, or an
    installed module), called with `kwargs`; it returns an IDEProblem, or (F, K, G0), with
    F(G, t) -> (batch, d, m), K(G, tau) -> (batch, d, d) (or anything broadcasting to it) and G0 of
    shape (d,), (d, m) or (batch, d, m), as for `idelearn.solvers.solve_ide`."""

    one_trajectory: ClassVar[bool] = True
    # a user's IDE that the package itself provides
    tiny: ClassVar[dict[str, str]] = {"t_final": "0.2", "problem": "idelearn.equations.dyson:dyson_problem",
                                      "kwargs": "{H:[[1.0]],c:1.0}"}
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

    def ide_problem(self) -> IDEProblem:
        try:
            made = self.function()(**(self.kwargs or {}))
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"dataset.problem: {self.problem}(**dataset.kwargs) raised "
                            f"{type(exc).__name__}: {exc}") from None
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
