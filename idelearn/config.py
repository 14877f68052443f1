"""Config schemas (Hydra structured configs): the one place where config becomes objects.

Every YAML file under conf/ extends one of these dataclasses, so a wrong key or
a wrong type fails when Hydra composes the config. Value checks that types
cannot express (dt > 0, a Hermitian H, ...) run in __post_init__ and raise
UserError naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

import numpy as np
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from .data import ide_datasets
from .data.dataset import Dataset
from .data.ide_datasets import SolverSpec
from .errors import UserError


def require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise UserError(f"{key}: {message}")


def numeric_array(key: str, value) -> np.ndarray:
    try:
        return np.asarray(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value, dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"{key}: expected numbers (a list or nested list), got {value!r}") from None


def check_grid(prefix: str, t_final: float, dt: float) -> None:
    require(dt > 0, f"{prefix}.dt", f"must be > 0, got {dt}")
    require(t_final >= dt, f"{prefix}.t_final", f"must be >= dt ({dt}), got {t_final}")


# ----------------------------------------------------------------------------- solvers

class SolverName(Enum):
    abm = "abm"
    fe_simpson = "fe_simpson"


class MemoryMode(Enum):
    auto = "auto"  # relaxed from about 2000 trajectory-steps on (measured crossover)
    direct = "direct"  # O(n) history sum per step
    relaxed = "relaxed"  # blocked online FFT, O(n log² n) in all


@dataclass
class SolverConfig:
    name: SolverName = SolverName.abm
    order: int = 8
    corrector: bool = True
    memory: MemoryMode = MemoryMode.auto
    max_abs: float = 1e6  # a solve or an extrapolation with |G| beyond this (or non-finite) stops as blown up

    def __post_init__(self):
        require(3 <= self.order <= 8, "solver.order", f"must be in 3..8, got {self.order}")
        require(self.max_abs > 0, "solver.max_abs", f"must be > 0, got {self.max_abs}")

    def spec(self) -> SolverSpec:
        return SolverSpec(method=self.name.value, order=self.order, corrector=self.corrector,
                          memory=self.memory.value, max_abs=self.max_abs)


# ----------------------------------------------------------------------------- datasets

@dataclass
class DysonConfig:
    kind: ClassVar[str] = "ide"
    name: str = "dyson"
    h: float = -1.0
    H: Any | None = None  # nested list: real part of a Hermitian matrix; overrides h
    H_imag: Any | None = None
    c: float = 1.0
    t_final: float = 10.0
    dt: float = 0.01

    def __post_init__(self):
        check_grid("dataset", self.t_final, self.dt)
        self.hamiltonian()  # validates H

    def hamiltonian(self) -> np.ndarray:
        if self.H is None:
            require(self.H_imag is None, "dataset.H_imag", "needs dataset.H")
            return np.array([[complex(self.h)]])
        H = numeric_array("dataset.H", self.H).astype(complex)
        if self.H_imag is not None:
            Hi = numeric_array("dataset.H_imag", self.H_imag)
            require(Hi.shape == H.shape, "dataset.H_imag", f"shape {Hi.shape} differs from dataset.H {H.shape}")
            H = H + 1j * Hi
        require(H.ndim == 2 and H.shape[0] == H.shape[1] and H.size > 0, "dataset.H",
                f"must be a square matrix, got shape {H.shape}")
        require(np.allclose(H, H.conj().T, atol=1e-12), "dataset.H", "must be Hermitian (H == H^dagger)")
        return H

    def generate(self, solver: SolverSpec, progress=None) -> Dataset:
        return ide_datasets.dyson(self.hamiltonian(), self.c, self.t_final, self.dt, solver, progress)

    def problem(self):
        from .equations.dyson import dyson_problem

        return dyson_problem(self.hamiltonian(), self.c)


@dataclass
class DysonMultiConfig:
    kind: ClassVar[str] = "ide"
    name: str = "dyson_multi"
    h_low: float = 1.0
    h_high: float = 10.0
    c: float = 1.0
    n_traj: int = 2000
    seed: int = 0
    t_final: float = 10.0
    dt: float = 0.01

    def __post_init__(self):
        check_grid("dataset", self.t_final, self.dt)
        require(self.n_traj >= 1, "dataset.n_traj", f"must be >= 1, got {self.n_traj}")
        require(self.h_high >= self.h_low, "dataset.h_high", "must be >= dataset.h_low")

    def generate(self, solver: SolverSpec, progress=None) -> Dataset:
        h = ide_datasets.sample_h(self.n_traj, self.h_low, self.h_high, self.seed)
        return ide_datasets.dyson_multi(h, self.c, self.t_final, self.dt, solver, progress)

    def single(self, params: dict) -> DysonConfig:
        """The one-trajectory problem with this dataset's trajectory parameters `params`."""
        return DysonConfig(h=params["h"], c=self.c, t_final=self.t_final, dt=self.dt)


