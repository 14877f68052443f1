"""2-D integral-equation spirals of paper 2, appendix C.3 (docs/design.md).

    y(t) = c(t) + ∫_0^t k(t, s) f(y(s)) ds,   k(t, s) = cos_kernel(2πt, −2πs),
    f(y) = tanh(2πy),   c(t) = y0 + [cos t − 1, cos(t + π) + 1]

The free term is shifted so that every curve starts at its y0 (the authors'
c(0) = [1, −1]); they drew y0 ~ U[0, 2] × [−2, 0].
"""

from __future__ import annotations

import numpy as np

Y0_LOW, Y0_HIGH = (0.0, -2.0), (2.0, 0.0)


def cos_kernel(x, s) -> np.ndarray:
    """[[cos(x−s), −sin(x−s)], [−sin(x−s), −cos(x−s)]], shape broadcast(x, s) + (2, 2)."""
    d = np.asarray(x) - np.asarray(s)
    cos, sin = np.cos(d), np.sin(d)
    return np.stack([np.stack([cos, -sin], -1), np.stack([-sin, -cos], -1)], -2)


def spiral_kernel(t, s) -> np.ndarray:
    return cos_kernel(2 * np.pi * np.asarray(t), -2 * np.pi * np.asarray(s))


def spiral_f(y: np.ndarray) -> np.ndarray:
    return np.tanh(2 * np.pi * y)


def spiral_free_term(y0: np.ndarray):
    """c(t) for curves starting at y0 (batch, 2): a function of t (n,) -> (batch, n, 2)."""

    def c(t):
        shift = np.stack([np.cos(t) - 1, np.cos(t + np.pi) + 1], -1)
        return y0[:, None, :] + shift[None]

    return c
