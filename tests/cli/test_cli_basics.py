import json

import numpy as np
import pytest

from idelearn.cli import COMMANDS, main


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_prints_the_list_and_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "frobnicate" in err and "generate" in err


def test_command_help_shows_hydra_groups(idelearn):
    proc = idelearn("generate", "--help")
    assert proc.returncode == 0
    assert "dataset: " in proc.stdout and "dyson" in proc.stdout and "solver: " in proc.stdout


def test_generate_writes_the_dataset_contract(idelearn, tmp_path):
    run = tmp_path / "run"
    idelearn("generate", "dataset=dyson", "dataset.t_final=1.0", "dataset.H=[[1,0.5],[0.5,-1]]",
             f"hydra.run.dir={run}", check=True)
    assert {"dataset.npz", "dataset.json", "generate.log", ".hydra"} <= {p.name for p in run.iterdir()}
    with np.load(run / "dataset.npz", allow_pickle=False) as f:
        assert f["t"].dtype == np.float64 and f["t"].shape == (101,)
        assert f["G"].shape == (1, 101, 2, 2) and f["G"].dtype == np.complex128
        assert f["I"].shape == f["G"].shape
        n_params = f["params"].shape[1]
    meta = json.loads((run / "dataset.json").read_text())
    assert meta["equation"] == "dyson" and meta["solver"]["order"] == 8
    assert meta["wall_s"] > 0 and meta["idelearn_version"]
    assert len(meta["param_names"]) == n_params


def test_default_run_dir_is_outputs_command_timestamp(idelearn, tmp_path):
    idelearn("generate", "dataset.t_final=0.5", check=True)
    runs = list((tmp_path / "outputs" / "generate").iterdir())
    assert len(runs) == 1 and (runs[0] / "dataset.npz").exists()


def test_multirun_sweeps_into_one_directory(idelearn, tmp_path):
    idelearn("generate", "-m", "dataset.t_final=0.5,1.0", "dataset.h=-1,2", check=True)
    sweeps = list((tmp_path / "outputs" / "generate" / "multirun").iterdir())
    assert len(sweeps) == 1
    jobs = sorted(p for p in sweeps[0].iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(jobs) == 4 and all((j / "dataset.npz").exists() for j in jobs)


INVALID = {
    "unknown dataset": ["dataset=nope"],
    "dt zero": ["dataset.dt=0"],
    "dt negative": ["dataset.dt=-0.1"],
    "t_final below dt": ["dataset.t_final=0.001"],
    "H not hermitian": ["dataset.H=[[1,2],[3,4]]"],
    "H not square": ["dataset.H=[[1,2,3]]"],
    "H not numeric": ["dataset.H=[[1,a],[1,1]]"],
    "order too high": ["solver.order=9"],
    "order too low": ["solver.order=2"],
    "wrong type": ["dataset.dt=abc"],
    "unknown key": ["dataset.foo=1"],
    "bad cosine": ["dataset=matrix_ide", "dataset.cosine=taylor"],
    "bad memory sign": ["dataset=matrix_ide", "dataset.memory_sign=2"],
    "unknown solver": ["solver=rk4"],
}


@pytest.mark.parametrize("overrides", INVALID.values(), ids=INVALID.keys())
def test_invalid_input_is_one_line_exit_2_and_no_dataset(idelearn, tmp_path, overrides):
    run = tmp_path / "bad"
    proc = idelearn("generate", *overrides, f"hydra.run.dir={run}")
    assert proc.returncode == 2, proc.stderr
    err_lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(err_lines) == 1 and err_lines[0].startswith("idelearn: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    key = overrides[-1].split("=")[0].replace("dataset=", "dataset")
    assert key.split(".")[-1] in err_lines[0] or overrides[-1].split("=")[1] in err_lines[0]
    assert not (run / "dataset.npz").exists()


def test_the_installed_entry_point_runs_in_a_fresh_process(tmp_path):
    """The one true subprocess run of a command: `python -m idelearn.cli` (the other tests run it in-process)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "idelearn.cli", "generate", "dataset.t_final=0.2",
                           f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run" / "dataset.npz").exists()
    bad = subprocess.run([sys.executable, "-m", "idelearn.cli", "generate", "dataset.dt=0"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "dataset.dt" in bad.stderr
