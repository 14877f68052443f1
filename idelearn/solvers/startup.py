"""High-order start-up: collocation on the first p nodes.

G on [0, t_{p-1}] is represented by the polynomial P through the unknown nodes
G_0..G_{p-1}. Fixed-point iteration on

    G_k = G_0 + ∫_0^{t_k} [F(P, τ) + I(τ)] dτ,   I(t_k) = ∫_0^{t_k} K(P(t_k-s), t_k-s) P(s) ds

(outer integral: interpolatory weights over the nodes; inner: Gauss–Legendre on
the polynomial, which needs G at off-grid points) gives start values of the
same order as the multistep method, so nothing in the start degrades it.
"""

from __future__ import annotations

import numpy as np

from .quadrature import interpolatory_weights


def _lagrange_basis(n_nodes: int, x: np.ndarray) -> np.ndarray:
    """ℓ_j(x) for nodes 0..n_nodes-1 (x in units of h): shape (len(x), n_nodes)."""
    nodes = np.arange(n_nodes, dtype=float)
    out = np.ones((len(x), n_nodes))
    for j in range(n_nodes):
        for i in range(n_nodes):
            if i != j:
                out[:, j] *= (x - nodes[i]) / (nodes[j] - nodes[i])
    return out


def collocation_start(F, kernel, G0: np.ndarray, dt: float, n_nodes: int,
                      max_iter: int = 200, tol: float = 1e-15):
    """Return G, I at nodes 0..n_nodes-1, each (batch, n_nodes, d, m)."""
    p = n_nodes
    gauss_x, gauss_w = np.polynomial.legendre.leggauss(p + 4)
    # outer integral weights: row k integrates over [0, k]
    outer = np.array([interpolatory_weights(range(p), 0, k) for k in range(p)])
    # inner quadrature points, per node k: s (history) and k - s (lag), in units of h
    inner = []
    for k in range(1, p):
        s = k * (gauss_x + 1) / 2
        inner.append((k, _lagrange_basis(p, s), _lagrange_basis(p, k - s), k - s, k / 2 * gauss_w))

    G = np.repeat(G0[:, None], p, axis=1).astype(complex)
    I = np.zeros_like(G)
    for _ in range(max_iter):
        for k, basis_s, basis_lag, lag, w in inner:
            acc = 0.0
            for q in range(len(w)):
                P_s = np.einsum("j,bjdm->bdm", basis_s[q], G)
                P_lag = np.einsum("j,bjdm->bdm", basis_lag[q], G)
                A = kernel(P_lag, lag[q] * dt)
                acc = acc + w[q] * (A @ P_s)
            I[:, k] = dt * acc
        g = np.stack([F(G[:, k], k * dt) for k in range(p)], axis=1) + I
        G_new = G0[:, None] + dt * np.einsum("kj,bjdm->bkdm", outer, g)
        G_new[:, 0] = G0  # exactly (row 0 of `outer` is zero, but 0 * inf is not) when the iteration diverges
        change = np.max(np.abs(G_new - G))
        G = G_new
        if change <= tol * max(1.0, np.max(np.abs(G))):
            break
    return G, I
