"""Every crash or wrong exit the property tests (test_fuzz.py) and the hostile-value sweep of issue 13
found, as the exact command, with what it must do now. Before the fixes each of these ended with a
traceback (exit 1: the exception is named in its id), ran without end, exited 0 having done nothing or
with NaN data, or named a key other than the one given.

In-process like test_bad_input.py; the judge is the fuzz tests' (tests/cli/hostile.py): exit code,
one line naming the key, nothing written (exit 2) or only results marked partial (exit 1).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from idelearn.data.io import load_dataset

from . import hostile as H


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny train runs: lstm_operator on dyson (t <= 0.2) in ide/, nie on 4 curves in curves/."""
    d = tmp_path_factory.mktemp("regress")
    np.save(d / "curves.npy", np.random.default_rng(0).normal(size=(4, 12, 2)))
    with H.threads_kept():
        assert H.invoke(["train", "model=lstm_operator", "dataset=dyson", "dataset.t_final=0.2",
                         *H.shrink("model", "lstm_operator"), f"trainer.cache_dir={d / 'cache'}", "device.threads=1",
                         f"hydra.run.dir={d / 'ide'}"]) == 0
        assert H.invoke(["train", "model=nie", "dataset=from_file", f"dataset.path={d / 'curves.npy'}",
                         *H.shrink("model", "nie"), f"trainer.cache_dir={d / 'cache'}", "device.threads=1",
                         f"hydra.run.dir={d / 'curves'}"]) == 0
    return d


def run(args, tmp_path, capsys, key, expect):
    """idelearn <args> in tmp_path: the exit code `expect`, judged as the fuzz tests judge every run."""
    run_dir = tmp_path / "run"
    capsys.readouterr()
    shown: list[str] = []
    with H.threads_kept():
        code = H.invoke([*args, f"hydra.run.dir={run_dir}"], shown)
    out, err = capsys.readouterr()
    err = "".join(f"{w}\n" for w in shown) + err
    assert code == expect, f"exit {code}\n{err[-3000:]}"
    H.judge(args[0], [key], code, out, err, run_dir)
    return err.strip().splitlines()[-1], run_dir


