"""Where config becomes objects: the command schemas, their registration with Hydra, and `compose`.

The top of the package below the commands: it composes the group schemas of the
registries (datasets, models; suites register themselves in `idelearn.suites`) and
is imported only by the CLI, the commands and the suites. The schemas' base (value
checks, limits) is `idelearn.schema`, which imports no Hydra.

Composition: Hydra checks keys and types; `to_object` builds the schema dataclass,
which runs its value checks (see `idelearn.schema`). The CLI builds the whole
composed config this way before any job runs (cli.precheck).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydra import compose as hydra_compose
from hydra import initialize_config_module
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import MISSING, DictConfig, OmegaConf

from .data.datasets import DATASETS, from_run_schema
from .models.registry import MODELS
from .schema import MAX_NODES, Schema, require
from .settings import DeviceConfig, SolverConfig, TrainerConfig

CONFIG_MODULE = "idelearn.conf"


def check_dataset_choice(command: str, dataset, allowed: tuple[str, ...] | None = None) -> None:
    """`dataset=` names a dataset this command can use (generate and train: not from_run)."""
    names = allowed or tuple(DATASETS)
    require(dataset is None or dataset.name in names, "dataset", f"{command} takes dataset={'|'.join(names)}; "
            f"got dataset={dataset.name if dataset is not None else None}")


@dataclass
class GenerateConfig(Schema):
    dataset: Any = MISSING
    solver: SolverConfig = MISSING
    device: DeviceConfig = MISSING

    def check(self):
        check_dataset_choice("generate", self.dataset)


@dataclass
class TrainConfig(Schema):
    model: Any = MISSING
    dataset: Any = None  # None: the model's default_dataset
    solver: SolverConfig = MISSING
    trainer: TrainerConfig = MISSING
    device: DeviceConfig = MISSING

    def check(self):
        check_dataset_choice("train", self.dataset)


@dataclass
class ExtrapolateConfig(Schema):
    run: str | None = MISSING  # a train run directory (or its model.pt); None = the latest
    t_final: float | None = MISSING  # IDE models: extrapolate to this time (default: 4x the training window)
    context: int | None = MISSING  # curve models: observed points given (default: the model's)
    start: int = MISSING  # curve models: the given points are start .. start+context-1 (paper 2's shifted test)
    from_initial: bool = MISSING  # IDE models with an exact memory: solve from G(0) alone, not the known window
    dataset: Any = MISSING
    solver: SolverConfig = MISSING
    device: DeviceConfig = MISSING

    def check(self):
        check_dataset_choice("extrapolate", self.dataset, ("from_run", "from_file"))
        require(self.run is None or self.run.strip() != "", "run", "must name a train run directory or its model.pt")
        require(self.t_final is None or self.t_final > 0, "t_final", f"must be > 0, got {self.t_final}")
        require(self.context is None or self.context >= 1, "context", f"must be >= 1, got {self.context}")
        require(0 <= self.start <= MAX_NODES, "start", f"must be in 0..{MAX_NODES:.0e}, got {self.start}")


COMMAND_SCHEMAS = {"generate": GenerateConfig, "train": TrainConfig, "extrapolate": ExtrapolateConfig}


def register(command: str) -> None:
    """Register the schemas `idelearn <command>` composes with Hydra; the YAML files in conf/ extend them by name.

    Only `train` composes a model, so only it imports the model modules (and torch with them).
    """
    cs = ConfigStore.instance()
    for name, schema in DATASETS.items():
        cs.store(group="dataset", name=f"schema_{name}", node=schema)
    cs.store(group="dataset", name="schema_from_run", node=from_run_schema())
    if command == "train":
        for name in MODELS:
            cs.store(group="model", name=f"schema_{name}", node=MODELS[name].config_class)
    cs.store(group="solver", name="schema", node=SolverConfig)
    cs.store(group="device", name="schema", node=DeviceConfig)
    cs.store(group="trainer", name="schema", node=TrainerConfig)
    cs.store(name=f"schema_{command}", node=COMMAND_SCHEMAS[command])


def to_object(node: DictConfig):
    """Turn a composed config node into its schema dataclass (runs the value checks)."""
    return OmegaConf.to_object(node)


def compose_registered(command: str, overrides: list[str]) -> DictConfig:
    """The config of `idelearn <command> <overrides>`, its schemas already registered; works inside a running
    Hydra app (the benchmark command) and outside one."""
    if GlobalHydra.instance().is_initialized():
        return hydra_compose(config_name=command, overrides=list(overrides))
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        return hydra_compose(config_name=command, overrides=list(overrides))


def compose(command: str, overrides: list[str]) -> DictConfig:
    """The config `idelearn <command> <overrides>` would run (generate, train or extrapolate), composed
    in-process. Benchmark suites build every run this way, so a suite runs exactly what a user's command runs."""
    register(command)
    return compose_registered(command, overrides)


def default_dataset(model_cfg):
    """The dataset a model trains on when `dataset=` is not given, composed from its YAML."""
    return to_object(compose("generate", [f"dataset={model_cfg.default_dataset}"]).dataset)


def compose_error_line(exc: BaseException) -> str:
    """One line from a Hydra/OmegaConf composition error (they span several lines)."""
    parts = []
    while exc is not None:
        text = str(exc).split("Config search path")[0].strip()
        if text:
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            line = lines[0]
            key = next((ln for ln in lines if ln.startswith("full_key:")), "")
            if key and key.split(":", 1)[1].strip() not in line:
                line += f" ({key})"
            if "Available options" in text:  # unknown group option: list the real ones
                options = [ln for ln in lines[2:] if not ln.startswith("schema")]
                line += f"; available: {', '.join(options)}"
            parts.append(line)
        exc = exc.__cause__
    return " <- ".join(dict.fromkeys(parts))
