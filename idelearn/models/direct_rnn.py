"""Direct-RNN baseline (paper 1, §3): the same stacked LSTM + linear head learning the
solution map G_n -> G_{n+1}, rolled out autoregressively past the known window.

Unlike `LSTMOperator` it knows nothing of F or of the IDE: it is the "learn the
solution operator directly" alternative the paper compares against. Inputs and
outputs are normalised by fixed per-feature scales (buffers), as in the paper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import MISSING
from torch import nn

from ..schema import MAX_NODES, require
from .base import Incompatible, Model, RecurrentTraining
from .features import from_features, to_features
from .segments import SegmentSampler, trained_on_first_segments_before
from .training import Checkpointing, optimiser_step, run_loop, validation_rows


class DirectRNN(nn.Module):
    """Features of G_n -> features of G_{n+1} (physical units); state = (h, c).

    timed (trained on segments, `model.random_start`): each input also carries its node's time
    (unit time, the caller's), so that a sequence starting mid-curve knows where it sits; False
    (the default, and checkpoints written before it existed): the paper's model.
    """

    def __init__(self, n_features: int, hidden_size: int, num_layers: int, x_scale: list[float] | None = None,
                 timed: bool = False):
        super().__init__()
        self.config = dict(n_features=n_features, hidden_size=hidden_size, num_layers=num_layers)
        if timed:  # only then: the configs of untimed models stay as they were
            self.config["timed"] = True
        self.timed = timed
        self.lstm = nn.LSTM(n_features + timed, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, n_features)
        scale = torch.ones(n_features) if x_scale is None else torch.tensor(x_scale)
        self.register_buffer("x_scale", scale)

    def forward(self, x_seq: torch.Tensor, state=None, tau: torch.Tensor | None = None):
        """x_seq (B, L, n_features); tau (L,): the nodes' times, for a timed net only."""
        x = x_seq / self.x_scale
        if self.timed:
            x = torch.cat([x, tau.to(x.dtype)[None, :, None].expand(len(x), -1, 1)], dim=-1)
        o, state = self.lstm(x, state)
        return self.head(o) * self.x_scale, state


def fit_direct_rnn(
    model: DirectRNN,
    G: np.ndarray,
    *,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    val_fraction: float = 0.2,
    on_step: Callable[[int, dict], None] | None = None,
    device: torch.device | str | None = None,
    checkpointing: Checkpointing | None = None,
    tau: np.ndarray | None = None,
    segment_context: int | None = None,
) -> dict:
    """Teacher-forced training on G: complex (n_traj, n_t, d, m); MSE of scaled G_{n+1}.

    One step = one Adam step on `batch_size` trajectories drawn with replacement. One
    trajectory: the last `val_fraction` of the window is held out; many: a
    `val_fraction` of the trajectories. Adam + cosine decay; returns the history.
    tau (n_t,): the nodes' times, for a timed net. segment_context (`model.random_start`):
    each step's batch starts at a node drawn uniformly in 0..n_t - segment_context - 1 (see
    `segments`), the LSTM's state starting afresh there; None: every sequence starts at node 0.
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model.to(device or "cpu")
    X = torch.from_numpy(to_features(G)).to(model.x_scale.device)
    n_traj, n_t = X.shape[:2]
    Xv, t_cut = None, n_t
    if val_fraction > 0 and n_traj == 1:
        t_cut = max(2, n_t - max(2, int(round(val_fraction * n_t))))  # 2 nodes train at least (n_t = 3)
        Xv = X
    elif val_fraction > 0:
        perm = torch.randperm(n_traj, generator=gen).to(X.device)
        n_val = max(1, int(round(val_fraction * n_traj)))
        Xv, X = X[perm[:n_val]], X[perm[n_val:]]
        n_traj = X.shape[0]
    X = X[:, :t_cut]
    tau_t = None if tau is None else torch.as_tensor(np.asarray(tau), dtype=X.dtype, device=X.device)
    sampler = None if segment_context is None else SegmentSampler(X.shape[1], segment_context, gen)
    s = X.reshape(-1, X.shape[-1]).std(0)
    model.x_scale.copy_(torch.where(s > 1e-8 * s.max().clamp_min(1e-30), s, torch.ones_like(s)))

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))

    def step(i: int) -> dict:
        idx = torch.randint(0, n_traj, (min(batch_size, n_traj),), generator=gen).to(X.device)
        xb, tb = X[idx], tau_t
        if sampler is not None:
            _, xb, tb = sampler(xb, None if tau_t is None else tau_t[: X.shape[1]])
        pred, _ = model(xb[:, :-1], tau=None if tb is None else tb[:-1])
        rec = {"loss": optimiser_step(opt, ((pred - xb[:, 1:]) / model.x_scale).pow(2).mean(), f"step {i + 1}",
                                      clip=1.0)}
        sched.step()
        rows = None if Xv is None else validation_rows(i, steps)
        if rows is not None:
            model.eval()
            with torch.no_grad():
                pv, _ = model(Xv[rows, :-1], tau=None if tau_t is None else tau_t[: Xv.shape[1] - 1])
                err = ((pv - Xv[rows, 1:]) / model.x_scale)[:, max(0, t_cut - 1) if t_cut < n_t else 0 :]
                rec["val_loss"] = err.pow(2).mean().item()
        return rec

    return run_loop(model, opt, sched, gen, steps, step, on_step, checkpointing)


@torch.no_grad()
def rollout(model: DirectRNN, G_known: np.ndarray, n_steps: int, tau: np.ndarray | None = None) -> np.ndarray:
    """Warm the LSTM on G_known (batch, n0, d, m), then feed back its own predictions.

    Returns G_pred (batch, n_steps, d, m): the nodes n0 .. n0 + n_steps - 1. tau (n0 + n_steps,):
    every node's time, for a timed net.
    """
    model.eval()
    shape, n0 = G_known.shape[-2:], G_known.shape[1]
    tau_t = None if tau is None else torch.as_tensor(np.asarray(tau), dtype=model.x_scale.dtype,
                                                     device=model.x_scale.device)
    y, state = model(torch.from_numpy(to_features(G_known)).to(model.x_scale.device),
                     tau=None if tau_t is None else tau_t[:n0])
    x = y[:, -1:]  # prediction of the first unknown node
    out = []
    for i in range(n_steps):
        out.append(x)
        x, state = model(x, state, tau=None if tau_t is None else tau_t[n0 + i:n0 + i + 1])
    return from_features(torch.cat(out, 1).cpu().numpy(), shape)


# ----------------------------------------------------------------------------- the estimator

@dataclass
class DirectRNNConfig(RecurrentTraining):
    name: str = "direct_rnn"
    context: int = MISSING  # curve data: observed points given when extrapolating
    random_start: bool = MISSING  # curve data: train on segments starting anywhere (models/segments.py)

    def check(self):
        super().check()
        require(1 <= self.context <= MAX_NODES, "model.context", f"must be in 1..{MAX_NODES:.0e}, got {self.context}")


def as_matrices(G: np.ndarray) -> np.ndarray:
    """Curves (n, n_t, dim) become complex column matrices (n, n_t, dim, 1), the LSTM models' layout."""
    return G.astype(complex) if G.ndim == 4 else G[..., None].astype(complex)


class DirectRNNModel(Model):
    """Paper 1 baseline 2 (and paper 2's LSTM baseline): the same LSTM learns G_n -> G_{n+1}."""

    name = "direct_rnn"
    config_class = DirectRNNConfig
    tiny_data = ("dataset=dyson", "dataset.t_final=1")
    tiny = dict(steps="3", hidden_size="8", num_layers="1", batch_size="2")
    numerics = (DirectRNN, fit_direct_rnn)
    accepts = "any trajectory data (IDE or curves)"

    def make_net(self, **net_config):
        return DirectRNN(**net_config)

    @classmethod
    def restore(cls, ckpt):
        return super().restore(trained_on_first_segments_before(ckpt))

    def unit_time(self, t):
        t0, t1 = self.fitted["time_span"]
        return (np.asarray(t) - t0) / (t1 - t0)

    def fit(self, data, *, seed, on_iteration=None, device=None, checkpointing=None):
        c = self.config
        torch.manual_seed(seed)
        G = as_matrices(data.G)
        segments = {}
        if c.random_start:  # trained on segments, each node with its time (unit time over the training span)
            if data.kind == "ide":
                # IDE data are continued from the start of their window, and the time feature would run
                # past the training span (unit times > 1) at every extrapolated node
                raise Incompatible("model.random_start trains on segments of curves; IDE data are continued "
                                   "from the start of their window (use model.random_start=false)")
            if c.context >= len(data.t) - 1:
                raise Incompatible(f"model.context {c.context} must be below the curves' {len(data.t)} points "
                                   "less one (model.random_start leaves a point to predict)")
            self.fitted = {"time_span": [float(data.t[0]), float(data.t[-1])]}
            segments = dict(tau=self.unit_time(data.t), segment_context=c.context)
        self.net = self.make_net(n_features=2 * int(np.prod(G.shape[-2:])), hidden_size=c.hidden_size,
                                 num_layers=c.num_layers, **({"timed": True} if c.random_start else {}))
        return fit_direct_rnn(self.net, G, steps=c.steps, lr=c.lr, batch_size=c.batch_size, seed=seed,
                              on_step=on_iteration, device=device, checkpointing=checkpointing, **segments)

    def extrapolate(self, G_known, t, *, F=None, I_known=None, solver=None):
        tau = self.unit_time(t) if self.net.timed else None
        rolled = rollout(self.net, as_matrices(G_known), len(t) - G_known.shape[1], tau)
        if G_known.ndim == 3:  # real curves: back to (n, n_t, dim)
            rolled = rolled[..., 0].real
        return np.concatenate([G_known, rolled], axis=1)


MODEL = DirectRNNModel