class Cosine(Enum):
    matrix = "matrix"
    elementwise = "elementwise"


def check_sign(sign: float) -> None:
    require(sign in (-1.0, 1.0), "dataset.memory_sign", f"must be -1 or +1, got {sign}")


@dataclass
class MatrixIDEConfig:
    kind: ClassVar[str] = "ide"
    name: str = "matrix_ide"
    alpha1: float = 10.0
    alpha2: float = 15.0
    sigma: float = 2.0
    beta: float = 1.0
    memory_sign: float = -1.0
    cosine: Cosine = Cosine.matrix
    t_final: float = 20.0
    dt: float = 0.01

    def __post_init__(self):
        check_grid("dataset", self.t_final, self.dt)
        check_sign(self.memory_sign)
        require(self.sigma > 0, "dataset.sigma", f"must be > 0, got {self.sigma}")

    def generate(self, solver: SolverSpec, progress=None) -> Dataset:
        params = [[self.alpha1, self.alpha2, self.sigma, self.beta]]
        return ide_datasets.matrix_ide(params, self.memory_sign, self.cosine.value, self.t_final,
                                       self.dt, solver, progress)

    def problem(self):
        from .equations.matrix_ide import matrix_ide_problem

        return matrix_ide_problem(self.alpha1, self.alpha2, self.sigma, self.beta, self.memory_sign,
                                  self.cosine.value)


@dataclass
class MatrixIDEMultiConfig:
    kind: ClassVar[str] = "ide"
    name: str = "matrix_ide_multi"
    alpha_values: list[Any] = field(default_factory=lambda: list(range(1, 21)))
    sigma_values: list[Any] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    beta: float = 1.0
    n_traj: int | None = None  # a seeded random subset of the grid; None = the whole grid
    seed: int = 0
    memory_sign: float = -1.0
    cosine: Cosine = Cosine.matrix
    t_final: float = 20.0
    dt: float = 0.01

    def __post_init__(self):
        check_grid("dataset", self.t_final, self.dt)
        check_sign(self.memory_sign)
        alphas = numeric_array("dataset.alpha_values", self.alpha_values)
        sigmas = numeric_array("dataset.sigma_values", self.sigma_values)
        require(alphas.ndim == 1 and alphas.size > 0, "dataset.alpha_values", "must be a non-empty list")
        require(sigmas.ndim == 1 and sigmas.size > 0 and sigmas.min() > 0, "dataset.sigma_values",
                "must be a non-empty list of values > 0")
        require(self.n_traj is None or self.n_traj >= 1, "dataset.n_traj", f"must be >= 1, got {self.n_traj}")

    def generate(self, solver: SolverSpec, progress=None) -> Dataset:
        grid = ide_datasets.matrix_ide_grid(self.alpha_values, self.sigma_values, self.beta, self.n_traj, self.seed)
        return ide_datasets.matrix_ide(grid, self.memory_sign, self.cosine.value, self.t_final, self.dt,
                                       solver, progress)

    def single(self, params: dict) -> MatrixIDEConfig:
        return MatrixIDEConfig(alpha1=params["alpha1"], alpha2=params["alpha2"], sigma=params["sigma"],
                               beta=params["beta"], memory_sign=self.memory_sign, cosine=self.cosine,
                               t_final=self.t_final, dt=self.dt)


