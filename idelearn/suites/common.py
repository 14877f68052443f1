"""What every suite shares: its schema base, and runs composed exactly as a user's commands.

A suite names each training run by the overrides of `idelearn train` and each test by the
overrides of `idelearn extrapolate`; they are composed through Hydra from the same YAML a
user's command reads, and every report row carries the command that reproduces it. The
suite's own hooks (`overrides`, `model_overrides`, `dataset_overrides`, `test_overrides`)
are appended to every run: the smoke suite uses them to shrink the same cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from omegaconf import MISSING

from .. import pipeline
from ..config import Schema, compose, to_object


@dataclass
class SuiteConfig(Schema):
    group: ClassVar[str] = "suite"
    name: str = MISSING
    cache_dir: str = MISSING  # datasets are cached here by config hash
    overrides: list[str] = MISSING  # appended to every `idelearn train` of the suite
    model_overrides: dict[str, list[str]] = MISSING  # appended to the train runs of that model
    dataset_overrides: dict[str, list[str]] = MISSING  # appended to the train runs on that dataset
    test_overrides: list[str] = MISSING  # appended to every `idelearn extrapolate` of the suite


@dataclass
class TrainRun:
    """One `idelearn train <overrides>`, composed."""

    overrides: list[str]
    model: Any
    dataset: Any
    solver: Any
    trainer: Any

    @property
    def command(self) -> str:
        return " ".join(["idelearn train", *self.overrides])

    @property
    def budget(self) -> str:
        """How long it trains, in its unit: "1000 steps", "100 epochs", "one fit"."""
        n, unit = self.model.budget()
        return "one fit" if unit == "fit" else f"{n} {unit}s"

    def train(self, log=None) -> pipeline.Trained:
        return pipeline.train(self.model, self.dataset, self.solver.spec(), self.trainer, log=log)


def train_run(suite: SuiteConfig, overrides: list[str]) -> TrainRun:
    """The run `idelearn train <overrides>` would do, with the suite's hooks appended."""
    first = compose("train", overrides)
    model_name = first.model.name
    dataset_name = first.dataset.name if first.dataset is not None else first.model.default_dataset
    full = [*overrides, *suite.overrides, *suite.model_overrides.get(model_name, []),
            *suite.dataset_overrides.get(dataset_name, []), f"trainer.cache_dir={suite.cache_dir}"]
    if first.dataset is None:
        full.insert(0, f"dataset={dataset_name}")
    cfg = compose("train", full)
    return TrainRun(full, to_object(cfg.model), to_object(cfg.dataset), to_object(cfg.solver),
                    to_object(cfg.trainer))


@dataclass
class ExtrapolateRun:
    """One `idelearn extrapolate <overrides>`, composed (the run directory is the suite's trained model)."""

    overrides: list[str]
    t_final: float | None
    context: int | None
    start: int
    from_initial: bool
    dataset: Any
    solver: Any

    @property
    def command(self) -> str:
        return " ".join(["idelearn extrapolate", *self.overrides])

    def predict(self, trained: pipeline.Trained) -> pipeline.Prediction:
        return pipeline.extrapolate(trained.model, trained.checkpoint["dataset"], self.dataset, self.t_final,
                                    self.context, self.solver, self.start, self.from_initial)


def extrapolate_run(suite: SuiteConfig, overrides: list[str]) -> ExtrapolateRun:
    full = [*overrides, *suite.test_overrides]
    cfg = compose("extrapolate", full)
    return ExtrapolateRun(full, cfg.t_final, cfg.context, cfg.start, cfg.from_initial, to_object(cfg.dataset),
                          to_object(cfg.solver))
