"""solve_general_ide: idesolver's analytic problems and manufactured ones to <= 1e-8 with defaults,
the observed order for each kind of limits, agreement with solve_ide, and bad input."""

import math

import numpy as np
import pytest

from idelearn.equations.general_examples import manufactured_problems, peer_problems
from idelearn.solvers import solve_general_ide, solve_ide

PEER = {p.name: p for p in peer_problems()}
MADE = {p.name: p for p in manufactured_problems()}


def max_error(problem, **options):
    sol = solve_general_ide(**problem.kwargs(), **options)
    return float(np.max(np.abs(sol.y - problem.exact(problem.x)))), sol


# Measured max |y - exact| with the defaults (order 9, automatic refine, tol 1e-9); each bound keeps
# >= 10x over it (1e-13 where rounding is all there is). The target is 1e-8.
@pytest.mark.parametrize("name, bound", [  # measured:
    ("complex, k = 1, d = -3i", 3e-11),  # 2.5e-12
    ("2-D system -> (sin x, cos x)", 1e-13),  # 5.8e-15
    ("zero right-hand side", 1e-13),  # 0
    ("defaults (zero right-hand side)", 1e-13),  # 0
    ("Gelmi 1: Fredholm, k = x/(1+s)", 1e-13),  # 5.7e-16
    ("Gelmi 2: Fredholm, k = sin(2π(2x+s))", 2e-11),  # 1.3e-12
    ("Gelmi 3: Fredholm, k = x·s, f = y²", 1e-13),  # 1.3e-15
    ("Gelmi 4: limits [x, √x], k = x·s", 1e-13),  # 2.2e-16
])
def test_peer_problems(name, bound):
    problem = PEER[name]
    error, sol = max_error(problem)
    assert error <= bound
    assert sol.y.shape == np.shape(problem.exact(problem.x))
    assert np.iscomplexobj(sol.y) == (name.startswith("complex"))


@pytest.mark.parametrize("name, bound, method", [  # measured:
    ("Volterra, k = cos(x - 2s), f = y²", 1e-13, "stepping"),  # 6.7e-15
    ("Fredholm, complex, k = e^(xs), f = y²", 1e-13, "newton"),  # 4.3e-16
    ("moving limits [x/2, (1+x)/2], k = x - s", 1e-13, "newton"),  # 1.1e-16
    ("moving limits [x/2, x], k = s, f = y², c = -y²", 1e-13, "stepping"),  # 3.9e-15
])
def test_manufactured_problems(name, bound, method):
    error, sol = max_error(MADE[name])
    assert error <= bound
    assert sol.method == method


@pytest.mark.parametrize("d, k", [  # idesolver's two other spellings of the 2-D system: vectors, matrices
    (lambda x: [-0.5, -0.5], lambda x, s: [1, 1]),
    (lambda x: [[-0.5, 0], [0, -0.5]], lambda x, s: [[1, 0], [0, 1]]),
])
def test_vector_and_matrix_d_k(d, k):
    problem = PEER["2-D system -> (sin x, cos x)"]
    sol = solve_general_ide(**{**problem.kwargs(), "d": d, "k": k})
    assert np.max(np.abs(sol.y - problem.exact(problem.x))) <= 1e-13  # measured 5.1e-15


def test_scalar_callables_and_uneven_grid():
    """Callables that take one point only (math.*) and a non-uniform output grid give the same accuracy."""
    problem = PEER["Gelmi 4: limits [x, √x], k = x·s"]
    root = math.sqrt
    sol = solve_general_ide(
        problem.x, 1.0, c=lambda x, y: x * (1 + root(x)) * math.exp(-root(x)) - (x * x + x + 1) * math.exp(-x),
        d=lambda x: 1, k=lambda x, s: x * s, f=lambda y: y, lower_bound=lambda x: x, upper_bound=math.sqrt)
    assert np.max(np.abs(sol.y - problem.exact(problem.x))) <= 1e-13  # measured 2.2e-16
    x = np.linspace(0, 1, 60) ** 1.5
    sol = solve_general_ide(**{**problem.kwargs(), "x": x})
    assert np.max(np.abs(sol.y - problem.exact(x))) <= 1e-13  # measured 7.8e-16


