"""The 2x2 complex matrix IDE of paper 1 (eq. 4), in its bounded form by default.

    dG/dt = A(t) G + sign · ∫_0^t cos(0.25 G(t-s)²) G(s) ds,   G(0) = i·1
    A(t) = -i [[-β e^{-(t-α1)²/σ}, 1], [1, β e^{-(t-α2)²/σ}]]

As printed (sign = +1) every parameter set of the paper diverges before t = 5:
with K ≈ 1 the memory acts like G'' ≈ +G. With sign = -1 and the matrix
cosine, trajectories stay bounded (|G| ≲ 1.3). `cosine` picks the matrix
cosine or the elementwise cosine of 0.25 G G.
"""

from __future__ import annotations

import numpy as np

from .problem import IDEProblem

COSINES = ("matrix", "elementwise")


def cos_2x2(M: np.ndarray) -> np.ndarray:
    """Matrix cosine of a batch of 2x2 matrices in closed form (Cayley–Hamilton).

    M = sI + N with s = tr(M)/2, tr N = 0, N² = q²·1 (q² = s² − det M), so
    cos M = cos(s) cos(q)·1 − sin(s) (sin q / q) N; both factors are even in q,
    so the branch of the square root does not matter.
    """
    s = 0.5 * (M[..., 0, 0] + M[..., 1, 1])
    det = M[..., 0, 0] * M[..., 1, 1] - M[..., 0, 1] * M[..., 1, 0]
    q = np.sqrt(s * s - det)
    small = np.abs(q) < 1e-4
    q_safe = np.where(small, 1.0, q)
    sinc = np.where(small, 1 - q * q / 6 + q**4 / 120, np.sin(q_safe) / q_safe)
    N = M - s[..., None, None] * np.eye(2)
    return (np.cos(s) * np.cos(q))[..., None, None] * np.eye(2) - (np.sin(s) * sinc)[..., None, None] * N


def matrix_ide_problem(alpha1, alpha2, sigma, beta, memory_sign: float = -1.0,
                       cosine: str = "matrix") -> IDEProblem:
    """Batched problem: each parameter is a scalar or an array of length batch."""
    if cosine not in COSINES:
        raise ValueError(f"cosine must be one of {COSINES}, got {cosine!r}")
    a1, a2, sg, bt = (np.atleast_1d(np.asarray(x, dtype=float))[:, None] for x in (alpha1, alpha2, sigma, beta))
    batch = max(len(a1), len(a2), len(sg), len(bt))

    def F(G, t):
        top = -bt * np.exp(-((t - a1) ** 2) / sg)  # (batch, 1)
        bottom = bt * np.exp(-((t - a2) ** 2) / sg)
        A = np.zeros((batch, 2, 2), dtype=complex)
        A[:, 0, 0], A[:, 1, 1] = top[:, 0], bottom[:, 0]
        A[:, 0, 1] = A[:, 1, 0] = 1.0
        return -1j * (A @ G)

    cos = cos_2x2 if cosine == "matrix" else np.cos

    def K(G, tau):
        return memory_sign * cos(0.25 * (G @ G))

    G0 = np.broadcast_to(1j * np.eye(2), (batch, 2, 2)).copy()
    return IDEProblem(F=F, K=K, G0=G0)


def paper_training_grid(alpha_values=range(1, 21), sigma_values=range(1, 6), beta: float = 1.0) -> np.ndarray:
    """Paper 1 §3 multi-trajectory grid: rows (alpha1, alpha2, sigma, beta); 20·20·5 = 2000."""
    a1, a2, s = np.meshgrid(list(alpha_values), list(alpha_values), list(sigma_values), indexing="ij")
    n = a1.size
    return np.stack([a1.ravel(), a2.ravel(), s.ravel(), np.full(n, beta)], axis=1).astype(float)
