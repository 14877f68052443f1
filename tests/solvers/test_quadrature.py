import numpy as np
import pytest

from idelearn.solvers.quadrature import adams_bashforth, adams_moulton, gregory_weights

# Measured: exact arithmetic up to round-off (sums within 1.8e-15 of 1, polynomial integrals within 3.6e-16
# relative, the order-3 weights equal); the next degree misses by >= 4.8e-8 (threshold 1e-10).


def test_adams_coefficients_match_the_textbook():
    np.testing.assert_allclose(adams_bashforth(3), [23 / 12, -16 / 12, 5 / 12])
    np.testing.assert_allclose(adams_moulton(3), [5 / 12, 8 / 12, -1 / 12])
    for p in range(1, 9):  # consistency: each rule integrates a constant exactly
        assert adams_bashforth(p).sum() == pytest.approx(1.0)
        assert adams_moulton(p).sum() == pytest.approx(1.0)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5, 6, 7, 8])
def test_gregory_rule_is_exact_for_polynomials_below_its_order(order):
    """Exact for degree < p, and for degree p when p is odd (the two ends' symmetry); not beyond."""
    top = order if order % 2 else order - 1
    for n in [order - 1, order, 2 * order + 1, 40]:
        w = gregory_weights(n, order)
        x = np.arange(n + 1.0)
        for k in range(top + 1):
            assert w @ x**k == pytest.approx(n ** (k + 1) / (k + 1), rel=1e-12, abs=1e-12)
        if n == 2 * order + 1:  # ends apart, few nodes: the next degree is measurably not exact
            u = x / n
            assert abs(w @ u ** (top + 1) / n * (top + 2) - 1) > 1e-10


def test_gregory_order3_weights_are_the_classical_ones():
    np.testing.assert_allclose(gregory_weights(10, 3)[:4], [3 / 8, 7 / 6, 23 / 24, 1.0], rtol=1e-15)


def test_gregory_rule_rejects_too_short_intervals():
    with pytest.raises(ValueError):
        gregory_weights(2, 6)
