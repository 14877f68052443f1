"""The paper's learned memory operator (paper 1, §2.2): an LSTM maps the history G_0..G_n to I_n.

The IDE dG/dt = F(G, t) + I(t) is then stepped as an ODE with the operator supplying I at
each node (`LearnedMemory` implements `idelearn.solvers.memory.MemoryOperator`): a stacked
LSTM + linear head maps the G features to I. It fits I on the training window to a few %, but
the closed loop amplifies that (a relative error of 1e-3 in I already costs ~1 % in G on
Dyson, ~4 % on the matrix IDE): measured 56 % rel_l2 on Dyson (train t <= 10, AB3 to t = 40)
and 130 (x100 %) on the matrix IDE (t <= 20 -> 120). Its state (2 x 64 x 2 floats) cannot hold
the history the memory integral needs: the part of I(40) from s < 5 is ~37 % of it. The
structured memory of `memory_operator` is the accurate alternative.

Scaling of the LSTM. Memory integrals of dissipative IDEs decay (Dyson: |G| ~ t^-3/2), so a
network trained on t <= T sees ever smaller inputs when extrapolating, and any output offset
then swamps the true I. With `ema > 0` the model divides G by a running amplitude r_n (an
exponential moving average of |G|^2 over ~1/ema steps, computed from G alone) and multiplies
its output by r_n:

    x_n = G_n / (r_n * x_scale),   I_n = r_n * y_scale * head(LSTM(x)_n)

`ema = 0` gives the paper's plain model (fixed per-feature scales only).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import MISSING
from torch import nn

from ..errors import UserError
from ..schema import MAX_NODES, require
from ..solvers.multistep import adams_integrate
from . import fused_stepper, memory_operator
from .base import IDE_DATA, Model, RecurrentTraining, needs_ide, needs_memory
from .features import from_features, to_features
from .training import Checkpointing, optimiser_step, run_loop, split_trajectories, validation_rows


class LSTMOperator(nn.Module):
    """G -> I through an LSTM: in scaled coordinates x_n = G_n / (r_n x_scale), I_n = r_n y_scale head(LSTM(x)_n);
    its state is (h, c, r2), the LSTM state and the running mean square of G (see the module doc)."""

    # what the fused stepper (fused_stepper.py) runs of it
    uses_lstm = True
    uses_legs = False

    def __init__(
        self,
        n_features: int,
        hidden_size: int,
        num_layers: int,
        ema: float,
        x_scale: list[float] | None = None,
        y_scale: list[float] | None = None,
    ):
        super().__init__()
        self.config = dict(n_features=n_features, hidden_size=hidden_size, num_layers=num_layers, ema=ema)
        self.ema = float(ema)
        self.lstm = nn.LSTM(n_features, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, n_features)
        ones = torch.ones(n_features)
        # Buffers, so that the state_dict alone carries the normalisation.
        self.register_buffer("x_scale", ones.clone() if x_scale is None else torch.tensor(x_scale))
        self.register_buffer("y_scale", ones.clone() if y_scale is None else torch.tensor(y_scale))

    # -- LSTM part ----------------------------------------------------------------------
    def amplitude(self, x: torch.Tensor, r2: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Running amplitude r (batch, n_t, 1) of the raw features, and the last r^2.

        r2 is the EMA carried over from earlier nodes; None starts it at |G_0|^2.
        """
        ms = x.detach().double().pow(2).mean(-1)  # (B, T), mean square of G per node
        if self.ema == 0.0:
            one = torch.ones_like(ms)
            return one.unsqueeze(-1).to(x.dtype), one[:, -1]
        a = self.ema
        out = torch.empty_like(ms)
        acc = ms[:, 0] if r2 is None else (1 - a) * r2 + a * ms[:, 0]
        out[:, 0] = acc
        for n in range(1, ms.shape[1]):  # O(n_t) tiny ops; no gradient needed (input only)
            acc = (1 - a) * acc + a * ms[:, n]
            out[:, n] = acc
        # The floor keeps G = 0 (an exactly vanished history) from dividing by zero.
        return out.clamp_min(1e-300).sqrt().unsqueeze(-1).to(x.dtype), acc

    def forward_scaled(self, x: torch.Tensor, r: torch.Tensor, hc=None):
        """Raw features and amplitudes -> scaled LSTM output y and the LSTM state."""
        o, hc = self.lstm(x / (r * self.x_scale), hc)
        return self.head(o), hc

    def forward(self, x_seq: torch.Tensor, state=None):
        """(batch, n_t, feat) G features -> (the LSTM's I features, state) in physical units."""
        hc, r2 = (None, None) if state is None else (state[:2], state[2])
        r, r2 = self.amplitude(x_seq, r2)
        y, (h, c) = self.forward_scaled(x_seq, r, hc)
        return y * r * self.y_scale, (h, c, r2)

    @torch.no_grad()
    def step(self, x: torch.Tensor, state):
        """One node: x (batch, feat) -> (I (batch, feat), state). Same maths as forward.

        The returned state holds new tensors, never views that a later step writes into, so
        stepping twice from one state is safe.
        """
        y, state = self.forward(x.unsqueeze(1), state)
        return y[:, 0], state


