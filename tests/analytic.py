"""Analytic test problems shared by the test suite."""

from __future__ import annotations

import numpy as np
from scipy.special import jv

from idelearn.equations.dyson import dyson_exact, dyson_problem

# A non-diagonal Hermitian 2x2 H (complex off-diagonal) for matrix-valued checks.
H_2X2 = np.array([[0.5, 0.3 - 0.4j], [0.3 + 0.4j, -1.2]])


def dyson_error(sol, H, c) -> float:
    """max_t |G(t) - exact| for a single-trajectory solution."""
    return float(np.max(np.abs(sol.G[0] - dyson_exact(sol.t, H, c))))


def dyson(H, c=1.0):
    return dyson_problem(np.atleast_2d(np.asarray(H, dtype=complex)), c)


def dyson_memory(t, h, c=1.0):
    """Exact G and I = dG/dt + i h G of i dG/dt = h G + c^2 (G*G)(t), G(0) = -i; (1, n_t, 1, 1) each."""
    x = 2 * c * np.maximum(t, 1e-300)
    j = np.where(t > 0, jv(1, x) / (c * np.maximum(t, 1e-300)), 1.0)
    dj = np.where(t > 0, -2 * jv(2, x) / np.maximum(t, 1e-300), 0.0)
    ph = np.exp(-1j * h * t)
    return (-1j * ph * j).reshape(1, -1, 1, 1), (-1j * ph * dj).reshape(1, -1, 1, 1)


# idesolver's analytic problems (JoshKarpel/idesolver, tests/test_solver_against_analytic_solutions.py)
def idesolver_complex():
    """y' = 5y + 1 - 3i ∫_0^x y ds, y(0) = 0 on [0, 1]."""
    F = lambda y, x: 5 * y + 1  # noqa: E731
    K = lambda y, tau: -3j  # noqa: E731
    root = np.sqrt(25 - 12j)
    exact = lambda x: 2 * np.exp(5 * x / 2) * np.sinh(0.5 * root * x) / root  # noqa: E731
    return F, K, np.array([0.0]), 1.0, exact


def idesolver_vector():
    """y0' = (y1+1)/2 - ∫y0/2, y1' = -y0/2 - ∫y1/2, y(0) = (0, 1) on [0, 7] -> (sin x, cos x)."""

    def F(y, x):
        return np.stack([0.5 * (y[:, 1] + 1), -0.5 * y[:, 0]], axis=1)

    K = lambda y, tau: -0.5 * np.eye(2)  # noqa: E731
    exact = lambda x: np.stack([np.sin(x), np.cos(x)], axis=-1)  # noqa: E731
    return F, K, np.array([0.0, 1.0]), 7.0, exact