@dataclass
class CurvesConfig:
    """Seeded sets of curves (paper 2 appendix C): the generator is named by `name`."""

    kind: ClassVar[str] = "trajectory"
    name: str = MISSING
    n_traj: int = 100
    n_t: int = 100
    t_final: float = 1.0
    seed: int = 0

    def __post_init__(self):
        require(self.n_traj >= 1, "dataset.n_traj", f"must be >= 1, got {self.n_traj}")
        require(self.n_t >= 2, "dataset.n_t", f"must be >= 2, got {self.n_t}")
        require(self.t_final > 0, "dataset.t_final", f"must be > 0, got {self.t_final}")

    def generate(self, solver=None, progress=None) -> Dataset:
        from importlib import import_module

        make = getattr(import_module(f"idelearn.equations.{self.name}"), self.name)
        return make(n_traj=self.n_traj, n_t=self.n_t, t_final=self.t_final, seed=self.seed)


@dataclass
class LotkaVolterraConfig(CurvesConfig):
    name: str = "lotka_volterra"
    t_final: float = 15.0


@dataclass
class LorenzConfig(CurvesConfig):
    name: str = "lorenz"
    t_final: float = 100.0


@dataclass
class SpiralsConfig(CurvesConfig):
    name: str = "spirals"
    n_traj: int = 500


@dataclass
class FromFileConfig:
    """Curves or a dataset from a file: dataset.npz (idelearn's format) or an .npy array (n, n_t, dim)."""

    kind: ClassVar[str | None] = None  # known once the file is read
    name: str = "from_file"
    path: str = MISSING
    t_final: float = 1.0  # time span for arrays that store no `t`

    def __post_init__(self):
        require(self.t_final > 0, "dataset.t_final", f"must be > 0, got {self.t_final}")

    def generate(self, solver=None, progress=None) -> Dataset:
        from .data.io import load_curves

        return load_curves(self.path, self.t_final)


@dataclass
class FromRunConfig:
    """extrapolate only: the training run's dataset, with these keys changed (None = keep)."""

    name: str = "from_run"
    h: float | None = None
    H: Any | None = None
    H_imag: Any | None = None
    c: float | None = None
    alpha1: float | None = None
    alpha2: float | None = None
    sigma: float | None = None
    beta: float | None = None
    path: str | None = None  # unseen curves for curve models (.npy or dataset.npz)
    t_final: float = 1.0  # time span for curve arrays that store no `t`

    def changes(self) -> dict:
        skip = {"name", "path", "t_final"}
        return {k: v for k, v in self.__dict__.items() if k not in skip and v is not None}


DATASETS = {
    "dyson": DysonConfig,
    "dyson_multi": DysonMultiConfig,
    "matrix_ide": MatrixIDEConfig,
    "matrix_ide_multi": MatrixIDEMultiConfig,
    "lotka_volterra": LotkaVolterraConfig,
    "lorenz": LorenzConfig,
    "spirals": SpiralsConfig,
    "from_file": FromFileConfig,
}


def expected_n_traj(dataset) -> int | None:
    """How many trajectories a dataset config will produce (None: unknown before loading)."""
    if isinstance(dataset, (DysonConfig, MatrixIDEConfig)):
        return 1
    if isinstance(dataset, MatrixIDEMultiConfig) and dataset.n_traj is None:
        return len(dataset.alpha_values) ** 2 * len(dataset.sigma_values)
    return getattr(dataset, "n_traj", None)


def dataset_config(name: str, values: dict):
    """Rebuild a dataset config from its stored dict (a train run's model.pt)."""
    schema = DATASETS[name]
    values = {k: v for k, v in values.items() if k != "name"}
    if "cosine" in values:
        values["cosine"] = Cosine(values["cosine"])
    return schema(**values)


# ----------------------------------------------------------------------------- devices

class DeviceName(Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


@dataclass
class DeviceConfig:
    name: DeviceName = DeviceName.auto
    threads: int = 0  # torch/BLAS threads per process; 0 = library default

    def torch_device(self):
        import torch

        if self.name is DeviceName.cuda and not torch.cuda.is_available():
            raise UserError("device.name: cuda requested but no CUDA device is available")
        if self.name is DeviceName.auto:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.name.value)


