"""LSTM memory operator (paper 1, §2.2): the history G_0..G_n -> the memory integral I_n.

The IDE dG/dt = F(G, t) + I(t) is then stepped as an ODE with the LSTM supplying
I at each node (`LearnedMemory` implements `idelearn.solvers.memory.MemoryOperator`).

Scaling. Memory integrals of dissipative IDEs decay (Dyson: |G| ~ t^-3/2), so a
network trained on t <= T sees ever smaller inputs when extrapolating, and any
output offset then swamps the true I. With `ema > 0` the model divides G by a
running amplitude r_n (an exponential moving average of |G|^2 over ~1/ema steps,
computed from G alone, no time input) and multiplies its output by r_n:

    x_n = G_n / (r_n * x_scale),   I_n = r_n * y_scale * head(LSTM(x)_n)

so I -> 0 when G -> 0 and the LSTM sees O(1) inputs at every time. `ema = 0`
gives the paper's plain model (fixed per-feature scales only).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn


def to_features(Z: np.ndarray) -> np.ndarray:
    """Complex (..., n_t, d, m) -> float32 (..., n_t, 2*d*m): real parts then imaginary parts."""
    Z = Z.reshape(*Z.shape[:-2], -1)
    return np.concatenate([Z.real, Z.imag], axis=-1).astype(np.float32)


def from_features(X: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of `to_features`: float (..., 2*d*m) -> complex128 (..., d, m)."""
    k = X.shape[-1] // 2
    Z = X[..., :k].astype(np.float64) + 1j * X[..., k:].astype(np.float64)
    return Z.reshape(*X.shape[:-1], *shape)


class LSTMOperator(nn.Module):
    """Stacked LSTM + linear head: features of G_n -> features of I_n (physical units).

    State = (h, c, r2): the LSTM state and the running mean square of G.
    """

    def __init__(
        self,
        n_features: int,
        hidden_size: int = 64,
        num_layers: int = 2,
        ema: float = 0.003,
        x_scale: list[float] | None = None,
        y_scale: list[float] | None = None,
    ):
        super().__init__()
        self.config = dict(
            n_features=n_features, hidden_size=hidden_size, num_layers=num_layers, ema=ema
        )
        self.ema = float(ema)
        self.lstm = nn.LSTM(n_features, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, n_features)
        ones = torch.ones(n_features)
        # Buffers, so that the state_dict alone carries the normalisation.
        self.register_buffer("x_scale", ones.clone() if x_scale is None else torch.tensor(x_scale))
        self.register_buffer("y_scale", ones.clone() if y_scale is None else torch.tensor(y_scale))

    # -- running amplitude ------------------------------------------------------------
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
        """LSTM in scaled coordinates: raw features and amplitudes -> scaled output y."""
        o, hc = self.lstm(x / (r * self.x_scale), hc)
        return self.head(o), hc

    def forward(self, x_seq: torch.Tensor, state=None):
        """(batch, n_t, feat) G features -> (I features, state) in physical units."""
        hc, r2 = (None, None) if state is None else (state[:2], state[2])
        r, r2 = self.amplitude(x_seq, r2)
        y, (h, c) = self.forward_scaled(x_seq, r, hc)
        return y * r * self.y_scale, (h, c, r2)

    @torch.no_grad()
    def step(self, x: torch.Tensor, state):
        """One node: x (batch, feat) -> (I (batch, feat), state). Same maths as forward."""
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
    u = lambda: 2 * torch.rand(B, 1, 1, generator=gen) - 1
    s = torch.linspace(0, 1, T).view(1, T, 1)
    wave = torch.sin(2 * math.pi * (3 * (u() + 1) / 2 * s + u()))
    return gain * u() + 0.5 * gain * u() * wave