# -- training ----------------------------------------------------------------------


def _set_scales(model: LSTMOperator, X: torch.Tensor, Y: torch.Tensor) -> None:
    """Per-feature std of x/r and I/r on the training data (floored: 0 = an unused entry)."""
    r, _ = model.amplitude(X)
    for buf, Z in ((model.x_scale, X / r), (model.y_scale, Y / r)):
        s = Z.reshape(-1, Z.shape[-1]).std(0)
        buf.copy_(torch.where(s > 1e-8 * s.max().clamp_min(1e-30), s, torch.ones_like(s)))


def _log_gain(B: int, T: int, gain: float, gen: torch.Generator) -> torch.Tensor:
    """Random smooth log-gains (B, T, 1): an offset plus a slow wave, both |.| <= gain.

    Used to perturb r in training, so the LSTM learns that the scaled I follows the
    scaled G's amplitude (the running amplitude lags a decaying G, and extrapolation
    reaches amplitudes of x/r never seen in the window).
    """
    u = lambda: 2 * torch.rand(B, 1, 1, generator=gen) - 1  # noqa: E731
    s = torch.linspace(0, 1, T).view(1, T, 1)
    wave = torch.sin(2 * math.pi * (3 * (u() + 1) / 2 * s + u()))
    return gain * u() + 0.5 * gain * u() * wave


def fit_lstm_operator(
    model: LSTMOperator,
    G: np.ndarray,
    I: np.ndarray,
    *,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    gain: float,
    bptt_window: int,
    val_fraction: float = 0.2,
    on_epoch: Callable[[int, dict], None] | None = None,
    device: torch.device | str | None = None,
    checkpointing: Checkpointing | None = None,
) -> dict:
    """Train `model` (in place) on G, I: complex (n_traj, n_t, d, m). Returns the history.

    Held out: one trajectory -> the last `val_fraction` of its window; many -> a `val_fraction` of
    the trajectories. Loss: MSE of the scaled target (I divided by r * y_scale), i.e. relative to
    the local amplitude of G. One step = one Adam step on a mini-batch of `batch_size` trajectories
    (one trajectory: `batch_size` copies with independent random amplitude gains, see `_log_gain`);
    Adam + cosine decay to 0 over `steps`. With `bptt_window` W > 0 (truncated backpropagation
    through time) a step's loss and gradient cover one window of W nodes, drawn so that every node
    is equally likely to be in it; the LSTM state at the window's start comes from a forward pass
    without gradient over the nodes before it.
    """
    gen = torch.Generator().manual_seed(seed)  # batch sampling stays on the CPU (resumable state)
    torch.manual_seed(seed)
    train_idx, val_idx = split_trajectories(G.shape[0], val_fraction, gen)
    return _fit_lstm(model, G, I, train_idx, val_idx, steps=steps, lr=lr, batch_size=batch_size, gain=gain,
                     bptt_window=bptt_window, val_fraction=val_fraction, gen=gen, on_epoch=on_epoch,
                     device=device, checkpointing=checkpointing)


