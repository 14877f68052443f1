"""An IDE problem: dG/dt = F(G, t) + ∫_0^t K(G(t-s), t-s) G(s) ds, G(0) = G0 (batched)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class IDEProblem:
    F: Callable[[np.ndarray, float], np.ndarray]
    K: Callable[[np.ndarray, float], np.ndarray]
    G0: np.ndarray  # (batch, d, m) complex


def check_grid(n_traj: int, n_t: int, t_final: float) -> None:
    """Reject curve grids that cannot hold a trajectory, naming the offending argument."""
    if n_traj < 1:
        raise ValueError(f"n_traj must be >= 1, got {n_traj}")
    if n_t < 2:
        raise ValueError(f"n_t must be >= 2, got {n_t}")
    if not t_final > 0:
        raise ValueError(f"t_final must be > 0, got {t_final}")
