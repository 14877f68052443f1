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

from idelearn import cli, config
from idelearn.data.datasets import DATASETS, from_run_schema
from idelearn.models.registry import MODELS
from idelearn.suites import SUITES

CONF = Path(config.__file__).resolve().parents[1] / "conf"
PRIMARY = {"generate": config.GenerateConfig, "train": config.TrainConfig,
           "extrapolate": config.ExtrapolateConfig, "benchmark": config.BenchmarkConfig}
FIXED_SCHEMAS = {"solver": config.SolverConfig, "device": config.DeviceConfig, "trainer": config.TrainerConfig}


def options(group: str) -> list[str]:
    """The options of a config group: its YAML files (tests/test_config.py ties them to the registries)."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def schema_of(group: str, option: str):
    if group == "dataset":
        return from_run_schema() if option == "from_run" else DATASETS[option]
    if group == "model":
        return MODELS[option].config_class
    if group == "suite":
        return SUITES[option].config_class
    return FIXED_SCHEMAS[group]


def command_groups(command: str) -> tuple[list[str], list[str]]:
    """(config groups, top-level keys) of a command, from its primary schema."""
    names = [f.name for f in dataclasses.fields(PRIMARY[command])]
    return [n for n in names if n in cli.GROUPS], [n for n in names if n not in cli.GROUPS]


def group_options(command: str, group: str) -> list[str]:
    """The options a command is meant to run with (the others are fuzzed as group choices)."""
    if group == "dataset":
        if command == "extrapolate":
            return ["from_run", "from_file"]
        return [o for o in options("dataset") if o != "from_run"]
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

# Values that make a run cheap, by field name: applied to every schema that has the field.
SHRINK = {
    "n_traj": "3", "n_t": "8", "seed": "0",
    "steps": "1", "epochs": "1", "batch_size": "2", "hidden_size": "2", "num_layers": "1",
    "hidden": "2", "width": "2", "n_samples": "2", "max_iter": "1", "d_model": "2", "n_heads": "1",
    "n_layers": "1", "dim_feedforward": "2", "delay": "2", "context": "3", "bptt_window": "0",
    "log_every": "1", "checkpoint_every": "1", "threads": "1",
}
IDE_T_FINAL, CURVE_T_FINAL = "0.2", "1.0"

# Suites: their keys replaced so that an accepted run does next to nothing (and fast).
SUITE_BASE = {
    "smoke": ["+suite.runs.paper2.models=[]", "+suite.runs.paper1_accuracy.only=[dmd]",
              "+suite.runs.paper1_timing.run={ide_run}"],
    "collect": ["suite.dir={empty}"],
    "paper2": ["suite.models=[]"],
    "paper1_accuracy": ["suite.only=[dmd]", "suite.overrides=['dataset.t_final=0.3','solver.order=4']",
                        "suite.test_overrides=['t_final=0.6','solver.order=4']",
                        "+suite.model_overrides.dmd=['model.delay=2']"],
    "paper1_timing": ["suite.run={ide_run}", "suite.horizons=[0.3]", "suite.fe_max_horizon=0.3",
                      "suite.coarse_steps=[0.1]", "suite.matrix_sizes=[1]", "suite.cost_steps=[10,20]"],
}


def shrink(group: str, option: str) -> list[str]:
    names = {f.name for f in dataclasses.fields(schema_of(group, option))}
    out = [f"{group}.{k}={v}" for k, v in SHRINK.items() if k in names]
    if "t_final" in names and group == "dataset" and option not in ("from_run", "from_file"):
        out.append(f"dataset.t_final={IDE_T_FINAL if 'dt' in names else CURVE_T_FINAL}")
    return out


def default_dataset(model: str) -> str:
    return config.compose("train", [f"model={model}"]).model.default_dataset


def base_overrides(key: Key, files: dict) -> list[str]:
    """The overrides of a cheap run of `key`'s command with `key`'s group option selected."""
    c = key.command
    out: list[str] = []
    if c == "train":
        model = key.option if key.group == "model" else ("direct_rnn" if key.group == "dataset"
                                                         else "nie" if key.group == "trainer" else "lstm_operator")
        dataset = key.option if key.group == "dataset" else default_dataset(model)
        out += [f"model={model}", *shrink("model", model), f"dataset={dataset}", *shrink("dataset", dataset),
                *shrink("trainer", "default"), f"trainer.cache_dir={files['cache']}"]
        if dataset == "from_file":
            out.append(f"dataset.path={files['curves']}")
    elif c == "generate":
        dataset = key.option if key.group == "dataset" else "dyson"
        out += [f"dataset={dataset}", *shrink("dataset", dataset)]
        if dataset == "from_file":
            out.append(f"dataset.path={files['curves']}")
    elif c == "extrapolate":
        curves = key.name in ("context", "dataset.path", "dataset.t_final") or key.option == "from_file"
        out.append(f"run={files['curve_run' if curves else 'ide_run']}")
        if key.option == "from_file":
            out += ["dataset=from_file", f"dataset.path={files['curves']}"]
    elif c == "benchmark":
        suite = key.option if key.group == "suite" else "smoke"
        out += [f"suite={suite}", f"suite.cache_dir={files['cache']}"] if suite != "collect" else [f"suite={suite}"]
        out += [o.replace("{empty}", files["empty"]).replace("{ide_run}", files["ide_run"])
            for o in SUITE_BASE.get(suite, [])]
    if key.group in ("solver", "device"):
        out.append(f"{key.group}={key.option}")
    if "device" in command_groups(c)[0] and key.group != "device":
        out.append("device.threads=1")
    return out


def with_value(base: list[str], key: str, token: str) -> list[str]:
    """`base` with `key=token` in place of any base value of `key` (or of a group choice `key=`)."""
    def target(o):
        return o.split("=", 1)[0].lstrip("+~")

    kept = [o for o in base if target(o) != key and not target(o).startswith(f"{key}.")]
    return [*kept, f"{key}={token}"]


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


def invoke(args: list[str]) -> int:
    """Run the CLI in-process; the exit code (0 when main returns)."""
    try:
        cli.main(list(args))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


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
