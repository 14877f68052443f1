"""An IDE problem: dG/dt = F(G, t) + ∫_0^t K(G(t-s), t-s) G(s) ds, G(0) = G0 (batched)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class IDEProblem:
    F: Callable[[np.ndarray, float], np.ndarray]
    K: Callable[[np.ndarray, float], np.ndarray]
    G0: np.ndarray  # (batch, d, m) complex
