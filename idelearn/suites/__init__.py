"""Benchmark suites: each a schema (conf/suite/<name>.yaml holds its values) and `run(cfg, report, log)`.

Adding a suite: a module here with its schema and run, an entry in SUITES, and its YAML.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from omegaconf import MISSING, OmegaConf, open_dict

from ..config import Schema, compose, require, to_object
from . import paper1_accuracy, paper1_timing, paper2


@dataclass
class SmokeSuite(Schema):
    """Every suite's pipeline on tiny settings (run by `make test`): the same cases, shrunk by overrides."""

    group: ClassVar[str] = "suite"
    name: str = "smoke"
    cache_dir: str = MISSING
    runs: dict[str, dict[str, Any]] = MISSING  # suite name -> the keys of its config to replace


def smoke(cfg: SmokeSuite, report, log) -> None:
    for name, values in cfg.runs.items():
        unknown = sorted(set(values) - {f.name for f in fields(SUITES[name].config_class)})
        require(not unknown, f"suite.runs.{name}", f"unknown keys {unknown}")
        suite = compose("benchmark", [f"suite={name}", f"suite.cache_dir={cfg.cache_dir}"]).suite
        with open_dict(suite):  # the dict-valued keys (model_overrides, ...) gain entries
            suite = OmegaConf.merge(suite, values)
        SUITES[name].run(to_object(suite), report, log)


@dataclass
class CollectSuite(Schema):
    group: ClassVar[str] = "suite"
    name: str = "collect"
    dir: str = MISSING  # a multirun directory


def collect(cfg: CollectSuite, report, log) -> None:
    from ..report.collect import collect as collect_runs

    rows, table = collect_runs(cfg.dir)
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
