"""Adams multistep stepper for dG/dt = F(G, t) + I(t), with I from a memory operator.

The same loop serves the exact reference (Gregory memory, AB(p)+AM(p)), the
learned-kernel operator (Gregory memory with K_θ) and the generic path of the
learned memories (the paper's LSTM, the structured LegS memory): only the memory
operator differs. `extrapolate` runs those two through a second, fused loop
(models/fused_stepper.py) that repeats this one's AB(k) arithmetic for speed;
tests/models/test_fused_stepper.py keeps the two equal step for step.
"""

from __future__ import annotations

import numpy as np

from .quadrature import adams_bashforth, adams_moulton


class BlowUpError(RuntimeError):
    """The solution became non-finite or exceeded the allowed magnitude."""

    def __init__(self, message: str, n_reached: int):
        super().__init__(message)
        self.n_reached = n_reached


def nodes_before_blow_up(G: np.ndarray, max_abs: float) -> int:
    """How many leading nodes of G (batch, n_t, ...) have every |G| <= max_abs and finite."""
    size = np.abs(G).reshape(G.shape[0], G.shape[1], -1).max(axis=(0, 2), initial=0.0)
    bad = ~(np.isfinite(size) & (size <= max_abs))
    return int(np.argmax(bad)) if bad.any() else G.shape[1]


def blow_up(G: np.ndarray, I: np.ndarray, dt: float, max_abs: float) -> BlowUpError:
    """A BlowUpError carrying the solution up to the last node where every |G| <= max_abs and is finite
    (no node at all when the first one, the initial value, is already beyond)."""
    n_good = nodes_before_blow_up(G, max_abs)
    where = "at t = 0 (its initial value)" if n_good == 0 else f"after t = {(n_good - 1) * dt:.6g}"
    err = BlowUpError(f"the solution blew up (|G| > {max_abs:g} or not finite) {where}", n_good)
    err.G, err.I = G[:, :n_good], I[:, :n_good]
    return err


def check_nodes(G: np.ndarray, I: np.ndarray, dt: float, max_abs: float) -> None:
    """Raise blow_up(...) unless every node of G (batch, n, ...) is finite with |G| <= max_abs."""
    if nodes_before_blow_up(G, max_abs) < G.shape[1]:
        raise blow_up(G, I, dt, max_abs)


def adams_integrate(F, memory, G_known: np.ndarray, I_known: np.ndarray, dt: float,
                    n_total: int, order: int = 3, corrector: bool = False,
                    progress=None, max_abs: float = np.inf):
    """Advance from the known nodes (batch, n0, d, m) to n_total nodes.

    AB(order) predicts; with `corrector`, AM(order) corrects once (PECE). The
    known history must hold at least `order` nodes. Returns G, I of shape
    (batch, n_total, d, m). `progress(n)` is called every few hundred steps.
    Raises BlowUpError (partial arrays attached as .G, .I) when |G| exceeds
    `max_abs` or stops being finite.
    """
    batch, n0, d, m = G_known.shape
    if n0 < order:
        raise ValueError(f"AB{order} needs {order} known nodes, got {n0}")
    check_nodes(G_known, I_known, dt, max_abs)  # a start already beyond: no step is taken
    G = np.zeros((batch, n_total, d, m), dtype=complex)
    I = np.zeros_like(G)
    G[:, :n0], I[:, :n0] = G_known, I_known
    state = memory.init(G_known, I_known)
    # Derivatives g_k = F(G_k, t_k) + I_k of the last `order` nodes in a ring buffer (slot k % order),
    # so that a step allocates nothing for them and the predictor and the corrector's known part are
    # one small matrix product: rows of `coef[newest slot]` are dt·β rolled to the ring's order.
    ring = np.empty((order, batch * d * m), dtype=complex)
    for k in range(n0 - order, n0):
        ring[k % order] = (F(G[:, k], k * dt) + I[:, k]).reshape(-1)
    ab, am = adams_bashforth(order), np.append(adams_moulton(order)[1:], 0.0)
    coef = np.zeros((order, 2, order), dtype=complex)
    for newest in range(order):
        lag_slot = (newest - np.arange(order)) % order  # slot of g_{n-1-k}
        coef[newest, 0, lag_slot], coef[newest, 1, lag_slot] = dt * ab, dt * am
    h_am0 = dt * adams_moulton(order)[0]
    shape = (batch, d, m)
    G_prev = G[:, n0 - 1].copy()
    for n in range(n0, n_total):
        t_new = n * dt
        known = coef[(n - 1) % order] @ ring
        known += G_prev.reshape(-1)
        G_new = known[0].reshape(shape)
        I_new, new_state = memory.step(state, G_new)
        if corrector:
            G_new = known[1].reshape(shape) + h_am0 * (F(G_new, t_new) + I_new)
            I_new, new_state = memory.step(state, G_new)
        state = new_state
        np.add(F(G_new, t_new), I_new, out=ring[n % order].reshape(shape))
        G[:, n], I[:, n] = G_new, I_new
        G_prev = G_new
        if n % 256 == 0 or n == n_total - 1:  # checked in blocks: a per-step check costs more than it saves
            size = np.max(np.abs(G_new))
            if not np.isfinite(size) or size > max_abs:
                raise blow_up(G[:, : n + 1], I[:, : n + 1], dt, max_abs)
            if progress is not None:
                progress(n + 1)
    return G, I