def fit_lstm_operator(
    model: LSTMOperator,
    G: np.ndarray,
    I: np.ndarray,
    *,
    epochs: int = 1500,
    lr: float = 1e-2,
    batch_size: int = 8,
    seed: int = 0,
    val_fraction: float = 0.2,
    G_val: np.ndarray | None = None,
    I_val: np.ndarray | None = None,
    gain: float = 0.5,
    clip: float = 1.0,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> dict:
    """Train `model` (in place) on G, I: complex (n_traj, n_t, d, m). Returns the history.

    Loss: MSE of the scaled I (I / (r * y_scale)), i.e. relative to the local
    amplitude of G, so late (small) times count as much as early ones.
    Validation: G_val/I_val if given; else one trajectory -> the last
    `val_fraction` of the time window is held out (trained on the rest, scored
    with the state run through the whole window, as in the paper); many ->
    a `val_fraction` of the trajectories is held out. One epoch = one Adam step on
    a mini-batch of `batch_size` trajectories (one trajectory: `batch_size`
    copies with independent gain perturbations). Adam + cosine decay to 0.
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    X, Y = torch.from_numpy(to_features(G)), torch.from_numpy(to_features(I))
    n_traj, n_t = X.shape[:2]
    t_cut = n_t
    if G_val is not None:
        Xv, Yv = torch.from_numpy(to_features(G_val)), torch.from_numpy(to_features(I_val))
    elif val_fraction > 0 and n_traj == 1:
        t_cut = n_t - max(1, int(round(val_fraction * n_t)))
        Xv, Yv = X, Y
    elif val_fraction > 0:
        perm = torch.randperm(n_traj, generator=gen)
        n_val = max(1, int(round(val_fraction * n_traj)))
        Xv, Yv, X, Y = X[perm[:n_val]], Y[perm[:n_val]], X[perm[n_val:]], Y[perm[n_val:]]
        n_traj = X.shape[0]
    else:
        Xv = Yv = None
    X, Y = X[:, :t_cut], Y[:, :t_cut]
    _set_scales(model, X, Y)
    r, _ = model.amplitude(X)
    Ys = Y / (r * model.y_scale)  # scaled targets
    if Xv is not None:
        rv, _ = model.amplitude(Xv)
        Yvs = Yv / (rv * model.y_scale)

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
    hist = {"loss": [], "val_loss": []}
    for ep in range(epochs):
        model.train()
        if n_traj == 1:
            idx = torch.zeros(batch_size, dtype=torch.long)
        else:
            idx = torch.randint(0, n_traj, (min(batch_size, n_traj),), generator=gen)
        xb, rb, yb = X[idx], r[idx], Ys[idx]
        if gain > 0:  # r -> r g: the scaled target I / (r g) shrinks by the same g
            g = torch.exp(_log_gain(len(idx), xb.shape[1], gain, gen))
            rb, yb = rb * g, yb / g
        pred, _ = model.forward_scaled(xb, rb)
        loss = (pred - yb).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        sched.step()
        rec = {"loss": loss.item()}
        if Xv is not None and (ep % 10 == 0 or ep == epochs - 1):
            model.eval()
            with torch.no_grad():
                pv, _ = model.forward_scaled(Xv, rv)
                rec["val_loss"] = (pv - Yvs)[:, t_cut if t_cut < n_t else 0 :].pow(2).mean().item()
            hist["val_loss"].append((ep, rec["val_loss"]))
        hist["loss"].append(rec["loss"])
        if on_epoch is not None:
            on_epoch(ep, rec)
    model.eval()
    return hist


# -- checkpoints ---------------------------------------------------------------------


def checkpoint(model: LSTMOperator) -> dict:
    """{"config", "state_dict"}: enough to rebuild the model (torch.load(weights_only=True))."""
    return {"config": dict(model.config), "state_dict": model.state_dict()}


def from_checkpoint(ckpt: dict) -> LSTMOperator:
    model = LSTMOperator(**ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


# -- memory operator -----------------------------------------------------------------


class LearnedMemory:
    """`MemoryOperator` backed by an LSTMOperator: O(1) work per step.

    `init` runs the LSTM over the known history (I_known is not needed: the LSTM
    state is a function of G alone). `step` feeds G_new and returns I there; the
    state is an immutable tuple, so a predictor-corrector may call `step` twice
    from the same state.
    """

    def __init__(self, model: LSTMOperator):
        self.model = model.eval()

    def init(self, G_known: np.ndarray, I_known: np.ndarray | None = None):
        shape = G_known.shape[-2:]
        with torch.no_grad():
            _, state = self.model(torch.from_numpy(to_features(G_known)))
        return state, shape

    def step(self, state, G_new: np.ndarray):
        lstm_state, shape = state
        y, lstm_state = self.model.step(torch.from_numpy(to_features(G_new)), lstm_state)
        return from_features(y.numpy(), shape), (lstm_state, shape)
