"""The model registry: for each `model=<name>`, its config schema and its estimator.

Every estimator has one shape (PyDMD style):

    model = MODELS[name](config)                      # config: the composed schema object
    history = model.fit(data, seed=...)               # -> dict of loss curves
    G = model.extrapolate(G_known, t, F=..., I_known=...)   # whole trajectories on t
    ckpt = model.checkpoint(); MODELS[ckpt["model"]].restore(ckpt)

`extrapolate` gets the first k nodes of each trajectory and returns all of them up
to len(t) (the known part included, unchanged). IDE models also get the streaming
term F(G, t) and the known memory I; curve models ignore them.

This is the one place where a model's config becomes objects: the nets and their fit
functions (lstm_operator.py, nie.py, ...) take plain arguments. Adding a model: its
numerics in a module of this package, a schema + estimator + MODELS entry here, and
conf/model/<name>.yaml with its values.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

import numpy as np
import torch
from omegaconf import MISSING

from ..config import MAX_ITERATIONS, MAX_NODES, Schema, require
from ..data.dataset import Dataset
from ..data.datasets import DATASETS
from ..errors import UserError
from ..solvers.multistep import adams_integrate
from . import anie as anie_mod
from . import direct_rnn as direct_rnn_mod
from . import dmd as dmd_mod
from . import ie_common
from . import kernel_operator as kernel_mod
from . import latent_ode as latent_ode_mod
from . import lstm_operator as lstm_mod
from . import nie as nie_mod


class Incompatible(ValueError):
    """A model/dataset combination that cannot work."""


# Meaningful ranges of the size keys: far beyond any setting of the papers, short of sizes that
# overflow an index or allocate more than a machine holds at once.
MAX_WIDTH = 8192  # hidden sizes, d_model, dim_feedforward
MAX_LAYERS = 64
MAX_BATCH = 10**6
MAX_LR = 10.0
COMPOSABLE_DATASETS = sorted(n for n in DATASETS if n != "from_file")  # from_file needs a path


# ----------------------------------------------------------------------------- schemas shared by models

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
        model = cls(cls.config_class.from_plain(ckpt["config"]))
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


IDE_DATA = "IDE data with the memory integral I (dyson, dyson_multi, matrix_ide, matrix_ide_multi)"


# ----------------------------------------------------------------------------- lstm_operator

class LSTMMemory(Enum):
    legs = "legs"  # structured: online Legendre projections of φ(G) and G, a fitted power series φ
    lstm = "lstm"  # the paper's LSTM
    legs_lstm = "legs_lstm"  # both: the LSTM learns what the structured memory leaves


@dataclass
class LSTMOperatorConfig(SteppedTraining):
    name: str = "lstm_operator"
    memory: LSTMMemory = MISSING
    legs_order: int = MISSING  # Legendre modes of the structured memory (N ≳ frequency of G × t_final / 2)
    kernel_degree: int = MISSING  # degree of the structured memory's power series φ
    kernel_steps: int = MISSING  # L-BFGS steps of φ's fit (kernel_operator's)
    order: int | None = MISSING  # Gregory order of φ's fit; None: the data's solver.order
    hidden_size: int = MISSING
    num_layers: int = MISSING
    ema: float = MISSING  # running-amplitude scaling of G and I (0 = the paper's fixed scaling)
    ab_order: int = MISSING  # Adams–Bashforth order of the extrapolation (the paper: AB3)
    corrector: bool = MISSING
    gain: float = MISSING  # random amplitude perturbation in training (robustness to its own feedback)
    bptt_window: int = MISSING  # train each step on one window of this many nodes (truncated BPTT; 0 = whole)

    def check(self):
        super().check()
        require(1 <= self.hidden_size <= MAX_WIDTH, "model.hidden_size", f"must be in 1..{MAX_WIDTH}, "
                f"got {self.hidden_size}")
        require(1 <= self.num_layers <= MAX_LAYERS, "model.num_layers", f"must be in 1..{MAX_LAYERS}, "
                f"got {self.num_layers}")
        require(0 <= self.ema < 1, "model.ema", f"must be in [0, 1), got {self.ema}")
        require(1 <= self.ab_order <= 8, "model.ab_order", f"must be in 1..8, got {self.ab_order}")
        require(0 <= self.gain <= 10, "model.gain", f"must be in [0, 10] (|log g| <= gain), got {self.gain}")
        require(0 <= self.bptt_window <= MAX_NODES, "model.bptt_window", f"must be in 0..{MAX_NODES:.0e}, "
                f"got {self.bptt_window}")
        require(4 <= self.legs_order <= MAX_WIDTH, "model.legs_order", f"must be in 4..{MAX_WIDTH}, "
                f"got {self.legs_order}")
        require(0 <= self.kernel_degree <= 64, "model.kernel_degree", f"must be in 0..64, got {self.kernel_degree}")
        require(1 <= self.kernel_steps <= MAX_ITERATIONS, "model.kernel_steps", f"must be in 1..{MAX_ITERATIONS:.0e}, "
                f"got {self.kernel_steps}")
        require(self.order is None or 3 <= self.order <= 8, "model.order", f"must be in 3..8, got {self.order}")

    def budget(self):
        return (1, "fit") if self.memory is LSTMMemory.legs else (self.steps, "step")


def data_order(model: Model, order: int | None, data: Dataset) -> int:
    """The Gregory order of a learned kernel's fit: `order`, else the order of the solver that made the data."""
    if order is not None:
        return order
    solved_by = data.meta.get("solver", {})
    if solved_by.get("method") != "abm":
        raise Incompatible(f"{model.name}'s kernel fit needs the data's Gregory order, but the data were not solved "
                           "by solver=abm (give model.order)")
    return int(solved_by["order"])


