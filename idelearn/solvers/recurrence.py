"""Exact recurrence for pure lag memories written as sums of exponentials: O(J) state, no history.

    K(τ) = Σ_j c_j e^{−λ_j τ}   ⇒   I(t) = Σ_j c_j z_j(t),   z_j' = −λ_j z_j + G,   z_j(0) = 0

A step advances each z_j exactly over [t_n, t_{n+1}] with G replaced by its interpolating polynomial
through the last p nodes, the new one included (an exponential Adams–Moulton step of order p):

    z_j(t_{n+1}) = e^{−λ_j h} z_j(t_n) + Σ_k w_jk G_{n+1−k},  w_jk = ∫_0^h e^{−λ_j (h−u)} ℓ_k(u) du

so the cost per step is O(J p) whatever the horizon, where the Gregory memory sums the whole
history (O(n) per step, or O(log² n) amortised with the relaxed FFT). The state at the last known
node comes from the order-p Gregory rule over the known window (the reference's quadrature).
Same interface as the other memory operators (solvers/memory.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .quadrature import gregory_weights


def exponential_weights(rates: np.ndarray, dt: float, order: int) -> np.ndarray:
    """w[j, k] = ∫_0^h e^{−λ_j (h−u)} ℓ_k(u) du, ℓ_k the Lagrange basis on the nodes u = h − k·h, k < order
    (k = 0 the newest). Gauss–Legendre with 32 points: exact to round-off for the degree-(p−1) polynomial
    times an exponential with |λ h| up to ~10."""
    x, gw = np.polynomial.legendre.leggauss(32)
    u = 0.5 * dt * (x + 1)  # points in [0, h]
    nodes = dt - dt * np.arange(order)
    lagrange = np.ones((order, len(u)))
    for k in range(order):
        for i in range(order):
            if i != k:
                lagrange[k] *= (u - nodes[i]) / (nodes[k] - nodes[i])
    decay = np.exp(-np.outer(np.asarray(rates, dtype=complex), dt - u))  # (J, points)
    return 0.5 * dt * (decay * gw) @ lagrange.T  # (J, order)


@dataclass
class RecurrenceState:
    z: np.ndarray  # (J, batch·d·m): z_j at the last committed node
    recent: np.ndarray  # (order − 1, batch·d·m): G at the last order − 1 nodes, newest first
    base: np.ndarray | None = None  # e^{−λh} z + the part of the step from committed nodes (cached)


class ExponentialRecurrenceMemory:
    """I = Σ_j c_j z_j for K(τ) = Σ_j c_j e^{−λ_j τ} (a scalar function of the lag times the identity)."""

    def __init__(self, rates, coef, dt: float, order: int):
        self.rates = np.asarray(rates, dtype=complex)
        self.coef = np.asarray(coef, dtype=complex)
        if self.rates.shape != self.coef.shape or self.rates.ndim != 1:
            raise ValueError(f"rates and coef must be two (J,) arrays, got {self.rates.shape} and {self.coef.shape}")
        self.dt, self.order = dt, order
        self.decay = np.exp(-self.rates * dt)[:, None]
        self.w = exponential_weights(self.rates, dt, order)  # (J, order)

    def init(self, G_known: np.ndarray, I_known: np.ndarray) -> RecurrenceState:
        batch, n0, d, m = G_known.shape
        if n0 < self.order:
            raise ValueError(f"the recurrence needs {self.order} known nodes, got {n0}")
        self.shape = (batch, d, m)
        n = n0 - 1
        lag = self.dt * np.arange(n, -1, -1)  # t_n − t_i for i = 0..n
        w = self.dt * gregory_weights(n, self.order)[None, :] * np.exp(-np.outer(self.rates, lag))  # (J, n+1)
        flat = G_known.transpose(1, 0, 2, 3).reshape(n0, -1)
        return RecurrenceState(w @ flat, flat[n0 - self.order + 1 :][::-1].copy())

    def step(self, state: RecurrenceState, G_new: np.ndarray) -> tuple[np.ndarray, RecurrenceState]:
        # a predictor-corrector steps twice from one state: what the committed nodes give is computed once
        if state.base is None:
            state.base = self.decay * state.z + self.w[:, 1:] @ state.recent
        g = G_new.reshape(1, -1)
        z = state.base + self.w[:, :1] * g
        recent = np.concatenate([g, state.recent[:-1]])
        return (self.coef @ z).reshape(self.shape), RecurrenceState(z, recent)
