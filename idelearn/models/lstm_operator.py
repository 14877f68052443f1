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

Two options, off by default because on the Dyson case (train t <= 10, AB3 to
t = 40) they did not help: a linear FIR skip path (`fir_len` > 0, least-squares
initialised; alone it fits I on the window to 1e-4 yet drifts when stepped,
because on the data "I = dG/dt - F(G)" is also a linear filter and a degenerate
one in closed loop), and a closed-loop rollout loss (`rollout` > 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .training import Checkpointing, optimiser_step, run_loop, validation_rows


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
    """Stacked LSTM + linear head, plus an optional linear (FIR) skip path: G_n -> I_n.

    In scaled coordinates x_n = G_n / (r_n x_scale):

        y_n = head(LSTM(x)_n) + sum_j W_j x_{n - j*fir_stride},  j = 0..fir_len-1
        I_n = r_n * y_scale * y_n

    The skip path is there because, on these problems, the scaled I is to a good
    approximation a fixed linear filter of the recent scaled history, which an
    LSTM learns only coarsely; the LSTM then models what the filter misses.
    State = (h, c, r2, buf): the LSTM state, the running mean square of G and the
    last (fir_len-1)*fir_stride+1 scaled inputs (a window the filter reads).
    """

    def __init__(
        self,
        n_features: int,
        hidden_size: int = 64,
        num_layers: int = 2,
        ema: float = 0.003,
        fir_len: int = 0,
        fir_stride: int = 1,
        x_scale: list[float] | None = None,
        y_scale: list[float] | None = None,
    ):
        super().__init__()
        self.config = dict(
            n_features=n_features, hidden_size=hidden_size, num_layers=num_layers, ema=ema,
            fir_len=fir_len, fir_stride=fir_stride,
        )
        self.ema = float(ema)
        self.fir_len, self.fir_stride = int(fir_len), max(1, int(fir_stride))
        self.lstm = nn.LSTM(n_features, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, n_features)
        # W_j as one dilated causal convolution (taps oldest first, as conv1d expects).
        self.fir = (nn.Conv1d(n_features, n_features, self.fir_len, dilation=self.fir_stride, bias=False)
                    if self.fir_len > 0 else None)
        if self.fir is not None:
            nn.init.zeros_(self.fir.weight)
        ones = torch.ones(n_features)
        # Buffers, so that the state_dict alone carries the normalisation.
        self.register_buffer("x_scale", ones.clone() if x_scale is None else torch.tensor(x_scale))
        self.register_buffer("y_scale", ones.clone() if y_scale is None else torch.tensor(y_scale))

    @property
    def window(self) -> int:
        """Number of past scaled inputs the filter needs besides the current one."""
        return 0 if self.fir is None else (self.fir_len - 1) * self.fir_stride

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

    def forward_scaled(self, x: torch.Tensor, r: torch.Tensor, hc=None, buf=None):
        """Raw features and amplitudes -> scaled output y, LSTM state, filter window.

        buf (batch, window, feat): scaled inputs before x (None: zeros, i.e. no history).
        """
        xs = x / (r * self.x_scale)
        o, hc = self.lstm(xs, hc)
        y = self.head(o)
        if self.fir is None:
            return y, hc, buf
        if buf is None:
            buf = xs.new_zeros(xs.shape[0], self.window, xs.shape[-1])
        full = torch.cat([buf, xs], 1)
        y = y + self.fir(full.transpose(1, 2)).transpose(1, 2)
        return y, hc, full[:, full.shape[1] - self.window:]

    def forward(self, x_seq: torch.Tensor, state=None):
        """(batch, n_t, feat) G features -> (I features, state) in physical units."""
        hc, r2, buf = (None, None, None) if state is None else (state[:2], state[2], state[3])
        r, r2 = self.amplitude(x_seq, r2)
        y, (h, c), buf = self.forward_scaled(x_seq, r, hc, buf)
        return y * r * self.y_scale, (h, c, r2, buf)

    @torch.no_grad()
    def step(self, x: torch.Tensor, state):
        """One node: x (batch, feat) -> (I (batch, feat), state). Same maths as forward.

        The returned state holds new tensors (torch.cat, the LSTM), never views that a
        later step writes into, so stepping twice from one state is safe.
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


def _init_fir(model: LSTMOperator, X: torch.Tensor, r: torch.Tensor, Ys: torch.Tensor, ridge: float) -> None:
    """Least-squares filter weights on the training window (ridge-regularised, closed form).

    The LSTM then starts from the filter's residual instead of from I itself.
    """
    if model.fir is None:
        return
    xs = X / (r * model.x_scale)
    B, T, Fe = xs.shape
    w, s, L = model.window, model.fir_stride, model.fir_len
    if T <= w + 1:
        return
    full = torch.cat([xs.new_zeros(B, w, Fe), xs], 1).double()
    # rows: nodes n >= w (a full window); columns: tap j (lag (L-1-j)*s) x input feature
    A = torch.stack([full[:, j * s: j * s + T] for j in range(L)], 2)[:, w:]  # (B, T-w, L, F)
    A = A.reshape(-1, L * Fe)
    Yt = Ys[:, w:].reshape(-1, Fe).double()
    AtA = A.T @ A
    lam = ridge * AtA.diagonal().mean()
    W = torch.linalg.solve(AtA + lam * torch.eye(L * Fe, dtype=AtA.dtype), A.T @ Yt)  # (L*F, F_out)
    model.fir.weight.data.copy_(W.reshape(L, Fe, Fe).permute(2, 1, 0).to(model.fir.weight.dtype))


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


def _rollout_loss(model, X, Y, r2_at, hc, buf, g, n0, H, dt):
    """Closed-loop error over nodes n0..n0+H-1 when the model's own I drives G.

    G is advanced by AB3 with the error e = I_model - I_true only: along the true
    trajectory F is the data's, so G_pred = G_true + delta with
    delta_{n+1} = delta_n + dt (23 e_n - 16 e_{n-1} + 5 e_{n-2}) / 12.
    This needs no F, yet it exposes the feedback loop the teacher-forced loss
    never sees (an operator that merely differentiates the history fits the
    window and drifts when stepped). Loss: |delta|^2 / r^2 in units of x_scale.
    """
    a = model.ema
    delta = torch.zeros_like(X[:, 0])
    e1 = e2 = torch.zeros_like(delta)
    acc, loss = r2_at, 0.0
    for k in range(n0, n0 + H):
        xk = X[:, k] + delta
        acc = (1 - a) * acc + a * xk.detach().double().pow(2).mean(-1) if a > 0 else acc
        rk = (acc.clamp_min(1e-300).sqrt().unsqueeze(-1).to(X.dtype) if a > 0 else torch.ones_like(xk[:, :1])) * g
        y, hc, buf = model.forward_scaled(xk.unsqueeze(1), rk.unsqueeze(1), hc, buf)
        e = y[:, 0] * rk * model.y_scale - Y[:, k]
        delta = delta + dt * (23 * e - 16 * e1 + 5 * e2) / 12
        e1, e2 = e, e1
        loss = loss + (delta / (rk * model.x_scale)).pow(2).mean()
    return loss / H


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
    fir_ridge: float = 1e-4,
    dt: float | None = None,
    rollout: int = 0,
    rollout_weight: float = 1.0,
    rollout_every: int = 1,
    bptt_window: int = 0,
    on_epoch: Callable[[int, dict], None] | None = None,
    device: torch.device | str | None = None,
    checkpointing: Checkpointing | None = None,
) -> dict:
    """Train `model` (in place) on G, I: complex (n_traj, n_t, d, m). Returns the history.

    Loss: MSE of the scaled I (I / (r * y_scale)), i.e. relative to the local
    amplitude of G, so late (small) times count as much as early ones; with
    `rollout` > 0 (and the grid step `dt`), plus `rollout_weight` times the
    closed-loop error of G over `rollout` steps from a random node (see
    `_rollout_loss`), every `rollout_every` epochs.
    The filter path (if any) starts from its least-squares fit (ridge `fir_ridge`).
    Validation: G_val/I_val if given; else one trajectory -> the last
    `val_fraction` of the time window is held out (trained on the rest, scored
    with the state run through the whole window, as in the paper); many ->
    a `val_fraction` of the trajectories is held out. One epoch = one Adam step on
    a mini-batch of `batch_size` trajectories (one trajectory: `batch_size`
    copies with independent gain perturbations). Adam + cosine decay to 0.
    With `bptt_window` W > 0 (truncated backpropagation through time), an epoch's loss and
    gradient cover one window of W nodes, drawn so that every node is equally likely to be
    in it (windows at the ends are clipped); the LSTM state at the window's start comes from
    a forward pass without gradient over the nodes before it, so the model still sees each
    trajectory from t = 0. The forward-only prefix costs about a third of a trained node,
    which is what makes an epoch cheaper (see benchmarks/lstm_speed.py).
    """
    if bptt_window > 0 and rollout > 0:
        raise ValueError("bptt_window and rollout cannot be combined (the rollout needs the whole sequence)")
    gen = torch.Generator().manual_seed(seed)  # batch sampling stays on the CPU (resumable state)
    torch.manual_seed(seed)
    device = torch.device(device or "cpu")
    model.to(device)
    X, Y = torch.from_numpy(to_features(G)).to(device), torch.from_numpy(to_features(I)).to(device)
    n_traj, n_t = X.shape[:2]
    t_cut = n_t
    if G_val is not None:
        Xv, Yv = (torch.from_numpy(to_features(Z)).to(device) for Z in (G_val, I_val))
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
    r, r2 = model.amplitude(X)
    Ys = Y / (r * model.y_scale)  # scaled targets
    _init_fir(model, X, r, Ys, fir_ridge)
    if Xv is not None:
        rv, _ = model.amplitude(Xv)
        Yvs = Yv / (rv * model.y_scale)
    # r^2 at every node, to restart the running amplitude where a rollout begins
    r2_all = (r.double().squeeze(-1)) ** 2
    T = X.shape[1]
    H = int(rollout) if dt is not None else 0
    n_lo = min(T - 1, max(3, model.window + 3, T // 5))  # rollouts start where the window is well filled

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))

    def epoch_fn(ep: int) -> dict:
        if n_traj == 1:
            idx = torch.zeros(batch_size, dtype=torch.long)
        else:
            idx = torch.randint(0, n_traj, (min(batch_size, n_traj),), generator=gen)
        idx = idx.to(device)
        xb, rb, yb = X[idx], r[idx], Ys[idx]
        if gain > 0:  # r -> r g: the scaled target I / (r g) shrinks by the same g
            g = torch.exp(_log_gain(len(idx), xb.shape[1], gain, gen)).to(device)
            rb, yb = rb * g, yb / g
        else:
            g = torch.ones_like(rb)
        do_roll = H > 0 and T - H > n_lo and ep % max(1, rollout_every) == 0
        if 0 < bptt_window < T:
            start = int(torch.randint(1 - bptt_window, T, (1,), generator=gen))
            lo, hi = max(start, 0), min(start + bptt_window, T)
            hc = buf = None
            if lo > 0:
                with torch.no_grad():
                    _, hc, buf = model.forward_scaled(xb[:, :lo], rb[:, :lo])
            pred, _, _ = model.forward_scaled(xb[:, lo:hi], rb[:, lo:hi], hc, buf)
            yb = yb[:, lo:hi]
        elif do_roll:
            n0 = int(torch.randint(n_lo, T - H, (1,), generator=gen))
            p1, hc, buf = model.forward_scaled(xb[:, :n0], rb[:, :n0])
            p2, _, _ = model.forward_scaled(xb[:, n0:], rb[:, n0:], hc, buf)
            pred = torch.cat([p1, p2], 1)
        else:
            pred, _, _ = model.forward_scaled(xb, rb)
        loss = (pred - yb).pow(2).mean()
        rec = {"loss": loss.item()}
        if do_roll:
            lr_roll = _rollout_loss(model, xb, Y[idx], r2_all[idx, n0 - 1], hc, buf, g[:, n0 - 1],
                                    n0, H, float(dt))
            rec["rollout_loss"] = lr_roll.item()
            loss = loss + rollout_weight * lr_roll
        optimiser_step(opt, loss, f"step {ep + 1}", clip)
        sched.step()
        rows = None if Xv is None else validation_rows(ep, epochs)
        if rows is not None:
            model.eval()
            with torch.no_grad():
                pv, _, _ = model.forward_scaled(Xv[rows], rv[rows])
                rec["val_loss"] = (pv - Yvs[rows])[:, t_cut if t_cut < n_t else 0 :].pow(2).mean().item()
            model.train()
        return rec

    return run_loop(model, opt, sched, gen, epochs, epoch_fn, on_epoch, checkpointing)


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