# id: (command line after `idelearn`, the key the line must name, exit code, a fragment of the line)
CASES = {
    # the case: accepted (IndexError at the first node) -> refused at input
    "issue 13: matrix_ide beta=-inf": (
        "generate dataset=matrix_ide dataset.t_final=2 dataset.beta=-inf", "dataset.beta", 2, "finite"),
    "matrix_ide beta=1e308 (IndexError in solve_problem)": (
        "generate dataset=matrix_ide dataset.t_final=2 dataset.beta=1e308", "dataset.beta", 2, "π"),
    "matrix_ide beta=1e308, t_final within the start-up (exit 0 with NaN data)": (
        "generate dataset=matrix_ide dataset.t_final=0.05 dataset.beta=1e308", "dataset.beta", 2, "π"),
    "dyson_multi c=1e16 (IndexError)": (
        "generate dataset=dyson_multi dataset.n_traj=3 dataset.t_final=0.2 dataset.c=1.045587593516191e+16",
        "dataset.c", 2, "π"),
    # run-time guards at the first node and inside the start-up: one line, exit 1, nothing kept
    "blow-up at the initial value, fe_simpson (IndexError)": (
        "generate dataset=dyson dataset.t_final=0.2 solver=fe_simpson solver.max_abs=0.5", "solver.max_abs", 1,
        "at t = 0"),
    "blow-up at the initial value, abm (IndexError)": (
        "generate dataset=dyson dataset.t_final=0.2 solver.max_abs=4.2e-266", "solver.max_abs", 1, "at t = 0"),
    "blow-up at the initial value, grid inside the start-up (exit 0 with the data)": (
        "generate dataset=dyson dataset.t_final=0.05 solver.max_abs=0.5", "solver.max_abs", 1, "at t = 0"),
    "start-up diverges (IndexError)": (
        "generate dataset=dyson dataset.h=300", "dataset.h", 1, "after t = 0"),
    "training data blow up in the start-up (PartialSolution traceback)": (
        "train model=lstm_operator model.steps=1 model.hidden_size=2 model.num_layers=1 dataset=dyson "
        "dataset.t_final=0.2 dataset.h=300 trainer.cache_dir=cache", "dataset.h", 1, "training data"),
    "spirals do not converge (RuntimeError)": (
        "generate dataset=spirals dataset.n_traj=3 dataset.n_t=8 dataset.t_final=100", "dataset.t_final", 1,
        "did not converge"),
    "curves extrapolated to t = 1e308 (a RuntimeWarning line before the failure)": (
        "extrapolate run={runs}/curves dataset=from_file dataset.path={runs}/curves.npy dataset.t_final=1e308",
        "dataset.t_final", 1, "blew up"),
    # values no check foresaw
    "generate dataset=from_run (AttributeError)": ("generate dataset=from_run", "dataset", 2, "from_run"),
    "extrapolate dataset=dyson (KeyError)": ("extrapolate run={ide} dataset=dyson", "dataset", 2, "from_run"),
    "model.name renamed (KeyError)": (
        "train model=nie model.name=1e308 dataset=spirals dataset.n_traj=3", "model.name", 2, "nie"),
    "suite.name renamed (KeyError)": ("benchmark suite=collect suite.dir=. suite.name=34", "suite.name", 2,
                                      "collect"),
    "device.threads beyond C long (ValueError)": (
        "generate dataset.t_final=0.2 device.threads=9007199254740993", "device.threads", 2, "1024"),
    "dataset.n_traj of 1.4e17 curves (MemoryError)": (
        "train model=nie dataset=spirals dataset.n_traj=141556570394075840", "dataset.n_traj", 2, "at most"),
    "lorenz t_final=3e16 (ran without end)": (
        "generate dataset=lorenz dataset.n_traj=3 dataset.t_final=3.1784219967802836e+16", "dataset.t_final", 2,
        "10000"),
    "spirals t_final=1e-320 (ValueError: t_out must be uniform)": (
        "generate dataset=spirals dataset.n_traj=3 dataset.t_final=1e-320", "dataset.t_final", 2, "subnormal"),
    "anie dim_feedforward=-1 (RuntimeError in torch)": (
        "train model=anie model.dim_feedforward=-1", "model.dim_feedforward", 2, "must be in"),
    "alpha_values as strings 'nan' (NaN data)": (
        "generate dataset=matrix_ide_multi dataset.alpha_values=['nan'] dataset.n_traj=1 dataset.t_final=0.2",
        "dataset.alpha_values", 2, "finite"),
    "suite.only=[[1],2] (ran no case, exit 0)": (
        "benchmark suite=paper1_accuracy suite.only=[[1],2]", "suite.only", 2, "must be a str"),
    "suite.only=[] (ran every case)": ("benchmark suite=paper1_accuracy suite.only=[]", "suite.only", 2, "null"),
    "suite.horizons=[[],[],-2] (TypeError, after training the timed model)": (
        "benchmark suite=paper1_timing suite.horizons=[[],[],-2]", "suite.horizons", 2, "must be a float"),
    "suite.runs.smoke={} (ran every shrunk suite twice, exit 0)": (
        "benchmark suite=smoke +suite.runs.smoke={}", "suite.runs", 2, "unknown suites"),
    "dataset.random_H=1e6 (MemoryError drawing H, no key named)": (
        "generate dataset=dyson dataset.random_H=1000000", "dataset.random_H", 2, "numbers per array"),
    "dataset.H_seed=-1 (ValueError from numpy, no key named)": (
        "generate dataset=dyson dataset.random_H=2 dataset.H_seed=-1", "dataset.H_seed", 2, "2**63"),
    "suite.scan_t_final beyond the training grid's 1e8 steps (refused only after the timing)": (
        "benchmark suite=paper1_timing suite.scan_t_final=1.5e6", "suite.scan_t_final", 2, "steps"),
    "a suite's test t_final inside the training window (refused only after training)": (
        "benchmark suite=paper1_accuracy suite.only=[dmd] suite.overrides=[] suite.test_overrides=['t_final=0.6']",
        "suite.overrides", 2, "must exceed"),
    "suite.scan_t_final inside the training window (refused only after training)": (
        "benchmark suite=paper1_timing suite.scan_t_final=5", "suite.scan_t_final", 2, "must exceed"),
    "paper1_timing horizons=[] (ValueError: max of empty)": (
        "benchmark suite=paper1_timing suite.horizons=[]", "suite.horizons", 2, "non-empty"),
    "paper1_timing coarse_steps=[0] (ValueError: dt must be > 0)": (
        "benchmark suite=paper1_timing suite.coarse_steps=[0.0]", "suite.coarse_steps", 2, "(0, max"),
    "trainer.cache_dir under /dev/null (NotADirectoryError)": (
        "train model=nie dataset=spirals dataset.n_traj=3 trainer.cache_dir=/dev/null/x", "trainer.cache_dir", 2,
        "/dev/null/x"),
    # wrong exit messages: the line must name the key that was given
    "dataset=0 (message named no key)": ("generate dataset=0", "dataset", 2, "dataset=0"),
    "a value the grammar rejects, quoting another key (message named no key)": (
        "train model=direct_rnn dataset=lorenz dataset.seed=[[],${dataset},]", "dataset.seed", 2, "no viable"),
    "dt beyond t_final (named only t_final)": ("generate dataset.dt=1.24e16", "dataset.dt", 2, "dataset.dt"),
    "t_final of 1e17 steps (named only dt)": (
        "generate dataset.t_final=1229260369446540", "dataset.t_final", 2, "steps"),
    "num_layers (named model.hidden_size)": (
        "train model=lstm_operator model.num_layers=-9223372036854775808", "model.num_layers", 2, "must be in"),
    "collect dir (named dir, not suite.dir)": ("benchmark suite=collect suite.dir=nowhere", "suite.dir", 2,
                                               "not a directory"),
}


