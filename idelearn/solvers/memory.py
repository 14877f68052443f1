"""Memory operators: turn the history of G into I(t_n) one step at a time.

    dG/dt = F(G, t) + I(t),     I(t) = ∫_0^t K(G(t-s), t-s) G(s) ds

A memory operator has explicit state (diffrax style):

    state = op.init(G_known, I_known)      # history G_0..G_{n0-1}, I_0..I_{n0-1}
    I_new, state = op.step(state, G_new)   # I at the next node, given G there

`step` is called twice per time step by a predictor-corrector (once with the
predicted G, once with the corrected G); only the state returned by the last
call is kept. Implementations may therefore overwrite "the next slot" in
preallocated buffers: a discarded state is never used again.

Arrays are numpy, shaped (batch, d, m) per node (complex128 for IDEs).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class MemoryOperator(Protocol):
    def init(self, G_known: np.ndarray, I_known: np.ndarray) -> Any:
        """Start from a known history (batch, n0, d, m) of G and of I."""

    def step(self, state: Any, G_new: np.ndarray) -> tuple[np.ndarray, Any]:
        """Return I at the next node given G there (batch, d, m), and the new state."""
