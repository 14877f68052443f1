"""Bad input to generate, train and extrapolate: exit code 2, one error line naming the key or file,
no traceback, and no results written (the run directory holds at most .hydra/ and <command>.log).

Runs in-process (idelearn.cli.main raises SystemExit(2)) for speed; two tiny train runs are shared.
"""

import os
import pickle

import numpy as np
import pytest
import torch

from idelearn.cli import main

MARKER = "idelearn-pwned"


class Evil:
    """Unpickling this would run code (touch a marker file): loaders must refuse it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def invoke(*args):
    """Run the CLI in-process; return the exit code (0 when main returns)."""
    try:
        main(list(args))
    except SystemExit as exc:
        return exc.code
    return 0


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("files")
    marker = d / MARKER
    rng = np.random.default_rng(0)
    np.save(d / "curves.npy", rng.normal(size=(4, 30, 2)))
    np.save(d / "curves2d.npy", rng.normal(size=(4, 30)))
    np.save(d / "dim3.npy", rng.normal(size=(4, 30, 3)))
    nan = rng.normal(size=(4, 30, 2))
    nan[1, 5, 0] = np.nan
    np.save(d / "nan.npy", nan)
    (d / "evil.npy").write_bytes(pickle.dumps(Evil(marker)))
    (d / "evil.npz").write_bytes(pickle.dumps({"t": Evil(marker)}))
    np.savez(d / "objects.npz", t=np.linspace(0, 1, 3), G=np.array([None, 1], dtype=object), params=np.zeros((1, 1)))
    np.savez(d / "missing.npz", t=np.linspace(0, 1, 30))
    np.savez(d / "full.npz", t=np.linspace(0, 1, 30), G=rng.normal(size=(4, 30, 2)), params=np.zeros((4, 1)))
    full = (d / "full.npz").read_bytes()
    (d / "trunc.npz").write_bytes(full[: len(full) // 2])
    not_a_run = d / "not_a_run"
    not_a_run.mkdir()
    (not_a_run / "generate.log").write_text("")
    return d


@pytest.fixture(scope="module")
def runs(files, tmp_path_factory):
    """A tiny IDE model (lstm_operator on dyson, t <= 1) and a tiny curve model (nie on 4 curves of dim 2)."""
    d = tmp_path_factory.mktemp("runs")
    cache = f"trainer.cache_dir={d / 'cache'}"
    assert invoke("train", "model=lstm_operator", "dataset=dyson", "dataset.t_final=1", "model.steps=2",
                  "model.hidden_size=4", "model.num_layers=1", cache, f"hydra.run.dir={d / 'ide'}") == 0
    assert invoke("train", "model=nie", "dataset=from_file", f"dataset.path={files / 'curves.npy'}",
                  "model.epochs=1", "model.hidden=4", "model.n_samples=4", "model.context=10", "model.max_iter=1",
                  cache, f"hydra.run.dir={d / 'curves'}") == 0
    good = (d / "ide" / "model.pt").read_bytes()
    (d / "trunc.pt").write_bytes(good[: len(good) // 2])
    (d / "evil.pt").write_bytes(pickle.dumps({"model": Evil(files / MARKER)}))
    torch.save({"weights": torch.zeros(3)}, d / "nokeys.pt")
    return d


F = "{files}/"
IDE, CURVES = "run={runs}/ide", "run={runs}/curves"
FROM_FILE = "dataset=from_file"

# id: (command, args, fragments the error line must contain)
CASES = {
    # ---- generate
    "gen unknown dataset": ("generate", ["dataset=nope"], ["nope", "dyson"]),
    "gen bad type": ("generate", ["dataset.dt=abc"], ["dt", "abc"]),
    "gen unknown key": ("generate", ["dataset.foo=1"], ["foo"]),
    "gen order out of range": ("generate", ["solver.order=9"], ["solver.order"]),
    "gen n_traj zero": ("generate", ["dataset=spirals", "dataset.n_traj=0"], ["dataset.n_traj"]),
    "gen from_file without path": ("generate", [FROM_FILE], ["dataset.path"]),
    "gen missing file": ("generate", [FROM_FILE, f"dataset.path={F}nofile.npy"], ["dataset.path", "nofile.npy"]),
    "gen pickle npy": ("generate", [FROM_FILE, f"dataset.path={F}evil.npy"], ["evil.npy", "pickle"]),
    "gen pickle npz": ("generate", [FROM_FILE, f"dataset.path={F}evil.npz"], ["evil.npz", "pickle"]),
    "gen object array npz": ("generate", [FROM_FILE, f"dataset.path={F}objects.npz"], ["objects.npz", "pickle"]),
    "gen npy with 2 dims": ("generate", [FROM_FILE, f"dataset.path={F}curves2d.npy"], ["curves2d.npy", "(4, 30)"]),
    "gen NaN curves": ("generate", [FROM_FILE, f"dataset.path={F}nan.npy"], ["nan.npy", "NaN"]),
    "gen truncated npz": ("generate", [FROM_FILE, f"dataset.path={F}trunc.npz"], ["trunc.npz", "truncated"]),
    "gen npz missing keys": ("generate", [FROM_FILE, f"dataset.path={F}missing.npz"],
                             ["missing.npz", "G, params", "expected t, G, params"]),
    "gen bad type in a sweep": ("generate", ["-m", "dataset.dt=0.1,abc"], ["dataset.dt", "abc"]),
    "gen bad value in a sweep": ("generate", ["-m", "dataset.h=1,2", "dataset.dt=0.1,0"], ["dataset.dt", "> 0"]),
    "a sweep the grammar rejects": ("generate", ["-m", "dataset.h=[1,"], ["dataset.h=[1,"]),
    # ---- train
    "train unknown model": ("train", ["model=nope"], ["nope", "lstm_operator"]),
    "train steps zero": ("train", ["model=lstm_operator", "model.steps=0"], ["model.steps"]),
    "train epochs zero": ("train", ["model=nie", "model.epochs=0"], ["model.epochs"]),
    "train epochs of a stepped model": ("train", ["model=lstm_operator", "model.epochs=10"], ["epochs"]),
    "train negative lr": ("train", ["model=lstm_operator", "model.lr=-0.1"], ["model.lr"]),
    "train bad type": ("train", ["model=lstm_operator", "model.steps=many"], ["steps", "many"]),
    "train legs_order too small": ("train", ["model.legs_order=2"], ["model.legs_order", "4.."]),
    "train a key the default model lacks": ("train", ["model.steps=10"], ["model.steps", "MemoryOperatorConfig"]),
    "train unknown trainer key": ("train", ["trainer.foo=1"], ["foo"]),
    "train bad train_fraction": ("train", ["trainer.train_fraction=2"], ["trainer.train_fraction"]),
    "train heads do not divide": ("train", ["model=anie", "model.n_heads=3"], ["model.n_heads"]),
    "train negative window": ("train", ["model=lstm_operator", "model.bptt_window=-1"], ["model.bptt_window"]),
    "train unknown ode solver": ("train", ["model=latent_ode", "model.method=rk5"], ["model.method", "rk5", "dopri5"]),
    "train context longer than the curves": ("train", ["model=latent_ode", FROM_FILE, f"dataset.path={F}curves.npy",
                                                       "model.context=40"], ["model.context", "30 points"]),
    "train incompatible": ("train", ["model=lstm_operator", "dataset=spirals"], ["cannot train", "spirals"]),
    "train pickle curves": ("train", ["model=nie", FROM_FILE, f"dataset.path={F}evil.npy"], ["evil.npy", "pickle"]),
    "train n_train too large": ("train", ["model=nie", FROM_FILE, f"dataset.path={F}curves.npy", "trainer.n_train=10"],
                                ["trainer.n_train", "4 curves"]),
    # ---- extrapolate
    "ex run missing": ("extrapolate", ["run={runs}/nowhere"], ["run", "nowhere"]),
    "ex not a train run": ("extrapolate", [f"run={F}not_a_run"], ["run", "not_a_run", "model.pt"]),
    "ex no train run at all": ("extrapolate", [], ["run", "outputs/train"]),
    "ex truncated model.pt": ("extrapolate", ["run={runs}/trunc.pt"], ["trunc.pt", "truncated"]),
    "ex pickle model.pt": ("extrapolate", ["run={runs}/evil.pt"], ["evil.pt", "pickled"]),
    "ex model.pt missing keys": ("extrapolate", ["run={runs}/nokeys.pt"], ["nokeys.pt", "missing model, config"]),
    "ex dyson run with matrix_ide key": ("extrapolate", [IDE, "dataset.alpha1=45"],
                                         ["dataset.alpha1", "trained on dyson", "matrix_ide"]),
    "ex unknown dataset key": ("extrapolate", [IDE, "dataset.foo=1"], ["foo"]),
    "ex wrong matrix size": ("extrapolate", [IDE, "dataset.H=[[1,0],[0,1]]"], ["dataset.H", "2x2", "1x1"]),
    "ex non-hermitian H": ("extrapolate", [IDE, "dataset.H=[[1,0],[0,1]]", "dataset.H_imag=[[0,1],[1,0]]"],
                           ["dataset.H"]),
    "ex t_final below horizon": ("extrapolate", [IDE, "t_final=0.5"], ["t_final", "horizon 1", "0.5"]),
    "ex t_final bad type": ("extrapolate", [IDE, "t_final=soon"], ["t_final", "soon"]),
    "ex curves for an IDE model": ("extrapolate", [IDE, f"dataset.path={F}curves.npy"], ["dataset.path"]),
    "ex context too large": ("extrapolate", [CURVES, "context=1000"], ["context", "1..29", "1000"]),
    "ex curves of wrong dimension": ("extrapolate", [CURVES, f"dataset.path={F}dim3.npy"],
                                     ["dim3.npy", "dimension 3", "dimension 2"]),
    "ex NaN curves": ("extrapolate", [CURVES, f"dataset.path={F}nan.npy"], ["nan.npy", "NaN"]),
    "ex npy with 2 dims": ("extrapolate", [CURVES, f"dataset.path={F}curves2d.npy"], ["curves2d.npy", "(4, 30)"]),
    "ex pickle curves": ("extrapolate", [CURVES, f"dataset.path={F}evil.npz"], ["evil.npz", "pickle"]),
    "ex npz missing keys": ("extrapolate", [CURVES, f"dataset.path={F}missing.npz"], ["missing.npz", "G, params"]),
    "ex truncated npz": ("extrapolate", [CURVES, f"dataset.path={F}trunc.npz"], ["trunc.npz", "truncated"]),
}

RESULTS = {"dataset.npz", "dataset.json", "model.pt", "metrics.json", "prediction.npz"}


@pytest.mark.parametrize("command,args,fragments", CASES.values(), ids=CASES.keys())
def test_bad_input_exits_2_with_one_line(command, args, fragments, files, runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # `run` defaults to the latest run under ./outputs/train: there is none
    run_dir = tmp_path / "run"
    args = [a.format(files=files, runs=runs) for a in args]
    capsys.readouterr()
    if command == "train":
        args.append(f"trainer.cache_dir={tmp_path / 'cache'}")
    code = invoke(command, *args, f"hydra.run.dir={run_dir}")
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "Error executing job" not in err, err
    errors = [ln for ln in err.splitlines() if ln.startswith("idelearn: error:")]
    assert len(errors) == 1 and err.rstrip().endswith(errors[0]), err  # one line, the last one
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert not (tmp_path / "outputs").exists()  # a sweep stops before its first job
    left = {p.name for p in run_dir.iterdir()} if run_dir.exists() else set()
    assert left <= {".hydra", f"{command}.log"}, left
    assert not left & RESULTS
    assert not (files / MARKER).exists(), "a pickle was executed"


def test_at_least_25_cases_across_commands():
    commands = [c for c, _, _ in CASES.values()]
    assert len(CASES) >= 25 and {"generate", "train", "extrapolate"} <= set(commands)