# ----------------------------------------------------------------------------- models

TRAINING_KEYS = ("epochs", "lr", "batch_size")


@dataclass
class ModelConfigBase:
    """Architecture + CPU-default training settings of one model.

    Everything but `name`, `default_dataset` and the training keys goes to the
    model's constructor; the training keys (plus `fit_extra`) go to `fit`.
    """

    def hparams(self) -> dict:
        skip = {"name", "default_dataset", *TRAINING_KEYS, *self.fit_extra}
        return {k: (v.value if isinstance(v, Enum) else v) for k, v in self.__dict__.items() if k not in skip}

    def training(self) -> dict:
        return {k: getattr(self, k) for k in (*TRAINING_KEYS, *self.fit_extra)}

    fit_extra: ClassVar[tuple] = ()

    def check_training(self) -> None:
        require(self.epochs >= 1, "model.epochs", f"must be >= 1, got {self.epochs}")
        require(self.lr > 0, "model.lr", f"must be > 0, got {self.lr}")
        require(self.batch_size >= 1, "model.batch_size", f"must be >= 1, got {self.batch_size}")


@dataclass
class LSTMOperatorConfig(ModelConfigBase):
    name: str = "lstm_operator"
    default_dataset: str = "dyson"
    hidden_size: int = 64
    num_layers: int = 2
    ema: float = 0.003  # running-amplitude scaling of G and I (0 = the paper's fixed scaling)
    ab_order: int = 3  # Adams–Bashforth order of the extrapolation (the paper: AB3)
    corrector: bool = False
    epochs: int = 1500
    lr: float = 1e-2
    batch_size: int = 8
    gain: float = 0.5  # random amplitude perturbation in training (robustness to its own feedback)
    fir_len: int = 0  # taps of the linear (FIR) skip path on the scaled history (0 = LSTM only)
    fir_stride: int = 1  # steps between the filter's taps (it spans (fir_len-1)*fir_stride steps)
    fir_ridge: float = 1e-4  # ridge of the filter's least-squares initialisation
    rollout: int = 0  # steps of the closed-loop (AB3) rollout loss per epoch (0 = teacher forcing only)
    rollout_weight: float = 1.0
    rollout_every: int = 1  # add the rollout loss every this many epochs (it costs ~rollout sequential steps)
    bptt_window: int = 0  # train each epoch on one window of this many nodes (truncated BPTT; 0 = whole sequence)
    fit_extra: ClassVar[tuple] = ("gain", "fir_ridge", "rollout", "rollout_weight", "rollout_every", "bptt_window")

    def __post_init__(self):
        self.check_training()
        require(1 <= self.ab_order <= 8, "model.ab_order", f"must be in 1..8, got {self.ab_order}")
        require(self.hidden_size >= 1 and self.num_layers >= 1, "model.hidden_size", "and num_layers must be >= 1")
        require(self.bptt_window >= 0, "model.bptt_window", f"must be >= 0, got {self.bptt_window}")
        require(self.bptt_window == 0 or self.rollout == 0, "model.bptt_window",
                "cannot be combined with model.rollout (the rollout loss needs the whole sequence)")


@dataclass
class DirectRNNConfig(ModelConfigBase):
    name: str = "direct_rnn"
    default_dataset: str = "dyson"
    hidden_size: int = 64
    num_layers: int = 2
    context: int = 20  # curve data: observed points given when extrapolating
    epochs: int = 1500
    lr: float = 1e-2
    batch_size: int = 8

    def __post_init__(self):
        self.check_training()


class DMDVariant(Enum):
    exact = "exact"
    hankel = "hankel"


@dataclass
class DMDConfig(ModelConfigBase):
    name: str = "dmd"
    default_dataset: str = "dyson"
    variant: DMDVariant = DMDVariant.hankel
    svd_rank: float = 0  # PyDMD: 0 = optimal hard threshold, int = rank, (0, 1) = energy kept
    delay: int = 100  # Hankel delay embedding length (snapshots)
    epochs: int = 1
    lr: float = 1.0
    batch_size: int = 1

    def __post_init__(self):
        require(self.delay >= 1, "model.delay", f"must be >= 1, got {self.delay}")