class LSTMOperatorModel(Model):
    """Paper 1: an LSTM learns G history -> I; the IDE is then stepped with AB(ab_order)."""

    name = "lstm_operator"
    config_class = LSTMOperatorConfig
    accepts = IDE_DATA

    def check(self, kind, n_traj):
        needs_ide(self, kind)

    def make_net(self, **net_config):
        return lstm_mod.LSTMOperator(**net_config)

    def fit(self, data, *, seed, on_iteration=None, device=None, checkpointing=None):
        c = self.config
        torch.manual_seed(seed)
        self.net = self.make_net(n_features=2 * int(np.prod(data.G.shape[-2:])), hidden_size=c.hidden_size,
                                 num_layers=c.num_layers, ema=c.ema, memory=c.memory.value, legs_order=c.legs_order,
                                 kernel_degree=c.kernel_degree)
        order = data_order(self, c.order, data) if self.net.uses_legs else 8
        # One trajectory: train on its whole window (holding out its last 20 % measured 1.10 vs 0.47
        # rel_l2 on Dyson, t <= 10 -> 40); many: 20 % of them are held out for the validation curve.
        val_fraction = 0.0 if data.n_traj == 1 else 0.2
        return lstm_mod.fit_lstm_operator(self.net, data.G, data.I, dt=data.dt, steps=c.steps, lr=c.lr,
                                          batch_size=c.batch_size, seed=seed, gain=c.gain, bptt_window=c.bptt_window,
                                          order=order, kernel_steps=c.kernel_steps, val_fraction=val_fraction,
                                          on_epoch=on_iteration, device=device, checkpointing=checkpointing)

    def extrapolate(self, G_known, t, *, F=None, I_known=None, solver=None):
        if F is None:
            raise ValueError("lstm_operator extrapolation needs the streaming term F")
        from . import fast_lstm  # here, not at the top: only this method of the file uses it

        c, dt = self.config, float(t[1] - t[0])
        if fast_lstm.supported(self.net, c.corrector):
            # The same maths as the generic stepper below, in one fused loop (~15x faster per step):
            # two loops, kept equal step for step by tests/models/test_fast_lstm.py.
            G, _ = fast_lstm.adams_lstm(self.net, F, G_known, I_known, dt, len(t), order=c.ab_order)
            return G
        G, _ = adams_integrate(F, lstm_mod.LearnedMemory(self.net), G_known, I_known, dt, len(t),
                               order=c.ab_order, corrector=c.corrector)
        return G


# ----------------------------------------------------------------------------- kernel_operator

class KernelFamily(Enum):
    series = "series"
    mlp = "mlp"


class SeriesBasis(Enum):
    power = "power"
    chebyshev = "chebyshev"


class KernelOptimizer(Enum):
    lbfgs = "lbfgs"
    adam = "adam"


