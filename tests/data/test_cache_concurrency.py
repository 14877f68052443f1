"""Two real processes asking the cache for the same dataset at once leave one valid file, solved once."""

import json
import subprocess
import sys
import textwrap
import time

import numpy as np

from idelearn.data.cache import cache_key, cached
from idelearn.data.dataset import Dataset
from idelearn.data.io import load_dataset

DESCRIPTION = {"name": "race", "n": 50, "solver": {"order": 8}}

WORKER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    import numpy as np
    from idelearn.data.cache import cached
    from idelearn.data.dataset import Dataset

    cache_dir, go, log = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    description = json.loads(sys.argv[4])

    def make():
        with open(log, "a") as fh:  # one line per solve
            fh.write(f"{os.getpid()}\\n")
        time.sleep(1.0)  # a slow solve: the other process arrives while this one works
        t = np.linspace(0.0, 1.0, description["n"])
        G = np.exp(-1j * t)[None, :, None, None] * np.ones((3, 1, 1, 1))
        return Dataset(t=t, G=G, I=0.5 * G, params=np.arange(3.0)[:, None], param_names=["k"],
                       meta={"pid": os.getpid()})

    while not go.exists():  # start together
        time.sleep(0.005)
    data, path = cached(description, make, cache_dir)
    print(json.dumps({"path": str(path), "shape": list(data.G.shape), "pid": os.getpid()}))
""")


def test_two_processes_make_the_same_dataset_once(tmp_path):
    cache_dir, go, log = tmp_path / "cache", tmp_path / "go", tmp_path / "solves.log"
    args = [str(cache_dir), str(go), str(log), json.dumps(DESCRIPTION)]
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    time.sleep(0.5)  # let both import and wait on the go file
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert results[0]["path"] == results[1]["path"]
    assert all(r["shape"] == [3, 50, 1, 1] for r in results)

    folder = cache_dir / f"race-{cache_key(DESCRIPTION)}"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["dataset.json", "dataset.npz"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".dataset")]  # no temporary files left
    data = load_dataset(folder / "dataset.npz")
    assert data.G.shape == (3, 50, 1, 1) and np.isfinite(data.G).all()
    assert len(log.read_text().split()) == 1  # the lock made the second process load, not solve


def test_an_unreadable_entry_is_solved_again(tmp_path):
    calls = []

    def make():
        calls.append(1)
        t = np.linspace(0, 1, 5)
        return Dataset(t=t, G=np.zeros((1, 5, 2)), params=np.zeros((1, 1)), param_names=["p"])

    _, path = cached({"name": "x"}, make, tmp_path)
    path.write_bytes(path.read_bytes()[:40])  # truncated by, say, a full disk outside idelearn
    data, _ = cached({"name": "x"}, make, tmp_path)
    assert len(calls) == 2 and data.G.shape == (1, 5, 2)
    assert load_dataset(path).G.shape == (1, 5, 2)