def _fit_lstm(model, G, Y, train_idx, val_idx, *, steps, lr, batch_size, gain, bptt_window, val_fraction, gen,
              on_epoch, device, checkpointing) -> dict:
    device = torch.device(device or "cpu")
    model.to(device)
    X, Yt = torch.from_numpy(to_features(G)).to(device), torch.from_numpy(to_features(Y)).to(device)
    n_t = X.shape[1]
    t_cut = n_t
    if len(train_idx) == 1 and val_fraction > 0:  # one trajectory: hold out the end of its window
        t_cut = n_t - max(1, int(round(val_fraction * n_t)))
        Xv, Yv = X, Yt
    elif len(val_idx):
        Xv, Yv = X[val_idx], Yt[val_idx]
    else:
        Xv = Yv = None
    X, Yt = X[train_idx, :t_cut], Yt[train_idx, :t_cut]
    n_traj = X.shape[0]
    _set_scales(model, X, Yt)
    r, _ = model.amplitude(X)
    Ys = Yt / (r * model.y_scale)  # scaled targets
    if Xv is not None:
        rv, _ = model.amplitude(Xv)
        Yvs = Yv / (rv * model.y_scale)
    T = X.shape[1]
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))

    def step_fn(ep: int) -> dict:
        if n_traj == 1:
            idx = torch.zeros(batch_size, dtype=torch.long)
        else:
            idx = torch.randint(0, n_traj, (min(batch_size, n_traj),), generator=gen)
        idx = idx.to(device)
        xb, rb, yb = X[idx], r[idx], Ys[idx]
        if gain > 0:  # r -> r g: the scaled target I / (r g) shrinks by the same g
            g = torch.exp(_log_gain(len(idx), xb.shape[1], gain, gen)).to(device)
            rb, yb = rb * g, yb / g
        if 0 < bptt_window < T:
            start = int(torch.randint(1 - bptt_window, T, (1,), generator=gen))
            lo, hi = max(start, 0), min(start + bptt_window, T)
            hc = None
            if lo > 0:
                with torch.no_grad():
                    _, hc = model.forward_scaled(xb[:, :lo], rb[:, :lo])
            pred, _ = model.forward_scaled(xb[:, lo:hi], rb[:, lo:hi], hc)
            yb = yb[:, lo:hi]
        else:
            pred, _ = model.forward_scaled(xb, rb)
        loss = (pred - yb).pow(2).mean()
        rec = {"loss": optimiser_step(opt, loss, f"step {ep + 1}", 1.0)}
        sched.step()
        rows = None if Xv is None else validation_rows(ep, steps)
        if rows is not None:
            model.eval()
            with torch.no_grad():
                pv, _ = model.forward_scaled(Xv[rows], rv[rows])
                rec["val_loss"] = (pv - Yvs[rows])[:, t_cut if t_cut < n_t else 0:].pow(2).mean().item()
            model.train()
        return rec

    return run_loop(model, opt, sched, gen, steps, step_fn, on_epoch, checkpointing)


# -- memory operator -----------------------------------------------------------------


class LearnedMemory:
    """`MemoryOperator` backed by an LSTMOperator (O(1) per step).

    `init` runs the LSTM over the known history (I_known is not needed: its state is a function
    of G alone). `step` feeds G_new and returns I there; the state is never modified in place,
    so a predictor-corrector may call `step` twice from the same state.
    """

    def __init__(self, model: LSTMOperator):
        self.model = model.eval()

    def init(self, G_known: np.ndarray, I_known: np.ndarray | None = None):
        with torch.no_grad():
            _, lstm_state = self.model(torch.from_numpy(to_features(G_known)))
        return lstm_state, G_known.shape[-2:]

    def step(self, state, G_new: np.ndarray):
        lstm_state, shape = state
        y, lstm_state = self.model.step(torch.from_numpy(to_features(G_new)), lstm_state)
        return from_features(y.numpy(), shape), (lstm_state, shape)


# ----------------------------------------------------------------------------- the estimator

@dataclass
class LSTMOperatorConfig(RecurrentTraining):
    name: str = "lstm_operator"
    ema: float = MISSING  # running-amplitude scaling of G and I (0 = the paper's fixed scaling)
    ab_order: int = MISSING  # Adams–Bashforth order of the extrapolation (the paper: AB3)
    corrector: bool = MISSING
    gain: float = MISSING  # random amplitude perturbation in training (robustness to its own feedback)
    bptt_window: int = MISSING  # train each step on one window of this many nodes (truncated BPTT; 0 = whole)
    holdout: float = MISSING  # fraction of the window scored by a second LSTM trained without it (0: none)

    def check(self):
        super().check()
        require(0 <= self.ema < 1, "model.ema", f"must be in [0, 1), got {self.ema}")
        require(1 <= self.ab_order <= 8, "model.ab_order", f"must be in 1..8, got {self.ab_order}")
        require(0 <= self.gain <= 10, "model.gain", f"must be in [0, 10] (|log g| <= gain), got {self.gain}")
        require(0 <= self.bptt_window <= MAX_NODES, "model.bptt_window", f"must be in 0..{MAX_NODES:.0e}, "
                f"got {self.bptt_window}")
        require(0 <= self.holdout < 1, "model.holdout", f"must be in [0, 1), got {self.holdout}")


# Keys of checkpoints written when lstm_operator also held the structured memory (`memory=legs`, now
# model=memory_operator): such a checkpoint still loads, as the model it trained.
LEGACY_KEYS = ("memory", "legs_order", "kernel_degree", "kernel_steps", "order")


