"""Weights for Adams methods and Gregory end-corrected trapezoid rules.

All weights are computed once in exact rational arithmetic (fractions), so
high orders (p = 8) carry no round-off from ill-conditioned Vandermonde solves.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from math import comb

import numpy as np


def _solve_exact(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction]:
    """Gauss-Jordan elimination over the rationals (small systems only)."""
    n = len(rhs)
    a = [row[:] + [rhs[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if a[r][col] != 0)
        a[col], a[pivot] = a[pivot], a[col]
        inv = 1 / a[col][col]
        a[col] = [v * inv for v in a[col]]
        for r in range(n):
            if r != col and a[r][col] != 0:
                f = a[r][col]
                a[r] = [v - f * w for v, w in zip(a[r], a[col])]
    return [a[i][n] for i in range(n)]


def interpolatory_weights(nodes, a, b) -> np.ndarray:
    """Weights w with ∫_a^b q(x) dx = Σ w_i q(nodes_i) for polynomials of degree < len(nodes).

    Nodes and bounds are rationals (or ints) in units of the step.
    """
    nodes = [Fraction(x) for x in nodes]
    a, b = Fraction(a), Fraction(b)
    k = len(nodes)
    vander = [[x**i for x in nodes] for i in range(k)]
    moments = [(b ** (i + 1) - a ** (i + 1)) / (i + 1) for i in range(k)]
    return np.array([float(w) for w in _solve_exact(vander, moments)])


@cache
def adams_bashforth(order: int) -> np.ndarray:
    """β with G_{n+1} = G_n + h Σ_k β_k g_{n-k}, k = 0..order-1."""
    return interpolatory_weights([-k for k in range(order)], 0, 1)


@cache
def adams_moulton(order: int) -> np.ndarray:
    """β with G_{n+1} = G_n + h Σ_k β_k g_{n+1-k}, k = 0..order-1 (order-p, p-1 step)."""
    return interpolatory_weights([1 - k for k in range(order)], 0, 1)


def _bernoulli(n: int) -> Fraction:
    """Bernoulli numbers B_n with B_1 = -1/2 (only even n are used here)."""
    b = [Fraction(1)]
    for m in range(1, n + 1):
        b.append(-sum(comb(m + 1, k) * b[k] for k in range(m)) / (m + 1))
    return b[n]


@cache
def gregory_end_correction(order: int) -> np.ndarray:
    """δ_0..δ_{p-1}: the Gregory rule of order p on nodes 0..n (n ≥ p-1) is

        ∫_0^n q ≈ Σ_j q(j) + Σ_{j<p} δ_j (q(j) + q(n-j)).

    Derivation: Euler–Maclaurin splits Σ_j q(j) − ∫ q into a left-end part
    ½q(0) − Σ_k B_2k/(2k)! q^(2k-1)(0) and its mirror at the right end. The δ_j
    cancel the left part exactly for polynomials of degree < p, so the rule is
    exact for them for every n ≥ p-1 (the two ends may overlap); for odd p the
    symmetry of the two ends makes it exact for degree p too. "Order p" here is
    that polynomial exactness: the composite error of a smooth integrand is
    O(h^p), O(h^(p+1)) for odd p.
    """
    p = order
    rhs = []
    for i in range(p):
        if i == 0:
            rhs.append(Fraction(-1, 2))
        elif i % 2 == 1:  # i = 2k-1: the q^(2k-1)(0) term of the monomial x^i
            rhs.append(_bernoulli(i + 1) / (i + 1))
        else:
            rhs.append(Fraction(0))
    vander = [[Fraction(j) ** i if (i or j) else Fraction(1) for j in range(p)] for i in range(p)]
    return np.array([float(d) for d in _solve_exact(vander, rhs)])


def gregory_weights(n: int, order: int) -> np.ndarray:
    """Full weight vector (length n+1, in units of h) of the order-p Gregory rule on [0, n]
    (exact for polynomials of degree < p; see `gregory_end_correction`)."""
    delta = gregory_end_correction(order)
    if n < order - 1:
        raise ValueError(f"Gregory rule of order {order} needs n >= {order - 1} intervals, got {n}")
    w = np.ones(n + 1)
    w[:order] += delta
    w[n - order + 1 :] += delta[::-1]
    return w
