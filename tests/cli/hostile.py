"""What the property tests of the CLI (test_fuzz.py) draw and how they judge a run.

The keys come from the schemas themselves: every field of every registered schema, for every
option of every config group a command composes, plus the command's own top-level keys and the
group choices. A key added to a schema (or a dataset, model or suite added to a registry) is
fuzzed without touching this file.

A run is made cheap by fixed base overrides (tiny grids, one step, tiny nets), derived from the
field names a schema has (`SHRINK`); the hostile value replaces the base value of its key.
"""

from __future__ import annotations

import dataclasses
import json
import signal
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from omegaconf import OmegaConf

from idelearn import cli, config, suites
from idelearn.data.datasets import DATASETS, from_run_schema
from idelearn.models.registry import MODELS
from idelearn.settings import DeviceConfig, SolverConfig, TrainerConfig
from idelearn.suites import SUITES

CONF = Path(config.__file__).resolve().parents[1] / "conf"
PRIMARY = {**config.COMMAND_SCHEMAS, "benchmark": suites.BenchmarkConfig}
FIXED_SCHEMAS = {"solver": SolverConfig, "device": DeviceConfig, "trainer": TrainerConfig}


def options(group: str) -> list[str]:
    """The options of a config group: its YAML files (tests/test_config.py ties them to the registries)."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def suite_name(option: str) -> str:
    """The suite a suite config runs (paper1_levers and kernel_families run paper1_accuracy)."""
    return OmegaConf.load(CONF / "suite" / f"{option}.yaml").name


def schema_of(group: str, option: str):
    if group == "dataset":
        return from_run_schema() if option == "from_run" else DATASETS[option]
    if group == "model":
        return MODELS[option].config_class
    if group == "suite":
        return SUITES[suite_name(option)].config_class
    return FIXED_SCHEMAS[group]


def command_groups(command: str) -> tuple[list[str], list[str]]:
    """(config groups, top-level keys) of a command, from its primary schema."""
    names = [f.name for f in dataclasses.fields(PRIMARY[command])]
    return [n for n in names if n in cli.GROUPS], [n for n in names if n not in cli.GROUPS]


def group_options(command: str, group: str) -> list[str]:
    """The options a command is meant to run with (the others are fuzzed as group choices; so is
    device=cuda on a machine without CUDA, where every run with it exits 2 naming device.name)."""
    import torch

    if group == "dataset":
        if command == "extrapolate":
            return ["from_run", "from_file"]
        return [o for o in options("dataset") if o != "from_run"]
    if group == "device" and not torch.cuda.is_available():
        return [o for o in options(group) if o != "cuda"]
    return options(group)


@dataclasses.dataclass(frozen=True)
class Key:
    """One key to fuzz: `name` (as typed on the command line), the command, the group option it
    belongs to (None for top-level keys and group choices)."""

    command: str
    name: str
    group: str | None = None
    option: str | None = None

    def __str__(self):
        where = f" [{self.group}={self.option}]" if self.option else ""
        return f"{self.command} {self.name}{where}"


def all_keys(command: str) -> list[Key]:
    groups, top = command_groups(command)
    keys = [Key(command, name) for name in top]
    keys += [Key(command, group) for group in groups]  # the group choice itself
    for group in groups:
        for option in group_options(command, group):
            keys += [Key(command, f"{group}.{f.name}", group, option)
                     for f in dataclasses.fields(schema_of(group, option))]
    return keys


# ----------------------------------------------------------------------------- cheap base runs

# Values that make a run cheap: a model's and a dataset's from their `tiny` entries in the registries, the
# other groups' by field name (applied to every schema of the group that has the field).
SHRINK = {"seed": "0", "log_every": "1", "checkpoint_every": "1", "threads": "1"}
IDE_T_FINAL, CURVE_T_FINAL = DATASETS["dyson"].tiny["t_final"], DATASETS["spirals"].tiny["t_final"]

# Suites (by the suite a config runs): their keys replaced so that an accepted run does next to nothing.
SUITE_BASE = {
    "smoke": ["+suite.runs.paper2.models=[]", "+suite.runs.paper1_accuracy.only=[dmd]",
              "+suite.runs.paper1_timing.run={ide_run}", "suite.runs.paper1_timing.scan_sizes=[]"],
    "collect": ["suite.dir={empty}"],
    "paper2": ["suite.models=[]", "suite.cases={}"],
    "paper1_accuracy": ["suite.only=[dmd]", "suite.overrides=['dataset.t_final=0.3','solver.order=4']",
                        "suite.test_overrides=['t_final=0.6','solver.order=4']",
                        "+suite.model_overrides.dmd=['model.delay=2']"],
    "paper1_timing": ["suite.run={ide_run}", "suite.horizons=[0.3]", "suite.fe_max_horizon=0.3",
                      "suite.coarse_steps=[0.1]", "suite.scan_sizes=[]", "suite.scan_t_final=0.3"],
}


def shrink(group: str, option: str) -> list[str]:
    names = {f.name for f in dataclasses.fields(schema_of(group, option))}
    if group == "model":  # its tiny keys, and those its tiny run sets with the data (a curve model's context)
        model = MODELS[option]
        values = {**model.tiny, **dict(o[len("model."):].split("=", 1) for o in model.tiny_data
                                       if o.startswith("model."))}
    elif group == "dataset" and option != "from_run":
        values = {**SHRINK, **DATASETS[option].tiny}
    else:
        values = SHRINK
    return [f"{group}.{k}={v}" for k, v in values.items() if k in names]


def default_dataset(model: str) -> str:
    return config.compose("train", [f"model={model}"]).model.default_dataset


def option_base(group: str, option: str, files: dict) -> list[str]:
    """The cheap values of one group option (its shrunk sizes; a suite's SUITE_BASE; a file to read)."""
    if group == "suite":
        out = [f"suite.cache_dir={files['cache']}"] if option != "collect" else []
        return out + [o.replace("{empty}", files["empty"]).replace("{ide_run}", files["ide_run"])
                      for o in SUITE_BASE.get(suite_name(option), [])]
    out = shrink(group, option)
    if group == "dataset" and option == "from_file":
        out.append(f"dataset.path={files['curves']}")
    return out


def base_overrides(key: Key, files: dict) -> list[str]:
    """The overrides of a cheap run of `key`'s command with `key`'s group option selected."""
    c = key.command
    out: list[str] = []
    if c == "train":
        model = key.option if key.group == "model" else ("direct_rnn" if key.group == "dataset"
                                                         else "nie" if key.group == "trainer" else "lstm_operator")
        dataset = key.option if key.group == "dataset" else default_dataset(model)
        out += [f"model={model}", *option_base("model", model, files), f"dataset={dataset}",
                *option_base("dataset", dataset, files), *shrink("trainer", "default"),
                f"trainer.cache_dir={files['cache']}"]
        if f"dataset={dataset}" in MODELS[model].tiny_data:  # the sizes its tiny run needs (anie: n_t > context)
            out += [o for o in MODELS[model].tiny_data if o.startswith("dataset.")]
    elif c == "generate":
        dataset = key.option if key.group == "dataset" else "dyson"
        out += [f"dataset={dataset}", *option_base("dataset", dataset, files)]
    elif c == "extrapolate":
        curves = key.name in ("context", "dataset.path", "dataset.t_final") or key.option == "from_file"
        out.append(f"run={files['curve_run' if curves else 'ide_run']}")
        if key.option == "from_file":
            out += ["dataset=from_file", *option_base("dataset", "from_file", files)]
    elif c == "benchmark":
        suite = key.option if key.group == "suite" else "smoke"
        out += [f"suite={suite}", *option_base("suite", suite, files)]
    if key.group in ("solver", "device"):
        out.append(f"{key.group}={key.option}")
    if "device" in command_groups(c)[0] and key.group != "device":
        out.append("device.threads=1")
    return out


def with_value(base: list[str], key: Key, token: str, files: dict) -> list[str]:
    """`base` with `key=token` in place of any base value of `key`; a group choice (`dataset=...`) also
    drops the old option's values and, for a real option, takes that option's cheap values."""
    def target(o):
        return o.split("=", 1)[0].lstrip("+~")

    name = key.name
    kept = [o for o in base if target(o) != name and not target(o).startswith(f"{name}.")]
    choice = key.group is None and name in cli.GROUPS
    extra = option_base(name, token, files) if choice and token in options(name) else []
    return [*kept, f"{name}={token}", *extra]


# ----------------------------------------------------------------------------- hostile values

SPECIAL_FLOATS = ["nan", "-nan", "NaN", "inf", "-inf", "+inf", "1e308", "-1e308", "1.7976931348623157e308",
                  "1e-320", "-1e-320", "5e-324", "2.2250738585072014e-308", "1e-300", "1e300", "0.0", "-0.0",
                  "1e-12", "0.5", "1.5", "-1.5", "1e400", "-1e400"]
SPECIAL_INTS = ["0", "-0", "1", "2", "-1", "-2", str(2**31 - 1), str(2**31), str(-2**31), str(2**32),
                str(2**53 + 1), str(2**63 - 1), str(2**63), str(-2**63), str(-2**63 - 1), str(2**64), str(10**30),
                str(-10**30)]
SPECIAL_STRINGS = ["", "''", '""', "abc", "null", "None", "true", "false", "???", "'nan'", "'inf'", "'1e999'",
                   "'-1'", "é", "∞", "日本語", "🙂", "'a b'", "a b", "[", "]", "{", "}", "a,b", "=", "'", '"', "\\",
                   "${oc.env:IDELEARN_NO_SUCH_VAR}", "${nope}", "${dataset}", "/dev/null", "/dev/null/x",
                   "/proc/idelearn-nope", ".", "..", "-1.5e", "0x10", "1_000", "1e", "--", "-m", "'\\n'",
                   "'\u202e'", "'\ufeff'"]
SPECIAL_LISTS = ["[]", "[[]]", "[[[]]]", "{}", "[1]", "[1,2]", "[[1,2],[3,4]]", "[[1],[2,3]]", "[nan]", "[inf,1]",
                 "[a]", "[[1,0],[0,1]]", "[1e308,1e308]", "{a:1}", "{a:{b:[]}}", "[null]", "[[null]]", "[0]", "[-1]",
                 "['']", "[é]"]


def _safe_text(s: str) -> str:
    """Random text, but no path that leaves the test's directory (the tests run as any user)."""
    return s.replace("..", ".").lstrip("/~")


def text_tokens():
    chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
    raw = st.text(chars, max_size=8).map(_safe_text)
    quoted = raw.map(lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'")
    return st.one_of(raw, quoted)


def scalar_tokens():
    return st.one_of(
        st.sampled_from(SPECIAL_FLOATS),
        st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True).map(repr),
        st.sampled_from(SPECIAL_INTS),
        st.integers(-3, 40).map(str),
        st.integers(2**31, 2**70).flatmap(lambda n: st.sampled_from([str(n), str(-n)])),
        st.sampled_from(SPECIAL_STRINGS),
        text_tokens(),
    )


def container_tokens():
    nested = st.recursive(scalar_tokens(), lambda inner: st.lists(inner, max_size=3).map(
        lambda xs: "[" + ",".join(xs) + "]"), max_leaves=6)
    return st.one_of(st.sampled_from(SPECIAL_LISTS), nested,
                     st.dictionaries(st.sampled_from(["a", "h", "x1", "dyson"]), scalar_tokens(), max_size=2).map(
                         lambda d: "{" + ",".join(f"{k}:{v}" for k, v in d.items()) + "}"))


def hostile_tokens():
    """What a new user might type after `key=`: floats (nan, inf, subnormal, huge), ints at the
    limits, strings (unicode, quotes, interpolations, paths), nested lists and dicts, nothing."""
    return st.one_of(scalar_tokens(), container_tokens())


# ----------------------------------------------------------------------------- running and judging

@contextmanager
def threads_kept():
    """Restore torch's and BLAS's thread counts afterwards (`device.threads=N` sets them process-wide)."""
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    torch_threads = torch.get_num_threads()
    blas = {info["user_api"]: info["num_threads"] for info in threadpool_info()}
    try:
        yield
    finally:
        torch.set_num_threads(torch_threads)
        for api, n in blas.items():
            threadpool_limits(n, user_api=api)


class TooSlow(BaseException):
    """An accepted value that makes a legitimately long run: the property says nothing about it."""


@contextmanager
def time_limit(seconds: float):
    """Raise TooSlow in the main thread after `seconds`; Hydra's global state is reset afterwards."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    def raise_too_slow(signum, frame):
        raise TooSlow()

    previous = signal.signal(signal.SIGALRM, raise_too_slow)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except TooSlow:
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def invoke(args: list[str], shown: list | None = None) -> int:
    """Run the CLI in-process; the exit code (0 when main returns). Python warnings the run emits
    (which a user would see on stderr; pytest would capture them) are appended to `shown`."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # what `idelearn` shows: Python's default filters
        for hidden in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", hidden)
        try:
            cli.main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    if shown is not None:
        shown += [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught]
    return code


RESULTS = {"generate": "dataset.npz", "train": "model.pt", "extrapolate": "prediction.npz", "benchmark": "report.md"}
# results a run that fails on its own (exit 1) may keep: marked partial (README: Reliability)
PARTIAL = {"generate": {"dataset.npz", "dataset.json"}, "train": {"train_state.pt"},
           "extrapolate": {"prediction.npz", "metrics.json", "extrapolation.png", "attention.png"},
           "benchmark": set()}


def judge(command: str, keys: list[str], code: int, out: str, err: str, run_dir: Path) -> None:
    """The property every run must have, whatever it was given (README: Bad input)."""
    both = out + err
    assert code in (0, 1, 2), f"exit code {code}\n{err[-3000:]}"
    assert "Traceback" not in both and "Error executing job" not in both, err[-3000:]
    warned = [ln for ln in err.splitlines() if "Warning:" in ln]
    assert not warned, f"warnings on stderr besides the one line: {warned[:3]}"
    left = {p.name for p in run_dir.iterdir()} if run_dir.exists() else set()
    admin = {".hydra", f"{command}.log"}
    if code == 2:
        errors = [ln for ln in err.splitlines() if ln.startswith("idelearn: error:")]
        assert len(errors) == 1 and err.rstrip().endswith(errors[0]), err[-3000:]
        assert any(k in errors[0] for k in keys), f"the error line names none of {keys}: {errors[0]}"
        assert left <= admin, f"exit 2 left {sorted(left - admin)} in the run directory"
    elif code == 1:
        failures = [ln for ln in err.splitlines() if ln.startswith("idelearn: failed:")]
        assert len(failures) == 1 and err.rstrip().endswith(failures[0]), err[-3000:]
        extra = left - admin
        assert extra <= PARTIAL[command], f"exit 1 left {sorted(extra - PARTIAL[command])}"
        for name in ("dataset.json", "metrics.json"):
            if name in extra:
                assert json.loads((run_dir / name).read_text()).get("partial") is True, f"{name} not marked partial"
    else:
        assert RESULTS[command] in left, f"exit 0 without {RESULTS[command]}: {sorted(left)}"
        if command == "generate":
            with np.load(run_dir / "dataset.npz", allow_pickle=False) as f:
                assert np.isfinite(f["G"]).all(), "exit 0 with a non-finite dataset"
            assert not json.loads((run_dir / "dataset.json").read_text()).get("partial")
        if command == "extrapolate":
            with np.load(run_dir / "prediction.npz", allow_pickle=False) as f:
                assert np.isfinite(f["G_pred"]).all(), "exit 0 with a non-finite prediction"


# ----------------------------------------------------------------------------- hostile files

def _npy_bytes(array) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _npz_bytes(**arrays) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _huge_npy_header(shape=(10**6, 10**4, 2)) -> bytes:
    """A valid .npy header announcing `shape` (far more than the file holds) and a few bytes of data."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * 64


def good_curves(rng) -> np.ndarray:
    return rng.normal(size=(4, 12, 2))


def good_npz(rng) -> dict:
    return {"t": np.linspace(0, 1, 12), "G": rng.normal(size=(4, 12, 2)), "params": np.zeros((4, 1))}


def bad_data_file(kind: str, rng, cut: float) -> tuple[str, bytes]:
    """(suffix, content) of a data file that is not what `dataset.path` should be."""
    curves, npz = good_curves(rng), good_npz(rng)
    full_npy, full_npz = _npy_bytes(curves), _npz_bytes(**npz)
    pos = tuple(int(rng.integers(n)) for n in curves.shape)
    nan = curves.copy()
    nan[pos] = rng.choice([np.nan, np.inf, -np.inf])
    npz_nan = dict(npz)
    which = str(rng.choice(["t", "G", "params"]))
    npz_nan[which] = npz_nan[which].astype(float)
    npz_nan[which].flat[int(rng.integers(npz_nan[which].size))] = np.nan
    files = {
        "empty.npy": b"", "empty.npz": b"",
        "truncated.npy": full_npy[: int(cut * (len(full_npy) - 1))],
        "truncated.npz": full_npz[: int(cut * (len(full_npz) - 1))],
        "random.npy": rng.bytes(1 + int(cut * 400)), "random.npz": rng.bytes(1 + int(cut * 400)),
        "text.npy": b"t,G\n1,2\n",
        "bool.npy": _npy_bytes(curves > 0), "unicode.npy": _npy_bytes(curves.astype(str)),
        "complex.npy": _npy_bytes(curves + 1j), "object.npy": _npy_bytes(curves.astype(object)),
        "datetime.npy": _npy_bytes(np.zeros((4, 12, 2), dtype="datetime64[s]")),
        "1d.npy": _npy_bytes(curves.ravel()), "2d.npy": _npy_bytes(curves[0]), "4d.npy": _npy_bytes(curves[..., None]),
        "one_point.npy": _npy_bytes(curves[:, :1]), "no_curves.npy": _npy_bytes(curves[:0]),
        "no_dims.npy": _npy_bytes(curves[..., :0]), "scalar.npy": _npy_bytes(np.float64(1.0)),
        "nan.npy": _npy_bytes(nan), "all_nan.npy": _npy_bytes(np.full_like(curves, np.nan)),
        "huge.npy": _huge_npy_header(), "huge.npz": _zip_member("G.npy", _huge_npy_header()),
        "nan.npz": _npz_bytes(**npz_nan),
        "missing.npz": _npz_bytes(t=npz["t"]),
        "t_2d.npz": _npz_bytes(**{**npz, "t": npz["t"][None]}),
        "t_decreasing.npz": _npz_bytes(**{**npz, "t": npz["t"][::-1].copy()}),
        "t_complex.npz": _npz_bytes(**{**npz, "t": npz["t"] + 0j}),
        "G_short.npz": _npz_bytes(**{**npz, "G": npz["G"][:, :5]}),
        "G_2d.npz": _npz_bytes(**{**npz, "G": npz["G"][0]}),
        "params_rows.npz": _npz_bytes(**{**npz, "params": np.zeros((3, 1))}),
        "I_shape.npz": _npz_bytes(**npz, I=np.zeros((4, 12, 3))),
        "G_strings.npz": _npz_bytes(**{**npz, "G": npz["G"].astype(str)}),
        "objects.npz": _npz_bytes(**{**npz, "G": npz["G"].astype(object)}),
        "npy_as_npz.npz": full_npy,  # (an archive named .npy is read as the archive it is: not bad input)
    }
    name = kind if kind in files else "empty.npy"
    return name, files[name]


def _zip_member(name: str, content: bytes) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, content)
    return buf.getvalue()


DATA_FILE_KINDS = ["empty.npy", "empty.npz", "truncated.npy", "truncated.npz", "random.npy", "random.npz", "text.npy",
                   "bool.npy", "unicode.npy", "complex.npy", "object.npy", "datetime.npy", "1d.npy", "2d.npy", "4d.npy",
                   "one_point.npy", "no_curves.npy", "no_dims.npy", "scalar.npy", "nan.npy", "all_nan.npy",
                   "huge.npy", "huge.npz", "nan.npz", "missing.npz", "t_2d.npz", "t_decreasing.npz", "t_complex.npz",
                   "G_short.npz", "G_2d.npz", "params_rows.npz", "I_shape.npz", "G_strings.npz", "objects.npz",
                   "npy_as_npz.npz"]

CHECKPOINT_KINDS = ["empty", "truncated", "random", "npz", "not_a_dict", "missing_keys", "unknown_model",
                    "nan_weight", "inf_weight", "int_weight", "wrong_shape_weight", "missing_weight",
                    "extra_weight", "weights_not_tensors", "bad_t_final", "nan_t_final", "bad_shape", "bad_params",
                    "bad_kind", "bad_config_value", "unknown_config_key", "nan_fitted", "bad_dataset_name", "huge"]


def bad_checkpoint(kind: str, good: Path, rng, cut: float, out: Path) -> None:
    """Write at `out` a model.pt that is not what `run=` should be, derived from the good one at `good`."""
    import copy
    import os

    import torch

    raw = good.read_bytes()
    if kind in ("empty", "truncated", "random", "npz", "huge"):
        content = {"empty": b"", "truncated": raw[: int(cut * (len(raw) - 1))],
                   "random": rng.bytes(1 + int(cut * 2000)), "npz": _npz_bytes(**good_npz(rng))}.get(kind, b"")
        out.write_bytes(content)
        if kind == "huge":  # a sparse file of 8 GB of zeros
            with open(out, "wb") as fh:
                fh.truncate(8 * 2**30)
        return
    ckpt = torch.load(good, weights_only=True)
    c = copy.deepcopy(ckpt)
    state = c["state_dict"]
    name = sorted(state)[int(rng.integers(len(state)))]
    if kind == "not_a_dict":
        c = [1, 2, 3]
    elif kind == "missing_keys":
        del c[str(rng.choice(["model", "config", "dataset"]))]
    elif kind == "unknown_model":
        c["model"] = "nope"
    elif kind in ("nan_weight", "inf_weight"):
        state[name] = state[name].clone()
        state[name].view(-1)[0] = float("nan") if kind == "nan_weight" else float("inf")
    elif kind == "int_weight":
        state[name] = state[name].to(torch.int64)
    elif kind == "wrong_shape_weight":
        state[name] = torch.zeros(*(n + 1 for n in state[name].shape))
    elif kind == "missing_weight":
        del state[name]
    elif kind == "extra_weight":
        state["extra.weight"] = torch.zeros(2)
    elif kind == "weights_not_tensors":
        c["state_dict"] = {k: 1.0 for k in state}
    elif kind == "bad_t_final":
        c["dataset"]["t_final"] = "soon"
    elif kind == "nan_t_final":
        c["dataset"]["t_final"] = float("nan")
    elif kind == "bad_shape":
        c["dataset"]["shape"] = [-1, "x"]
    elif kind == "bad_params":
        c["dataset"]["params"] = [[float("nan")]]
    elif kind == "bad_kind":
        c["dataset"]["kind"] = "movie"
    elif kind == "bad_config_value":
        key = sorted(k for k, v in c["config"].items() if isinstance(v, (int, float)) and not isinstance(v, bool))[0]
        c["config"][key] = -(10**30)
    elif kind == "unknown_config_key":
        c["config"]["nope"] = 1
    elif kind == "nan_fitted":
        c["fitted"] = {"norm_mean": [float("nan")]}
    elif kind == "bad_dataset_name":
        c["dataset"]["config"]["name"] = "nope"
    torch.save(c, out)
    os.chmod(out, 0o644)