class LSTMOperatorModel(Model):
    """Paper 1: an LSTM learns G history -> I; the IDE is then stepped with AB(ab_order)."""

    name = "lstm_operator"
    config_class = LSTMOperatorConfig
    accepts = IDE_DATA
    tiny_data = ("dataset=dyson", "dataset.t_final=1")
    tiny = {"steps": "3", "hidden_size": "8", "num_layers": "1", "batch_size": "2"}
    numerics = (LSTMOperator, fit_lstm_operator)

    def check(self, kind, n_traj):
        needs_ide(self, kind)

    def make_net(self, **net_config):
        return LSTMOperator(**net_config)

    needs_known_memory = True  # its AB start reads I at the window's last nodes; it has no quadrature of its own

    def fit(self, data, *, seed, on_iteration=None, device=None, checkpointing=None):
        c = self.config
        needs_memory(self, data)
        torch.manual_seed(seed)
        self.net = self.make_net(n_features=2 * int(np.prod(data.G.shape[-2:])), hidden_size=c.hidden_size,
                                 num_layers=c.num_layers, ema=c.ema)
        # One trajectory: train on its whole window (holding out its last 20 % measured 1.10 vs 0.47
        # rel_l2 on Dyson, t <= 10 -> 40); many: 20 % of them are held out for the validation curve.
        val_fraction = 0.0 if data.n_traj == 1 else 0.2
        settings = dict(steps=c.steps, lr=c.lr, batch_size=c.batch_size, seed=seed, gain=c.gain,
                        bptt_window=c.bptt_window, val_fraction=val_fraction, device=device)
        history = fit_lstm_operator(self.net, data.G, data.I, on_epoch=on_iteration, checkpointing=checkpointing,
                                    **settings)
        if c.holdout > 0:
            residual = self.holdout_residual(data.G, data.I, settings)
            history["memory_holdout_residual"] = [residual]
            self.fitted = {"memory_holdout_residual": residual}
        return history

    def holdout_residual(self, G, I, settings: dict) -> float:
        """The relative residual of I on the window's last `holdout` nodes, teacher-forced, of the same recipe
        trained without them (a second LSTM: the model itself has seen the whole window)."""
        n_fit = max(2, int(round((1 - self.config.holdout) * G.shape[1])))
        probe = self.make_net(**self.net.config)
        torch.manual_seed(settings["seed"])
        fit_lstm_operator(probe, G[:, :n_fit], I[:, :n_fit], **settings)
        probe.to("cpu").eval()
        with torch.no_grad():
            I_pred = from_features(probe(torch.from_numpy(to_features(G)))[0].numpy(), G.shape[-2:])
        tail, true = I_pred[:, n_fit:], I[:, n_fit:]
        residual = float(np.linalg.norm(tail - true) / max(np.linalg.norm(true), 1e-300))
        return residual if np.isfinite(residual) else 1e300  # a diverged probe: as unexplained as it gets

    @classmethod
    def restore(cls, ckpt: dict) -> Model:
        config = ckpt["config"]
        if isinstance(config, dict) and "memory" in config:
            if config["memory"] == "legs":
                return memory_operator.MemoryOperatorModel.restore_legacy(ckpt)
            if config["memory"] != "lstm":
                raise UserError(f"model.memory={config['memory']} was removed (measured no better than the "
                                "structured memory alone): retrain with `idelearn train model=memory_operator`")
            ckpt = {**ckpt, "config": {k: v for k, v in config.items() if k not in LEGACY_KEYS},
                    "net_config": {k: v for k, v in ckpt["net_config"].items() if k not in LEGACY_KEYS}}
        return super().restore(ckpt)

    def extrapolate(self, G_known, t, *, F=None, I_known=None, solver=None):
        if F is None:
            raise ValueError("lstm_operator extrapolation needs the streaming term F")
        c, dt = self.config, float(t[1] - t[0])
        if fused_stepper.supported(self.net, c.corrector):
            # The same maths as the generic stepper below, in one fused loop (~15x faster per step):
            # two loops, kept equal step for step by tests/models/test_fused_stepper.py.
            G, _ = fused_stepper.adams_fused(self.net, F, G_known, I_known, dt, len(t), order=c.ab_order)
            return G
        G, _ = adams_integrate(F, LearnedMemory(self.net), G_known, I_known, dt, len(t), order=c.ab_order,
                               corrector=c.corrector)
        return G


MODEL = LSTMOperatorModel
