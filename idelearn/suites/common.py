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
from ..config import compose, compose_error_line, to_object
from ..data.datasets import DATASETS
from ..errors import UserError
from ..models.registry import MODELS
from ..schema import Schema, creatable_dir, require

TRAIN_HOOKS = "suite.overrides, suite.model_overrides, suite.dataset_overrides, suite.cache_dir"


@dataclass
class SuiteConfig(Schema):
    group: ClassVar[str] = "suite"
    name: str = MISSING
    cache_dir: str = MISSING  # datasets are cached here by config hash
    overrides: list[str] = MISSING  # appended to every `idelearn train` of the suite
    model_overrides: dict[str, list[str]] = MISSING  # appended to the train runs of that model
    dataset_overrides: dict[str, list[str]] = MISSING  # appended to the train runs on that dataset
    test_overrides: list[str] = MISSING  # appended to every `idelearn extrapolate` of the suite

    def check(self):
        # the overrides themselves are composed (and so checked) before the suite runs anything
        require(creatable_dir(self.cache_dir), "suite.cache_dir", f"{self.cache_dir!r} is not a directory that "
                "exists or can be created")
        unknown = sorted(set(self.model_overrides) - set(MODELS))
        require(not unknown, "suite.model_overrides", f"unknown models {unknown}; known: {', '.join(MODELS)}")
        unknown = sorted(set(self.dataset_overrides) - set(DATASETS))
        require(not unknown, "suite.dataset_overrides", f"unknown datasets {unknown}; known: {', '.join(DATASETS)}")


def composed(command: str, overrides: list[str], sources: str):
    """The config `idelearn <command> <overrides>` composes; a failure is bad input naming the suite keys
    the overrides came from."""
    try:
        return compose(command, overrides)
    except Exception as exc:
        raise UserError(f"{sources}: `idelearn {command} {' '.join(overrides)}` does not compose: "
                        f"{compose_error_line(exc)}") from None


def objects(cfg, keys: list[str], sources: str) -> list:
    """The schema objects of `keys` of a composed config; a value error names the suite keys too."""
    try:
        return [to_object(cfg[k]) if cfg[k] is not None else None for k in keys]
    except UserError as exc:
        raise UserError(f"{sources}: {exc}") from None


@dataclass
class TrainRun:
    """One `idelearn train <overrides>`, composed."""

    overrides: list[str]
    model: Any
    dataset: Any
    solver: Any
    trainer: Any
    sources: str = ""  # the suite keys the overrides come from

    @property
    def command(self) -> str:
        return " ".join(["idelearn train", *self.overrides])

    @property
    def budget(self) -> str:
        """How long it trains, in its unit: "1000 steps", "100 epochs", "one fit"."""
        n, unit = self.model.budget()
        return "one fit" if unit == "fit" else f"{n} {unit}s"

    def train(self, log=None) -> pipeline.Trained:
        try:
            return pipeline.train(self.model, self.dataset, self.solver.spec(), self.trainer, log=log)
        except UserError as exc:  # found once the data are read (e.g. trainer.n_train too large)
            raise UserError(f"{self.sources}: {exc}") from None


def train_run(suite: SuiteConfig, overrides: list[str], source: str = "suite") -> TrainRun:
    """The run `idelearn train <overrides>` would do, with the suite's hooks appended; `source` is the
    suite key that holds `overrides` (named, with the hooks, when they do not compose).

    Suites build every run before they run any, so that bad overrides stop them before any result."""
    sources = f"{source} (with {TRAIN_HOOKS})"
    first = composed("train", overrides, sources)
    model_name = first.model.name
    dataset_name = first.dataset.name if first.dataset is not None else first.model.default_dataset
    full = [*overrides, *suite.overrides, *suite.model_overrides.get(model_name, []),
            *suite.dataset_overrides.get(dataset_name, []), f"trainer.cache_dir={suite.cache_dir}"]
    if first.dataset is None:
        full.insert(0, f"dataset={dataset_name}")
    cfg = composed("train", full, sources)
    model, dataset, solver, trainer = objects(cfg, ["model", "dataset", "solver", "trainer"], sources)
    try:
        pipeline.check_compatible(MODELS[model.name](model), dataset.name, dataset.kind, dataset.n_traj_expected())
    except UserError as exc:
        raise UserError(f"{sources}: {exc}") from None
    return TrainRun(full, model, dataset, solver, trainer, sources)


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
    sources: str = ""  # the suite keys the overrides come from

    @property
    def command(self) -> str:
        return " ".join(["idelearn extrapolate", *self.overrides])

    def check_after(self, train: TrainRun) -> None:
        """What `extrapolate` would refuse only once trained, refused before anything runs: an IDE
        model's t_final must pass the end of its training window."""
        horizon = getattr(train.dataset, "t_final", None) if hasattr(train.dataset, "dt") else None
        if self.t_final is not None and horizon is not None and self.t_final <= horizon:
            raise UserError(f"{self.sources}, {train.sources}: t_final={self.t_final:g} must exceed the training "
                            f"window's dataset.t_final={horizon:g}")

    def predict(self, trained: pipeline.Trained) -> pipeline.Prediction:
        return pipeline.extrapolate(trained.model, trained.checkpoint["dataset"], self.dataset, self.t_final,
                                    self.context, self.solver, self.start, self.from_initial)


def extrapolate_run(suite: SuiteConfig, overrides: list[str], source: str = "suite") -> ExtrapolateRun:
    full = [*overrides, *suite.test_overrides]
    sources = f"{source} (with suite.test_overrides)"
    cfg = composed("extrapolate", full, sources)
    try:
        run = to_object(cfg)  # the top-level keys (t_final, context) are checked too
    except UserError as exc:
        raise UserError(f"{sources}: {exc}") from None
    return ExtrapolateRun(full, run.t_final, run.context, run.start, run.from_initial, run.dataset, run.solver,
                          sources)
