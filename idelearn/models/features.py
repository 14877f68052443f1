"""Complex matrices as real feature vectors, the layout of the recurrent models (lstm_operator, direct_rnn)."""

from __future__ import annotations

import numpy as np


def to_features(Z: np.ndarray) -> np.ndarray:
    """Complex (..., n_t, d, m) -> float32 (..., n_t, 2*d*m): real parts then imaginary parts."""
    Z = Z.reshape(*Z.shape[:-2], -1)
    return np.concatenate([Z.real, Z.imag], axis=-1).astype(np.float32)


def from_features(X: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of `to_features`: float (..., 2*d*m) -> complex128 (..., d, m)."""
    k = X.shape[-1] // 2
    Z = X[..., :k].astype(np.float64) + 1j * X[..., k:].astype(np.float64)
    return Z.reshape(*X.shape[:-1], *shape)