@dataclass
class KernelOperatorConfig(ModelConfig):
    name: str = "kernel_operator"
    family: KernelFamily = MISSING  # series: an analytic matrix function of G; mlp: any function of G (and τ)
    n_terms: int = MISSING  # series
    basis: SeriesBasis = MISSING  # series
    even: bool = MISSING  # series: a series in G² (even kernels only)
    width: int = MISSING  # mlp
    depth: int = MISSING  # mlp
    lag: bool = MISSING  # mlp: K(G, τ) also takes the lag τ
    order: int | None = MISSING  # Gregory order of the training loss; None: the data's solver.order
    optimizer: KernelOptimizer = MISSING
    steps: int = MISSING  # optimiser steps (an L-BFGS step is up to lbfgs_iterations iterations)
    lbfgs_iterations: int = MISSING
    lr: float | None = MISSING  # None: 1 for L-BFGS, 3e-3 for Adam

    def check(self):
        super().check()
        require(1 <= self.n_terms <= 64, "model.n_terms", f"must be in 1..64, got {self.n_terms}")
        require(1 <= self.width <= MAX_WIDTH, "model.width", f"must be in 1..{MAX_WIDTH}, got {self.width}")
        require(1 <= self.depth <= MAX_LAYERS, "model.depth", f"must be in 1..{MAX_LAYERS}, got {self.depth}")
        require(self.order is None or 3 <= self.order <= 8, "model.order", f"must be in 3..8, got {self.order}")
        require(1 <= self.steps <= MAX_ITERATIONS, "model.steps", f"must be in 1..{MAX_ITERATIONS:.0e}, "
                f"got {self.steps}")
        require(1 <= self.lbfgs_iterations <= 10**4, "model.lbfgs_iterations", f"must be in 1..10000, "
                f"got {self.lbfgs_iterations}")
        require(self.lr is None or 0 < self.lr <= MAX_LR, "model.lr", f"must be in (0, {MAX_LR:g}], got {self.lr}")

    def budget(self):
        return self.steps, "step"


class KernelOperatorModel(Model):
    """Beyond the papers: the memory integral stays exact (the reference's Gregory quadrature), only the
    kernel K_θ(G) is learned; extrapolation is the reference solver with K_θ."""

    name = "kernel_operator"
    config_class = KernelOperatorConfig
    accepts = IDE_DATA
    needs_window = False  # K_θ alone solves from G(0)

    def check(self, kind, n_traj):
        needs_ide(self, kind)

    def make_net(self, family, **net_config):
        return kernel_mod.KERNELS[family](**net_config)

    def fit(self, data, *, seed, on_iteration=None, device=None, checkpointing=None):
        c = self.config
        torch.manual_seed(seed)
        if c.family is KernelFamily.series:
            self.net = self.make_net("series", n_terms=c.n_terms, basis=c.basis.value, even=c.even)
        else:
            d, m = data.G.shape[-2:]
            self.net = self.make_net("mlp", d=d, m=m, width=c.width, depth=c.depth, lag=c.lag)
        order = data_order(self, c.order, data)
        self.fitted = {"order": order}
        return kernel_mod.fit_kernel_operator(self.net, data.G, data.I, data.dt, order=order,
                                              optimizer=c.optimizer.value, steps=c.steps, lr=c.lr, seed=seed,
                                              lbfgs_iterations=c.lbfgs_iterations, on_step=on_iteration,
                                              device=device, checkpointing=checkpointing)

    def checkpoint(self) -> dict:
        ckpt = super().checkpoint()
        ckpt["net_config"] = {"family": self.net.family, **self.net.config}
        return ckpt

    def learned_kernel(self):
        """K_θ as a numpy callable K(G (batch, d, m), tau) -> (batch, d, d), for `solve_ide` or any solver."""
        return self.net.numpy_kernel()

    def extrapolate(self, G_known, t, *, F=None, I_known=None, solver=None):
        if F is None or solver is None:
            raise ValueError("kernel_operator extrapolation needs the streaming term F and the solver settings")
        dt, K = float(t[1] - t[0]), self.learned_kernel()
        if G_known.shape[1] < solver.order:  # G(0) alone: solve from t = 0 with K_θ
            from ..solvers import solve_ide

            return solve_ide(F, K, G_known[:, 0], float(t[-1]), dt, order=solver.order, corrector=solver.corrector,
                             memory=solver.memory, max_abs=solver.max_abs).G
        G, _ = kernel_mod.continue_with_kernel(F, K, G_known, I_known, dt, len(t), order=solver.order,
                                               memory=solver.memory, corrector=solver.corrector,
                                               max_abs=solver.max_abs)
        return G


