"""Measured IDE trajectories: `dataset=from_file` with `dataset.problem` (the user's F), G without I.

A model learns the memory from G alone (`model.fit_on=trajectory`) on t <= dataset.t_window, and
`extrapolate` continues the file's trajectories and scores them on the rest of the file, with no
reference solve.
"""

import dataclasses
import json

import numpy as np
import pytest

from idelearn.config import compose, to_object
from idelearn.equations import lag_memories
from idelearn.errors import UserError
from idelearn.models.registry import MODELS
from idelearn.solvers import solve_ide

DT, WINDOW, END = 0.05, 10.0, 40.0
PROBLEM = "idelearn.equations.lag_memories:damped_cosine"  # returns (F, K, G0): only F is read


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """The damped-cosine memory (issue 19's case c) solved to t = 40, stored as G alone: (1, n_t, 1) curves."""
    F, K, G0 = lag_memories.damped_cosine()
    sol = solve_ide(F, K, G0, END, DT, order=8)
    folder = tmp_path_factory.mktemp("measured")
    np.savez(folder / "measured.npz", t=sol.t, G=sol.G[..., 0], params=np.zeros((1, 1)))
    n_window = int(round(WINDOW / DT)) + 1
    np.savez(folder / "window.npz", t=sol.t[:n_window], G=sol.G[:, :n_window, :, 0], params=np.zeros((1, 1)))
    return folder, sol


def from_file(path, **values):
    """dataset=from_file of `path` as its schema object (checked), the problem and window given unless replaced."""
    values = {"problem": PROBLEM, "t_window": WINDOW, **values}
    overrides = [f"dataset.path={path}", *(f"dataset.{k}={'null' if v is None else v}" for k, v in values.items())]
    return to_object(compose("generate", ["dataset=from_file", *overrides]).dataset)


def test_a_file_with_a_problem_is_ide_data_without_I(measured):
    folder, sol = measured
    data = from_file(folder / "measured.npz").generate()
    assert data.kind == "ide" and data.I is None
    assert data.G.shape == (1, 201, 1, 1) and data.G.dtype == complex and data.t[-1] == pytest.approx(WINDOW)
    np.testing.assert_array_equal(data.G, sol.G[:, :201])
    curves = from_file(folder / "measured.npz", problem=None, t_window=None).generate()
    assert curves.kind == "trajectory"  # without a problem the file is what it was: curves


@pytest.mark.parametrize("values,message", [
    ({"t_window": 50.0}, "beyond the file's last time"),
    ({"t_window": 0.01}, "fewer than 2 nodes"),
    ({"problem": "idelearn.equations.lag_memories:nothing"}, "has no function"),
    ({"kwargs": "{speed: 2.0}"}, "raised"),  # the function refuses an argument it does not take
])
def test_bad_measured_data_settings_are_one_line(measured, values, message):
    folder, _ = measured
    with pytest.raises(UserError, match=message):
        cfg = from_file(folder / "measured.npz", **values)
        cfg.streaming_term()(np.ones((1, 1, 1), complex), 0.0)
        cfg.generate()


