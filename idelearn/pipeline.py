"""Train and extrapolate on config objects (no Hydra): shared by the commands and the benchmark suites."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .data.dataset import Dataset
from .data.datasets import DATASETS, FromFileConfig, changeable_keys, dataset_config, load_or_generate
from .data.ide_datasets import PartialSolution
from .data.io import load_curves
from .errors import RunFailure, UserError
from .models.base import Incompatible, Model
from .models.registry import MODELS
from .models.training import Checkpointing, NonFiniteError, ResumeMismatch
from .report import metrics as M
from .solvers.multistep import BlowUpError, nodes_before_blow_up


def json_plain(obj):
    """Plain Python (no numpy scalars/arrays), so torch.load(weights_only=True) can read it back."""

    def default(x):
        if isinstance(x, np.ndarray):
            return x.tolist()
        if isinstance(x, np.generic):
            return x.item()
        return str(x)

    return json.loads(json.dumps(obj, default=default))


# ----------------------------------------------------------------------------- training

def check_compatible(model: Model, dataset_name: str, kind: str | None, n_traj: int | None) -> None:
    try:
        if kind is not None and n_traj is not None:
            model.check(kind, n_traj)
    except Incompatible as exc:
        raise UserError(f"model={model.name} cannot train on dataset={dataset_name}: {exc}") from None


def split_curves(n_curves: int, n_train: int | None, train_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    n_train = n_train if n_train is not None else max(1, int(train_fraction * n_curves))
    if n_train > n_curves:
        raise UserError(f"trainer.n_train: {n_train} is more than the {n_curves} curves in the dataset")
    return np.arange(n_train), np.arange(n_train, n_curves)


@dataclass
class Trained:
    model: Model
    data: Dataset
    history: dict
    wall_s: float
    checkpoint: dict = field(default_factory=dict)


def train(model_cfg, dataset_cfg, solver_spec, trainer, on_iteration=None, device=None, log=None,
          state_path: Path | None = None) -> Trained:
    """Fit `model_cfg`'s model on `dataset_cfg` (config objects); returns the model and its checkpoint.

    With `state_path`, the training state is saved there every trainer.checkpoint_every iterations
    and, when the file exists (a crashed run), training continues from it.
    """
    model = MODELS[model_cfg.name](model_cfg)
    # fail before any solving when the combination cannot work; files are checked once read
    check_compatible(model, dataset_cfg.name, dataset_cfg.kind, dataset_cfg.n_traj_expected())
    try:
        data, data_path = load_or_generate(dataset_cfg, solver_spec, trainer.cache_dir)
    except PartialSolution as exc:  # nothing is cached: training data that blew up are no training data
        raise RunFailure(f"the training data: {exc}") from None
    check_compatible(model, dataset_cfg.name, data.kind, data.n_traj)
    train_idx, test_idx = np.arange(data.n_traj), np.array([], dtype=int)
    if data.kind == "trajectory":
        train_idx, test_idx = split_curves(data.n_traj, trainer.n_train, trainer.train_fraction)
    if log is not None:
        log.info("training %s on %s: %d trajectories x %d nodes, device %s", model.name, dataset_cfg.name,
                 len(train_idx), len(data.t), device or "cpu")
    checkpointing = None
    if state_path is not None and trainer.checkpoint_every > 0:
        checkpointing = Checkpointing(Path(state_path), trainer.checkpoint_every)
        if checkpointing.path.exists() and log is not None:
            log.info("resuming from %s", checkpointing.path)
    F = dataset_cfg.streaming_term() if model.takes_streaming_term else None  # fits from G alone need F
    extra = {} if F is None else {"F": F}
    start = time.perf_counter()
    try:
        history = model.fit(data.select(train_idx), seed=trainer.seed, on_iteration=on_iteration, device=device,
                            checkpointing=checkpointing, **extra)
    except ResumeMismatch as exc:
        raise UserError(f"trainer.resume: {exc}") from None
    except Incompatible as exc:  # found once the data are read (e.g. how they were solved)
        raise UserError(f"model={model.name} cannot train on dataset={dataset_cfg.name}: {exc}") from None
    except NonFiniteError as exc:
        kept = f"; the last good state is in {state_path}" if checkpointing and checkpointing.path.exists() else ""
        raise RunFailure(f"{exc}{kept}") from None
    wall = time.perf_counter() - start
    if log is not None and history.get("kernel_candidates"):
        for c in history["kernel_candidates"]:
            log.info("kernel candidate %-28s size %4d  hold-out residual %.3g", c["kernel"], c["size"],
                     c["holdout_residual"])
        log.info("kernel chosen: %s", history["kernel_choice"])
    model.to("cpu")  # extrapolation (and the fused fast path) runs on the CPU; the checkpoint stores CPU tensors
    checkpoint = model.checkpoint()
    checkpoint.update(json_plain(dict(
        idelearn_version=__version__,
        trainer=trainer.plain(),
        dataset={"config": dataset_cfg.plain(), "meta": data.meta, "path": data_path,
                 "t_final": float(data.t[-1]), "dt": float(data.t[1] - data.t[0]), "kind": data.kind,
                 "shape": list(data.G.shape[2:]), "param_names": list(data.param_names),
                 "params": data.params.tolist(), "train_indices": train_idx.tolist(),
                 "test_indices": test_idx.tolist()},
    )))
    return Trained(model=model, data=data, history=history, wall_s=wall, checkpoint=checkpoint)


def train_metrics(trained: Trained, model_cfg) -> dict:
    history, ds = trained.history, trained.checkpoint["dataset"]
    budget, unit = model_cfg.budget()
    metrics = {"model": model_cfg.name, "dataset": ds["config"]["name"], "wall_s": trained.wall_s,
               f"{unit}s": budget, "n_train": len(ds["train_indices"]), "n_test": len(ds["test_indices"]),
               "final_loss": float(history["loss"][-1]) if history.get("loss") else None}
    val = history.get("val_loss")
    if val:
        metrics["final_val_loss"] = float(val[-1][1] if isinstance(val[-1], (list, tuple)) else val[-1])
    if history.get("s_per_iter"):
        metrics["s_per_iter"] = float(np.median(history["s_per_iter"]))
    if history.get("kernel_residual"):  # a learned kernel's relative residual of I on the training data
        metrics["kernel_residual"] = float(history["kernel_residual"][-1])
    if history.get("memory_holdout_residual"):  # the same on the window's hold-out tail (fitted without it)
        metrics["memory_holdout_residual"] = float(history["memory_holdout_residual"][-1])
    for key in ("kernel_choice", "kernel_candidates"):
        if key in history:
            metrics[key] = history[key]
    return metrics


# A learned memory whose relative hold-out residual of I exceeds this is flagged by `train` and
# `extrapolate`: the kernel is outside the families fitted. Measured (docs/kernel_zoo.md): kernels in
# the families 4e-16..1e-6 on exact data, up to 5e-3 with noise 1e-4; outside them (a memory that stops
# at τ = 8, the matrix IDE's elementwise cosine) 0.55.
MEMORY_WARNING_THRESHOLD = 1e-2


def memory_warning(residual) -> str | None:
    """One line when a memory's hold-out residual is above MEMORY_WARNING_THRESHOLD (else None)."""
    if residual is None or not residual > MEMORY_WARNING_THRESHOLD:
        return None
    return (f"the learned memory leaves {residual:.2g} of I unexplained on the hold-out tail of the window (above "
            f"{MEMORY_WARNING_THRESHOLD:g}): the memory is not of a form the model can learn; expect a poor "
            "extrapolation")


