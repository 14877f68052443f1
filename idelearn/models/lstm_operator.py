"""Learned memory operator (paper 1, §2.2): the history G_0..G_n -> the memory integral I_n.

The IDE dG/dt = F(G, t) + I(t) is then stepped as an ODE with the operator supplying I at
each node (`LearnedMemory` implements `idelearn.solvers.memory.MemoryOperator`). Three
memories, chosen by `memory`:

* "lstm" — the paper's model: a stacked LSTM + linear head maps the G features to I. It fits
  I on the training window to a few %, but the closed loop amplifies that (a relative error
  of 1e-3 in I already costs ~1 % in G on Dyson, ~4 % on the matrix IDE): measured 56 % rel_l2
  on Dyson (train t <= 10, AB3 to t = 40) and 130 (x100 %) on the matrix IDE (t <= 20 -> 120).
  Its state (2 x 64 x 2 floats) cannot hold the history the memory integral needs: the part
  of I(40) from s < 5 is ~37 % of it, and the Legendre content of an oscillating G on [0, t]
  grows like (frequency x t) (Dyson h = 11.5 to t = 40 needs ~256 complex modes).
* "legs" (the default of the project's config) — structured and O(N) per step: the memory is
  I(t) = ∫_0^t φ(G(t-s)) G(s) ds with φ(G) = Σ_k a_k G^k an analytic matrix function whose
  coefficients are fitted by linear least squares on the training data, and evaluated in
  closed loop from online Legendre (LegS) projections of φ(G) and G over [0, t] with a
  bilinear readout (see `legs`). Fitted on one window in well under a second it reproduces
  Dyson (t <= 10 -> 40: 4.4e-5) and the matrix IDE (t <= 20 -> 120: 1.6e-4) to the AB3
  stepper's own accuracy. It needs the memory to have that form: `kernel_residual` (the fit's
  relative residual, ~1e-7 for both papers' equations) flags when it does not (0.8 for the
  matrix IDE with an elementwise cosine, which is not a matrix function of G).
* "legs_lstm" — the structured memory plus an LSTM trained on what it leaves (I - I_legs);
  measured no better (Dyson: 1.3e-4 vs 4.4e-5 for "legs" alone).

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

import numpy as np
import torch
from torch import nn

from .kernel_operator import SeriesKernel, fit_kernel_operator, memory_along, power_coefficients, relative_residual
from .legs import LegSMemory
from .training import Checkpointing, optimiser_step, run_loop, validation_rows

MEMORIES = ("legs", "lstm", "legs_lstm")


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
    """G -> I through a structured LegS memory, an LSTM, or both (`memory`, see the module doc).

    LegS part (memory "legs", "legs_lstm"): `legs_order` Legendre modes, φ(G) = Σ_{k <= kernel_degree}
    a_k G^k with the coefficients in the buffer `kernel` ((degree+1, 2): real, imaginary parts) and
    the grid step they were fitted on in the buffer `dt`. LSTM part (absent for memory="legs"): in scaled coordinates
    x_n = G_n / (r_n x_scale), I_n = r_n y_scale head(LSTM(x)_n); its state is (h, c, r2), the
    LSTM state and the running mean square of G.
    """

    def __init__(
        self,
        n_features: int,
        hidden_size: int,
        num_layers: int,
        ema: float,
        memory: str,
        legs_order: int,
        kernel_degree: int,
        x_scale: list[float] | None = None,
        y_scale: list[float] | None = None,
    ):
        super().__init__()
        if memory not in MEMORIES:
            raise ValueError(f"memory must be one of {MEMORIES}, got {memory!r}")
        if "legs" in memory and (legs_order < 4 or kernel_degree < 0):
            raise ValueError(f"legs_order must be >= 4 and kernel_degree >= 0, got {legs_order}, {kernel_degree}")
        self.config = dict(n_features=n_features, hidden_size=hidden_size, num_layers=num_layers, ema=ema,
                           memory=memory, legs_order=legs_order, kernel_degree=kernel_degree)
        self.memory = memory
        self.ema = float(ema)
        self.legs_order, self.kernel_degree = int(legs_order), int(kernel_degree)
        self.lstm = nn.LSTM(n_features, hidden_size, num_layers, batch_first=True) if self.uses_lstm else None
        self.head = nn.Linear(hidden_size, n_features) if self.uses_lstm else None
        ones = torch.ones(n_features)
        # Buffers, so that the state_dict alone carries the normalisation and the fitted kernel.
        self.register_buffer("x_scale", ones.clone() if x_scale is None else torch.tensor(x_scale))
        self.register_buffer("y_scale", ones.clone() if y_scale is None else torch.tensor(y_scale))
        if self.uses_legs:  # (only then: checkpoints of LSTM-only models keep their old keys)
            self.register_buffer("kernel", torch.zeros(self.kernel_degree + 1, 2, dtype=torch.float64))
            self.register_buffer("dt", torch.zeros((), dtype=torch.float64))

    @property
    def uses_legs(self) -> bool:
        return self.memory.startswith("legs")

    @property
    def uses_lstm(self) -> bool:
        return self.memory.endswith("lstm")

    @property
    def kernel_coef(self) -> np.ndarray:
        """a_k of φ(G) = Σ a_k G^k, complex (kernel_degree + 1,)."""
        k = self.kernel.detach().cpu().numpy()
        return k[:, 0] + 1j * k[:, 1]

    def set_kernel(self, coef: np.ndarray) -> None:
        coef = np.asarray(coef, dtype=complex)
        self.kernel.copy_(torch.from_numpy(np.stack([coef.real, coef.imag], 1)))

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
        if not self.uses_lstm:
            raise ValueError("memory='legs' has no LSTM: use LearnedMemory (or legs.LegSMemory) for I")
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


def _split(n_traj: int, val_fraction: float, gen: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out trajectory indices (none held out from a single trajectory)."""
    if n_traj == 1 or val_fraction <= 0:
        return np.arange(n_traj), np.array([], dtype=int)
    perm = torch.randperm(n_traj, generator=gen).numpy()
    n_val = max(1, int(round(val_fraction * n_traj)))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def fit_lstm_operator(
    model: LSTMOperator,
    G: np.ndarray,
    I: np.ndarray,
    *,
    dt: float,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    gain: float,
    bptt_window: int,
    order: int,
    kernel_steps: int,
    val_fraction: float = 0.2,
    on_epoch: Callable[[int, dict], None] | None = None,
    device: torch.device | str | None = None,
    checkpointing: Checkpointing | None = None,
) -> dict:
    """Train `model` (in place) on G, I: complex (n_traj, n_t, d, m) on a grid of step `dt`. Returns the history.

    Held out: one trajectory -> the last `val_fraction` of its window for the LSTM (nothing for
    the kernel); many -> a `val_fraction` of the trajectories.

    LegS part (memory "legs", "legs_lstm"; square G): the coefficients of φ(G), a power series of
    degree kernel_degree fitted to I through the order-`order` Gregory memory (kernel_operator's
    fit: `kernel_steps` L-BFGS steps, a quadratic problem solved in seconds). History:
    "kernel_residual" (the relative residual of I on the training data) and, with trajectories
    held out, "val_loss" (the same on them); "loss" is the final loss of the model, i.e. the
    kernel residual for memory="legs".

    LSTM part (memory "lstm", "legs_lstm"): target I, or I - I_legs (the fitted kernel's memory
    along the data) for "legs_lstm". Loss: MSE of the scaled target (divided by r * y_scale),
    i.e. relative to the local amplitude of G. One step = one Adam step on a mini-batch of
    `batch_size` trajectories (one trajectory: `batch_size` copies with independent random
    amplitude gains, see `_log_gain`); Adam + cosine decay to 0 over `steps`. With
    `bptt_window` W > 0 (truncated backpropagation through time) a step's loss and gradient
    cover one window of W nodes, drawn so that every node is equally likely to be in it; the
    LSTM state at the window's start comes from a forward pass without gradient over the nodes
    before it.
    """
    gen = torch.Generator().manual_seed(seed)  # batch sampling stays on the CPU (resumable state)
    torch.manual_seed(seed)
    n_traj, n_t = G.shape[:2]
    train_idx, val_idx = _split(n_traj, val_fraction, gen)
    history: dict = {}
    Y = I
    if model.uses_legs:
        if G.shape[-1] != G.shape[-2]:
            raise ValueError(f"memory={model.memory!r} needs square G (φ is a matrix function of G); got "
                             f"{G.shape[-2]}x{G.shape[-1]}: use memory='lstm'")
        series = SeriesKernel(n_terms=model.kernel_degree + 1, basis="power", even=False)
        fit_kernel_operator(series, G[train_idx], I[train_idx], dt, order=order, optimizer="lbfgs", steps=kernel_steps,
                            lr=None, seed=seed, lbfgs_iterations=20)
        coef = power_coefficients(series)
        model.set_kernel(coef)
        model.dt.fill_(float(dt))
        res = relative_residual(memory_along(coef, G[train_idx], dt, order), I[train_idx], order)
        history["kernel_residual"] = [res]
        if len(val_idx):
            val_res = relative_residual(memory_along(coef, G[val_idx], dt, order), I[val_idx], order)
            history["val_loss"] = [(0, val_res)]
        if not model.uses_lstm:
            history["loss"] = [res]
            if on_epoch is not None:
                on_epoch(0, {"loss": res, **({"val_loss": history["val_loss"][0][1]} if len(val_idx) else {})})
            model.eval()
            return history
        Ik = memory_along(coef, G, dt, order)
        Y = I - Ik
        Y[:, :order] = 0.0  # the first nodes (the reference's start-up): no residual to learn
    lstm_history = _fit_lstm(model, G, Y, train_idx, val_idx, steps=steps, lr=lr, batch_size=batch_size, gain=gain,
                             bptt_window=bptt_window, val_fraction=val_fraction, gen=gen, on_epoch=on_epoch,
                             device=device, checkpointing=checkpointing)
    if "val_loss" in history and "val_loss" in lstm_history:
        history["kernel_val_residual"] = [history.pop("val_loss")[0][1]]
    return {**history, **lstm_history}


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
    """`MemoryOperator` backed by an LSTMOperator: I = I_legs (O(legs_order) per step) + I_lstm (O(1)).

    `init` runs the LegS projection and the LSTM over the known history (I_known is not
    needed: both states are functions of G alone). `step` feeds G_new and returns I there; the
    state is never modified in place, so a predictor-corrector may call `step` twice from the
    same state. dt: the grid step (None: the one the kernel was fitted on).
    """

    def __init__(self, model: LSTMOperator, dt: float | None = None):
        self.model = model.eval()
        self.legs = None
        if model.uses_legs:
            step = float(model.dt) if dt is None else float(dt)
            if not step > 0:
                raise ValueError("the LegS memory needs dt (the model's kernel was never fitted)")
            self.legs = LegSMemory(model.kernel_coef, model.legs_order, step)

    def init(self, G_known: np.ndarray, I_known: np.ndarray | None = None):
        shape = G_known.shape[-2:]
        legs_state = self.legs.init(G_known) if self.legs is not None else None
        lstm_state = None
        if self.model.uses_lstm:
            with torch.no_grad():
                _, lstm_state = self.model(torch.from_numpy(to_features(G_known)))
        return legs_state, lstm_state, shape

    def step(self, state, G_new: np.ndarray):
        legs_state, lstm_state, shape = state
        I = np.zeros(G_new.shape, dtype=complex)
        if self.legs is not None:
            I_legs, legs_state = self.legs.step(legs_state, G_new)
            I += I_legs
        if lstm_state is not None:
            y, lstm_state = self.model.step(torch.from_numpy(to_features(G_new)), lstm_state)
            I += from_features(y.numpy(), shape)
        return I, (legs_state, lstm_state, shape)
