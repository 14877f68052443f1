"""One source for every default: the YAML under conf/. Schemas hold no values, the nets and fit
functions take none for the keys a config sets, every YAML composes completely, and a suite's run
is the config a user's command composes."""

import dataclasses
import inspect
import typing

import pytest
from omegaconf import MISSING

from idelearn import config, suites
from idelearn.data.datasets import DATASETS
from idelearn.models.registry import MODELS, yaml_options
from idelearn.settings import DeviceConfig, SolverConfig, TrainerConfig
from idelearn.suites import SUITES
from idelearn.suites.common import train_run

IDENTITY = {"name"}  # a schema's name is what it is, not a default


def schema_classes():
    """Every schema a YAML file extends, with its nested dataclasses (suite cases)."""
    seen, todo = [], [*DATASETS.values(), *(m.config_class for m in MODELS.values()),
                      *(s.config_class for s in SUITES.values()),
                      SolverConfig, DeviceConfig, TrainerConfig]
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


@pytest.mark.parametrize("command,group,option", [
    *(("generate", "dataset", o) for o in yaml_options("dataset") if o not in ("from_file", "from_run", "custom")),
    *(("train", "model", o) for o in yaml_options("model")),
    *(("generate", "solver", o) for o in yaml_options("solver")),
    *(("generate", "device", o) for o in yaml_options("device")),
    *(("train", "trainer", o) for o in yaml_options("trainer")),
    *(("benchmark", "suite", o) for o in yaml_options("suite") if o != "collect"),
])
def test_every_yaml_composes_into_a_complete_schema_object(command, group, option):
    suites.register()
    obj = config.to_object(config.compose_registered(command, [f"{group}={option}"])[group])
    assert dataclasses.is_dataclass(obj)


def test_every_registered_name_has_its_yaml():
    assert set(DATASETS) <= set(yaml_options("dataset"))
    assert set(MODELS) == set(yaml_options("model"))
    assert set(SUITES) <= set(yaml_options("suite"))  # paper1_levers: a second config of paper1_accuracy


@pytest.mark.parametrize("name", MODELS)
def test_code_takes_no_default_for_a_configured_key(name):
    """The nets and fit functions a model's estimator calls (its `numerics`) take no default for a key its
    config sets."""
    keys = {f.name for f in dataclasses.fields(MODELS[name].config_class)}
    assert MODELS[name].numerics, f"{name} declares no numerics (the nets and fit functions its estimator calls)"
    for fn in MODELS[name].numerics:
        params = inspect.signature(fn).parameters
        defaulted = [k for k in keys & set(params) if params[k].default is not inspect.Parameter.empty]
        assert not defaulted, f"{fn.__qualname__} has defaults for {defaulted}: conf/model/{name}.yaml holds them"


def test_a_suite_runs_what_the_command_composes():
    suites.register()
    suite = config.to_object(config.compose_registered("benchmark", ["suite=paper1_accuracy"]).suite)
    overrides = ["model=lstm_operator", "dataset=dyson_multi", "dataset.n_traj=7"]
    run = train_run(suite, overrides)
    cli = config.compose("train", run.overrides)
    assert run.model == config.to_object(cli.model) and run.dataset == config.to_object(cli.dataset)
    assert run.dataset.n_traj == 7 and run.command.startswith("idelearn train model=lstm_operator")
    yaml_steps = config.to_object(config.compose("train", ["model=lstm_operator"]).model).steps
    assert run.model.steps == yaml_steps
