import numpy as np
import pytest
from scipy.stats import linregress

from idelearn.report.metrics import mae_per_time, max_abs, r2, r2_paper, rel_l2, valid_prediction_time

# Measured: every pytest.approx below holds to 2.7e-15 or exactly (its default tolerance: 1e-6 relative).
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


# --- valid prediction time ---------------------------------------------------

LAMBDA = 0.906


def growing_error(eps, t, n_curves=1):
    """True state a unit vector (so the normaliser is 1); the error grows like eps e^{λ t}."""
    true = np.zeros((n_curves, len(t), 3))
    true[..., 0] = 1.0
    pred = true.copy()
    pred[..., 1] = eps * np.exp(LAMBDA * t)
    return pred, true


@pytest.mark.parametrize("eps", [1e-3, 1e-6])
def test_valid_prediction_time_of_exponential_growth(eps):
    # e(t) = eps e^{λt} crosses 0.4 at λ t* = ln(0.4 / eps): the answer in Lyapunov times
    # does not depend on λ. The first node past t* is at most one grid step later.
    t = np.linspace(0.0, 20.0, 20001)
    pred, true = growing_error(eps, t)
    vpt = valid_prediction_time(pred, true, t, threshold=0.4, lyapunov_exponent=LAMBDA)
    assert vpt.shape == (1,)
    expected = np.log(0.4 / eps)
    assert expected <= vpt[0] <= expected + LAMBDA * (t[1] - t[0])


def test_valid_prediction_time_is_measured_from_the_first_predicted_time():
    t = np.linspace(0.0, 20.0, 2001)
    pred, true = growing_error(1e-3, t)
    shifted = valid_prediction_time(pred, true, t + 50.0, lyapunov_exponent=LAMBDA)
    assert shifted == pytest.approx(valid_prediction_time(pred, true, t, lyapunov_exponent=LAMBDA))


def test_valid_prediction_time_normalises_by_the_rms_of_the_true_curve():
    # Scaling both curves scales the error and its normaliser alike.
    t = np.linspace(0.0, 20.0, 2001)
    pred, true = growing_error(1e-3, t)
    assert valid_prediction_time(30 * pred, 30 * true, t) == pytest.approx(valid_prediction_time(pred, true, t))


def test_valid_prediction_time_edges():
    t = np.linspace(2.0, 12.0, 11)
    pred, true = growing_error(0.0, t, n_curves=3)
    pred[1, 0, 1] = 0.5  # wrong at the first node (e = 0.5 > 0.4)
    pred[2, 4:, 1] = np.nan  # blown up from the fifth node
    vpt = valid_prediction_time(pred, true, t, threshold=0.4, lyapunov_exponent=0.5)
    # curve 0 never fails: the whole span (12 - 2) * 0.5; curve 1: 0; curve 2: (6 - 2) * 0.5
    np.testing.assert_allclose(vpt, [5.0, 0.0, 2.0])