# ----------------------------------------------------------------------------- direct_rnn

@dataclass
class DirectRNNConfig(SteppedTraining):
    name: str = "direct_rnn"
    hidden_size: int = MISSING
    num_layers: int = MISSING
    context: int = MISSING  # curve data: observed points given when extrapolating
    random_start: bool = MISSING  # curve data: train on segments starting anywhere (models/segments.py)

    def check(self):
        super().check()
        require(1 <= self.hidden_size <= MAX_WIDTH, "model.hidden_size", f"must be in 1..{MAX_WIDTH}, "
                f"got {self.hidden_size}")
        require(1 <= self.num_layers <= MAX_LAYERS, "model.num_layers", f"must be in 1..{MAX_LAYERS}, "
                f"got {self.num_layers}")
        require(1 <= self.context <= MAX_NODES, "model.context", f"must be in 1..{MAX_NODES:.0e}, got {self.context}")


def trained_on_first_segments_before(ckpt: dict) -> dict:
    """A checkpoint written before `model.random_start` existed: its model was trained on first segments."""
    return {**ckpt, "config": {"random_start": False, **ckpt["config"]}}


def as_matrices(G: np.ndarray) -> np.ndarray:
    """Curves (n, n_t, dim) become complex column matrices (n, n_t, dim, 1), the LSTM models' layout."""
    return G.astype(complex) if G.ndim == 4 else G[..., None].astype(complex)


class DirectRNNModel(Model):
    """Paper 1 baseline 2 (and paper 2's LSTM baseline): the same LSTM learns G_n -> G_{n+1}."""

    name = "direct_rnn"
    config_class = DirectRNNConfig
    accepts = "any trajectory data (IDE or curves)"

    def make_net(self, **net_config):
        return direct_rnn_mod.DirectRNN(**net_config)

    @classmethod
    def restore(cls, ckpt):
        return super().restore(trained_on_first_segments_before(ckpt))

    def check(self, kind, n_traj):
        if self.config.random_start and kind == "ide":
            # IDE models continue the training window from its start; its time feature would run past
            # the training span (unit times > 1) at every extrapolated node
            raise Incompatible("model.random_start trains on segments of curves; IDE data are continued from "
                               "the start of their window (use model.random_start=false)")

    def unit_time(self, t):
        t0, t1 = self.fitted["time_span"]
        return (np.asarray(t) - t0) / (t1 - t0)

    def fit(self, data, *, seed, on_iteration=None, device=None, checkpointing=None):
        c = self.config
        torch.manual_seed(seed)
        G = as_matrices(data.G)
        segments = {}
        if c.random_start:  # trained on segments, each node with its time (unit time over the training span)
            if c.context >= len(data.t) - 1:
                raise Incompatible(f"model.context {c.context} must be below the curves' {len(data.t)} points "
                                   "less one (model.random_start leaves a point to predict)")
            self.fitted = {"time_span": [float(data.t[0]), float(data.t[-1])]}
            segments = dict(tau=self.unit_time(data.t), segment_context=c.context)
        self.net = self.make_net(n_features=2 * int(np.prod(G.shape[-2:])), hidden_size=c.hidden_size,
                                 num_layers=c.num_layers, **({"timed": True} if c.random_start else {}))
        return direct_rnn_mod.fit_direct_rnn(self.net, G, steps=c.steps, lr=c.lr, batch_size=c.batch_size, seed=seed,
                                             on_step=on_iteration, device=device, checkpointing=checkpointing,
                                             **segments)

    def extrapolate(self, G_known, t, *, F=None, I_known=None, solver=None):
        tau = self.unit_time(t) if self.net.timed else None
        rolled = direct_rnn_mod.rollout(self.net, as_matrices(G_known), len(t) - G_known.shape[1], tau)
        if G_known.ndim == 3:  # real curves: back to (n, n_t, dim)
            rolled = rolled[..., 0].real
        return np.concatenate([G_known, rolled], axis=1)


# ----------------------------------------------------------------------------- dmd

class DMDVariant(Enum):
    exact = "exact"
    hankel = "hankel"


