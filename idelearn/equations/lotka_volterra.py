"""Lotka–Volterra curves of paper 2, appendix C.1.

    dx/dt = a x − b x y,     dy/dt = −c y + d b x y,     (x, y)(0) = (10, 5)

with a ~ U[0.5, 1.5], b ~ U[0.5, 1.5], c ~ U[0.5, 2.5], d ~ U[0.25, 1.25]
per curve (the predation gain is d·b, as in the authors' code).
Every curve conserves V = d b x − c ln x + b y − a ln y, a check on accuracy.

The populations fall as low as 1e-14 for some parameters, far below any
absolute tolerance, so the ODE is integrated in log variables (u, v) = (ln x,
ln y): the tolerances then bound the *relative* error of every population and
positivity is exact.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from idelearn.data.dataset import Dataset
from idelearn.equations.problem import check_grid

PARAM_NAMES = ["a", "b", "c", "d"]
PARAM_LOW = (0.5, 0.5, 0.5, 0.25)
PARAM_HIGH = (1.5, 1.5, 2.5, 1.25)


def solve_batched_ivp(rhs, X0: np.ndarray, t: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Integrate all curves as one system: one scipy call instead of n_traj.

    scipy's error norm is an RMS over all components, so the tolerances are
    divided by sqrt(size) to keep each component's local error within the
    requested per-curve tolerance. X0: (n_traj, dim) -> (n_traj, n_t, dim).
    """
    shape = X0.shape
    scale = np.sqrt(X0.size)
    sol = solve_ivp(lambda _, x: rhs(x.reshape(shape)).ravel(), (t[0], t[-1]), X0.ravel(),
                    method="DOP853", t_eval=t, rtol=rtol / scale, atol=atol / scale)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return sol.y.reshape(*shape, len(t)).transpose(0, 2, 1)


def lv_rhs(X: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Right-hand side for X (n, 2) and params (n, 4) = (a, b, c, d)."""
    a, b, c, d = params.T
    x, y = X.T
    return np.stack([a * x - b * x * y, -c * y + d * b * x * y], -1)


def lv_log_rhs(U: np.ndarray, params: np.ndarray) -> np.ndarray:
    """The same system for U = (ln x, ln y): u' = a − b y, v' = −c + d b x."""
    a, b, c, d = params.T
    x, y = np.exp(U).T
    return np.stack([a - b * y, -c + d * b * x], -1)


def lv_invariant(X: np.ndarray, params: np.ndarray) -> np.ndarray:
    """V = d b x − c ln x + b y − a ln y for X (..., 2), params broadcast to (..., 4)."""
    a, b, c, d = np.moveaxis(params, -1, 0)
    x, y = np.moveaxis(X, -1, 0)
    return d * b * x - c * np.log(x) + b * y - a * np.log(y)


def lotka_volterra(n_traj: int = 100, n_t: int = 100, t_final: float = 15.0, seed: int = 0,
                   x0=(10.0, 5.0), rtol: float = 1e-10, atol: float = 1e-10) -> Dataset:
    """n_traj Lotka–Volterra curves with seeded parameters on t = linspace(0, t_final, n_t)."""
    check_grid(n_traj, n_t, t_final)
    params = np.random.default_rng(seed).uniform(PARAM_LOW, PARAM_HIGH, size=(n_traj, 4))
    t = np.linspace(0.0, t_final, n_t)
    if min(x0) <= 0:
        raise ValueError(f"x0 must be positive, got {x0}")
    U0 = np.tile(np.log(np.asarray(x0, dtype=float)), (n_traj, 1))
    G = np.exp(solve_batched_ivp(lambda U: lv_log_rhs(U, params), U0, t, rtol, atol))
    meta = {
        "equation": "lotka_volterra",
        "source": "paper 2 (NIE/ANIE) appendix C.1",
        "rhs": "[a x - b x y, -c y + d b x y]",
        "x0": list(map(float, x0)),
        "param_low": list(PARAM_LOW),
        "param_high": list(PARAM_HIGH),
        "seed": seed,
        "t_final": float(t_final),
        "n_t": n_t,
        "solver": (f"scipy solve_ivp DOP853 in log variables, all curves as one system, rtol={rtol:g}, "
                   f"atol={atol:g} per component"),
    }
    return Dataset(t=t, G=G, params=params, param_names=list(PARAM_NAMES), meta=meta)