@pytest.mark.parametrize("line,key,expect,fragment", CASES.values(), ids=CASES.keys())
def test_found_case(line, key, expect, fragment, runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = line.replace("{ide}", str(runs / "ide")).replace("{runs}", str(runs)).split()
    last, _ = run(args, tmp_path, capsys, key, expect)
    assert fragment in last, last


def test_control_characters_in_a_file_name_stay_on_one_line(runs, tmp_path, monkeypatch, capsys):
    """`dataset.path='z]E\\rI'` split the error line in two (found by the property tests)."""
    monkeypatch.chdir(tmp_path)
    last, _ = run(["generate", "dataset=from_file", "dataset.path='z]E\rI'"], tmp_path, capsys, "dataset.path", 2)
    assert "z]E\\rI" in last


def test_a_blow_up_after_two_nodes_keeps_the_partial_dataset(tmp_path, monkeypatch, capsys):
    """The printed matrix IDE diverges before t = 5: exit 1, the dataset up to the last good node kept,
    marked partial, and loadable."""
    monkeypatch.chdir(tmp_path)
    args = ["generate", "dataset=matrix_ide", "dataset.memory_sign=1", "dataset.t_final=5", "solver.max_abs=1e3"]
    last, run_dir = run(args, tmp_path, capsys, "solver.max_abs", 1)
    assert "partial dataset" in last
    meta = json.loads((run_dir / "dataset.json").read_text())
    assert meta["partial"] is True and 0 < meta["t_reached"] < 5
    data = load_dataset(run_dir)
    assert len(data.t) >= 2 and np.isfinite(data.G).all() and data.t[-1] == pytest.approx(meta["t_reached"])


def test_a_nan_filled_model_pt_exits_2(runs, tmp_path, monkeypatch, capsys):
    """A model.pt with a NaN weight extrapolated to NaN and exited 1 as a blow-up; it is bad input."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "model.pt"
    H.bad_checkpoint("nan_weight", runs / "ide" / "model.pt", np.random.default_rng(0), 0.5, path)
    last, _ = run(["extrapolate", f"run={path}"], tmp_path, capsys, "run", 2)
    assert "NaN" in last


def test_an_npy_file_named_npz_exits_2(tmp_path, monkeypatch, capsys):
    """np.load returned an array where the loader expected an archive (TypeError)."""
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "curves.npy", np.zeros((4, 12, 2)))
    (tmp_path / "curves.npz").write_bytes((tmp_path / "curves.npy").read_bytes())
    last, _ = run(["generate", "dataset=from_file", f"dataset.path={tmp_path / 'curves.npz'}"], tmp_path, capsys,
                  "dataset.path", 2)
    assert "single .npy array" in last


def test_an_npz_announcing_a_huge_array_is_refused_before_reading(tmp_path, monkeypatch, capsys):
    """A header that announces 2e10 numbers: allocating them ran out of memory; now refused from the header."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "huge.npz"
    name, content = H.bad_data_file("huge.npz", np.random.default_rng(0), 0.5)
    path.write_bytes(content)
    last, _ = run(["generate", "dataset=from_file", f"dataset.path={path}"], tmp_path, capsys, "dataset.path", 2)
    assert "at most" in last


def test_direct_rnn_trains_on_one_curve_of_3_points(runs, tmp_path, monkeypatch, capsys):
    """`train model=direct_rnn dataset=lorenz dataset.n_traj=3 dataset.n_t=3`: one training curve, whose
    held-out tail left no node to train on (RuntimeError: sequence length 0 in the LSTM)."""
    monkeypatch.chdir(tmp_path)
    args = ["train", "model=direct_rnn", *H.shrink("model", "direct_rnn"), "dataset=lorenz", "dataset.n_traj=3",
            "dataset.n_t=3", "dataset.t_final=1", f"trainer.cache_dir={runs / 'cache'}", "device.threads=1"]
    run(args, tmp_path, capsys, "dataset.n_t", 0)