def observed_order(problem, order, ns):
    errors = []
    for n in ns:
        x = np.linspace(problem.x[0], problem.x[-1], n + 1)
        sol = solve_general_ide(**{**problem.kwargs(), "x": x}, order=order, refine=1)
        errors.append(np.max(np.abs(sol.y - problem.exact(x))))
    return np.polyfit(np.log(1.0 / np.asarray(ns)), np.log(errors), 1)[0], sol.method


# Slope of log(error) against log(h) on a fixed grid (refine=1); the design order is `order` (rules exact for
# degree < order - 1, each one order better than that). Measured slopes in the comments; an order lower
# (a rule of one node fewer, or a first-order limit) would miss the ±0.3 window.
@pytest.mark.parametrize("source, name, order, ns", [
    (MADE, "Volterra, k = cos(x - 2s), f = y²", 5, [20, 40, 80]),  # 5.00 (stepping)
    (MADE, "Volterra, k = cos(x - 2s), f = y²", 6, [20, 40, 80]),  # 5.90 (stepping)
    (MADE, "Fredholm, complex, k = e^(xs), f = y²", 5, [20, 40, 80]),  # 4.93 (newton)
    (MADE, "Fredholm, complex, k = e^(xs), f = y²", 6, [20, 40, 80]),  # 5.98 (newton)
    (PEER, "Gelmi 4: limits [x, √x], k = x·s", 6, [10, 20, 40]),  # 5.91 (newton)
    (MADE, "moving limits [x/2, (1+x)/2], k = x - s", 7, [10, 20, 40]),  # 6.98 (newton)
    (MADE, "moving limits [x/2, x], k = s, f = y², c = -y²", 5, [40, 80, 160]),  # 4.85 (stepping)
])
def test_observed_order(source, name, order, ns):
    slope, _ = observed_order(source[name], order, ns)
    assert abs(slope - order) < 0.3, slope


def test_stepping_and_newton_solve_the_same_equations():
    """A causal problem stepped node by node and solved as one global system: equal to rounding."""
    problem = MADE["Volterra, k = cos(x - 2s), f = y²"]
    stepped = solve_general_ide(**problem.kwargs(), refine=1)
    whole = solve_general_ide(**problem.kwargs(), refine=1, method="newton")
    assert (stepped.method, whole.method) == ("stepping", "newton")
    assert np.max(np.abs(stepped.y - whole.y)) <= 1e-13  # measured 4e-16


def test_agrees_with_solve_ide_on_a_convolution_problem():
    """y' = A y + ∫_0^x e^-(x-s) cos(x-s) B y(s) ds: both solvers' form; they agree to <= 1e-12 (measured 7e-16)."""
    A = np.array([[-0.5, 1.0], [-1.0, -0.2]])
    B = np.array([[0.3, -0.7], [0.5, 0.1]])
    y0 = np.array([1.0, -0.5])
    ref = solve_ide(lambda G, t: A @ G, lambda G, tau: np.exp(-tau) * np.cos(tau) * B, y0, 1.0, 0.01, order=8)
    sol = solve_general_ide(ref.t, y0, c=lambda x, y: A @ y, f=lambda y: y,
                            k=lambda x, s: np.multiply.outer(B, np.exp(s - x) * np.cos(x - s)),
                            lower_bound=lambda x: 0, upper_bound=lambda x: x)
    assert sol.y.shape == (2, len(ref.t))
    assert np.max(np.abs(sol.y - ref.G[0, :, :, 0].T)) <= 1e-12


X = np.linspace(0, 1, 21)
VOLTERRA = dict(f=lambda y: y, lower_bound=lambda x: 0, upper_bound=lambda x: x)


