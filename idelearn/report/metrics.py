"""Accuracy metrics for predicted trajectories (numpy only).

Arrays are (n_t, ...) for one curve or (n_curves, n_t, ...) for a batch; the
caller passes only the predicted part (e.g. the points after the context).
"""

from __future__ import annotations

import numpy as np


def rel_l2(pred, true) -> float:
    """‖pred − true‖₂ / ‖true‖₂ over all entries (complex allowed)."""
    pred, true = np.asarray(pred), np.asarray(true)
    return float(np.linalg.norm((pred - true).ravel()) / np.linalg.norm(true.ravel()))


def max_abs(pred, true) -> float:
    """Largest entrywise |pred − true| (complex allowed)."""
    return float(np.max(np.abs(np.asarray(pred) - np.asarray(true))))


def _as_curves(pred, true):
    """Both as float (n_curves, n_t, dim): a single curve gets a leading axis."""
    pred, true = np.asarray(pred, dtype=float), np.asarray(true, dtype=float)
    if pred.shape != true.shape:
        raise ValueError(f"shape mismatch: {pred.shape} vs {true.shape}")
    if true.ndim == 1:  # one scalar curve
        pred, true = pred[None, :, None], true[None, :, None]
    elif true.ndim == 2:  # one curve (n_t, dim)
        pred, true = pred[None], true[None]
    return pred.reshape(len(pred), pred.shape[1], -1), true.reshape(len(true), true.shape[1], -1)


def r2_per_curve(pred, true) -> np.ndarray:
    """Coefficient of determination over time, per coordinate then averaged: (n_curves,).

    Same convention as sklearn's r2_score(y_true, y_pred) on one (n_t, dim)
    curve with uniform averaging; a coordinate that is constant in time scores
    1 when matched exactly and 0 otherwise (sklearn's choice too).
    """
    pred, true = _as_curves(pred, true)
    ss_res = np.sum((true - pred) ** 2, axis=1)
    ss_tot = np.sum((true - true.mean(axis=1, keepdims=True)) ** 2, axis=1)
    safe = ss_tot > 0
    score = np.where(safe, 1.0 - ss_res / np.where(safe, ss_tot, 1.0), np.where(ss_res == 0, 1.0, 0.0))
    return score.mean(axis=1)


def r2(pred, true) -> float:
    """Mean over curves of the per-coordinate coefficient of determination."""
    return float(r2_per_curve(pred, true).mean())


def r2_paper_per_curve(pred, true) -> np.ndarray:
    """Squared Pearson correlation of each flattened curve (paper 2's "R²"): (n_curves,).

    The paper's code scores linregress(true.ravel(), pred.ravel()).rvalue**2,
    which ignores offsets and scale errors; report it beside `r2`, not instead.
    """
    pred, true = _as_curves(pred, true)
    p = pred.reshape(len(pred), -1)
    q = true.reshape(len(true), -1)
    p = p - p.mean(axis=1, keepdims=True)
    q = q - q.mean(axis=1, keepdims=True)
    denom = np.sqrt(np.sum(p**2, axis=1) * np.sum(q**2, axis=1))
    corr = np.sum(p * q, axis=1) / np.where(denom > 0, denom, 1.0)
    return np.where(denom > 0, corr**2, 0.0)


def r2_paper(pred, true) -> float:
    """Mean over curves of the squared Pearson correlation (paper 2's "R²")."""
    return float(r2_paper_per_curve(pred, true).mean())


def mae_per_time(pred, true) -> np.ndarray:
    """Mean absolute error at each time point, averaged over curves and coordinates: (n_t,)."""
    pred, true = _as_curves(pred, true)
    return np.abs(pred - true).mean(axis=(0, 2))
