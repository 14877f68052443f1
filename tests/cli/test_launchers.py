"""Sweeps through Hydra's parallel launchers (joblib, submitit_local), the SLURM presets, threads per
job, one log per job, and idelearn.report.collect over a sweep directory."""

import json
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig

from idelearn import config
from idelearn.commands.common import available_cpus, launcher_threads
from idelearn.report.collect import collect

BAR_GLYPHS = ("━", "█", "\r")  # rich progress bars; a parallel job must only write log lines


def sweep(tmp_path, *args):
    proc = subprocess.run([sys.executable, "-m", "idelearn.cli", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    sweeps = list((tmp_path / "outputs" / args[0] / "multirun").iterdir())
    assert len(sweeps) == 1, sweeps  # all jobs of a sweep in one multirun dir
    jobs = sorted(p for p in sweeps[0].iterdir() if p.is_dir() and not p.name.startswith("."))
    return proc, sweeps[0], jobs


def assert_one_log_per_job(jobs, command):
    for job in jobs:
        log = (job / f"{command}.log").read_text()
        assert str(job) in log  # its own lines ...
        assert not any(str(other) in log for other in jobs if other != job)  # ... and no other job's
        assert "parallel sweep job: torch/BLAS limited to" in log
        assert not any(glyph in log for glyph in BAR_GLYPHS)


@pytest.mark.slow
def test_joblib_sweep_trains_in_parallel_and_collects(tmp_path):
    proc, root, jobs = sweep(tmp_path, "train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                             "model=dmd", "dataset=dyson", "dataset.t_final=2", "model.delay=10,20",
                             f"trainer.cache_dir={tmp_path / 'cache'}")
    assert [j.name for j in jobs] == ["0", "1"]
    assert all((j / "model.pt").exists() and (j / "metrics.json").exists() for j in jobs)
    assert_one_log_per_job(jobs, "train")
    assert not any(glyph in proc.stderr for glyph in BAR_GLYPHS)
    assert len(list((tmp_path / "cache").glob("*/dataset.npz"))) == 1  # both jobs share one cached dataset

    rows, table = collect(root)
    assert [(r["job"], r["model.delay"], r["status"]) for r in rows] == [("0", 10, "ok"), ("1", 20, "ok")]
    assert all(r["model"] == "dmd" and r["final_loss"] >= 0 for r in rows)
    header = table.splitlines()[0]
    assert "model.delay" in header and "final_loss" in header and len(table.splitlines()) == 4


@pytest.mark.slow
def test_submitit_local_sweep(tmp_path):
    _, root, jobs = sweep(tmp_path, "generate", "-m", "hydra/launcher=submitit_local",
                          "hydra.launcher.cpus_per_task=1", "dataset.t_final=0.5,1.0")
    assert [j.name for j in jobs] == ["0", "1"]
    assert all((j / "dataset.npz").exists() for j in jobs)
    assert_one_log_per_job(jobs, "generate")
    assert all("limited to 1 thread" in (j / "generate.log").read_text() for j in jobs)
    rows, _ = collect(root)
    assert [r["status"] for r in rows] == ["no metrics.json"] * 2  # generate writes no metrics


def hydra_cfg(*overrides):
    config.register("train")
    with initialize_config_module(config_module="idelearn.conf", version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides), return_hydra_config=True)


@pytest.mark.parametrize("preset,target,keys", [
    ("slurm_gpu", "SlurmLauncher", {"gpus_per_node": 1, "cpus_per_task": 8, "timeout_min": 240}),
    ("slurm_cpu", "SlurmLauncher", {"gpus_per_node": None, "cpus_per_task": 4}),
    ("local_parallel", "JoblibLauncher", {"n_jobs": 2}),
])
def test_presets_compose(preset, target, keys):
    launcher = hydra_cfg(f"hydra/launcher={preset}").hydra.launcher
    assert launcher._target_.endswith(target)
    assert {k: launcher[k] for k in keys} == keys


@pytest.mark.parametrize("overrides,expected", [
    ([], 0),  # a single run: library defaults
    (["hydra.mode=MULTIRUN"], 0),  # the basic launcher runs jobs one after another
    (["hydra.mode=MULTIRUN", "hydra/launcher=slurm_gpu"], 8),
    (["hydra.mode=MULTIRUN", "hydra/launcher=submitit_local"], 1),
    (["hydra.mode=MULTIRUN", "hydra/launcher=joblib"], 1),  # n_jobs=-1: one job per core
    (["hydra.mode=MULTIRUN", "hydra/launcher=joblib", "hydra.launcher.n_jobs=1"], "all"),
])
def test_threads_per_job_follow_the_launcher(overrides, expected):
    cfg = hydra_cfg(*overrides)
    HydraConfig.instance().set_config(cfg)
    try:
        assert launcher_threads() == (available_cpus() if expected == "all" else expected)
    finally:
        HydraConfig.instance().cfg = None


def test_collect_tabulates_overrides_and_metrics(tmp_path):
    for job, (lr, loss) in enumerate([(0.01, 0.5), (0.1, float("nan"))]):
        d = tmp_path / str(job)
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(f"- model=nie\n- model.lr={lr}\n")
        (d / "metrics.json").write_text(json.dumps({"final_loss": loss, "mae_per_time": [1, 2], "model": "nie"}))
    (tmp_path / "2" / ".hydra").mkdir(parents=True)  # a job that failed before writing metrics
    (tmp_path / "2" / ".hydra" / "overrides.yaml").write_text("- model=nie\n- model.lr=1.0\n")
    rows, table = collect(tmp_path)
    assert [r["model.lr"] for r in rows] == [0.01, 0.1, 1.0]
    assert rows[0]["mae_per_time"] == [1, 2] and rows[0]["metrics.model"] == "nie"
    lines = table.splitlines()
    assert lines[0] == "| job | model | model.lr | final_loss | metrics.model | status |"
    assert lines[2] == "| 0 | nie | 0.01 | 0.5 | nie | ok |"
    assert lines[3].startswith("| 1 | nie | 0.1 | nan |") and lines[4].endswith("| no metrics.json |")