class IEMode(Enum):
    volterra = "volterra"
    fredholm = "fredholm"


class Quadrature(Enum):
    montecarlo = "montecarlo"
    gausslegendre = "gausslegendre"
    simpson = "simpson"


def check_integral_equation(cfg) -> None:
    """Value checks NIE and ANIE share: training settings, the fixed point's smoothing, the context."""
    cfg.check_training()
    require(0 < cfg.smoothing <= 1, "model.smoothing", f"must be in (0, 1], got {cfg.smoothing}")
    require(cfg.context >= 1, "model.context", f"must be >= 1, got {cfg.context}")


@dataclass
class NIEConfig(ModelConfigBase):
    """CPU default: Gauss–Legendre (16 nodes) instead of the paper's Monte Carlo: on the authors'
    spirals it scored r2 0.92 vs 0.82 (64 samples) in less time; quadrature=montecarlo gives the paper's."""

    name: str = "nie"
    default_dataset: str = "spirals"
    hidden: int = 64
    width: int = 8  # K(t, s) is dim x width, F maps dim -> width; > dim leaves room for drift terms
    mode: IEMode = IEMode.volterra
    quadrature: Quadrature = Quadrature.gausslegendre
    n_samples: int = 16  # quadrature nodes (Monte Carlo: samples)
    max_iter: int = 5
    tol: float = 1e-4
    smoothing: float = 1.0
    context: int = 20  # observed points the model is given (the free term)
    epochs: int = 120
    lr: float = 3e-3
    batch_size: int = 25
    lr_final: float | None = 1e-5
    fit_extra: ClassVar[tuple] = ("lr_final",)

    def __post_init__(self):
        check_integral_equation(self)


@dataclass
class ANIEConfig(ModelConfigBase):
    name: str = "anie"
    default_dataset: str = "spirals"
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    dim_feedforward: int = 128
    mode: IEMode = IEMode.volterra
    max_iter: int = 3
    tol: float = 1e-4
    smoothing: float = 1.0
    context: int = 20
    epochs: int = 100
    lr: float = 1e-3
    batch_size: int = 25
    lr_final: float | None = 1e-5
    fit_extra: ClassVar[tuple] = ("lr_final",)

    def __post_init__(self):
        check_integral_equation(self)
        require(self.d_model % self.n_heads == 0, "model.n_heads", "must divide model.d_model")


MODEL_CONFIGS = {c.name: c for c in (LSTMOperatorConfig, DirectRNNConfig, DMDConfig, NIEConfig, ANIEConfig)}


@dataclass
class TrainerConfig:
    seed: int = 0
    n_train: int | None = None  # curve data: the first n_train curves train, the rest are held out
    train_fraction: float = 0.5  # curve data, when n_train is None
    log_every: int = 50  # epochs between log lines
    cache_dir: str = "outputs/cache"  # generated datasets are cached here by config hash
    checkpoint_every: int = 10  # epochs between training-state checkpoints (0 = none)
    resume: bool = True  # continue from train_state.pt when the run directory has one

    def __post_init__(self):
        require(self.checkpoint_every >= 0, "trainer.checkpoint_every", f"must be >= 0, got {self.checkpoint_every}")
        require(self.log_every >= 1, "trainer.log_every", f"must be >= 1, got {self.log_every}")
        require(0 < self.train_fraction <= 1, "trainer.train_fraction", f"must be in (0, 1], got {self.train_fraction}")
        require(self.n_train is None or self.n_train >= 1, "trainer.n_train", f"must be >= 1, got {self.n_train}")


# ----------------------------------------------------------------------------- primary configs

@dataclass
class GenerateConfig:
    dataset: Any = MISSING
    solver: SolverConfig = MISSING
    device: DeviceConfig = MISSING


# ----------------------------------------------------------------------------- benchmark suites