@dataclass
class DMDConfig(ModelConfig):
    name: str = "dmd"
    variant: DMDVariant = MISSING
    svd_rank: float = MISSING  # PyDMD: 0 = optimal hard threshold, int = rank, (0, 1) = energy kept
    delay: int = MISSING  # Hankel delay embedding length (snapshots)

    def check(self):
        super().check()
        require(self.svd_rank == 0 or 0 < self.svd_rank < 1 or (float(self.svd_rank).is_integer() and
                                                                  1 <= self.svd_rank <= MAX_NODES),
                "model.svd_rank", f"must be 0 (optimal threshold), in (0, 1) (energy kept) or a whole rank in "
                f"1..{MAX_NODES:.0e}, got {self.svd_rank}")
        require(1 <= self.delay <= MAX_NODES, "model.delay", f"must be in 1..{MAX_NODES:.0e}, got {self.delay}")


class DMDModel(Model):
    """Paper 1 baseline 3: DMD fitted on one trajectory's window, then stepped from any known history."""

    name = "dmd"
    config_class = DMDConfig
    accepts = "a single trajectory (n_traj = 1)"

    def check(self, kind, n_traj):
        if n_traj != 1:
            raise Incompatible(f"dmd is fitted on one trajectory; got {n_traj} (needs {self.accepts})")

    def fit(self, data, *, seed, on_iteration=None, device=None, checkpointing=None):
        c = self.config
        fit = dmd_mod.fit_dmd(data.G[0], c.variant.value, c.svd_rank, c.delay)
        self.fitted = {"modes": torch.from_numpy(fit.modes), "eigs": torch.from_numpy(fit.eigs), "delay": fit.delay}
        # The "loss": the window predicted by the fitted operator from its first `delay` nodes.
        window = dmd_mod.dmd_predict(fit, data.G[0, : fit.delay], data.G.shape[1])
        return {"loss": [float(np.linalg.norm(window - data.G[0]) / np.linalg.norm(data.G[0]))]}

    def extrapolate(self, G_known, t, *, F=None, I_known=None, solver=None):
        fit = dmd_mod.DMDFit(self.fitted["modes"].numpy(), self.fitted["eigs"].numpy(), int(self.fitted["delay"]))
        G = np.stack([dmd_mod.dmd_predict(fit, g, len(t)) for g in G_known])
        return G.real if np.isrealobj(G_known) else G


# ----------------------------------------------------------------------------- curve models: nie, anie, latent_ode

@dataclass
class CurveModelConfig(EpochTraining):
    """What the curve models share: the observed context and how the curves are normalised."""

    context: int = MISSING  # observed points the model is given
    log_space: bool = MISSING  # model log y (positive curves spanning decades: Lotka-Volterra)
    random_start: bool = MISSING  # train on segments starting anywhere along the curves (models/segments.py)

    def check(self):
        super().check()
        require(1 <= self.context <= MAX_NODES, "model.context", f"must be in 1..{MAX_NODES:.0e}, got {self.context}")


class CurveModel(Model):
    """Curve models train and run on curves normalised per coordinate (mean/std of the training curves,
    of log y with `log_space`) and on time mapped to [0, 1] over the training span, both kept in
    `fitted`: Lorenz (|y| ~ 40, t up to 100) then trains like the spirals, the integral scaling with
    the span. With `log_space` predictions are exponentiated: on Lotka-Volterra populations that fall
    to 1e-14 and recover (anie, 1000 training curves, 100 held out) it left the median r2 as it was
    (0.88 vs 0.89) but lifted the lower quartile from -1.7e3 to 0.78 (README: Paper 2)."""

    accepts = "real-valued curves (lotka_volterra, lorenz, spirals, from_file curves)"

    def check(self, kind, n_traj):
        if kind != "trajectory":
            raise Incompatible(f"{self.name} needs {self.accepts}")

    def net_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def restore(cls, ckpt):
        return super().restore(trained_on_first_segments_before(ckpt))

    def train_net(self, curves: np.ndarray, t: np.ndarray, *, seed, on_iteration, device, checkpointing) -> dict:
        """Fit self.net on normalised curves and unit times."""
        c = self.config
        return ie_common.fit_ie_model(self.net, curves, t, context=c.context, epochs=c.epochs, lr=c.lr,
                                      batch_size=c.batch_size, seed=seed, lr_final=c.lr_final,
                                      on_epoch=on_iteration, device=device, checkpointing=checkpointing,
                                      random_start=c.random_start)

    def fit(self, data, *, seed, on_iteration=None, device=None, checkpointing=None):
        torch.manual_seed(seed)
        if self.config.context >= len(data.t):
            raise Incompatible(f"model.context {self.config.context} must be below the curves' {len(data.t)} points")
        if self.config.log_space and not np.all(data.G > 0):
            raise Incompatible(f"model.log_space needs positive curves; the smallest value is {data.G.min():g}")
        y = np.log(data.G) if self.config.log_space else data.G
        std = y.std(axis=(0, 1))
        self.fitted = {"norm_mean": y.mean(axis=(0, 1)).tolist(), "norm_std": np.where(std > 0, std, 1.0).tolist(),
                       "time_span": [float(data.t[0]), float(data.t[-1])]}
        self.net = self.make_net(dim=data.G.shape[-1], **self.net_config())
        return self.train_net(self.normalise(data.G), self.unit_time(data.t), seed=seed, on_iteration=on_iteration,
                              device=device, checkpointing=checkpointing)

    def normalise(self, y):
        y = np.log(y) if self.config.log_space else y
        return (y - np.asarray(self.fitted["norm_mean"])) / np.asarray(self.fitted["norm_std"])

    def denormalise(self, z):
        y = z * np.asarray(self.fitted["norm_std"]) + np.asarray(self.fitted["norm_mean"])
        return np.exp(y) if self.config.log_space else y

    def unit_time(self, t):
        t0, t1 = self.fitted["time_span"]
        return (np.asarray(t) - t0) / (t1 - t0)

    def extrapolate(self, G_known, t, *, F=None, I_known=None, solver=None):
        if self.config.log_space and not np.all(G_known > 0):
            raise UserError("dataset.path: model.log_space needs positive curves; the given points are not")
        context = G_known.shape[1]
        pred = self.denormalise(ie_common.predict(self.net, self.normalise(G_known), self.unit_time(t), context))
        pred[:, :context] = G_known
        return pred