# ----------------------------------------------------------------------------- checkpoints

def find_checkpoint(run: str | None, root: str = "outputs/train") -> Path:
    if run is None:
        found = sorted(Path(root).glob("**/model.pt"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise UserError(f"run: no train run found under {root}; give run=<train run dir>")
        return found[-1]
    path = Path(run).expanduser()
    if path.is_dir():
        if not (path / "model.pt").exists():
            seen = sorted(p.name for p in path.iterdir() if not p.name.startswith("."))[:6]
            raise UserError(f"run: {path} is not a train run directory (expected model.pt; "
                            f"it holds {', '.join(seen) or 'nothing'})")
        path = path / "model.pt"
    if not path.exists():
        raise UserError(f"run: no such train run or model.pt: {path}")
    return path


CHECKPOINT_KEYS = ("model", "config", "dataset")
CHECKPOINT_DATASET_KEYS = ("config", "kind", "shape", "t_final", "param_names", "params", "path", "train_indices",
                           "test_indices")


def load_checkpoint(path: Path) -> dict:
    """Read model.pt without executing code (weights_only=True); refuse anything else in one line."""
    import pickle
    import warnings
    import zipfile

    path = Path(path)
    where = f"run: {path}"
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": one line on stderr, not three
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # weights_only refused a global: the file would run code
        raise UserError(f"{where}: not a loadable idelearn checkpoint: the safe loader refused it (pickled Python "
                        "objects beyond tensors and plain data, or not a pickle at all; nothing was run)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as exc:
        size = path.stat().st_size
        raise UserError(f"{where}: not a loadable idelearn checkpoint: truncated or corrupt ({size} bytes; "
                        f"expected a torch file written by idelearn train; {type(exc).__name__})") from None
    except Exception as exc:  # anything else that is not a torch file
        raise UserError(f"{where}: not a loadable idelearn checkpoint: not a torch file (expected a model.pt "
                        f"written by idelearn train; {type(exc).__name__})") from None
    if not isinstance(ckpt, dict):
        raise UserError(f"{where}: expected a dict checkpoint ({', '.join(CHECKPOINT_KEYS)}), "
                        f"got {type(ckpt).__name__}")
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise UserError(f"{where}: not an idelearn checkpoint: missing {', '.join(missing)} "
                        f"(expected {', '.join(CHECKPOINT_KEYS)}; found {', '.join(map(str, ckpt)) or 'none'})")
    if ckpt["model"] not in MODELS:
        raise UserError(f"{where}: model {ckpt['model']!r} is unknown (known: {', '.join(MODELS)})")
    trained = ckpt["dataset"]
    lacking = [k for k in CHECKPOINT_DATASET_KEYS if not isinstance(trained, dict) or k not in trained]
    if lacking:
        raise UserError(f"{where}: checkpoint's dataset record lacks {', '.join(lacking)}")
    if trained["kind"] not in ("ide", "trajectory"):
        raise UserError(f"{where}: dataset kind {trained['kind']!r}, expected ide or trajectory")
    check_record(trained, where)
    check_weights(ckpt, where)
    return ckpt


def _numbers(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_record(trained: dict, where: str) -> None:
    """The dataset record of a checkpoint: the types and shapes `extrapolate` relies on."""
    config = trained["config"]
    problems = [
        ("config", isinstance(config, dict) and config.get("name") in DATASETS),
        ("t_final", _numbers(trained["t_final"]) and trained["t_final"] > 0),
        ("shape", isinstance(trained["shape"], list) and len(trained["shape"]) in (1, 2)
         and all(isinstance(n, int) and n >= 1 for n in trained["shape"])),
        ("param_names", isinstance(trained["param_names"], list) and all(isinstance(n, str)
                                                                         for n in trained["param_names"])),
        ("params", isinstance(trained["params"], list) and len(trained["params"]) >= 1 and all(
            isinstance(row, list) and len(row) == len(trained["param_names"]) and all(map(_numbers, row))
            for row in trained["params"])),
        ("path", isinstance(trained["path"], str)),
        ("test_indices", isinstance(trained["test_indices"], list) and all(
            isinstance(i, int) and i >= 0 for i in trained["test_indices"])),
    ]
    bad = [name for name, ok in problems if not ok]
    if bad:
        raise UserError(f"{where}: checkpoint's dataset record has invalid {', '.join(bad)}")
    if trained["kind"] == "ide" and not (_numbers(trained.get("dt")) and 0 < trained["dt"] <= trained["t_final"]):
        raise UserError(f"{where}: checkpoint's dataset record has invalid dt")


def check_weights(ckpt: dict, where: str) -> None:
    """Every stored tensor and number finite, weights floating point (a NaN-filled or int model.pt is refused)."""
    state = ckpt.get("state_dict")
    if state is not None and not isinstance(state, dict):
        raise UserError(f"{where}: state_dict is a {type(state).__name__}, expected a dict of tensors")
    for key, value in (state or {}).items():
        if not isinstance(value, torch.Tensor) or not (value.is_floating_point() or value.is_complex()):
            kind = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
            raise UserError(f"{where}: weight {key} is {kind}, expected a floating-point tensor")
        if not torch.isfinite(value).all():
            raise UserError(f"{where}: weight {key} holds NaN or inf")

    def finite(value) -> bool:
        if isinstance(value, torch.Tensor):
            return not (value.is_floating_point() or value.is_complex()) or bool(torch.isfinite(value).all())
        if isinstance(value, float):
            return math.isfinite(value)
        if isinstance(value, (list, tuple)):
            return all(map(finite, value))
        if isinstance(value, dict):
            return all(map(finite, value.values()))
        return True

    fitted = ckpt.get("fitted")
    if fitted is not None and not (isinstance(fitted, dict) and finite(fitted)):
        raise UserError(f"{where}: the fitted values (normalisation, DMD modes) are not a dict of finite numbers")


def restore(ckpt: dict, where: str = "run") -> Model:
    """The model of a checkpoint read by `load_checkpoint`; weights that do not fit its architecture
    are refused in one line."""
    try:
        return MODELS[ckpt["model"]].restore(ckpt)
    except UserError as exc:  # the stored config fails its schema's checks
        raise UserError(f"{where}: the stored model config is invalid: {exc}") from None
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{where}: the stored weights do not fit model {ckpt['model']} "
                        f"with its stored config ({first[:200]})") from None


# ----------------------------------------------------------------------------- extrapolation

@dataclass
class Prediction:
    t: np.ndarray
    G_pred: np.ndarray
    G_true: np.ndarray
    split: int  # first predicted node
    params: np.ndarray
    wall_s: float
    kind: str
    n_good: int | None = None  # nodes before the prediction blew up (None: all)
    start: int = 0  # curves: the index (on the original curves) of the first given point
    kernels: dict | None = None  # learned-kernel models: the true and learned K along the reference (kernels_on)
    lyapunov_exponent: float | None = None  # chaotic curves (Lorenz): valid times are also given in Lyapunov times
    n_truth: int | None = None  # measured data: nodes with a truth to compare with (None: all); G_true is NaN after

    @property
    def partial(self) -> bool:
        return self.n_good is not None and self.n_good < len(self.t)

    def metrics(self) -> dict:
        with np.errstate(all="ignore"):  # huge (not yet blown-up) predictions overflow the sums: inf, not a warning
            return self._metrics()

    def _metrics(self) -> dict:
        end = self.n_good if self.partial else len(self.t)
        n_steps = max(1, (len(self.t) - self.split) * len(self.G_pred))
        out = {"wall_s": self.wall_s, "us_per_step": 1e6 * self.wall_s / n_steps, "n_traj": int(len(self.G_pred)),
               "t_known": float(self.t[self.split - 1]), "t_final": float(self.t[-1])}
        if self.partial:
            out.update(partial=True, t_reached=float(self.t[max(end, 1) - 1]))
        if self.n_truth is not None:
            out["t_truth"] = float(self.t[self.n_truth - 1])  # the data end here: scored on (t_known, t_truth]
            if self.n_truth <= self.split:  # nothing past the window to compare with: a forecast, not scored
                return {**out, "rel_l2": None, "max_abs": None}
            end = min(end, self.n_truth)
        pred, true, t = self.G_pred[:, self.split:end], self.G_true[:, self.split:end], self.t[self.split:end]
        if end <= self.split:  # blew up at the first predicted node: nothing to compare
            pred, true, t = np.full(1, np.inf), np.ones(1), self.t[self.split:self.split + 1]
        out.update(rel_l2=M.rel_l2(pred, true), max_abs=M.max_abs(pred, true))
        if self.kernels is not None:  # max relative error of K_θ over the visited G, in and past the window
            err = np.abs(self.kernels["learned"] - self.kernels["true"]).reshape(len(self.t), -1).max(axis=1)
            size = np.abs(self.kernels["true"]).reshape(len(self.t), -1).max(axis=1)
            rel = err / np.where(size > 0, size, 1.0)
            out.update(kernel_rel_err_window=float(rel[: self.split].max()),
                       kernel_rel_err_extrapolated=float(rel[self.split:].max()))
        if self.kind != "ide":
            # median beside the mean: a curve whose coordinate barely moves (a Lotka-Volterra population
            # collapsing to ~0) has a near-zero variance and an r2 of any size
            r2, r2_paper = M.r2_per_curve(pred, true), M.r2_paper_per_curve(pred, true)
            out.update(r2=float(r2.mean()), r2_median=float(np.median(r2)), r2_std=float(r2.std()),
                       r2_paper=float(r2_paper.mean()), r2_paper_std=float(r2_paper.std()), context=int(self.split),
                       start=self.start, mae_per_time=M.mae_per_time(pred, true).tolist())
            # how long the prediction stays within a normalised error of 0.4 (the chaotic-forecasting measure)
            valid = M.valid_prediction_time(pred, true, t, lyapunov_exponent=1.0)
            out.update(valid_time_median=float(np.median(valid)), valid_time_mean=float(valid.mean()))
            if self.lyapunov_exponent is not None:
                out.update(vpt_lyapunov_median=out["valid_time_median"] * self.lyapunov_exponent,
                           vpt_lyapunov_mean=out["valid_time_mean"] * self.lyapunov_exponent)
        return out


def guard(model: Model, G_known: np.ndarray, t: np.ndarray, max_abs: float, **inputs) -> tuple[np.ndarray, int]:
    """Run model.extrapolate; return the prediction and the number of nodes before it blew up
    (|G| > max_abs or non-finite anywhere in the batch). Nodes after that are NaN."""
    try:
        with np.errstate(all="ignore"):  # overflow on the way to a blow-up: reported below, in one line
            G = model.extrapolate(G_known, t, **inputs)
    except BlowUpError as exc:  # the stepper stopped early: keep what it had
        G = np.full((len(G_known), len(t)) + G_known.shape[2:], np.nan, dtype=exc.G.dtype)
        G[:, : exc.G.shape[1]] = exc.G
    n_good = nodes_before_blow_up(G, max_abs)
    G[:, n_good:] = np.nan
    return G, n_good


def ide_target(trained: dict, changes: dict):
    """The single-trajectory dataset config to extrapolate: the training one with `changes` applied.

    A key the training dataset does not have is named with both sides (what the model was trained
    on, and which datasets do have that key).
    """
    name = trained["config"]["name"]
    base = dataset_config(name, trained["config"])
    base = base.single(dict(zip(trained["param_names"], trained["params"][0])))  # a multi dataset's first
    known = changeable_keys(type(base))
    for key in changes:
        if key not in known:
            owners = [n for n, schema in DATASETS.items() if key in changeable_keys(schema)]
            raise UserError(f"dataset.{key}: given, but the model was trained on {name} data "
                            f"(its parameters: {', '.join(known)})"
                            + (f"; {key} is a parameter of {', '.join(owners)}" if owners else ""))
    values = base.plain()
    for key, value in changes.items():  # a dict (a custom problem's kwargs) changes only the keys given
        values[key] = {**values[key], **value} if isinstance(value, dict) and isinstance(values[key], dict) else value
    return dataset_config(base.name, values)


def extrapolate_ide(model: Model, trained: dict, changes: dict, t_final: float | None, solver_spec,
                    from_initial: bool = False) -> Prediction:
    """Reference solve to t_final; the model continues from the known window t <= training horizon
    (or, `from_initial`, from G(0) alone: models with an exact memory). Scored past the window."""
    t_train = float(trained["t_final"])
    t_final = t_final if t_final is not None else 4 * t_train
    check_continuation(model, t_train, t_final, from_initial)
    target = ide_target(trained, changes)
    try:
        single = dataclasses.replace(target, t_final=t_final, noise=0.0)  # the truth and the known window: clean
    except UserError as exc:  # the grid (the training data's dt) to this t_final is too long
        raise UserError(f"t_final: {t_final:g} is beyond what the training data's grid allows: {exc}") from None
    problem = single.ide_problem()
    given, expected = list(problem.G0.shape[1:]), list(trained["shape"])
    if given != expected:
        keys = ", ".join(f"dataset.{k}" for k in changes) or "dataset"
        raise UserError(f"{keys}: gives {'x'.join(map(str, given))} matrices, but the model was trained on "
                        f"{'x'.join(map(str, expected))} ({trained['config']['name']} data)")
    try:
        reference = single.generate(solver_spec)
    except PartialSolution as exc:
        raise RunFailure(f"no reference to compare with: {exc}; choose a smaller t_final") from None
    n_known = int(round(t_train / single.dt)) + 1
    n_given = 1 if from_initial else n_known
    start = time.perf_counter()
    G_pred, n_good = guard(model, reference.G[:, :n_given], reference.t, solver_spec.max_abs, F=problem.F,
                           I_known=reference.I[:, :n_given], solver=solver_spec)
    wall = time.perf_counter() - start
    prediction = Prediction(reference.t, G_pred, reference.G, n_known, reference.params, wall, "ide", n_good)
    if hasattr(model, "learned_kernel"):
        prediction.kernels = kernels_on(reference.G[0], reference.t, problem.K, model.learned_kernel())
    return prediction


def check_continuation(model: Model, t_train: float, t_final: float, from_initial: bool) -> None:
    if t_final <= t_train:
        raise UserError(f"t_final: must exceed the model's training horizon {t_train:g}, got {t_final:g}")
    if from_initial and model.needs_window:
        raise UserError(f"from_initial: {model.name} continues a known window (it cannot start from G(0) alone)")


def extrapolate_measured(model: Model, trained: dict, path: str | None, t_final: float | None, solver_spec,
                         from_initial: bool = False) -> Prediction:
    """A model trained on measured IDE trajectories (dataset=from_file with dataset.problem): it continues the
    trajectories of `path` (None: its training file) from their first t_train to t_final (default: the file's
    end, or 4 t_train when the file ends with the window) and is scored where the file has data past the window.
    No reference solve: the memory is what the model learned, F the user's."""
    t_train, dt = float(trained["t_final"]), float(trained["dt"])
    # records written before from_file took a problem have none: they fail below, asking for one
    source = dataset_config("from_file", {"problem": None, "kwargs": None, "t_window": None, **trained["config"]})
    if path is None and not Path(trained["path"]).exists():
        raise UserError(f"run: the model's training data {trained['path']} is gone; give the trajectories to continue "
                        "with dataset.path=<file>")
    whole = dataclasses.replace(source, path=path or trained["path"], t_window=None)  # the file past the window
    F = whole.streaming_term()
    if F is None:
        raise UserError("dataset.problem: the model was trained on IDE data from a file without the IDE's streaming "
                        "term F, which extrapolation steps with: train with dataset.problem=module:function")
    data = whole.generate()
    where = f"dataset.path: {whole.path}"
    if not np.isclose(data.dt, dt, rtol=1e-6, atol=0):
        raise UserError(f"{where}: time step {data.dt:g}, but the model was trained on step {dt:g}")
    if list(data.G.shape[2:]) != list(trained["shape"]):
        raise UserError(f"{where}: holds {'x'.join(map(str, data.G.shape[2:]))} matrices, but the model was trained "
                        f"on {'x'.join(map(str, trained['shape']))}")
    n_known = int(round(t_train / dt)) + 1
    if len(data.t) < n_known:
        raise UserError(f"{where}: ends at t = {data.t[-1]:g}, before the end of the training window {t_train:g}")
    if data.I is None and model.needs_known_memory:
        raise UserError(f"{where}: holds no I, which {model.name} needs on the known window to continue it (give a "
                        "file with I)")
    if t_final is None:
        t_final = float(data.t[-1]) if len(data.t) > n_known else 4 * t_train
    check_continuation(model, t_train, t_final, from_initial)
    n_total = int(round(t_final / dt)) + 1
    t = np.arange(n_total) * dt
    n_truth = min(n_total, len(data.t))
    G_true = np.full((data.n_traj, n_total) + data.G.shape[2:], complex(np.nan, np.nan))
    G_true[:, :n_truth] = data.G[:, :n_truth]
    n_given = 1 if from_initial else n_known
    I_known = None if data.I is None or from_initial else data.I[:, :n_given]
    start = time.perf_counter()
    G_pred, n_good = guard(model, data.G[:, :n_given], t, solver_spec.max_abs, F=F,
                           I_known=I_known, solver=solver_spec)
    return Prediction(t, G_pred, G_true, n_known, data.params, time.perf_counter() - start, "ide", n_good,
                      n_truth=n_truth)


def kernels_on(G: np.ndarray, t: np.ndarray, K_true, K_learned) -> dict:
    """The true and the learned kernel at every node of one trajectory G (n_t, d, m): {t, true, learned}."""
    return {"t": t, "true": np.stack([np.asarray(K_true(G[i:i + 1], t[i]))[0] for i in range(len(t))]),
            "learned": np.stack([K_learned(G[i:i + 1], t[i])[0] for i in range(len(t))])}


@dataclass
class Curves:
    """Which curves a curve model continues: a file, else its training data's held-out (or trained-on) curves."""

    path: str | None = None
    t_final: float = 1.0  # time span of arrays that store no t
    train_curves: bool = False


def extrapolate_curves(model: Model, trained: dict, target: Curves, context: int | None, max_abs: float,
                       start: int = 0) -> Prediction:
    """Given `context` points of the target's curves, predict the rest.

    start > 0 (paper 2's Table 5 test): points start .. start+context-1 are given as a new initial
    segment and the points after it are predicted. A model trained on first segments gets the
    paper's protocol, times counted from the segment's first point; one trained on segments
    (`model.random_start`) gets the segment's own times, as in its training.
    """
    context = context if context is not None else model.config.context
    dim = trained["shape"][0]
    if target.path is not None:
        curves = load_curves(target.path, target.t_final)
        where = f"dataset.path: {target.path}"
    else:  # the curves held out of training (or trained on)
        if not Path(trained["path"]).exists():
            raise UserError(f"run: the model's training data {trained['path']} is gone; "
                            "give unseen curves with dataset.path=<file>")
        rows = trained["train_indices"] if target.train_curves else trained["test_indices"]
        curves = load_curves(trained["path"], key="run").select(rows or [0])
        where = f"run: training data {trained['path']}"
    if curves.G.ndim != 3:
        raise UserError(f"{where}: holds matrices of shape {list(curves.G.shape[2:])} (IDE data), but the model "
                        f"expects curves of dimension {dim}")
    if curves.G.shape[-1] != dim:
        raise UserError(f"{where}: curves of dimension {curves.G.shape[-1]}, but the model was trained on "
                        f"dimension {dim}")
    n_t = len(curves.t)
    if not 0 <= start < n_t - 1:
        raise UserError(f"start: must be in 0..{n_t - 2} (the curves have {n_t} points), got {start}")
    if not 1 <= context < n_t - start:
        raise UserError(f"context: must be in 1..{n_t - start - 1} (the curves have {n_t} points"
                        + (f", given from point {start}" if start else "") + f"), got {context}")
    G, t = curves.G[:, start:], curves.t[start:]
    if not getattr(model.config, "random_start", False):
        t = t - curves.t[start] + curves.t[0]
    tic = time.perf_counter()
    G_pred, n_good = guard(model, G[:, :context], t, max_abs)
    wall = time.perf_counter() - tic
    chaotic = DATASETS[trained["config"]["name"]].lyapunov_exponent
    return Prediction(t, G_pred, G, context, curves.params, wall, "trajectory", n_good, start=start,
                      lyapunov_exponent=chaotic)


def extrapolate(model: Model, trained: dict, target, t_final: float | None, context: int | None,
                solver, start: int = 0, from_initial: bool = False) -> Prediction:
    """`idelearn extrapolate`: IDE models continue a reference window past the training horizon (the
    training dataset with target's changes); curve models continue unseen curves from `context` points.

    target: `dataset=from_run` (keys to change, or `path` of unseen curves) or `dataset=from_file`.
    """
    if isinstance(target, FromFileConfig):
        curves, changes = Curves(target.path, target.t_final), {}
        if target.problem is not None or target.t_window is not None:  # the model steps with its training F
            raise UserError(f"dataset.{'problem' if target.problem is not None else 't_window'}: extrapolate takes "
                            "the F and the window the model was trained with; give only dataset.path")
    else:
        values = target.plain()
        curves = Curves(values.pop("path"), values.pop("t_final"), values.pop("train_curves"))
        changes = {k: v for k, v in values.items() if k != "name" and v is not None}
    if trained["kind"] == "ide" and trained["config"]["name"] == "from_file":  # measured: no reference solve
        if changes:
            raise UserError(f"dataset.{next(iter(changes))}: the model was trained on measured trajectories "
                            "(dataset=from_file): give the trajectories to continue with dataset.path")
        if start:
            raise UserError("start: IDE models continue from the training window; start is for curve models")
        return extrapolate_measured(model, trained, curves.path, t_final, solver.spec(), from_initial)
    if trained["kind"] == "ide":
        if curves.path is not None or curves.train_curves:
            raise UserError("dataset.path: IDE models extrapolate a solved trajectory; give its parameters instead")
        if start:
            raise UserError("start: IDE models continue from the training window; start is for curve models")
        return extrapolate_ide(model, trained, changes, t_final, solver.spec(), from_initial)
    if from_initial:
        raise UserError("from_initial: curve models are given `context` points; from_initial is for IDE models")
    if changes:
        raise UserError(f"dataset.{next(iter(changes))}: curve models take unseen curves (dataset.path), "
                        "not equation parameters")
    return extrapolate_curves(model, trained, curves, context, solver.max_abs, start)
