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


def valid_prediction_time(pred, true, t, threshold: float = 0.4, lyapunov_exponent: float = 0.906) -> np.ndarray:
    """Valid prediction time of each curve in Lyapunov times: (n_curves,).

    The normalised error e(t) = ‖pred(t) − true(t)‖ / sqrt(mean_t ‖true(t)‖²)
    (norms over the coordinates, the mean over the given times of that curve)
    is compared with `threshold` node by node. The valid time is t_j − t[0]
    for the first node j where e exceeds it (or is not finite: a blown-up
    prediction), times `lyapunov_exponent` (λ_max; 0.906 for Lorenz-63 at
    σ = 10, ρ = 28, β = 8/3). So 0 means already wrong at the first predicted
    node, and a curve that never exceeds the threshold scores the whole span
    (t[-1] − t[0]) λ: a lower bound, as the grid ends before the prediction
    fails. t: (n_t,) the predicted times, pred and true only those nodes.
    """
    pred, true = _as_curves(pred, true)
    t = np.asarray(t, dtype=float)
    if t.shape != (pred.shape[1],):
        raise ValueError(f"t has shape {t.shape}, expected ({pred.shape[1]},)")
    scale = np.sqrt(np.mean(np.sum(true**2, axis=-1), axis=1, keepdims=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.linalg.norm(pred - true, axis=-1) / scale
    failed = ~(error <= threshold)  # NaN counts as failed
    first = np.where(failed.any(axis=1), np.argmax(failed, axis=1), len(t) - 1)
    return (t[first] - t[0]) * lyapunov_exponent