class IEMode(Enum):
    volterra = "volterra"
    fredholm = "fredholm"


@dataclass
class IEModelConfig(CurveModelConfig):
    """What NIE and ANIE share: the integral's limits and the fixed-point solve."""

    mode: IEMode = MISSING
    max_iter: int = MISSING  # fixed-point iterations (kept on the autograd tape)
    tol: float = MISSING
    smoothing: float = MISSING  # y <- (1 - s) y + s T(y)

    def check(self):
        super().check()
        require(0 < self.smoothing <= 1, "model.smoothing", f"must be in (0, 1], got {self.smoothing}")
        require(1 <= self.max_iter <= 1000, "model.max_iter", f"must be in 1..1000 (each iteration stays on the "
                f"autograd tape), got {self.max_iter}")
        require(self.tol >= 0, "model.tol", f"must be >= 0, got {self.tol}")


class Quadrature(Enum):
    montecarlo = "montecarlo"
    gausslegendre = "gausslegendre"
    simpson = "simpson"


@dataclass
class NIEConfig(IEModelConfig):
    name: str = "nie"
    hidden: int = MISSING
    width: int = MISSING  # K(t, s) is dim x width, F maps dim -> width; > dim leaves room for drift terms
    quadrature: Quadrature = MISSING
    n_samples: int = MISSING  # quadrature nodes (Monte Carlo: samples)

    def check(self):
        super().check()
        require(1 <= self.hidden <= MAX_WIDTH, "model.hidden", f"must be in 1..{MAX_WIDTH}, got {self.hidden}")
        require(1 <= self.width <= MAX_WIDTH, "model.width", f"must be in 1..{MAX_WIDTH}, got {self.width}")
        require(2 <= self.n_samples <= 10**5, "model.n_samples", f"must be in 2..100000, got {self.n_samples}")


class NIEModel(CurveModel):
    """Paper 2: y = f + ∫ K(t, s) F(y(s)) ds, integrals through torchquad."""

    name = "nie"
    config_class = NIEConfig

    def net_config(self):
        c = self.config
        return dict(hidden=c.hidden, width=c.width, mode=c.mode.value, quadrature=c.quadrature.value,
                    n_samples=c.n_samples, max_iter=c.max_iter, tol=c.tol, smoothing=c.smoothing)

    def make_net(self, **net_config):
        return nie_mod.NIE(**net_config)


