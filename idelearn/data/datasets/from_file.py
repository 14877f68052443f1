"""Curves or a dataset read from a file (dataset.npz or an .npy array); with `problem`, measured trajectories
of an IDE whose streaming term F the user knows (and whose memory a model is to learn)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from omegaconf import MISSING

from ...equations.problem import IDEProblem
from ...errors import UserError
from ...schema import require
from ..dataset import Dataset
from ..io import load_curves
from .base import DatasetConfig, UserFunction


@dataclass
class FromFileConfig(UserFunction, DatasetConfig):
    """Curves or a dataset from a file: dataset.npz (idelearn's format) or an .npy array (n, n_t, dim).

    With `problem` ("module:function", called with `kwargs`), the file holds trajectories G of an IDE
    dG/dt = F(G, t) + I(t) on a uniform grid, with or without the memory I; the function returns the
    streaming term F(G (n_traj, d, m), t) -> (n_traj, d, m) for the file's trajectories in order, or
    the (F, K, G0) / IDEProblem of `dataset=custom` (only F is used: K is what a model learns). Models
    then train on t <= `t_window` of the file (None: all of it) and `extrapolate` scores them on the rest.
    """

    tiny: ClassVar[dict[str, str]] = {"t_final": "1.0"}  # and dataset.path: a file of the test's own
    name: str = "from_file"
    path: str = MISSING
    t_final: float = MISSING  # time span for arrays that store no `t`
    problem: str | None = MISSING  # IDE data: the user's function giving F (None: the file as it is)
    kwargs: Any = MISSING  # keyword arguments of `problem` (None: none)
    t_window: float | None = MISSING  # IDE data: train on t <= t_window (None: the whole file)

    def check(self):
        require(self.path.strip() != "", "dataset.path", "must name a file, got an empty string")
        require(self.t_final > 0, "dataset.t_final", f"must be > 0, got {self.t_final}")
        if self.problem is None:
            require(self.t_window is None, "dataset.t_window", "is for IDE data: give dataset.problem (the "
                    "function that returns the IDE's streaming term F)")
            return
        self.check_problem_keys()
        require(Path(self.path).suffix != ".npy", "dataset.path", "IDE data (dataset.problem given) need their "
                "times: give an .npz with t, G and params (an .npy array stores no t)")
        require(self.t_window is None or self.t_window > 0, "dataset.t_window", f"must be > 0, got {self.t_window}")
        self.streaming_term()  # imports and calls it: a wrong path or return type fails before anything runs

    def generate(self, solver=None, progress=None) -> Dataset:
        data = load_curves(self.path, self.t_final)
        if self.problem is None:
            if data.kind == "ide" and data.I is None:  # measured trajectories saved by `generate`
                raise UserError(f"dataset.path: {self.path} holds IDE trajectories without I: give dataset.problem "
                                "(the function that returns the IDE's streaming term F)")
            return data
        return ide_window(as_ide_data(data, self.path), self.t_window)

    def streaming_term(self):
        if self.problem is None:
            return None
        made = self.made()
        if isinstance(made, tuple) and len(made) == 3:
            made = made[0]
        elif isinstance(made, IDEProblem):
            made = made.F
        require(callable(made), "dataset.problem", f"{self.problem} returned {type(made).__name__}; expected the "
                "streaming term F(G, t) (a callable), or (F, K, G0) or an IDEProblem as for dataset=custom")
        return checked_streaming_term(made, self.problem)


def checked_streaming_term(F, where: str):
    """F whose failures and wrong shapes are one line naming the user's function (it runs inside a fit or a
    stepper, where a traceback would say nothing about which function was wrong)."""

    def streaming(G, t):
        try:
            value = F(G, t)
            # called at every step of a stepper: only a value of another shape pays for the broadcast
            return value if np.shape(value) == G.shape else np.broadcast_to(np.asarray(value, dtype=complex), G.shape)
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"dataset.problem: F from {where} failed on G of shape {G.shape} at t = {t:g} "
                            f"({type(exc).__name__}: {exc})") from None

    return streaming


def as_ide_data(data: Dataset, path: str) -> Dataset:
    """The file's trajectories as IDE data: complex G (n_traj, n_t, d, m) (curves (n, n_t, dim): m = 1) on a
    uniform grid; I kept where the file has it."""
    where = f"dataset.path: {path}"
    steps = np.diff(data.t)
    if not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        raise UserError(f"{where}: IDE data (dataset.problem given) need a uniform time grid; the steps range from "
                        f"{steps.min():.6g} to {steps.max():.6g}")
    if abs(data.t[0]) > 1e-9 * steps[0]:
        raise UserError(f"{where}: IDE data (dataset.problem given) start at t = 0 (the memory integral's lower "
                        f"limit), got t[0] = {data.t[0]:g}")
    as_matrices = (lambda X: X[..., None]) if data.G.ndim == 3 else (lambda X: X)
    G = as_matrices(np.asarray(data.G, dtype=complex))
    I = None if data.I is None else as_matrices(np.asarray(data.I, dtype=complex))
    meta = {k: v for k, v in data.meta.items() if k != "grid"}
    return Dataset(t=np.arange(len(data.t)) * float(steps[0]), G=G, I=I, params=data.params,
                   param_names=data.param_names, meta={**meta, "kind": "ide"})


def ide_window(data: Dataset, t_window: float | None) -> Dataset:
    """The nodes with t <= t_window (None: all)."""
    if t_window is None:
        return data
    n = int(np.floor(t_window / data.dt + 1e-9)) + 1
    if n > len(data.t):
        raise UserError(f"dataset.t_window: {t_window:g} is beyond the file's last time {data.t[-1]:g}")
    if n < 2:
        raise UserError(f"dataset.t_window: {t_window:g} keeps fewer than 2 nodes of the file's grid "
                        f"(step {data.dt:g})")
    return Dataset(t=data.t[:n], G=data.G[:, :n], I=None if data.I is None else data.I[:, :n], params=data.params,
                   param_names=data.param_names, meta=dict(data.meta, t_window=float(data.t[n - 1])))
