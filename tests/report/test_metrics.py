import numpy as np
import pytest
from scipy.stats import linregress

from idelearn.report.metrics import mae_per_time, max_abs, r2, r2_paper, rel_l2

# One curve, 3 times, 2 coordinates, worked by hand:
# coordinate 0: true 1,2,3 (mean 2, ss_tot 2), pred 1,2,4 -> ss_res 1 -> R² 0.5
# coordinate 1: true 0,2,4 (mean 2, ss_tot 8), pred 0,2,2 -> ss_res 4 -> R² 0.5
TRUE = np.array([[1.0, 0.0], [2.0, 2.0], [3.0, 4.0]])
PRED = np.array([[1.0, 0.0], [2.0, 2.0], [4.0, 2.0]])


def test_rel_l2_and_max_abs_by_hand():
    # ‖(0,0,0,0,1,-2)‖ = √5, ‖true‖ = √34
    assert rel_l2(PRED, TRUE) == pytest.approx(np.sqrt(5 / 34))
    assert max_abs(PRED, TRUE) == 2.0


def test_rel_l2_and_max_abs_complex():
    true = np.array([1 + 1j, 2 - 1j])
    pred = np.array([1 + 2j, 2 - 1j])
    assert rel_l2(pred, true) == pytest.approx(1 / np.sqrt(7))
    assert max_abs(pred, true) == pytest.approx(1.0)


def test_r2_by_hand_and_sklearn():
    assert r2(PRED, TRUE) == pytest.approx(0.5)
    sk = pytest.importorskip("sklearn.metrics")
    assert r2(PRED, TRUE) == pytest.approx(sk.r2_score(TRUE, PRED))


def test_r2_averages_over_curves():
    true = np.stack([TRUE, TRUE])
    pred = np.stack([PRED, TRUE])  # second curve perfect
    assert r2(pred, true) == pytest.approx(0.75)


def test_r2_paper_is_squared_pearson():
    # Pearson of flattened true (1,0,2,2,3,4) and pred (1,0,2,2,4,2), by linregress.
    expected = linregress(TRUE.ravel(), PRED.ravel()).rvalue ** 2
    assert r2_paper(PRED, TRUE) == pytest.approx(expected)
    # Scale and offset errors are invisible to it, unlike r2.
    assert r2_paper(3 * TRUE + 1, TRUE) == pytest.approx(1.0)
    assert r2(3 * TRUE + 1, TRUE) < 0


def test_mae_per_time_by_hand():
    true = np.stack([TRUE, TRUE])
    pred = np.stack([PRED, TRUE])
    # time 2: |4-3|, |2-4| on curve 0, zero on curve 1 -> mean of (1,2,0,0) = 0.75
    np.testing.assert_allclose(mae_per_time(pred, true), [0.0, 0.0, 0.75])
