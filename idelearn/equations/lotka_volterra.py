"""Lotka–Volterra system of paper 2, appendix C.1.

    dx/dt = a x − b x y,     dy/dt = −c y + d b x y,     (x, y)(0) = (10, 5)

with a ~ U[0.5, 1.5], b ~ U[0.5, 1.5], c ~ U[0.5, 2.5], d ~ U[0.25, 1.25]
per curve (the predation gain is d·b, as in the authors' code).
Every curve conserves V = d b x − c ln x + b y − a ln y, a check on accuracy.

The populations fall as low as 1e-14 for some parameters, far below any
absolute tolerance, so the system is also given in log variables (u, v) =
(ln x, ln y): integrated there, tolerances bound the *relative* error of every
population and positivity is exact.
"""

from __future__ import annotations

import numpy as np

PARAM_NAMES = ["a", "b", "c", "d"]
PARAM_LOW = (0.5, 0.5, 0.5, 0.25)
PARAM_HIGH = (1.5, 1.5, 2.5, 1.25)
X0 = (10.0, 5.0)


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
