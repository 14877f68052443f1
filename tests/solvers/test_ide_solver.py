"""The reference IDE solver against exact solutions, and its observed convergence order."""

import numpy as np
import pytest

from idelearn.equations.matrix_ide import matrix_ide_problem, paper_training_grid
from idelearn.solvers import solve_ide
from tests.analytic import H_2X2, dyson, dyson_error, idesolver_complex, idesolver_vector


@pytest.mark.parametrize("H", [[[-1.0]], H_2X2], ids=["scalar", "hermitian_2x2"])
def test_dyson_long_horizon_at_coarse_step(H):
    p = dyson(H)
    sol = solve_ide(p.F, p.K, p.G0, t_final=160.0, dt=0.05, order=8)
    assert dyson_error(sol, H, 1.0) <= 1e-8


@pytest.mark.parametrize("H", [[[-1.0]], H_2X2], ids=["scalar", "hermitian_2x2"])
def test_dyson_fine_step_short_horizon(H):
    p = dyson(H)
    sol = solve_ide(p.F, p.K, p.G0, t_final=20.0, dt=0.01, order=6)
    assert dyson_error(sol, H, 1.0) <= 1e-10


@pytest.mark.slow
@pytest.mark.parametrize("H", [[[-1.0]], H_2X2], ids=["scalar", "hermitian_2x2"])
def test_dyson_fine_step_long_horizon(H):
    p = dyson(H)
    sol = solve_ide(p.F, p.K, p.G0, t_final=160.0, dt=0.01, order=6)
    assert dyson_error(sol, H, 1.0) <= 1e-10


@pytest.mark.parametrize("order", [4, 6, 8])
def test_observed_convergence_order(order):
    """Measured slopes 4.02, 6.05, 8.11 (3.01-8.11 for p = 3..8): within 0.3 of p, so order p-1 fails."""
    H = [[-1.0]]
    p = dyson(H)
    steps = np.array([0.1, 0.05, 0.025])
    errors = [dyson_error(solve_ide(p.F, p.K, p.G0, t_final=10.0, dt=dt, order=order), H, 1.0) for dt in steps]
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert abs(slope - order) <= 0.3, (slope, errors)


def test_fe_simpson_is_first_order():
    """The paper's baseline must show its expected first-order error, not worse (a strawman) or better."""
    H = [[-1.0]]
    p = dyson(H)
    steps = np.array([0.04, 0.02, 0.01])
    errors = [dyson_error(solve_ide(p.F, p.K, p.G0, 10.0, dt, method="fe_simpson"), H, 1.0) for dt in steps]
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert 0.8 <= slope <= 1.2, (slope, errors)
    assert errors[-1] < 0.02


def test_idesolver_complex_scalar_problem():
    F, K, y0, x_final, exact = idesolver_complex()
    sol = solve_ide(F, K, y0, x_final, 0.001, order=8)
    assert np.max(np.abs(sol.G[0, :, 0, 0] - exact(sol.t))) <= 1e-8


def test_idesolver_vector_problem():
    F, K, y0, x_final, exact = idesolver_vector()
    sol = solve_ide(F, K, y0, x_final, 0.01, order=8)
    assert np.max(np.abs(sol.G[0, :, :, 0] - exact(sol.t))) <= 1e-8


def test_batched_solve_equals_one_by_one():
    grid = paper_training_grid([3, 17], [2], 1.0)
    together = matrix_ide_problem(*grid.T)
    sol = solve_ide(together.F, together.K, together.G0, 3.0, 0.01, order=6)
    for k, row in enumerate(grid):
        one = matrix_ide_problem(*row)
        single = solve_ide(one.F, one.K, one.G0, 3.0, 0.01, order=6)
        np.testing.assert_allclose(sol.G[k], single.G[0], rtol=0, atol=1e-13)


@pytest.mark.parametrize("grid, bound", [  # measured max |G|: 1.482 (corners), 1.657 (whole grid)
    pytest.param(paper_training_grid([1, 7, 13, 20], [1, 5]), 1.5, id="grid_corners"),
    pytest.param(paper_training_grid(), 1.7, id="whole_grid", marks=pytest.mark.slow),
])
def test_matrix_ide_bounded_on_the_paper_training_grid(grid, bound):
    p = matrix_ide_problem(*grid.T)
    sol = solve_ide(p.F, p.K, p.G0, t_final=20.0, dt=0.02, order=6)
    assert np.isfinite(sol.G).all()
    assert np.abs(sol.G).max() < bound


@pytest.mark.slow
def test_matrix_ide_paper_test_cases_bounded_and_converged():
    """Figure 7's (45, 45, 5, 1) and figure 6b's (45, 35, 5, 14) to t = 120: max |G| 1.045 and 1.274."""
    p = matrix_ide_problem([45, 45], [45, 35], [5, 5], [1, 14])
    coarse = solve_ide(p.F, p.K, p.G0, t_final=120.0, dt=0.01, order=8)
    fine = solve_ide(p.F, p.K, p.G0, t_final=120.0, dt=0.005, order=8)
    np.testing.assert_array_less(np.abs(coarse.G).max(axis=(1, 2, 3)), [1.06, 1.29])
    assert np.abs(coarse.G[:, -1] - fine.G[:, -1]).max() <= 1e-7


def test_printed_sign_diverges():
    """docs/design.md: as printed (memory sign +1) the paper's equation blows up before t = 5."""
    from idelearn.solvers.multistep import BlowUpError

    p = matrix_ide_problem(10, 15, 2, 1, memory_sign=+1.0)
    with pytest.raises(BlowUpError), np.errstate(all="ignore"):  # overflow on the way up is the point
        solve_ide(p.F, p.K, p.G0, t_final=5.0, dt=0.01, order=6, max_abs=1e3)
