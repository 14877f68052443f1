"""DMD (PyDMD) on one trajectory: the rank asked for is the rank fitted."""

import numpy as np
import pytest

from idelearn.models.dmd import fit_dmd


@pytest.mark.parametrize("rank", [2.0, 3.0])
def test_a_whole_rank_given_as_a_float_is_the_number_of_modes(rank):
    """Configs hold svd_rank as a float; PyDMD reads a rank only from an int (a float ≥ 1 it ignored)."""
    t = np.linspace(0, 10, 201)
    G = np.stack([np.exp(1j * w * t) for w in (1.0, 2.3, 3.7, 0.4)], axis=1)  # four modes
    fit = fit_dmd(G, "exact", rank, delay=1)
    assert fit.modes.shape[1] == int(rank)