def test_a_non_uniform_grid_and_a_failing_F_are_refused(measured, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the user's module file beside them
    folder, sol = measured
    t = sol.t.copy()
    t[5] += DT / 3
    np.savez(tmp_path / "uneven.npz", t=t, G=sol.G[..., 0], params=np.zeros((1, 1)))
    with pytest.raises(UserError, match="uniform time grid"):
        from_file(tmp_path / "uneven.npz").generate()
    (tmp_path / "bad_f.py").write_text("def streaming():\n    return lambda G, t: G @ G[:, :2]\n")
    cfg = from_file(folder / "measured.npz", problem="bad_f:streaming")
    with pytest.raises(UserError, match="F from bad_f:streaming failed"):
        cfg.streaming_term()(np.ones((1, 3, 1), complex), 0.0)


def test_models_that_fit_I_refuse_measured_data(idelearn, measured):
    folder, _ = measured
    data = [f"dataset.path={folder / 'measured.npz'}", f"dataset.problem={PROBLEM}", "dataset=from_file"]
    for model in ("lstm_operator", "memory_operator", "kernel_operator"):
        proc = idelearn("train", f"model={model}", *data)
        assert proc.returncode == 2 and "which the data do not hold" in proc.stderr, proc.stderr


@pytest.mark.parametrize("model", [["model=kernel_operator"], ["model=memory_operator", "model.kernel=auto"]])
def test_learned_from_G_alone_and_scored_on_the_rest_of_the_file(idelearn, measured, tmp_path, model):
    """Train on t <= 10 of the file, continue to its end (t = 40) with the user's F and the learned memory:
    the file beyond the window is the truth. Measured rel_l2: kernel_operator 2.3e-11, memory_operator (LegS,
    AB3, dt = 0.05: its floor) 2.0e-4, thresholds 2e-10 and 1e-3; with F conjugated in the fit both break."""
    folder, sol = measured
    train_dir = tmp_path / "train"
    idelearn("train", *model, "dataset=from_file", f"dataset.path={folder / 'measured.npz'}",
             f"dataset.problem={PROBLEM}", f"dataset.t_window={WINDOW}", "model.fit_on=trajectory", "model.order=8",
             f"hydra.run.dir={train_dir}", check=True)
    trained = json.loads((train_dir / "metrics.json").read_text())
    assert trained["kernel_choice"] == "exp J=2 P=0"
    idelearn("extrapolate", f"run={train_dir}", f"hydra.run.dir={tmp_path / 'pred'}", check=True)
    metrics = json.loads((tmp_path / "pred" / "metrics.json").read_text())
    assert metrics["t_known"] == pytest.approx(WINDOW) and metrics["t_truth"] == pytest.approx(END)
    limit = 2e-10 if model[0] == "model=kernel_operator" else 1e-3
    assert metrics["rel_l2"] < limit
    with np.load(tmp_path / "pred" / "prediction.npz") as f:
        np.testing.assert_array_equal(f["G_true"], sol.G)


def test_a_file_that_ends_with_the_window_is_forecast_not_scored(idelearn, measured, tmp_path):
    folder, _ = measured
    train_dir = tmp_path / "train"
    idelearn("train", "model=kernel_operator", "dataset=from_file", f"dataset.path={folder / 'window.npz'}",
             f"dataset.problem={PROBLEM}", "model.fit_on=trajectory", "model.order=8",
             f"hydra.run.dir={train_dir}", check=True)
    proc = idelearn("extrapolate", f"run={train_dir}", "t_final=20", f"hydra.run.dir={tmp_path / 'pred'}", check=True)
    metrics = json.loads((tmp_path / "pred" / "metrics.json").read_text())
    assert metrics["rel_l2"] is None and metrics["t_truth"] == pytest.approx(WINDOW)
    assert "not scored" in proc.stdout + proc.stderr
    with np.load(tmp_path / "pred" / "prediction.npz") as f:
        assert f["G_pred"].shape[1] == 401 and np.isfinite(f["G_pred"]).all()
    # other trajectories of the same IDE: the longer file is the truth; a different grid or parameters are refused
    idelearn("extrapolate", f"run={train_dir}", f"dataset.path={folder / 'measured.npz'}",
             f"hydra.run.dir={tmp_path / 'pred2'}", check=True)
    # measured 2.3e-11, as for the model trained on the longer file (threshold 2e-10)
    assert json.loads((tmp_path / "pred2" / "metrics.json").read_text())["rel_l2"] < 2e-10
    proc = idelearn("extrapolate", f"run={train_dir}", "dataset.kwargs={omega: 2.0}")
    assert proc.returncode == 2 and "measured trajectories" in proc.stderr


def test_extrapolating_a_file_on_another_grid_is_refused(measured, tmp_path):
    from idelearn.pipeline import extrapolate_measured

    folder, sol = measured
    np.savez(tmp_path / "coarse.npz", t=sol.t[::2], G=sol.G[:, ::2, :, 0], params=np.zeros((1, 1)))
    trained = {"t_final": WINDOW, "dt": DT, "shape": [1, 1], "path": str(folder / "measured.npz"),
               "config": dataclasses.asdict(from_file(folder / "measured.npz"))}
    with pytest.raises(UserError, match="time step 0.1, but the model was trained on step 0.05"):
        extrapolate_measured(None, trained, str(tmp_path / "coarse.npz"), None, None)


def test_generate_writes_measured_data_and_its_figure(idelearn, measured, tmp_path):
    folder, sol = measured
    idelearn("generate", "dataset=from_file", f"dataset.path={folder / 'measured.npz'}", f"dataset.problem={PROBLEM}",
             f"dataset.t_window={WINDOW}", f"hydra.run.dir={tmp_path / 'gen'}", check=True)
    assert (tmp_path / "gen" / "dataset.png").exists()
    with np.load(tmp_path / "gen" / "dataset.npz") as f:
        assert "I" not in f.files
        np.testing.assert_array_equal(f["G"], sol.G[:, :201])


def test_what_a_measured_file_cannot_do_is_one_line(idelearn, measured, tmp_path):
    """An .npy (no times), a saved measured dataset without its F, another F or window at extrapolation,
    a model that needs the window's I on a file without it, the structured memory on non-square G."""
    folder, sol = measured
    np.save(tmp_path / "curves.npy", sol.G[..., 0].real)
    with pytest.raises(UserError, match="an .npy array stores no t"):
        from_file(tmp_path / "curves.npy")
    idelearn("generate", "dataset=from_file", f"dataset.path={folder / 'measured.npz'}", f"dataset.problem={PROBLEM}",
             f"hydra.run.dir={tmp_path / 'gen'}", check=True)
    with pytest.raises(UserError, match="IDE trajectories without I: give dataset.problem"):
        from_file(tmp_path / "gen" / "dataset.npz", problem=None, t_window=None).generate()

    np.savez(tmp_path / "with_I.npz", t=sol.t, G=sol.G, I=sol.I, params=np.zeros((1, 1)))
    lstm = [f"model.{k}={v}" for k, v in MODELS["lstm_operator"].tiny.items()]
    idelearn("train", "model=lstm_operator", *lstm, "dataset=from_file", f"dataset.path={tmp_path / 'with_I.npz'}",
             f"dataset.problem={PROBLEM}", f"dataset.t_window={WINDOW}", f"hydra.run.dir={tmp_path / 'lstm'}",
             check=True)
    proc = idelearn("extrapolate", f"run={tmp_path / 'lstm'}", f"dataset.path={folder / 'measured.npz'}")
    assert proc.returncode == 2 and "holds no I, which lstm_operator needs" in proc.stderr, proc.stderr
    proc = idelearn("extrapolate", f"run={tmp_path / 'lstm'}", "dataset=from_file",
                    f"dataset.path={folder / 'measured.npz'}", f"dataset.problem={PROBLEM}")
    assert proc.returncode == 2 and "give only dataset.path" in proc.stderr, proc.stderr

    G2 = np.concatenate([sol.G, 2 * sol.G], axis=2)[..., 0]  # (1, n_t, 2): a 2-vector, G is 2x1
    np.savez(tmp_path / "vector.npz", t=sol.t, G=G2, params=np.zeros((1, 1)))
    proc = idelearn("train", "model=memory_operator", "model.kernel=auto", "model.fit_on=trajectory", "model.order=8",
                    "dataset=from_file", f"dataset.path={tmp_path / 'vector.npz'}", f"dataset.problem={PROBLEM}")
    assert proc.returncode == 2 and "needs square G" in proc.stderr, proc.stderr
