"""One source for every default: the YAML under conf/. Schemas hold no values, the nets and fit
functions take none for the keys a config sets, every YAML composes completely, and a suite's run
is the config a user's command composes."""

import dataclasses
import inspect
import typing
from pathlib import Path

import pytest
from omegaconf import MISSING

from idelearn import config
from idelearn.data.datasets import DATASETS
from idelearn.models import anie, direct_rnn, ie_common, kernel_operator, lag_kernels, latent_ode, lstm_operator, nie
from idelearn.models.registry import MODELS
from idelearn.suites import SUITES
from idelearn.suites.common import train_run

CONF = Path(config.__file__).resolve().parents[1] / "conf"
IDENTITY = {"name"}  # a schema's name is what it is, not a default


def schema_classes():
    """Every schema a YAML file extends, with its nested dataclasses (suite cases)."""
    seen, todo = [], [*DATASETS.values(), *(m.config_class for m in MODELS.values()),
                      *(s.config_class for s in SUITES.values()),
                      config.SolverConfig, config.DeviceConfig, config.TrainerConfig]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.append(cls)
        for hint in typing.get_type_hints(cls).values():
            for arg in (hint, *typing.get_args(hint), *(a for h in typing.get_args(hint) for a in typing.get_args(h))):
                if dataclasses.is_dataclass(arg):
                    todo.append(arg)
    return seen


@pytest.mark.parametrize("schema", schema_classes(), ids=lambda c: c.__name__)
def test_schemas_hold_no_values(schema):
    def has_value(f):
        return f.default is not MISSING or f.default_factory is not dataclasses.MISSING

    with_values = [f.name for f in dataclasses.fields(schema) if f.name not in IDENTITY and has_value(f)]
    assert not with_values, f"{schema.__name__}: {with_values} have defaults; put the values in conf/ YAML"


def yaml_options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("command,group,option", [
    *(("generate", "dataset", o) for o in yaml_options("dataset") if o not in ("from_file", "from_run", "custom")),
    *(("train", "model", o) for o in yaml_options("model")),
    *(("generate", "solver", o) for o in yaml_options("solver")),
    *(("generate", "device", o) for o in yaml_options("device")),
    *(("train", "trainer", o) for o in yaml_options("trainer")),
    *(("benchmark", "suite", o) for o in yaml_options("suite") if o != "collect"),
])
def test_every_yaml_composes_into_a_complete_schema_object(command, group, option):
    obj = config.to_object(config.compose(command, [f"{group}={option}"])[group])
    assert dataclasses.is_dataclass(obj)


def test_every_registered_name_has_its_yaml():
    assert set(DATASETS) <= set(yaml_options("dataset"))
    assert set(MODELS) == set(yaml_options("model"))
    assert set(SUITES) <= set(yaml_options("suite"))  # paper1_levers: a second config of paper1_accuracy


# The nets and fit functions a model's estimator calls: no default for a key its config sets.
CONFIG_DRIVEN = {
    "lstm_operator": [lstm_operator.LSTMOperator, lstm_operator.fit_lstm_operator],
    "direct_rnn": [direct_rnn.DirectRNN, direct_rnn.fit_direct_rnn],
    "kernel_operator": [kernel_operator.SeriesKernel, kernel_operator.MLPKernel, kernel_operator.fit_kernel_operator,
                        kernel_operator.lag_candidates, kernel_operator.choose, lag_kernels.fit_exp_path,
                        lag_kernels.fit_grid_path],
    "nie": [nie.NIE, ie_common.fit_ie_model],
    "anie": [anie.ANIE, ie_common.fit_ie_model],
    "latent_ode": [latent_ode.LatentODE, latent_ode.fit_latent_ode],
}
RENAMED: dict[str, str] = {}


@pytest.mark.parametrize("name", [
    "lstm_operator",
    "kernel_operator", "direct_rnn", "nie", "anie", "latent_ode"])
def test_code_takes_no_default_for_a_configured_key(name):
    keys = {f.name for f in dataclasses.fields(MODELS[name].config_class)}
    keys |= {RENAMED[k] for k in keys if k in RENAMED}
    for fn in CONFIG_DRIVEN[name]:
        params = inspect.signature(fn).parameters
        defaulted = [k for k in keys & set(params) if params[k].default is not inspect.Parameter.empty]
        assert not defaulted, f"{fn.__qualname__} has defaults for {defaulted}: conf/model/{name}.yaml holds them"


def test_a_suite_runs_what_the_command_composes():
    suite = config.to_object(config.compose("benchmark", ["suite=paper1_accuracy"]).suite)
    overrides = ["model=lstm_operator", "dataset=dyson_multi", "dataset.n_traj=7"]
    run = train_run(suite, overrides)
    cli = config.compose("train", run.overrides)
    assert run.model == config.to_object(cli.model) and run.dataset == config.to_object(cli.dataset)
    assert run.dataset.n_traj == 7 and run.command.startswith("idelearn train model=lstm_operator")
    yaml_steps = config.to_object(config.compose("train", ["model=lstm_operator"]).model).steps
    assert run.model.steps == yaml_steps
