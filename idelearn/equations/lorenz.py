"""Lorenz curves of paper 2, appendix C.2: sigma = 10, rho = 28, beta = 8/3,
initial states ~ U[0, 0.5]^3 per curve, t = linspace(0, 100, 100).

The system is chaotic (Lyapunov exponent ≈ 0.9), so beyond t ≈ 25 no
tolerance pins down *the* trajectory from a given start: the curves are
faithful samples of the attractor, reproducible bit for bit from the seed.
"""

from __future__ import annotations

import numpy as np

from idelearn.data.dataset import Dataset
from idelearn.equations.lotka_volterra import solve_batched_ivp
from idelearn.equations.problem import check_grid

SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0


def lorenz_rhs(X: np.ndarray, sigma: float = SIGMA, rho: float = RHO, beta: float = BETA) -> np.ndarray:
    x, y, z = X.T
    return np.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z], -1)


def lorenz(n_traj: int = 100, n_t: int = 100, t_final: float = 100.0, seed: int = 0,
           init_low: float = 0.0, init_high: float = 0.5,
           rtol: float = 1e-10, atol: float = 1e-10) -> Dataset:
    """n_traj Lorenz curves from seeded initial states on t = linspace(0, t_final, n_t)."""
    check_grid(n_traj, n_t, t_final)
    X0 = np.random.default_rng(seed).uniform(init_low, init_high, size=(n_traj, 3))
    t = np.linspace(0.0, t_final, n_t)
    G = solve_batched_ivp(lorenz_rhs, X0, t, rtol, atol)
    meta = {
        "equation": "lorenz",
        "source": "paper 2 (NIE/ANIE) appendix C.2",
        "sigma": SIGMA, "rho": RHO, "beta": BETA,
        "init_low": float(init_low), "init_high": float(init_high),
        "seed": seed,
        "t_final": float(t_final),
        "n_t": n_t,
        "solver": f"scipy solve_ivp DOP853, all curves as one system, rtol={rtol:g}, atol={atol:g} per component",
    }
    return Dataset(t=t, G=G, params=X0, param_names=["x0", "y0", "z0"], meta=meta)
