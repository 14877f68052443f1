"""DMD baseline (paper 1 §3, comparison 3): a linear operator fitted on one trajectory's window.

PyDMD does the decomposition; this module shapes the snapshots and steps the fitted
operator. Exact DMD on the d*m entries of G has at most d*m modes (one for the scalar
Dyson equation), so the time-delay (Hankel) variant is the useful one: each snapshot
is `delay` consecutive values of G, which leaves room for many modes.

Fit: modes Φ and eigenvalues λ of the snapshot pairs z_k -> z_{k+1}. Prediction from
any known history: the amplitudes b of its last snapshot (least squares on Φ), then
z_{n+k} = Φ (λ^k ⊙ b) and G is read off the newest block of each z.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch
from omegaconf import MISSING

from ..schema import MAX_NODES, require
from .base import Incompatible, Model, ModelConfig

VARIANTS = ("exact", "hankel")


@dataclass
class DMDFit:
    modes: np.ndarray  # (delay * features, rank) complex
    eigs: np.ndarray  # (rank,) complex
    delay: int


def hankel(X: np.ndarray, delay: int) -> np.ndarray:
    """(n_t, features) -> (delay * features, n_t - delay + 1): column k stacks x_k .. x_{k+delay-1}."""
    n_cols = X.shape[0] - delay + 1
    return np.concatenate([X[j: j + n_cols].T for j in range(delay)], axis=0)


def fit_dmd(G: np.ndarray, variant: str, svd_rank: float, delay: int) -> DMDFit:
    """DMD of one trajectory G (n_t, ...); svd_rank as PyDMD (0: optimal hard threshold, int: rank,
    (0, 1): energy kept). The delay is capped at half the window so there are enough snapshots."""
    from pydmd import DMD

    if variant not in VARIANTS:
        raise ValueError(f"DMD variant must be one of {VARIANTS}, got {variant!r}")
    n_t = G.shape[0]
    delay = 1 if variant == "exact" else max(1, min(delay, n_t // 2))
    snapshots = hankel(G.reshape(n_t, -1).astype(complex), delay)
    dmd = DMD(svd_rank=int(svd_rank) if svd_rank >= 1 else svd_rank)  # PyDMD reads a rank only from an int
    with warnings.catch_warnings():  # PyDMD warns about complex casts and rank truncation
        warnings.simplefilter("ignore")
        dmd.fit(snapshots)
    return DMDFit(modes=np.asarray(dmd.modes), eigs=np.asarray(dmd.eigs), delay=delay)


def dmd_predict(fit: DMDFit, G_known: np.ndarray, n_total: int) -> np.ndarray:
    """Continue one trajectory G_known (n0, ...) to n_total nodes with the fitted operator."""
    n0 = G_known.shape[0]
    if n0 < fit.delay:
        raise ValueError(f"DMD with delay {fit.delay} needs {fit.delay} known nodes, got {n0}")
    features = int(np.prod(G_known.shape[1:]))
    last = hankel(G_known[n0 - fit.delay:].reshape(fit.delay, -1).astype(complex), fit.delay)[:, 0]
    amplitudes = np.linalg.lstsq(fit.modes, last, rcond=None)[0]
    steps = np.arange(1, n_total - n0 + 1)
    with np.errstate(over="ignore", invalid="ignore"):  # growing modes: the caller's blow-up guard reports them
        powers = fit.eigs[None, :] ** steps[:, None]  # (n_new, rank)
        newest = (powers * amplitudes) @ fit.modes[-features:].T  # (n_new, features)
    out = np.empty((n_total,) + G_known.shape[1:], dtype=complex)
    out[:n0] = G_known
    out[n0:] = newest.reshape((len(steps),) + G_known.shape[1:])
    return out


# ----------------------------------------------------------------------------- the estimator

class DMDVariant(Enum):
    exact = "exact"
    hankel = "hankel"


@dataclass
class DMDConfig(ModelConfig):
    name: str = "dmd"
    variant: DMDVariant = MISSING
    svd_rank: float = MISSING  # PyDMD: 0 = optimal hard threshold, int = rank, (0, 1) = energy kept
    delay: int = MISSING  # Hankel delay embedding length (snapshots)

    def check(self):
        super().check()
        require(self.svd_rank == 0 or 0 < self.svd_rank < 1 or (float(self.svd_rank).is_integer() and
                                                                  1 <= self.svd_rank <= MAX_NODES),
                "model.svd_rank", f"must be 0 (optimal threshold), in (0, 1) (energy kept) or a whole rank in "
                f"1..{MAX_NODES:.0e}, got {self.svd_rank}")
        require(1 <= self.delay <= MAX_NODES, "model.delay", f"must be in 1..{MAX_NODES:.0e}, got {self.delay}")


class DMDModel(Model):
    """Paper 1 baseline 3: DMD fitted on one trajectory's window, then stepped from any known history."""

    name = "dmd"
    config_class = DMDConfig
    tiny_data = ("dataset=dyson", "dataset.t_final=2")
    tiny = dict(delay="20")
    numerics = (fit_dmd,)
    accepts = "a single trajectory (n_traj = 1)"

    def check(self, kind, n_traj):
        if n_traj != 1:
            raise Incompatible(f"dmd is fitted on one trajectory; got {n_traj} (needs {self.accepts})")

    def fit(self, data, *, seed, on_iteration=None, device=None, checkpointing=None):
        c = self.config
        fit = fit_dmd(data.G[0], c.variant.value, c.svd_rank, c.delay)
        self.fitted = {"modes": torch.from_numpy(fit.modes), "eigs": torch.from_numpy(fit.eigs), "delay": fit.delay}
        # The "loss": the window predicted by the fitted operator from its first `delay` nodes.
        window = dmd_predict(fit, data.G[0, : fit.delay], data.G.shape[1])
        return {"loss": [float(np.linalg.norm(window - data.G[0]) / np.linalg.norm(data.G[0]))]}

    def extrapolate(self, G_known, t, *, F=None, I_known=None, solver=None):
        fit = DMDFit(self.fitted["modes"].numpy(), self.fitted["eigs"].numpy(), int(self.fitted["delay"]))
        G = np.stack([dmd_predict(fit, g, len(t)) for g in G_known])
        return G.real if np.isrealobj(G_known) else G


MODEL = DMDModel
