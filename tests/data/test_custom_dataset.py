"""dataset=custom: a user's own IDE, defined in their code, through generate, train and extrapolate."""

import json

import numpy as np
import pytest

from idelearn.models.registry import MODELS
from idelearn.solvers import solve_ide
from tests.configs import models_for

USER_MODULE = '''
import numpy as np
from idelearn.equations.problem import IDEProblem


def damped(omega=1.0, strength=0.5):
    """y' = -i omega y - strength ∫ e^{-tau} y(s) ds, y(0) = 1 (a 1x1 IDE)."""
    return (lambda G, t: -1j * omega * G, lambda G, tau: -strength * np.exp(-tau), np.array([1.0 + 0j]))


def as_problem():
    return IDEProblem(F=lambda G, t: -G, K=lambda G, tau: 0.1 * G, G0=np.eye(2, dtype=complex))


def not_a_problem():
    return 42


def gelmi4():
    """The general form (idesolver's): y' = c + ∫_x^√x x s y(s) ds -> y = e^-x."""
    return dict(y_0=1.0, c=lambda x, y: x * (1 + np.sqrt(x)) * np.exp(-np.sqrt(x)) - (x**2 + x + 1) * np.exp(-x),
                k=lambda x, s: x * s, f=lambda y: y, lower_bound=lambda x: x, upper_bound=lambda x: np.sqrt(x))


def no_solution(y_0=0.5):
    """y' = ∫_0^1 y(s)² ds (Fredholm over the whole grid) has no real solution for y_0 = 0.5."""
    return dict(y_0=y_0, f=lambda y: y**2)
'''


@pytest.fixture
def user_dir(tmp_path):
    (tmp_path / "user_ide.py").write_text(USER_MODULE)
    return tmp_path


def test_generate_solves_the_users_equation(idelearn, user_dir):
    idelearn("generate", "dataset=custom", "dataset.problem=user_ide:damped", "dataset.kwargs={omega: 2.0}",
             "dataset.t_final=2", "hydra.run.dir=gen", check=True)
    with np.load(user_dir / "gen" / "dataset.npz", allow_pickle=False) as f:
        G, params = f["G"], f["params"]
    meta = json.loads((user_dir / "gen" / "dataset.json").read_text())
    sol = solve_ide(lambda G, t: -2j * G, lambda G, tau: -0.5 * np.exp(-tau), [1.0], 2.0, 0.01, order=8)
    np.testing.assert_allclose(G, sol.G, rtol=0, atol=1e-14)  # the same computation: measured equal
    assert params.tolist() == [[2.0]] and meta["param_names"] == ["omega"] and meta["kwargs"] == {"omega": 2.0}


@pytest.mark.parametrize("model", models_for("ide"))
def test_train_and_extrapolate_every_ide_model(idelearn, user_dir, model):
    extra = [f"model.{k}={v}" for k, v in MODELS[model].tiny.items()]
    idelearn("train", f"model={model}", "dataset=custom", "dataset.problem=user_ide:damped", "dataset.t_final=1",
             *extra, "trainer.cache_dir=cache", "hydra.run.dir=train", check=True)
    idelearn("extrapolate", "run=train", "t_final=1.5", "dataset.kwargs={omega: 1.5}", "hydra.run.dir=pred",
             check=True)
    metrics = json.loads((user_dir / "pred" / "metrics.json").read_text())
    with np.load(user_dir / "pred" / "prediction.npz", allow_pickle=False) as f:
        G_true, params = f["G_true"], f["params"]
    sol = solve_ide(lambda G, t: -1.5j * G, lambda G, tau: -0.5 * np.exp(-tau), [1.0], 1.5, 0.01, order=8)
    np.testing.assert_allclose(G_true, sol.G, rtol=0, atol=1e-14)  # the changed kwargs reached the reference (equal)
    assert params.tolist() == [[1.5]] and np.isfinite(metrics["rel_l2"])


@pytest.mark.parametrize("path, fragment", [("nowhere:damped", "cannot import 'nowhere'"),
                                            ("user_ide:missing", "no function 'missing'"),
                                            ("user_ide", "expected module:function"),
                                            ("user_ide:not_a_problem", "returned int")])
def test_a_wrong_problem_is_one_line_and_exit_2(idelearn, user_dir, path, fragment):
    proc = idelearn("generate", "dataset=custom", f"dataset.problem={path}", "hydra.run.dir=gen")
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "dataset.problem" in lines[0] and fragment in lines[0], lines
    assert not (user_dir / "gen" / "dataset.npz").exists()


def test_an_ide_problem_object_works_too(idelearn, user_dir):
    idelearn("generate", "dataset=custom", "dataset.problem=user_ide:as_problem", "dataset.t_final=0.5",
             "hydra.run.dir=gen", check=True)
    with np.load(user_dir / "gen" / "dataset.npz", allow_pickle=False) as f:
        assert f["G"].shape == (1, 51, 2, 2) and f["params"].shape == (1, 0)


def test_generate_solves_a_general_form_problem(idelearn, user_dir):
    """dataset=custom with idesolver's form: solve_general_ide on the dataset's grid, G (1, n_t, 1, 1) and I."""
    idelearn("generate", "dataset=custom", "dataset.problem=user_ide:gelmi4", "dataset.t_final=1", "dataset.dt=0.01",
             "hydra.run.dir=gen", check=True)
    with np.load(user_dir / "gen" / "dataset.npz", allow_pickle=False) as f:
        t, G, I = f["t"], f["G"], f["I"]
    meta = json.loads((user_dir / "gen" / "dataset.json").read_text())
    assert G.shape == I.shape == (1, 101, 1, 1) and meta["form"] == "general"
    assert np.max(np.abs(G[0, :, 0, 0] - np.exp(-t))) <= 1e-13  # measured 2e-16
    exact_I = t * ((1 + t) * np.exp(-t) - (1 + np.sqrt(t)) * np.exp(-np.sqrt(t)))
    assert np.max(np.abs(I[0, :, 0, 0] - exact_I)) <= 1e-12  # measured 3e-16


@pytest.mark.parametrize("args, fragment", [
    (["train", "model=lstm_operator", "dataset.problem=user_ide:gelmi4"], "needs IDE data of the convolution form"),
    (["train", "model=kernel_operator", "dataset.problem=user_ide:gelmi4"], "needs IDE data of the convolution form"),
    (["generate", "dataset.problem=user_ide:no_solution"], "global system"),
])
def test_general_form_refusals_are_one_line_and_exit_2(idelearn, user_dir, args, fragment):
    proc = idelearn(*args[:-1], "dataset=custom", args[-1], "dataset.t_final=1", "hydra.run.dir=out")
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and fragment in lines[0], lines
