"""Volterra IE solver: quadrature exactness and observed convergence order on exact solutions."""

import numpy as np
import pytest

from idelearn.solvers.volterra_ie import solve_volterra


def observed_order(errors, ns):
    """The order as h -> 0 from the last three of successively halved grids: the slopes of log(error)
    against log(h) on the two finest pairs, p1 and p2, approach p linearly in h (measured: the gaps to p
    halve with h), so 2 p2 - p1 removes that drift. The plain least-squares slope stayed up to 0.27
    below p on grids coarse enough to keep the error above round-off (5.73 for order 6).
    """
    e, n = np.asarray(errors[-3:]), np.asarray(ns[-3:])
    assert np.all(n[1:] == 2 * n[:-1]), ns
    p1, p2 = np.log2(e[0] / e[1]), np.log2(e[1] / e[2])
    return 2 * p2 - p1


# y = 1 + ∫_0^t y ds  ->  e^t
def exp_problem(n, order):
    t = np.linspace(0, 1, n + 1)
    y = solve_volterra(lambda t: np.ones((1, len(t), 1)),
                       lambda t, s: np.ones(np.broadcast(t, s).shape + (1, 1)),
                       lambda y: y, t, refine=1, order=order)
    return np.max(np.abs(y[0, :, 0] - np.exp(t)))


# y = y0 + ∫_0^t J y ds, J = [[0, 1], [-1, 0]]  ->  rotation of y0; batch of 3 curves
Y0 = np.array([[1.0, 0.0], [0.3, -2.0], [-1.0, 0.5]])
J = np.array([[0.0, 1.0], [-1.0, 0.0]])


def rotation_problem(n, order):
    t = np.linspace(0, 3, n + 1)
    y = solve_volterra(lambda t: np.broadcast_to(Y0[:, None, :], (3, len(t), 2)),
                       lambda t, s: np.broadcast_to(J, np.broadcast(t, s).shape + (2, 2)),
                       lambda y: y, t, refine=1, order=order)
    cos, sin = np.cos(t)[None, :], np.sin(t)[None, :]
    exact = np.stack([Y0[:, :1] * cos + Y0[:, 1:] * sin, -Y0[:, :1] * sin + Y0[:, 1:] * cos], -1)
    return np.max(np.abs(y - exact))


# Nonlinear, t-dependent kernel with a manufactured solution: c(t) = y(t) − ∫ k f(y),
# the integral by 40-point Gauss–Legendre (exact to rounding for these entire functions).
def kernel(t, s):
    t, s = np.broadcast_arrays(t, s)
    return np.stack([np.stack([np.cos(t - s), -np.sin(2 * s)], -1),
                     np.stack([s * t, np.exp(s - t)], -1)], -2)


def f_nl(y):
    return np.tanh(y) + 0.5 * y**2


def y_exact(t):
    return np.stack([np.sin(2 * t) + 1, np.exp(-t) * np.cos(3 * t)], -1)


def c_manufactured(t):
    x, w = np.polynomial.legendre.leggauss(40)
    s = t[:, None] * (x + 1) / 2
    integral = np.einsum("tgab,tgb,g->ta", kernel(t[:, None], s), f_nl(y_exact(s)), w) * t[:, None] / 2
    return (y_exact(t) - integral)[None]


def nonlinear_problem(n, order):
    t = np.linspace(0, 2, n + 1)
    y = solve_volterra(c_manufactured, kernel, f_nl, t, refine=1, order=order)
    return np.max(np.abs(y[0] - y_exact(t)))


@pytest.mark.parametrize("problem, order, ns", [  # measured orders: 2.000, 3.999, 6.005, 3.001, 5.000, 4.002, 5.977
    (exp_problem, 2, [10, 20, 40, 80]),
    (exp_problem, 4, [20, 40, 80]),
    (exp_problem, 6, [16, 32, 64]),
    (rotation_problem, 3, [40, 80, 160]),
    (rotation_problem, 5, [40, 80, 160]),
    (nonlinear_problem, 4, [64, 128, 256]),
    (nonlinear_problem, 6, [128, 256, 512]),
])
def test_observed_order(problem, order, ns):
    """Within 0.3 of p (measured: within 0.023): order p-1 would fail."""
    errors = [problem(n, order) for n in ns]
    assert abs(observed_order(errors, ns) - order) < 0.3, errors


def test_refine_samples_the_fine_solution():
    t = np.linspace(0, 1, 11)
    c = lambda t: np.ones((1, len(t), 1))
    k = lambda t, s: np.ones(np.broadcast(t, s).shape + (1, 1))
    coarse = solve_volterra(c, k, lambda y: y, t, refine=4, order=4)
    fine = solve_volterra(c, k, lambda y: y, np.linspace(0, 1, 41), refine=1, order=4)
    np.testing.assert_allclose(coarse, fine[:, ::4], rtol=0, atol=1e-15)
    assert coarse.shape == (1, 11, 1)


def test_rejects_bad_grids_and_reports_divergence():
    c = lambda t: np.ones((1, len(t), 1))
    k = lambda t, s: np.ones(np.broadcast(t, s).shape + (1, 1))
    with pytest.raises(ValueError, match="uniform"):
        solve_volterra(c, k, np.tanh, [0.0, 0.1, 0.3], refine=1)
    with pytest.raises(ValueError, match="refine"):
        solve_volterra(c, k, np.tanh, np.linspace(0, 1, 5), refine=0)
    big = lambda t, s: 100 * np.ones(np.broadcast(t, s).shape + (1, 1))
    with pytest.raises(RuntimeError, match="refine"):  # h·k = 10: the implicit step is no contraction
        solve_volterra(c, big, lambda y: y, np.linspace(0, 1, 11), refine=1, order=4)
