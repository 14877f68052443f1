"""What the curve models (nie, anie, latent_ode) share: the observed context, normalisation, the
integral's limits and fixed-point settings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch
from omegaconf import MISSING

from ..errors import UserError
from ..schema import MAX_NODES, require
from . import ie_common
from .base import EpochTraining, Incompatible, Model
from .segments import trained_on_first_segments_before


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
