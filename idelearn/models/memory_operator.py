"""The structured memory operator: the IDE stepped as an ODE with a learned memory that keeps the whole history.

    I(t) = ∫_0^t φ(G(t-s)) G(s) ds,   φ(G) = Σ_{k <= kernel_degree} a_k G^k

φ's coefficients are fitted by linear least squares on the training data (kernel_operator's
series fit through the order-`order` Gregory memory: a quadratic problem solved in well under a
second), and the memory is evaluated in closed loop from online Legendre (LegS) projections of
φ(G) and G over [0, t] with a bilinear readout, O(legs_order) per step whatever t (see `legs`).
Fitted on one window it reproduces Dyson (t <= 10 -> 40: 4.4e-5) and the matrix IDE
(t <= 20 -> 120: 1.6e-4) to the AB3 stepper's own accuracy. It needs the memory to have that
form: `kernel_residual` (the fit's relative residual, ~1e-7 for both papers' equations) flags
when it does not (0.8 for the matrix IDE with an elementwise cosine, not a matrix function of G).

`model.kernel=auto` also tries kernel_operator's lag families, K(G, τ) = Σ_{k≤P} (G/s)^k a_k(τ) with
a_k(τ) = Σ_j c_kj e^{−λ_j τ} (lag_kernels: "exp" refined rates, "grid" ridge on fixed rates), and keeps
the smallest candidate (series included) within `parsimony` of the best hold-out score. A lag kernel is
projected as f(τ) = K(G(τ), τ) along the trajectory (legs.LagLegSMemory; extrapolated in fused_stepper's
loop like the series); for a pure lag kernel (P = 0) `model.memory=exp` replaces LegS by the exact exponential
recurrence (solvers/recurrence.py, O(J) per step).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch
from omegaconf import MISSING

from ..schema import MAX_ITERATIONS, require
from ..solvers.multistep import adams_integrate
from ..solvers.recurrence import ExponentialRecurrenceMemory
from . import fused_stepper
from . import lag_kernels as lk
from .base import IDE_DATA, MAX_WIDTH, NEEDS_STREAMING_TERM, Incompatible, Model, data_order, needs_ide, needs_memory
from .kernel_operator import (
    HOPELESS,
    FitTarget,
    LagFamilyConfig,
    SeriesKernel,
    choose,
    fit_kernel_operator,
    lag_candidates,
    matrix_series,
    memory_along,
    own_memory,
    power_coefficients,
    relative_residual,
    streaming_values,
    windows,
)
from .legs import LagLegSMemory, LegSMemory
from .training import split_trajectories


class StructuredMemory(torch.nn.Module):
    """The fitted φ and the LegS size: `legs_order` Legendre modes, φ(G) = Σ_{k <= kernel_degree} a_k G^k with
    the coefficients in the buffer `kernel` ((degree+1, 2): real, imaginary parts) and the grid step they were
    fitted on in the buffer `dt`. With n_rates > 0, a lag kernel (lag_kernels.LagFit) that replaces φ: buffers
    `lag_rates` (n_rates, 2), `lag_coef` (lag_degree+1, n_rates, 2) (real, imaginary parts) and `lag_scale`.
    No trainable parameters: the state_dict is the fit."""

    # what the fused stepper (fused_stepper.py) runs of it
    uses_lstm = False
    uses_legs = True

    def __init__(self, legs_order: int, kernel_degree: int, n_rates: int = 0, lag_degree: int = 0):
        super().__init__()
        if legs_order < 4 or kernel_degree < 0 or n_rates < 0 or lag_degree < 0:
            raise ValueError(f"legs_order must be >= 4 and kernel_degree, n_rates, lag_degree >= 0, got {legs_order}, "
                             f"{kernel_degree}, {n_rates}, {lag_degree}")
        self.config = dict(legs_order=legs_order, kernel_degree=kernel_degree)
        if n_rates:  # only then, so checkpoints of series fits keep their keys
            self.config.update(n_rates=n_rates, lag_degree=lag_degree)
        self.legs_order, self.kernel_degree = int(legs_order), int(kernel_degree)
        self.register_buffer("kernel", torch.zeros(self.kernel_degree + 1, 2, dtype=torch.float64))
        self.register_buffer("dt", torch.zeros((), dtype=torch.float64))
        self.has_lag = n_rates > 0
        if self.has_lag:
            self.register_buffer("lag_rates", torch.zeros(n_rates, 2, dtype=torch.float64))
            self.register_buffer("lag_coef", torch.zeros(lag_degree + 1, n_rates, 2, dtype=torch.float64))
            self.register_buffer("lag_scale", torch.ones((), dtype=torch.float64))

    def set_lag(self, fit: lk.LagFit) -> None:
        self.lag_rates.copy_(torch.view_as_real(torch.from_numpy(np.asarray(fit.rates, dtype=complex))))
        self.lag_coef.copy_(torch.view_as_real(torch.from_numpy(np.asarray(fit.coef, dtype=complex))))
        self.lag_scale.fill_(fit.scale)

    def lag_fit(self) -> lk.LagFit:
        return lk.LagFit("lag", torch.view_as_complex(self.lag_rates).numpy().copy(),
                         torch.view_as_complex(self.lag_coef).numpy().copy(), float(self.lag_scale))

    @property
    def kernel_coef(self) -> np.ndarray:
        """a_k of φ(G) = Σ a_k G^k, complex (kernel_degree + 1,)."""
        k = self.kernel.detach().cpu().numpy()
        return k[:, 0] + 1j * k[:, 1]

    def set_kernel(self, coef: np.ndarray) -> None:
        coef = np.asarray(coef, dtype=complex)
        self.kernel.copy_(torch.from_numpy(np.stack([coef.real, coef.imag], 1)))

    def numpy_kernel(self):
        """K(G (batch, d, d), τ) -> (batch, d, d) of the fit: the lag kernel, or φ(G)."""
        if self.has_lag:
            return self.lag_fit()
        coef = self.kernel_coef
        return lambda G, tau: matrix_series(coef, np.asarray(G, dtype=complex))

    def memory(self, dt: float | None = None, kind: str = "legs", order: int = 3):
        """The `MemoryOperator` of the fit on a grid of step dt (None: the one it was fitted on): LegS, or for
        kind "exp" (a pure lag kernel only) the exact exponential recurrence of order `order`."""
        step = float(self.dt) if dt is None else float(dt)
        if not step > 0:
            raise ValueError("the LegS memory needs dt (the kernel was never fitted)")
        if kind == "exp":
            fit = self.lag_fit() if self.has_lag else None
            if fit is None or fit.degree != 0:
                raise ValueError("memory 'exp' needs a pure lag kernel (P = 0): "
                                 + ("got a G-series φ" if fit is None else f"got P = {fit.degree}"))
            return ExponentialRecurrenceMemory(fit.rates, fit.coef[0], step, order)
        if self.has_lag:
            return LagLegSMemory(self.lag_fit(), self.legs_order, step)
        return LegSMemory(self.kernel_coef, self.legs_order, step)


def fit_memory_operator(net: StructuredMemory, G: np.ndarray, I: np.ndarray, *, dt: float, order: int,
                        kernel_steps: int, seed: int, val_fraction: float, holdout: float,
                        on_epoch: Callable[[int, dict], None] | None = None) -> dict:
    """Fit φ's coefficients (in place) on G, I: complex (n_traj, n_t, d, d) on a grid of step `dt`.

    History: "kernel_residual" (the relative residual of I on the training data, also the "loss")
    and, with a `val_fraction` of the trajectories held out, "val_loss" (the same on them). With
    `holdout` > 0, "memory_holdout_residual": φ fitted again on the first 1 − holdout of the nodes,
    its relative residual of I on the rest (kernel_operator's check that the memory has this form).
    """
    if G.shape[-1] != G.shape[-2]:
        raise ValueError(f"the structured memory needs square G (φ is a matrix function of G); got "
                         f"{G.shape[-2]}x{G.shape[-1]}: use model=lstm_operator")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    train_idx, val_idx = split_trajectories(G.shape[0], val_fraction, gen)
    series = SeriesKernel(n_terms=net.kernel_degree + 1, basis="power", even=False)
    fit_kernel_operator(series, G[train_idx], I[train_idx], dt, order=order, optimizer="lbfgs", steps=kernel_steps,
                        lr=None, seed=seed, lbfgs_iterations=20)
    coef = power_coefficients(series)
    net.set_kernel(coef)
    net.dt.fill_(float(dt))
    res = relative_residual(memory_along(coef, G[train_idx], dt, order), I[train_idx], order)
    history = {"kernel_residual": [res], "loss": [res]}
    record = {"loss": res}
    if len(val_idx):
        val_res = relative_residual(memory_along(coef, G[val_idx], dt, order), I[val_idx], order)
        history["val_loss"] = [(0, val_res)]
        record["val_loss"] = val_res
    if holdout > 0:
        n_t = G.shape[1]
        n_fit = int(round((1 - holdout) * (n_t - 1))) + 1
        part = SeriesKernel(n_terms=net.kernel_degree + 1, basis="power", even=False)
        fit_kernel_operator(part, G[train_idx, :n_fit], I[train_idx, :n_fit], dt, order=order, optimizer="lbfgs",
                            steps=kernel_steps, lr=None, seed=seed, lbfgs_iterations=20)
        tail = lk.Window(G[train_idx], dt, order, n_fit, n_t, "memory", I=I[train_idx])
        with np.errstate(all="ignore"):
            score = lk.score(part.numpy_kernel(), tail)
        history["memory_holdout_residual"] = [float(score) if np.isfinite(score) else HOPELESS]
    if on_epoch is not None:
        on_epoch(0, record)
    net.eval()
    return history


# ----------------------------------------------------------------------------- the estimator

def choose_lag_kernel(G: np.ndarray, I: np.ndarray | None, dt: float, order: int, holdout: float,
                      series_score: float | None, series_size: int, *, max_rates: int, max_degree: int, n_starts: int,
                      grid_size: int, ridges: list[float], parsimony: float, exact_score: float,
                      Fvals: np.ndarray | None = None):
    """kernel_operator's hold-out choice among the lag families (exp, grid) and, when `series_score` is given,
    the series φ already fitted (its hold-out score and size). Fitted to I, or with the streaming term's
    values `Fvals` (F at every node) to G alone (target "trajectory"). Returns (label, lag fit on the whole
    window or None for the series, its relative residual there, hold-out score, every candidate's {kernel,
    size, holdout_residual})."""
    target = "memory" if Fvals is None else "trajectory"
    fit_win, score_win, whole = windows(G, I, Fvals, dt, order, target, holdout)
    cands = []
    for family in ("exp", "grid"):
        cands += lag_candidates(family, fit_win, whole, max_rates=max_rates, max_degree=max_degree,
                                n_starts=n_starts, grid_size=grid_size, ridges=ridges)
    choose(cands, score_win, parsimony, exact_score)  # scores every candidate (.score)
    labels = [c.label for c in cands] + ([] if series_score is None else ["series"])
    scores = [c.score for c in cands] + ([] if series_score is None else [series_score])
    sizes = [c.size for c in cands] + ([] if series_score is None else [series_size])
    finite = [s if np.isfinite(s) else np.inf for s in scores]
    i = lk.select(finite, sizes, parsimony, exact_score) if np.isfinite(finite).any() else int(np.argmin(sizes))
    table = [{"kernel": k, "size": z, "holdout_residual": float(s)} for k, z, s in zip(labels, sizes, scores)]
    score = float(scores[i]) if np.isfinite(scores[i]) else HOPELESS
    if i == len(cands):
        return "series", None, None, score, table
    kernel, refit = cands[i].refit()
    return labels[i], kernel.lag_fit(), float(np.sqrt(refit["loss"][-1])), score, table


class MemoryKernel(Enum):
    series = "series"  # φ(G) = Σ a_k G^k
    auto = "auto"  # the hold-out choice among the lag families (exp, grid) and the series


class MemoryKind(Enum):
    legs = "legs"  # LegS projections of K(G(τ), τ) and G: any kernel
    exp = "exp"  # the exact exponential recurrence: pure lag kernels (P = 0) only


@dataclass
class MemoryOperatorConfig(LagFamilyConfig):  # the lag keys: model.kernel=auto (and holdout)
    name: str = "memory_operator"
    legs_order: int = MISSING  # Legendre modes N (N ≳ frequency of G × t_final / 2)
    kernel_degree: int = MISSING  # degree of the power series φ
    kernel_steps: int = MISSING  # L-BFGS steps of φ's fit (kernel_operator's)
    order: int | None = MISSING  # Gregory order of φ's fit; None: the data's solver.order
    ab_order: int = MISSING  # Adams–Bashforth order of the extrapolation
    corrector: bool = MISSING
    kernel: MemoryKernel = MISSING
    memory: MemoryKind = MISSING

    def check(self):
        super().check()
        require(self.kernel is MemoryKernel.auto or self.fit_on is FitTarget.memory, "model.fit_on",
                "trajectory fits the lag families (whose one-rate terms include φ = Σ a_k G^k): set model.kernel=auto")
        require(self.kernel is MemoryKernel.auto or self.memory is MemoryKind.legs, "model.memory",
                "exp needs a lag kernel: set model.kernel=auto")
        require(self.memory is MemoryKind.legs or self.max_degree == 0, "model.max_degree",
                f"model.memory=exp needs a pure lag kernel (P = 0): set it to 0, got {self.max_degree}")
        require(self.kernel is MemoryKernel.series or self.holdout > 0, "model.holdout",
                "must be > 0 for model.kernel=auto (it chooses on the hold-out), got 0")
        require(4 <= self.legs_order <= MAX_WIDTH, "model.legs_order", f"must be in 4..{MAX_WIDTH}, "
                f"got {self.legs_order}")
        require(0 <= self.kernel_degree <= 64, "model.kernel_degree", f"must be in 0..64, got {self.kernel_degree}")
        require(1 <= self.kernel_steps <= MAX_ITERATIONS, "model.kernel_steps", f"must be in 1..{MAX_ITERATIONS:.0e}, "
                f"got {self.kernel_steps}")
        require(self.order is None or 3 <= self.order <= 8, "model.order", f"must be in 3..8, got {self.order}")
        require(1 <= self.ab_order <= 8, "model.ab_order", f"must be in 1..8, got {self.ab_order}")


class MemoryOperatorModel(Model):
    """The structured memory (fitted φ, LegS projections) stepped with AB(ab_order)."""

    name = "memory_operator"
    config_class = MemoryOperatorConfig
    accepts = IDE_DATA
    tiny_data = ("dataset=dyson", "dataset.t_final=1")
    tiny = {"legs_order": "8", "kernel_degree": "1", "kernel_steps": "2"}
    numerics = (StructuredMemory, fit_memory_operator)

    def check(self, kind, n_traj):
        needs_ide(self, kind)

    def make_net(self, **net_config):
        return StructuredMemory(**net_config)

    takes_streaming_term = True  # fit_on=trajectory needs F

    def fit(self, data, *, seed, on_iteration=None, device=None, checkpointing=None, F=None):
        c = self.config
        if c.fit_on is FitTarget.memory:
            needs_memory(self, data, "fit from G and the streaming term F with model.kernel=auto")
        if data.G.shape[-1] != data.G.shape[-2]:
            raise Incompatible(f"the structured memory needs square G (its LegS state holds K·G products); got "
                               f"{data.G.shape[-2]}x{data.G.shape[-1]}: use model=kernel_operator")
        self.net = self.make_net(legs_order=c.legs_order, kernel_degree=c.kernel_degree)
        val_fraction = 0.0 if data.n_traj == 1 else 0.2  # many trajectories: a validation residual on 20 %
        order = data_order(self, c.order, data)
        if c.holdout and not (3 * order <= (1 - c.holdout) * (data.G.shape[1] - 1) and
                              c.holdout * (data.G.shape[1] - 1) >= order):
            raise Incompatible(f"model.holdout={c.holdout:g} of the {data.G.shape[1]} nodes of dataset.t_final / "
                               f"dataset.dt leaves too few to fit or to score (order {order}); lower model.holdout "
                               "or lengthen the window")
        if c.fit_on is FitTarget.trajectory:
            return self.fit_trajectory(data, order, F)
        history = fit_memory_operator(self.net, data.G, data.I, dt=data.dt, order=order, kernel_steps=c.kernel_steps,
                                      seed=seed, val_fraction=val_fraction, holdout=c.holdout, on_epoch=on_iteration)
        if "memory_holdout_residual" in history:
            self.fitted = {"memory_holdout_residual": history["memory_holdout_residual"][-1]}
        if c.kernel is MemoryKernel.auto:
            series = None if c.memory is MemoryKind.exp else history["memory_holdout_residual"][-1]
            label, fit, residual, score, table = self.choose_lag(data, order, series, 2 * (c.kernel_degree + 1))
            if fit is not None:
                net = self.lag_net(fit, data.dt)
                net.load_state_dict(self.net.state_dict(), strict=False)  # the series φ as well
                self.net = net
                # the chosen kernel's residual on the window (fitted on all trajectories: no validation residual)
                history = {k: v for k, v in history.items() if k != "val_loss"}
                history.update(kernel_residual=[residual], loss=[residual])
            self.fitted = {"memory_holdout_residual": score, "kernel": label}
            history = {**history, "memory_holdout_residual": [score], "kernel_choice": label,
                       "kernel_candidates": table}
        self.fitted["order"] = order
        return history

    def choose_lag(self, data, order: int, series_score: float | None, series_size: int, Fvals=None):
        """`choose_lag_kernel` with this model's keys: fitted to the data's I, or to G alone given `Fvals`."""
        c = self.config
        return choose_lag_kernel(data.G, data.I if Fvals is None else None, data.dt, order, c.holdout, series_score,
                                 series_size, max_rates=c.max_rates, max_degree=c.max_degree, n_starts=c.n_starts,
                                 grid_size=c.grid_size, ridges=list(c.ridges), parsimony=c.parsimony,
                                 exact_score=c.exact_score, Fvals=Fvals)

    def lag_net(self, fit: lk.LagFit, dt: float) -> StructuredMemory:
        """The structured memory of a lag kernel fitted on a grid of step dt."""
        c = self.config
        net = self.make_net(legs_order=c.legs_order, kernel_degree=c.kernel_degree, n_rates=len(fit.rates),
                            lag_degree=fit.degree)
        net.dt.fill_(float(dt))
        net.set_lag(fit)
        return net.eval()

    def fit_trajectory(self, data, order: int, F) -> dict:
        """The lag families fitted to G alone (G(t) − G(t_a) − ∫F = ∫I, kernel_operator's trajectory target)."""
        if F is None:
            raise Incompatible(NEEDS_STREAMING_TERM)
        label, fit, residual, score, table = self.choose_lag(data, order, None, 0,
                                                             Fvals=streaming_values(F, data.G, data.dt))
        self.net = self.lag_net(fit, data.dt)
        self.fitted = {"memory_holdout_residual": score, "kernel": label, "order": order}
        return {"kernel_residual": [residual], "loss": [residual], "memory_holdout_residual": [score],
                "kernel_choice": label, "kernel_candidates": table}

    @classmethod
    def restore_legacy(cls, ckpt: dict) -> Model:
        """A checkpoint of `model=lstm_operator model.memory=legs`, written before this model split off."""
        keys = {f for f in cls.config_class.__dataclass_fields__}
        config = {k: v for k, v in ckpt["config"].items() if k in keys}
        state = {k: ckpt["state_dict"][k] for k in ("kernel", "dt")}
        net_config = {k: ckpt["net_config"][k] for k in ("legs_order", "kernel_degree")}
        return cls.restore({**ckpt, "model": cls.name, "config": {**config, "name": cls.name},
                            "net_config": net_config, "state_dict": state})

    def extrapolate(self, G_known, t, *, F=None, I_known=None, solver=None):
        if F is None:
            raise ValueError("memory_operator extrapolation needs the streaming term F")
        c, dt = self.config, float(t[1] - t[0])
        if I_known is None:  # measured data: the memory of the known window is the learned kernel's own
            I_known = own_memory(self.net.numpy_kernel(), G_known, dt, self.fitted["order"])
        # a series φ is always projected by LegS; a lag kernel by LegS or the exponential recurrence
        kind = c.memory.value if getattr(self.net, "has_lag", False) else "legs"
        if fused_stepper.supported(self.net, c.corrector, kind):
            # the same maths as the generic stepper below, in one fused loop (tests/models/test_fused_stepper.py)
            G, _ = fused_stepper.adams_fused(self.net, F, G_known, I_known, dt, len(t), order=c.ab_order)
            return G
        memory = self.net.memory(dt, kind=kind, order=c.ab_order)
        G, _ = adams_integrate(F, memory, G_known, I_known, dt, len(t), order=c.ab_order, corrector=c.corrector)
        return G


MODEL = MemoryOperatorModel
