"""Adams multistep stepper for dG/dt = F(G, t) + I(t), with I from a memory operator.

The same loop serves the exact reference (Gregory memory, AB(p)+AM(p)) and the
learned surrogate (LSTM memory, AB3): only the memory operator differs, so
timings and accuracies compare like with like.
"""

from __future__ import annotations

import numpy as np

from .quadrature import adams_bashforth, adams_moulton


class BlowUpError(RuntimeError):
    """The solution became non-finite or exceeded the allowed magnitude."""

    def __init__(self, message: str, n_reached: int):
        super().__init__(message)
        self.n_reached = n_reached


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
    ab, am = adams_bashforth(order), adams_moulton(order)
    G = np.zeros((batch, n_total, d, m), dtype=complex)
    I = np.zeros_like(G)
    G[:, :n0], I[:, :n0] = G_known, I_known
    state = memory.init(G_known, I_known)
    # g_k = dG/dt at node k, newest first, for the last `order` nodes
    recent = [F(G[:, k], k * dt) + I[:, k] for k in range(n0 - order, n0)][::-1]
    for n in range(n0, n_total):
        t_new = n * dt
        G_new = G[:, n - 1] + dt * sum(b * g for b, g in zip(ab, recent))
        I_new, new_state = memory.step(state, G_new)
        if corrector:
            g_pred = F(G_new, t_new) + I_new
            G_new = G[:, n - 1] + dt * (am[0] * g_pred + sum(b * g for b, g in zip(am[1:], recent)))
            I_new, new_state = memory.step(state, G_new)
        state = new_state
        G[:, n], I[:, n] = G_new, I_new
        recent = [F(G_new, t_new) + I_new] + recent[:-1]
        if n % 256 == 0 or n == n_total - 1:
            size = np.max(np.abs(G_new))
            if not np.isfinite(size) or size > max_abs:
                err = BlowUpError(f"solution blew up (max |G| = {size:.3g}) at t = {t_new:.6g}", n)
                err.G, err.I = G[:, :n], I[:, :n]
                raise err
            if progress is not None:
                progress(n + 1)
    return G, I
