"""In-memory dataset shared by every command: the arrays of docs/design.md ("Files a run writes") plus metadata.

Pure container: no file I/O here (see `idelearn.data.io`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """Trajectories on one time grid.

    t: (n_t,) float64.
    G: (n_traj, n_t, d, m) complex128 for IDE data (m = d for matrix problems),
       or (n_traj, n_t, dim) float64 for ODE / integral-equation trajectories.
    I: memory integral, same shape as G (IDE data only; None for measured IDE trajectories, meta kind "ide"),
       else None.
    params: (n_traj, k) float64, column names in `param_names`.
    meta: JSON-serialisable description (equation, grid, solver, wall_s, ...).
    """

    t: np.ndarray
    G: np.ndarray
    params: np.ndarray
    param_names: list[str]
    I: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """'ide' for IDE trajectories (the memory integral I known, or, measured data, not), else 'trajectory'."""
        return "ide" if self.I is not None or self.meta.get("kind") == "ide" else "trajectory"

    @property
    def n_traj(self) -> int:
        return self.G.shape[0]

    @property
    def dt(self) -> float:
        return float(self.t[1] - self.t[0])

    def select(self, idx) -> Dataset:
        """A dataset holding only the trajectories `idx` (same grid and metadata)."""
        idx = np.atleast_1d(np.asarray(idx))
        return Dataset(
            t=self.t,
            G=self.G[idx],
            params=self.params[idx],
            param_names=list(self.param_names),
            I=None if self.I is None else self.I[idx],
            meta=dict(self.meta),
        )