@pytest.mark.parametrize("kwargs, match", [
    (dict(y_0=1.0, c=lambda x, y: 1 / 0, **VOLTERRA), r"c\(x, y\) raised ZeroDivisionError"),
    (dict(y_0=1.0, c=lambda x, y: y if x < 0.5 else 1 / 0, **VOLTERRA), r"c\(x, y\) raised .* x = 0.5"),
    (dict(y_0=[1.0, 2.0], c=lambda x, y: [y[0], y[1], 0.0], **VOLTERRA), r"c\(x, y\) returned shape \(3,\)"),
    (dict(y_0=[1.0, 2.0], c=lambda x, y: y, k=lambda x, s: [1, 2, 3], **VOLTERRA), r"k\(x, s\) returned shape"),
    (dict(y_0=[1.0, 2.0], c=lambda x, y: y, d=lambda x: np.ones((3, 2)), **VOLTERRA), r"d\(x\)"),
    (dict(y_0=1.0, k=lambda x, s: 1.0 if x == 0 else [1.0, 2.0], **VOLTERRA), r"k\(x, s\) returned shape \(2,\)"),
    (dict(y_0=[1.0, 2.0], c=lambda x, y: [y[0], [1, 2]], **VOLTERRA), r"c\(x, y\) returned .* not an array"),
    (dict(y_0=1.0, c=lambda x, y: np.where(x > 0.5, np.nan, y), **VOLTERRA),
     r"c\(x, y\) returned a non-finite value at x = 0\.(55|6)\b"),  # stepped
    (dict(y_0=1.0, c=lambda x, y: np.where(x > 0.5, np.nan, y), f=lambda y: y),
     r"c\(x, y\) returned a non-finite value at x = 0\.(55|6)\b"),  # global system
    (dict(y_0=1.0, d=lambda x: np.sqrt(x - 0.3), f=lambda y: y), r"d\(x\) returned a non-finite value at x = 0"),
    (dict(y_0=1.0, f=lambda y: y, upper_bound=lambda x: x + 0.5), r"upper_bound\(x\) = 1.1 at x = 0.6 lies outside"),
    (dict(y_0=1.0, f=lambda y: y, lower_bound=lambda x: x - 0.5), r"lower_bound\(x\) = -0.5 at x = 0 lies outside"),
    (dict(y_0=0.5, f=lambda y: y**2), r"global system .* did not converge"),  # y' = ∫_0^1 y²: no real solution
    (dict(y_0=1.0, d=lambda x: 2.0, f=lambda y: y), r"global system is singular"),  # y' = 2∫_0^1 y: none
    (dict(y_0=1.0, c=lambda x, y: -3000 * y, d=lambda x: 0, refine=1, **VOLTERRA), r"raise refine"),
    (dict(y_0=1.0, c=3.0), r"c\(x, y\) must be callable"),
    (dict(y_0=np.ones((2, 2))), r"y_0 must be"),
    (dict(y_0=1.0, order=3), r"order must be in 4..9"),
    (dict(y_0=1.0, refine=0), r"refine must be"),
    (dict(y_0=1.0, f=lambda y: y, refine=200), r"max_nodes"),
    (dict(x=X[::-1], y_0=1.0), r"x must be finite and strictly increasing"),
])
def test_bad_input_is_one_value_error(kwargs, match):
    with np.errstate(all="ignore"), pytest.raises(ValueError, match=match):
        solve_general_ide(**{"x": X, **kwargs})


def test_integral_term_is_returned():
    """sol.integral = d(x) ∫ k f(y) ds at the output points (Gelmi 4: x ∫_x^√x s e^-s ds, in closed form)."""
    problem = PEER["Gelmi 4: limits [x, √x], k = x·s"]
    sol = solve_general_ide(**problem.kwargs())
    x = problem.x
    exact = x * ((1 + x) * np.exp(-x) - (1 + np.sqrt(x)) * np.exp(-np.sqrt(x)))
    assert np.max(np.abs(sol.integral - exact)) <= 1e-13  # measured 1e-16
