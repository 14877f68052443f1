"""Bethe-lattice Dyson equation (paper 1, eq. 5), scalar h or Hermitian matrix H.

    i dG/dt = H G + c² ∫_0^t G(t-s) G(s) ds,   G(0) = -i·1

In the F + I form of the stepper: F(G) = -i H G and K(G) = -i c² G.
Exact solution: G(t) = U diag(-i e^{-iε_k t} J1(2ct)/(ct)) U†, H = U diag(ε) U†.
"""

from __future__ import annotations

import numpy as np
from scipy.special import j1

from .problem import IDEProblem


def dyson_problem(H: np.ndarray, c: float) -> IDEProblem:
    """Batched Dyson problem: H of shape (batch, d, d) or (d, d)."""
    H = np.asarray(H, dtype=complex)
    if H.ndim == 2:
        H = H[None]
    d = H.shape[-1]
    G0 = np.broadcast_to(-1j * np.eye(d), H.shape).copy()
    return IDEProblem(
        F=lambda G, t: -1j * (H @ G),
        K=lambda G, tau: -1j * c**2 * G,
        G0=G0,
    )


def dyson_exact(t: np.ndarray, H: np.ndarray, c: float) -> np.ndarray:
    """Exact G(t) for one Hermitian H (d, d): shape (n_t, d, d)."""
    eps, U = np.linalg.eigh(np.asarray(H, dtype=complex))
    t = np.asarray(t, dtype=float)
    ct = c * t
    # J1(2ct)/(ct) -> 1 as t -> 0
    envelope = np.where(ct == 0, 1.0, j1(2 * ct) / np.where(ct == 0, 1.0, ct))
    diag = -1j * np.exp(-1j * np.outer(t, eps)) * envelope[:, None]
    return np.einsum("ik,tk,jk->tij", U, diag, U.conj())
