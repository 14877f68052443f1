"""DMD extrapolation of one trajectory from its known window (paper 1 §3, comparison 3).

PyDMD does the decomposition; this module only shapes the snapshots. Exact DMD
on the d*m entries of G has at most d*m modes (one for the scalar Dyson
equation), so the time-delay (Hankel) variant is the useful one: it stacks
`delay` consecutive snapshots, giving room for many modes.
"""

from __future__ import annotations

import warnings

import numpy as np

VARIANTS = ("exact", "hankel")


def dmd_extrapolate(G_known: np.ndarray, n_total: int, variant: str = "hankel", svd_rank: float = 0,
                    delay: int = 100) -> np.ndarray:
    """Fit DMD on G_known (n_known, ...) and return the reconstruction on n_total nodes.

    svd_rank follows PyDMD: 0 = optimal hard threshold, an int = that rank,
    a float in (0, 1) = the energy fraction kept.
    """
    from pydmd import DMD, HankelDMD

    if variant not in VARIANTS:
        raise ValueError(f"DMD variant must be one of {VARIANTS}, got {variant!r}")
    n_known = G_known.shape[0]
    snapshots = G_known.reshape(n_known, -1).T  # (features, time), as PyDMD expects
    if variant == "exact":
        dmd = DMD(svd_rank=svd_rank)
    else:
        dmd = HankelDMD(svd_rank=svd_rank, d=min(delay, n_known // 2))
    with warnings.catch_warnings():  # PyDMD warns about complex casts and rank truncation
        warnings.simplefilter("ignore")
        dmd.fit(snapshots)
        dmd.dmd_time["tend"] = n_total - 1
        recon = np.asarray(dmd.reconstructed_data)
    return recon.T.reshape((n_total,) + G_known.shape[1:])
