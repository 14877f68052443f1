"""The Lorenz system of paper 2, appendix C.2: sigma = 10, rho = 28, beta = 8/3.

The system is chaotic (largest Lyapunov exponent ≈ 0.906), so beyond t ≈ 25 no
tolerance pins down *the* trajectory from a given start.
"""

from __future__ import annotations

import numpy as np

SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0
LYAPUNOV_EXPONENT = 0.906  # largest, for the standard parameters above
INIT_LOW, INIT_HIGH = 0.0, 0.5  # the paper's initial states ~ U[0, 0.5]^3


def lorenz_rhs(X: np.ndarray, sigma: float = SIGMA, rho: float = RHO, beta: float = BETA) -> np.ndarray:
    x, y, z = X.T
    return np.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z], -1)
