"""Benchmark suites: each a schema (conf/suite/<name>.yaml holds its values) and `run(cfg, report, log)`.

Adding a suite: a module here with its schema and run, an entry in SUITES, and its YAML.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from omegaconf import MISSING, OmegaConf, open_dict

from ..config import Schema, compose, creatable_dir, require, to_object
from ..errors import UserError
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


def smoke(cfg: SmokeSuite, report, log) -> None:
    suites = {}
    for name, values in cfg.runs.items():  # every suite's config first: a bad value stops smoke before any run
        suite = compose("benchmark", [f"suite={name}"]).suite
        try:
            with open_dict(suite):  # the dict-valued keys (model_overrides, ...) gain entries
                suite = OmegaConf.merge(suite, {"cache_dir": cfg.cache_dir, **values})
            suites[name] = to_object(suite)
        except UserError as exc:
            raise UserError(f"suite.runs.{name}: {exc}") from None
        except Exception as exc:  # a value of the wrong type for the suite's key
            from ..cli import compose_error_line

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
    from ..report.collect import collect as collect_runs

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
