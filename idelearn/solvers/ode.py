"""Many ODE trajectories as one system through scipy's solve_ivp."""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp


def solve_batched_ivp(rhs, X0: np.ndarray, t: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Integrate all curves as one system: one scipy call instead of n_traj.

    scipy's error norm is an RMS over all components, so the tolerances are
    divided by sqrt(size) to keep each component's local error within the
    requested per-curve tolerance. rhs: (n_traj, dim) -> (n_traj, dim);
    X0: (n_traj, dim) -> (n_traj, n_t, dim).
    """
    shape = X0.shape
    scale = np.sqrt(X0.size)
    sol = solve_ivp(lambda _, x: rhs(x.reshape(shape)).ravel(), (t[0], t[-1]), X0.ravel(),
                    method="DOP853", t_eval=t, rtol=rtol / scale, atol=atol / scale)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return sol.y.reshape(*shape, len(t)).transpose(0, 2, 1)
