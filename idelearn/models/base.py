"""What every model shares: the schema bases, the estimator interface, and the compatibility errors.

Every estimator has one shape (PyDMD style):

    model = MODELS[name](config)                      # config: the composed schema object
    history = model.fit(data, seed=...)               # -> dict of loss curves
    G = model.extrapolate(G_known, t, F=..., I_known=...)   # whole trajectories on t
    ckpt = model.checkpoint(); MODELS[ckpt["model"]].restore(ckpt)

`extrapolate` gets the first k nodes of each trajectory and returns all of them up
to len(t) (the known part included, unchanged). IDE models also get the streaming
term F(G, t) and the known memory I; curve models ignore them.

A model's module (`idelearn/models/<name>.py`) holds its schema, its estimator (a
`Model` subclass, exported as `MODEL`) and its numerics; the nets and fit
functions take plain arguments, the estimator is where its config becomes them.
Each estimator declares `tiny`: the overrides of the smallest run that exercises it,
from which the tests build their per-model tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import ClassVar

import numpy as np
from omegaconf import MISSING, OmegaConf

from ..data.dataset import Dataset
from ..data.datasets import DATASETS, IDE_DATASETS
from ..schema import MAX_ITERATIONS, Schema, require


def yaml_values(group: str, name: str) -> dict:
    """The values of conf/<group>/<name>.yaml (without its `defaults` list)."""
    values = OmegaConf.to_container(OmegaConf.load(files("idelearn.conf").joinpath(group, f"{name}.yaml")))
    values.pop("defaults", None)
    return values


class Incompatible(ValueError):
    """A model/dataset combination that cannot work."""


# Meaningful ranges of the size keys: far beyond any setting of the papers, short of sizes that
# overflow an index or allocate more than a machine holds at once.
MAX_WIDTH = 8192  # hidden sizes, d_model, dim_feedforward
MAX_LAYERS = 64
MAX_BATCH = 10**6
MAX_LR = 10.0
COMPOSABLE_DATASETS = sorted(n for n in DATASETS if n != "from_file")  # from_file needs a path


@dataclass
class ModelConfig(Schema):
    group: ClassVar[str] = "model"
    name: str = MISSING
    default_dataset: str = MISSING  # trained on this dataset when `dataset=` is not given

    def check(self):
        require(self.default_dataset in COMPOSABLE_DATASETS, "model.default_dataset",
                f"must be one of {', '.join(COMPOSABLE_DATASETS)}, got {self.default_dataset!r}")

    def budget(self) -> tuple[int, str]:
        """How long training runs, in its unit: (steps, "step"), (epochs, "epoch") or (1, "fit")."""
        return 1, "fit"


@dataclass
class SteppedTraining(ModelConfig):
    """Trained in optimiser steps, each on a mini-batch of trajectories (paper 1 calls a step an epoch)."""

    steps: int = MISSING
    lr: float = MISSING
    batch_size: int = MISSING

    def check(self):
        super().check()
        require(1 <= self.steps <= MAX_ITERATIONS, "model.steps", f"must be in 1..{MAX_ITERATIONS:.0e}, "
                f"got {self.steps}")
        require(0 < self.lr <= MAX_LR, "model.lr", f"must be in (0, {MAX_LR:g}], got {self.lr}")
        require(1 <= self.batch_size <= MAX_BATCH, "model.batch_size", f"must be in 1..{MAX_BATCH:.0e}, "
                f"got {self.batch_size}")

    def budget(self):
        return self.steps, "step"


@dataclass
class RecurrentTraining(SteppedTraining):
    """A stacked LSTM trained in steps (lstm_operator, direct_rnn): its size."""

    hidden_size: int = MISSING
    num_layers: int = MISSING

    def check(self):
        super().check()
        require(1 <= self.hidden_size <= MAX_WIDTH, "model.hidden_size", f"must be in 1..{MAX_WIDTH}, "
                f"got {self.hidden_size}")
        require(1 <= self.num_layers <= MAX_LAYERS, "model.num_layers", f"must be in 1..{MAX_LAYERS}, "
                f"got {self.num_layers}")


@dataclass
class EpochTraining(ModelConfig):
    """Trained in epochs, each a pass over the training curves in mini-batches; lr cosine-decays to lr_final."""

    epochs: int = MISSING
    lr: float = MISSING
    batch_size: int = MISSING
    lr_final: float | None = MISSING  # None: constant learning rate

    def check(self):
        super().check()
        require(1 <= self.epochs <= MAX_ITERATIONS, "model.epochs", f"must be in 1..{MAX_ITERATIONS:.0e}, "
                f"got {self.epochs}")
        require(0 < self.lr <= MAX_LR, "model.lr", f"must be in (0, {MAX_LR:g}], got {self.lr}")
        require(1 <= self.batch_size <= MAX_BATCH, "model.batch_size", f"must be in 1..{MAX_BATCH:.0e}, "
                f"got {self.batch_size}")
        require(self.lr_final is None or 0 <= self.lr_final <= self.lr, "model.lr_final",
                f"must be in [0, model.lr = {self.lr:g}] (or null), got {self.lr_final}")

    def budget(self):
        return self.epochs, "epoch"


class Model:
    name: ClassVar[str] = ""
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    accepts: ClassVar[str] = ""  # human-readable, for error messages
    needs_window: ClassVar[bool] = True  # IDE models: extrapolate needs a known window, not G(0) alone
    takes_streaming_term: ClassVar[bool] = False  # fit also gets F= (the IDE dataset's streaming term)
    needs_known_memory: ClassVar[bool] = False  # extrapolate needs the window's I (it cannot compute its own)
    # The smallest run that exercises the model, for the tests' per-model tables (end-to-end CLI runs, the
    # smoke suite, the property tests): `tiny_data` composes its dataset (and the keys that depend on the
    # data's size), `tiny` shrinks the model's own keys.
    tiny_data: ClassVar[tuple[str, ...]] = ()
    tiny: ClassVar[dict[str, str]] = {}
    # The nets and fit functions the estimator calls with its config's values (tests/test_config.py: none of
    # them may default a key the config sets, so the YAML stays the one source of every value).
    numerics: ClassVar[tuple] = ()

    def __init__(self, config: ModelConfig):
        self.config = config
        self.net = None
        self.fitted: dict = {}  # what fit learned besides the net's weights (normalisation, DMD modes)

    def check(self, kind: str, n_traj: int) -> None:
        """Raise Incompatible unless data of this kind ('ide' | 'trajectory') and size can work."""

    def fit(self, data: Dataset, *, seed: int, on_iteration=None, device=None, checkpointing=None) -> dict:
        raise NotImplementedError

    def extrapolate(self, G_known: np.ndarray, t: np.ndarray, *, F=None, I_known=None, solver=None) -> np.ndarray:
        """Whole trajectories on t from their first nodes G_known; IDE models also get the streaming term F,
        the known memory I_known and the reference solver's settings (a SolverSpec)."""
        raise NotImplementedError

    def make_net(self, **net_config):
        raise NotImplementedError

    def checkpoint(self) -> dict:
        return {"model": self.name, "config": self.config.plain(), "fitted": self.fitted,
                "net_config": None if self.net is None else dict(self.net.config),
                "state_dict": None if self.net is None else self.net.state_dict()}

    @classmethod
    def restore(cls, ckpt: dict) -> Model:
        # a key added after the checkpoint was written takes its YAML value: defaults keep the behaviour before
        model = cls(cls.config_class.from_plain({**yaml_values("model", cls.name), **ckpt["config"]}))
        model.fitted = dict(ckpt.get("fitted") or {})
        if ckpt.get("net_config") is not None:
            model.net = model.make_net(**ckpt["net_config"])
            model.net.load_state_dict(ckpt["state_dict"])
            model.net.eval()
        return model

    def to(self, device) -> Model:
        if self.net is not None:
            self.net.to(device)
        return self


