"""Benchmark suites: each a schema (conf/suite/<name>.yaml holds its values) and `run(cfg, report, log)`.

Adding a suite: a module here with its schema and run, an entry in SUITES, and its YAML.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf, open_dict

from .. import config
from ..config import compose_error_line, compose_registered, to_object
from ..errors import UserError
from ..models.registry import MODELS
from ..report.collect import collect as collect_runs
from ..schema import Schema, creatable_dir, require
from ..settings import DeviceConfig
from . import paper1_accuracy, paper1_timing, paper2

SHRUNK = ("paper1_timing", "paper1_accuracy", "paper2")  # the suites `smoke` runs


@dataclass
class SmokeSuite(Schema):
    """Every suite's pipeline on tiny settings (run by `make test`): the same cases, shrunk by overrides."""

    group: ClassVar[str] = "suite"
    name: str = "smoke"
    cache_dir: str = MISSING
    runs: dict[str, dict[str, Any]] = MISSING  # suite name -> the keys of its config to replace

    def check(self):
        require(creatable_dir(self.cache_dir), "suite.cache_dir", f"{self.cache_dir!r} is not a directory that "
                "exists or can be created")
        unknown = sorted(set(self.runs) - set(SHRUNK))
        require(not unknown, "suite.runs", f"unknown suites {unknown}; smoke runs {', '.join(SHRUNK)}")
        for name, values in self.runs.items():
            unknown = sorted(set(values) - {f.name for f in fields(SUITES[name].config_class)})
            require(not unknown, f"suite.runs.{name}", f"unknown keys {unknown}")


def tiny_models() -> dict[str, list[str]]:
    """Every registered model's tiny settings (its `tiny` entry), as a suite's model_overrides."""
    return {name: [f"model.{k}={v}" for k, v in model.tiny.items()] for name, model in MODELS.items()}


def smoke(cfg: SmokeSuite, report, log) -> None:
    suites = {}
    for name, values in cfg.runs.items():  # every suite's config first: a bad value stops smoke before any run
        suite = compose_registered("benchmark", [f"suite={name}"]).suite
        try:
            with open_dict(suite):  # the dict-valued keys (model_overrides, ...) gain entries
                # every model a suite trains runs its tiny settings; the smoke YAML's values come on top
                suite = OmegaConf.merge(suite, {"cache_dir": cfg.cache_dir, "model_overrides": tiny_models()},
                                        values)
            suites[name] = to_object(suite)
        except UserError as exc:
            raise UserError(f"suite.runs.{name}: {exc}") from None
        except Exception as exc:  # a value of the wrong type for the suite's key
            raise UserError(f"suite.runs.{name}: {compose_error_line(exc)}") from None
    for name, suite in suites.items():
        SUITES[name].run(suite, report, log)


@dataclass
class CollectSuite(Schema):
    group: ClassVar[str] = "suite"
    name: str = "collect"
    dir: str = MISSING  # a multirun directory

    def check(self):
        require(Path(self.dir).expanduser().is_dir(), "suite.dir", f"{self.dir} is not a directory")


def collect(cfg: CollectSuite, report, log) -> None:
    try:
        rows, table = collect_runs(cfg.dir)
    except UserError as exc:
        raise UserError(f"suite.{exc}") from None
    report.heading(f"Runs collected from {cfg.dir}")
    report.text(table)
    report.results["runs"] = rows


@dataclass(frozen=True)
class Suite:
    name: str
    config_class: type
    run: Callable


SUITES: dict[str, Suite] = {s.name: s for s in (
    Suite("paper1_timing", paper1_timing.Paper1TimingSuite, paper1_timing.run),
    Suite("paper1_accuracy", paper1_accuracy.Paper1AccuracySuite, paper1_accuracy.run),
    Suite("paper2", paper2.Paper2Suite, paper2.run),
    Suite("smoke", SmokeSuite, smoke),
    Suite("collect", CollectSuite, collect),
)}


@dataclass
class BenchmarkConfig(Schema):
    suite: Any = MISSING
    device: DeviceConfig = MISSING


def register() -> None:
    """Register the schemas `idelearn benchmark` composes (its suites compose the other commands' configs)."""
    for command in config.COMMAND_SCHEMAS:
        config.register(command)
    cs = ConfigStore.instance()
    for name, suite in SUITES.items():
        cs.store(group="suite", name=f"schema_{name}", node=suite.config_class)
    cs.store(name="schema_benchmark", node=BenchmarkConfig)
