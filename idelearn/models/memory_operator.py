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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import MISSING

from ..schema import MAX_ITERATIONS, require
from ..solvers.multistep import adams_integrate
from . import fused_stepper
from . import lag_kernels as lk
from .base import IDE_DATA, MAX_WIDTH, Incompatible, Model, ModelConfig, data_order, needs_ide
from .kernel_operator import (
    HOPELESS,
    SeriesKernel,
    fit_kernel_operator,
    memory_along,
    power_coefficients,
    relative_residual,
)
from .legs import LegSMemory
from .training import split_trajectories


class StructuredMemory(torch.nn.Module):
    """The fitted φ and the LegS size: `legs_order` Legendre modes, φ(G) = Σ_{k <= kernel_degree} a_k G^k with
    the coefficients in the buffer `kernel` ((degree+1, 2): real, imaginary parts) and the grid step they were
    fitted on in the buffer `dt`. No trainable parameters: the state_dict is the fit."""

    # what the fused stepper (fused_stepper.py) runs of it
    uses_lstm = False
    uses_legs = True

    def __init__(self, legs_order: int, kernel_degree: int):
        super().__init__()
        if legs_order < 4 or kernel_degree < 0:
            raise ValueError(f"legs_order must be >= 4 and kernel_degree >= 0, got {legs_order}, {kernel_degree}")
        self.config = dict(legs_order=legs_order, kernel_degree=kernel_degree)
        self.legs_order, self.kernel_degree = int(legs_order), int(kernel_degree)
        self.register_buffer("kernel", torch.zeros(self.kernel_degree + 1, 2, dtype=torch.float64))
        self.register_buffer("dt", torch.zeros((), dtype=torch.float64))

    @property
    def kernel_coef(self) -> np.ndarray:
        """a_k of φ(G) = Σ a_k G^k, complex (kernel_degree + 1,)."""
        k = self.kernel.detach().cpu().numpy()
        return k[:, 0] + 1j * k[:, 1]

    def set_kernel(self, coef: np.ndarray) -> None:
        coef = np.asarray(coef, dtype=complex)
        self.kernel.copy_(torch.from_numpy(np.stack([coef.real, coef.imag], 1)))

    def memory(self, dt: float | None = None) -> LegSMemory:
        """The `MemoryOperator` of the fit on a grid of step dt (None: the one it was fitted on)."""
        step = float(self.dt) if dt is None else float(dt)
        if not step > 0:
            raise ValueError("the LegS memory needs dt (the kernel was never fitted)")
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

@dataclass
class MemoryOperatorConfig(ModelConfig):
    name: str = "memory_operator"
    legs_order: int = MISSING  # Legendre modes N (N ≳ frequency of G × t_final / 2)
    kernel_degree: int = MISSING  # degree of the power series φ
    kernel_steps: int = MISSING  # L-BFGS steps of φ's fit (kernel_operator's)
    order: int | None = MISSING  # Gregory order of φ's fit; None: the data's solver.order
    ab_order: int = MISSING  # Adams–Bashforth order of the extrapolation
    corrector: bool = MISSING
    holdout: float = MISSING  # fraction of the window's nodes held out for memory_holdout_residual (0: none)

    def check(self):
        super().check()
        require(0 <= self.holdout < 1, "model.holdout", f"must be in [0, 1), got {self.holdout}")
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

    def fit(self, data, *, seed, on_iteration=None, device=None, checkpointing=None):
        c = self.config
        self.net = self.make_net(legs_order=c.legs_order, kernel_degree=c.kernel_degree)
        val_fraction = 0.0 if data.n_traj == 1 else 0.2  # many trajectories: a validation residual on 20 %
        order = data_order(self, c.order, data)
        if c.holdout and not (3 * order <= (1 - c.holdout) * (data.G.shape[1] - 1) and
                              c.holdout * (data.G.shape[1] - 1) >= order):
            raise Incompatible(f"model.holdout={c.holdout:g} of the {data.G.shape[1]} nodes of dataset.t_final / "
                               f"dataset.dt leaves too few to fit or to score (order {order}); lower model.holdout "
                               "or lengthen the window")
        history = fit_memory_operator(self.net, data.G, data.I, dt=data.dt, order=order, kernel_steps=c.kernel_steps,
                                      seed=seed, val_fraction=val_fraction, holdout=c.holdout, on_epoch=on_iteration)
        if "memory_holdout_residual" in history:
            self.fitted = {"memory_holdout_residual": history["memory_holdout_residual"][-1]}
        return history

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
        if fused_stepper.supported(self.net, c.corrector):
            # the same maths as the generic stepper below, in one fused loop (tests/models/test_fused_stepper.py)
            G, _ = fused_stepper.adams_fused(self.net, F, G_known, I_known, dt, len(t), order=c.ab_order)
            return G
        G, _ = adams_integrate(F, self.net.memory(), G_known, I_known, dt, len(t), order=c.ab_order,
                               corrector=c.corrector)
        return G


MODEL = MemoryOperatorModel