def needs_ide(model: Model, kind: str) -> None:
    if kind != "ide":
        raise Incompatible(f"{model.name} needs {model.accepts}")


def needs_memory(model: Model, data: Dataset, alternative: str = "") -> None:
    """Fits of the memory integral I refuse measured IDE data (G without I) in one line."""
    if data.I is None:
        raise Incompatible(f"{model.name} fits the memory integral I, which the data do not hold (measured G "
                           f"alone): {alternative or 'fit from G and the streaming term F with model=kernel_operator'}"
                           " model.fit_on=trajectory")


NEEDS_STREAMING_TERM = ("model.fit_on=trajectory needs the dataset's streaming term F (a generated or custom IDE "
                        "dataset, or dataset=from_file with dataset.problem)")

IDE_DATA = ("IDE data of the convolution form dG/dt = F(G, t) + ∫_0^t K(G(t-s), t-s) G(s) ds, with its memory "
            f"integral I ({', '.join(IDE_DATASETS)}, or from_file IDE data)")


def data_order(model: Model, order: int | None, data: Dataset) -> int:
    """The Gregory order of a learned kernel's fit: `order`, else the order of the solver that made the data."""
    if order is not None:
        return order
    solved_by = data.meta.get("solver", {})
    if solved_by.get("method") != "abm":
        raise Incompatible(f"{model.name}'s kernel fit needs the data's Gregory order, but the data were not solved "
                           "by solver=abm: give model.order (the order of the fit's quadrature; 6 suits smooth "
                           "measured data)")
    return int(solved_by["order"])