@dataclass
class ANIEConfig(IEModelConfig):
    name: str = "anie"
    d_model: int = MISSING
    n_heads: int = MISSING
    n_layers: int = MISSING
    dim_feedforward: int = MISSING

    def check(self):
        super().check()
        require(1 <= self.d_model <= MAX_WIDTH, "model.d_model", f"must be in 1..{MAX_WIDTH}, got {self.d_model}")
        require(1 <= self.n_heads <= self.d_model and self.d_model % self.n_heads == 0, "model.n_heads",
                f"must divide model.d_model ({self.d_model}), got {self.n_heads}")
        require(1 <= self.n_layers <= MAX_LAYERS, "model.n_layers", f"must be in 1..{MAX_LAYERS}, got {self.n_layers}")
        require(1 <= self.dim_feedforward <= MAX_WIDTH, "model.dim_feedforward", f"must be in 1..{MAX_WIDTH}, "
                f"got {self.dim_feedforward}")


class ANIEModel(CurveModel):
    """Paper 2: y = f + Att(y), self-attention as the integral (causal mask = Volterra)."""

    name = "anie"
    config_class = ANIEConfig

    def net_config(self):
        c = self.config
        return dict(d_model=c.d_model, n_heads=c.n_heads, n_layers=c.n_layers, dim_feedforward=c.dim_feedforward,
                    mode=c.mode.value, max_iter=c.max_iter, tol=c.tol, smoothing=c.smoothing)

    def make_net(self, **net_config):
        return anie_mod.ANIE(**net_config)

    def attention_maps(self, G_known, t):
        param = next(self.net.parameters())
        as_tensor = lambda a: torch.as_tensor(a, dtype=param.dtype, device=param.device)  # noqa: E731
        with torch.no_grad():
            maps = self.net.attention_maps(as_tensor(self.normalise(G_known)), as_tensor(self.unit_time(t)))
        return [m.cpu().numpy() for m in maps]


@dataclass
class LatentODEConfig(CurveModelConfig):
    name: str = "latent_ode"
    latent_dim: int = MISSING
    hidden: int = MISSING  # the vector field's and the decoder's hidden width
    rnn_hidden: int = MISSING  # the reverse-time encoder's width
    method: str = MISSING  # a torchdiffeq solver (dopri5, rk4, euler, ...)
    rtol: float = MISSING
    atol: float = MISSING
    adjoint: bool = MISSING  # odeint_adjoint: memory O(1) in the solver steps, about twice the time
    obs_std: float = MISSING  # the ELBO's fixed observation noise

    def check(self):
        super().check()
        methods = latent_ode_mod.METHODS
        require(self.method in methods, "model.method", f"unknown torchdiffeq solver {self.method!r}; "
                f"choose one of {', '.join(methods)}")
        for key in ("latent_dim", "hidden", "rnn_hidden"):
            value = getattr(self, key)
            require(1 <= value <= MAX_WIDTH, f"model.{key}", f"must be in 1..{MAX_WIDTH}, got {value}")
        require(0 < self.rtol < 1, "model.rtol", f"must be in (0, 1), got {self.rtol}")
        require(0 < self.atol < 1, "model.atol", f"must be in (0, 1), got {self.atol}")
        require(1e-8 <= self.obs_std <= 1e8, "model.obs_std", f"must be in [1e-8, 1e8], got {self.obs_std}")


class LatentODEModel(CurveModel):
    """Paper 2's continuous-time baseline: a reverse-time RNN encodes the context into q(z0), a latent ODE
    (torchdiffeq) and a decoder give the curve; trained on the ELBO of whole curves."""

    name = "latent_ode"
    config_class = LatentODEConfig

    def net_config(self):
        c = self.config
        return dict(latent_dim=c.latent_dim, hidden=c.hidden, rnn_hidden=c.rnn_hidden, method=c.method, rtol=c.rtol,
                    atol=c.atol, adjoint=c.adjoint, **({"timed": True} if c.random_start else {}))

    def make_net(self, **net_config):
        return latent_ode_mod.LatentODE(**net_config)

    def train_net(self, curves, t, *, seed, on_iteration, device, checkpointing):
        c = self.config
        return latent_ode_mod.fit_latent_ode(self.net, curves, t, context=c.context, epochs=c.epochs, lr=c.lr,
                                             batch_size=c.batch_size, seed=seed, lr_final=c.lr_final,
                                             obs_std=c.obs_std, on_epoch=on_iteration, device=device,
                                             checkpointing=checkpointing, random_start=c.random_start)


MODELS: dict[str, type[Model]] = {m.name: m for m in (LSTMOperatorModel, KernelOperatorModel, DirectRNNModel,
                                                     DMDModel, NIEModel, ANIEModel, LatentODEModel)}
