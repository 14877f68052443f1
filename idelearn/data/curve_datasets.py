"""Curve datasets of paper 2 (appendix C): Lotka–Volterra, Lorenz, 2-D IE spirals.

Pure: arguments in, `Dataset` out (the problems are in idelearn.equations, the
solvers in idelearn.solvers). Every generator draws its parameters or initial
states from a seeded generator, so a dataset is reproducible bit for bit.
"""

from __future__ import annotations

import numpy as np

from ..equations import lorenz as lz
from ..equations import lotka_volterra as lv
from ..equations import spirals as sp
from ..solvers.ode import solve_batched_ivp
from ..solvers.volterra_ie import solve_volterra
from .dataset import Dataset

TOLERANCE = 1e-10  # rtol = atol per component of the ODE curves


def check_curve_grid(n_traj: int, n_t: int, t_final: float) -> None:
    """Reject curve grids that cannot hold a trajectory, naming the offending argument."""
    if n_traj < 1:
        raise ValueError(f"n_traj must be >= 1, got {n_traj}")
    if n_t < 2:
        raise ValueError(f"n_t must be >= 2, got {n_t}")
    if not t_final > 0:
        raise ValueError(f"t_final must be > 0, got {t_final}")


def lotka_volterra(n_traj: int, n_t: int, t_final: float, seed: int) -> Dataset:
    """n_traj Lotka–Volterra curves with seeded parameters on t = linspace(0, t_final, n_t)."""
    check_curve_grid(n_traj, n_t, t_final)
    params = np.random.default_rng(seed).uniform(lv.PARAM_LOW, lv.PARAM_HIGH, size=(n_traj, 4))
    t = np.linspace(0.0, t_final, n_t)
    U0 = np.tile(np.log(np.asarray(lv.X0)), (n_traj, 1))
    G = np.exp(solve_batched_ivp(lambda U: lv.lv_log_rhs(U, params), U0, t, TOLERANCE, TOLERANCE))
    meta = {"equation": "lotka_volterra", "source": "paper 2 (NIE/ANIE) appendix C.1",
            "rhs": "[a x - b x y, -c y + d b x y]", "x0": list(lv.X0), "param_low": list(lv.PARAM_LOW),
            "param_high": list(lv.PARAM_HIGH), "seed": seed, "t_final": float(t_final), "n_t": n_t,
            "solver": f"scipy solve_ivp DOP853 in log variables, all curves as one system, "
                      f"rtol = atol = {TOLERANCE:g} per component"}
    return Dataset(t=t, G=G, params=params, param_names=list(lv.PARAM_NAMES), meta=meta)


def lorenz(n_traj: int, n_t: int, t_final: float, seed: int) -> Dataset:
    """n_traj Lorenz curves from seeded initial states ~ U[0, 0.5]^3 on t = linspace(0, t_final, n_t).

    Chaotic: beyond t ≈ 25 the curves are faithful samples of the attractor, reproducible
    bit for bit from the seed, but not *the* trajectory of their initial state.
    """
    check_curve_grid(n_traj, n_t, t_final)
    X0 = np.random.default_rng(seed).uniform(lz.INIT_LOW, lz.INIT_HIGH, size=(n_traj, 3))
    t = np.linspace(0.0, t_final, n_t)
    G = solve_batched_ivp(lz.lorenz_rhs, X0, t, TOLERANCE, TOLERANCE)
    meta = {"equation": "lorenz", "source": "paper 2 (NIE/ANIE) appendix C.2", "sigma": lz.SIGMA, "rho": lz.RHO,
            "beta": lz.BETA, "init_low": lz.INIT_LOW, "init_high": lz.INIT_HIGH, "seed": seed,
            "t_final": float(t_final), "n_t": n_t,
            "solver": f"scipy solve_ivp DOP853, all curves as one system, rtol = atol = {TOLERANCE:g} per component"}
    return Dataset(t=t, G=G, params=X0, param_names=["x0", "y0", "z0"], meta=meta)


SPIRAL_REFINE, SPIRAL_ORDER = 5, 6


def solve_spirals(y0, t, *, refine: int = SPIRAL_REFINE, order: int = SPIRAL_ORDER) -> np.ndarray:
    """Spiral curves started at y0 (batch, 2) on the uniform grid t -> (batch, n_t, 2).

    Default accuracy: order 6 on a 5x finer grid of the paper's t (h = 0.002) is within
    ~1e-9 of the converged curves (tests/data/test_curve_datasets.py); cost grows as (refine·n_t)².
    """
    y0 = np.atleast_2d(np.asarray(y0, dtype=float))
    if y0.shape[-1] != 2:
        raise ValueError(f"y0 must have shape (batch, 2), got {y0.shape}")
    return solve_volterra(sp.spiral_free_term(y0), sp.spiral_kernel, sp.spiral_f, t, refine=refine, order=order)


def spirals(n_traj: int, n_t: int, t_final: float, seed: int, *, refine: int = SPIRAL_REFINE,
            order: int = SPIRAL_ORDER) -> Dataset:
    """n_traj spirals with y0 ~ U[0, 2] × [−2, 0] (seeded) on t = linspace(0, t_final, n_t).

    The authors integrated by Monte Carlo, so their curves are noisy; these are solved
    deterministically (Gregory Volterra solver) from the same kind of start points.
    """
    check_curve_grid(n_traj, n_t, t_final)
    y0 = np.random.default_rng(seed).uniform(sp.Y0_LOW, sp.Y0_HIGH, size=(n_traj, 2))
    t = np.linspace(0.0, t_final, n_t)
    G = solve_spirals(y0, t, refine=refine, order=order)
    meta = {"equation": "ie_spirals", "source": "paper 2 (NIE/ANIE) appendix C.3",
            "kernel": "cos_kernel(2*pi*t, -2*pi*s)", "f": "tanh(2*pi*y)",
            "free_term": "y0 + [cos t - 1, cos(t + pi) + 1]", "y0_low": list(sp.Y0_LOW),
            "y0_high": list(sp.Y0_HIGH), "seed": seed, "t_final": float(t_final), "n_t": n_t,
            "solver": f"Volterra IE, Gregory order {order} on a {refine}x finer grid, fixed-point implicit step",
            "order": order, "refine": refine}
    return Dataset(t=t, G=G, params=y0, param_names=["y0_x", "y0_y"], meta=meta)