@dataclass
class Paper1TimingSuite:
    name: str = "paper1_timing"
    horizons: list[float] = field(default_factory=lambda: [20.0, 40.0, 80.0, 160.0])
    dt: float = 0.01
    h: float = -1.0
    c: float = 1.0
    t_train: float = 10.0
    run: str | None = None  # an lstm_operator train run to time; None = train a quick one here
    train_epochs: int = 200  # the quick model (its speed, not its accuracy, is what is timed)
    fe_max_horizon: float = 160.0  # the O(n²) FE + Simpson baseline runs up to this T
    coarse_steps: list[float] = field(default_factory=lambda: [0.2, 0.1, 0.08, 0.05, 0.04, 0.025, 0.02])
    tolerance: float = 1e-8
    reference_order: int = 8
    matrix_sizes: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16])
    cost_steps: list[int] = field(default_factory=lambda: [4000, 16000])  # the two solves the cost model is fitted on
    cache_dir: str = "outputs/cache"


@dataclass
class Paper1AccuracySuite:
    name: str = "paper1_accuracy"
    lstm_epochs: int | None = None  # None: the model's CPU default
    direct_rnn_epochs: int | None = None
    dyson_t_train: float = 10.0
    dyson_t_final: float = 40.0
    dyson_multi_n_traj: int = 100
    matrix_t_train: float = 20.0
    matrix_t_final: float = 120.0
    matrix_multi_n_traj: int = 100
    reference_order: int = 8
    only: list[str] | None = None  # run only these models
    cache_dir: str = "outputs/cache"


@dataclass
class Paper2Suite:
    name: str = "paper2"
    timing_epochs: int | None = None  # None: each model's CPU default (Table 1 then also gives converged r2)
    timing_n_traj: int = 100
    direct_rnn_epochs: int | None = None
    nie_epochs: int | None = None
    anie_epochs: int | None = None
    spirals_path: str = "${oc.env:IDELEARN_SHARED,../shared}/data/ie_spirals_paper.npy"
    spirals_n_train: int = 250
    context: int = 20
    small: bool = False  # tiny networks (smoke suite)
    cache_dir: str = "outputs/cache"


@dataclass
class SmokeSuite:
    name: str = "smoke"
    cache_dir: str = "outputs/cache"


@dataclass
class CollectSuite:
    name: str = "collect"
    dir: str = MISSING  # a multirun directory


SUITE_CONFIGS = {c.name: c for c in (Paper1TimingSuite, Paper1AccuracySuite, Paper2Suite, SmokeSuite, CollectSuite)}


@dataclass
class BenchmarkConfig:
    suite: Any = MISSING
    device: DeviceConfig = MISSING


@dataclass
class TrainConfig:
    model: Any = MISSING
    dataset: Any = None  # None: the model's default_dataset
    solver: SolverConfig = MISSING
    trainer: TrainerConfig = MISSING
    device: DeviceConfig = MISSING


@dataclass
class ExtrapolateConfig:
    run: str | None = None  # a train run directory (or its model.pt); None = the latest
    t_final: float | None = None  # IDE models: extrapolate to this time (default: 4x the training window)
    context: int | None = None  # curve models: observed points given (default: the model's)
    dataset: Any = MISSING
    solver: SolverConfig = MISSING
    device: DeviceConfig = MISSING


def register() -> None:
    """Register every schema with Hydra; YAML files in conf/ extend them by name."""
    cs = ConfigStore.instance()
    for name, schema in DATASETS.items():
        cs.store(group="dataset", name=f"schema_{name}", node=schema)
    cs.store(group="solver", name="schema", node=SolverConfig)
    cs.store(group="device", name="schema", node=DeviceConfig)
    cs.store(group="dataset", name="schema_from_run", node=FromRunConfig)
    for name, schema in MODEL_CONFIGS.items():
        cs.store(group="model", name=f"schema_{name}", node=schema)
    cs.store(group="trainer", name="schema", node=TrainerConfig)
    for name, schema in SUITE_CONFIGS.items():
        cs.store(group="suite", name=f"schema_{name}", node=schema)
    cs.store(name="schema_benchmark", node=BenchmarkConfig)
    cs.store(name="schema_generate", node=GenerateConfig)
    cs.store(name="schema_train", node=TrainConfig)
    cs.store(name="schema_extrapolate", node=ExtrapolateConfig)


def to_object(node: DictConfig):
    """Turn a composed config node into its schema dataclass (runs the value checks)."""
    return OmegaConf.to_object(node)
