"""Learned kernel operator (issue 12): keep the memory integral exact, learn only its kernel.

    dG/dt = F(G, t) + I(t),   I(t) = ∫_0^t K(G(t-s), t-s) G(s) ds

The reference solver computes I_n = h Σ_j w_j^(n) K(G_{n-j}, t_{n-j}) G_j with the order-p
Gregory weights w^(n) (solvers/history.py): a discrete convolution of A_i = K(G_i, t_i) with G_j.
Here K is replaced by a learnable K_θ, that sum is done for every node of every trajectory at
once (`GregoryConvolution`: FFT along time plus the p end corrections), and θ is fitted so that
it matches the data's I (`fit_kernel_operator`). Extrapolation then runs the reference stepper
itself with K_θ in the Gregory memory (`continue_with_kernel`, or `solve_ide(F, K_θ, ...)` from
t = 0): causality, the whole past and the G_j factor stay exact, only K is learned. docs/design.md
says why that structure is what lets a learned memory extrapolate, and why the fit must be
accurate (a relative kernel error of 1e-3 gives ~4 % solution error on the matrix IDE to t = 120).

Two kernel families, float64 modules mapping complex G (B, d, m) [and the lag τ (B,)] to K (B, d, d):
- `SeriesKernel` (the default): an analytic matrix function K_θ(G) = Σ_k a_k P_k(X) with learnable
  complex a_k, X = G/s (or (G/s)² for an even series), s fixed from the training data so powers
  stay O(1), P_k powers or Chebyshev polynomials. K_θ(U G U⁻¹) = U K_θ(G) U⁻¹ by construction, so
  what one trajectory teaches holds in every basis, and the fit is linear least squares in a_k.
- `MLPKernel`: an MLP on the real and imaginary parts of G/s (optionally plus τ) with a linear
  path, for kernels that are not matrix functions; it knows nothing of equivariance.
- `LagKernel`: K(G, τ) = Σ_{k≤P} (G/s)^k Σ_j c_kj e^{−λ_j τ}, a kernel of the lag (and of G at the
  lag point), fitted in numpy by `lag_kernels` (refined complex rates "exp", or a ridge-regularised
  grid of real rates "grid"): relaxation, damped oscillations, power-law tails.
`fit_candidates` fits several of them on the first part of the window, scores each on the rest
(the hold-out tail), picks the smallest within a factor of the best (`lag_kernels.select`), and
refits the choice on the whole window: `model.family=auto`.
Each has a numpy twin (`numpy_kernel()`) that the solver calls once per node, with no torch call.
A checkpoint is the family name, `config` (constructor arguments) and the state_dict:
`KERNELS[family](**config).load_state_dict(state_dict)` rebuilds it (scales are buffers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch
from omegaconf import MISSING
from torch import nn

from ..schema import MAX_ITERATIONS, require
from ..solvers import solve_ide
from ..solvers.ide import exact_memory, matrix_kernel
from ..solvers.multistep import adams_integrate
from ..solvers.quadrature import gregory_end_correction
from ..solvers.recurrence import ExponentialRecurrenceMemory
from ..solvers.startup import collocation_start
from . import lag_kernels as lk
from .base import (
    IDE_DATA,
    MAX_LAYERS,
    MAX_LR,
    MAX_WIDTH,
    NEEDS_STREAMING_TERM,
    Incompatible,
    Model,
    ModelConfig,
    data_order,
    needs_ide,
    needs_memory,
)
from .training import Checkpointing, closure_step, optimiser_step, run_loop

BASES = ("power", "chebyshev")
OPTIMIZERS = ("lbfgs", "adam")
DEFAULT_LR = {"lbfgs": 1.0, "adam": 3e-3}
# torch's L-BFGS drops every curvature pair with sᵀy <= 1e-10, an absolute threshold: on the relative
# loss (1 at the start) it stops learning curvature once the loss is within ~1e-10 of its minimum and
# then crawls (measured: the exact Dyson kernel stalls at loss 4e-10, a_1 off by 6e-5; the matrix IDE
# at 8e-13 after 500 iterations). It minimises this multiple of the loss instead, which reaches the
# least-squares optimum (2e-19, 3e-15) in under 100 iterations.
LBFGS_LOSS_SCALE = 1e10


def spectral_scale(G: np.ndarray) -> float:
    """The largest spectral norm ‖G‖₂ over every node: G/s then lies in the unit ball on the data."""
    s = float(np.linalg.norm(G, ord=2, axis=(-2, -1)).max())
    return s if s > 0 else 1.0


def _torch_series(a: torch.Tensor, X: torch.Tensor, basis: str) -> torch.Tensor:
    """Σ_k a_k P_k(X) for a batch of square matrices: Horner (powers) or Clenshaw (Chebyshev)."""
    eye = torch.eye(X.shape[-1], dtype=X.dtype, device=X.device)
    n = len(a)
    if basis == "power":
        S = a[n - 1] * eye.expand_as(X)
        for k in range(n - 2, -1, -1):
            S = S @ X + a[k] * eye
        return S
    # Clenshaw: b_k = a_k + 2 X b_{k+1} - b_{k+2}, Σ = a_0 + X b_1 - b_2
    b1 = b2 = torch.zeros_like(X)
    for k in range(n - 1, 0, -1):
        b1, b2 = a[k] * eye + 2 * (X @ b1) - b2, b1
    return a[0] * eye + X @ b1 - b2


def matrix_series(a: np.ndarray, X: np.ndarray, basis: str = "power") -> np.ndarray:
    """Σ_k a_k P_k(X) for square matrices X (..., d, d) in numpy, adding the a_k·1 terms on the
    diagonal only (solvers call it every step). `_torch_series` is the same in torch."""
    d = X.shape[-1]
    X = np.asarray(X, dtype=complex)
    n = len(a)

    def plus_diag(S, c):
        S.reshape(-1, d * d)[:, :: d + 1] += c
        return S

    if basis == "power":
        S = np.zeros_like(X)
        plus_diag(S, a[n - 1])
        for k in range(n - 2, -1, -1):
            S = plus_diag(S @ X, a[k])
        return S
    b1 = b2 = np.zeros_like(X)
    for k in range(n - 1, 0, -1):
        b1, b2 = plus_diag(2 * (X @ b1) - b2, a[k]), b1
    return plus_diag(X @ b1 - b2, a[0])


class SeriesKernel(nn.Module):
    """K_θ(G) = Σ_{k<n_terms} a_k P_k(X), X = G/s or (G/s)² (`even`), complex a_k, s a buffer.

    Coefficients start at zero (the fit is linear in them, so the start does not matter).
    The lag τ is accepted and ignored: a matrix function of G alone.
    """

    family = "series"

    def __init__(self, n_terms: int, basis: str, even: bool):
        super().__init__()
        if basis not in BASES:
            raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
        if n_terms < 1:
            raise ValueError(f"n_terms must be >= 1, got {n_terms}")
        self.config = dict(n_terms=n_terms, basis=basis, even=even)
        self.basis, self.even = basis, bool(even)
        self.coef = nn.Parameter(torch.zeros(n_terms, 2, dtype=torch.float64))  # (Re a_k, Im a_k)
        self.register_buffer("scale", torch.ones((), dtype=torch.float64))

    def set_scales(self, G: np.ndarray, t_max: float) -> None:
        """s from the training data (t_max is not used: no lag input)."""
        self.scale.fill_(spectral_scale(G))

    def forward(self, G: torch.Tensor, tau: torch.Tensor | None = None) -> torch.Tensor:
        X = G / self.scale
        return _torch_series(torch.view_as_complex(self.coef), X @ X if self.even else X, self.basis)

    def numpy_kernel(self) -> Callable[[np.ndarray, object], np.ndarray]:
        """K(G (batch, d, d), tau) -> (batch, d, d) in numpy, with the current coefficients."""
        a = torch.view_as_complex(self.coef.detach()).cpu().numpy().copy()
        s, even, basis = float(self.scale), self.even, self.basis

        def K(G, tau=None):
            X = np.asarray(G, dtype=complex) / s
            return matrix_series(a, X @ X if even else X, basis)

        return K


class MLPKernel(nn.Module):
    """K_θ(G, τ): `depth` tanh layers of `width` on [Re, Im](G/s) (and τ/τ_s with `lag`) plus a
    linear path from the inputs to the 2d² outputs (real and imaginary parts of K).

    s, τ_s: buffers set from the training data (largest ‖G‖₂, window length).
    """

    family = "mlp"

    def __init__(self, d: int, m: int, width: int, depth: int, lag: bool):
        super().__init__()
        self.config = dict(d=d, m=m, width=width, depth=depth, lag=lag)
        self.d, self.m, self.lag = d, m, bool(lag)
        n_in, n_out = 2 * d * m + int(self.lag), 2 * d * d
        layers, fan_in = [], n_in
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.Tanh()]
            fan_in = width
        self.mlp = nn.Sequential(*layers, nn.Linear(fan_in, n_out)).double()
        self.linear = nn.Linear(n_in, n_out, bias=False).double()
        self.register_buffer("scale", torch.ones((), dtype=torch.float64))
        self.register_buffer("lag_scale", torch.ones((), dtype=torch.float64))

    def set_scales(self, G: np.ndarray, t_max: float) -> None:
        self.scale.fill_(spectral_scale(G))
        self.lag_scale.fill_(t_max if t_max > 0 else 1.0)

    def forward(self, G: torch.Tensor, tau: torch.Tensor | None = None) -> torch.Tensor:
        X = (G / self.scale).reshape(len(G), -1)
        x = [X.real, X.imag]
        if self.lag:
            if tau is None:
                raise ValueError("this MLPKernel takes the lag: pass tau")
            x.append((tau / self.lag_scale).reshape(-1, 1).to(X.real.dtype))
        x = torch.cat(x, -1)
        y = self.mlp(x) + self.linear(x)
        k = self.d * self.d
        return torch.complex(y[:, :k], y[:, k:]).reshape(-1, self.d, self.d)

    def numpy_kernel(self) -> Callable[[np.ndarray, object], np.ndarray]:
        """The same network in numpy (a few small matmuls per call)."""
        layers = [(m.weight.detach().cpu().numpy().T.copy(), m.bias.detach().cpu().numpy().copy())
                  for m in self.mlp if isinstance(m, nn.Linear)]
        W_lin = self.linear.weight.detach().cpu().numpy().T.copy()
        s, s_lag, d, lag = float(self.scale), float(self.lag_scale), self.d, self.lag

        def K(G, tau=None):
            G = np.asarray(G, dtype=complex)
            X = G.reshape(len(G), -1) / s
            x = [X.real, X.imag]
            if lag:
                x.append(np.broadcast_to(np.reshape(np.asarray(tau, dtype=float) / s_lag, (-1, 1)), (len(G), 1)))
            x = np.concatenate(x, -1)
            h = x
            for W, b in layers[:-1]:
                h = np.tanh(h @ W + b)
            W, b = layers[-1]
            y = h @ W + b + x @ W_lin
            return (y[:, : d * d] + 1j * y[:, d * d :]).reshape(-1, d, d)

        return K


class LagKernel(nn.Module):
    """K(G, τ) = Σ_{k≤degree} (G/s)^k Σ_{j<n_rates} c_kj e^{−λ_j τ} (complex λ_j, c_kj; s a buffer).

    Not trained by torch: `lag_kernels` fits it (linear least squares in c, variable projection or a
    fixed grid for λ) and `from_fit` stores the result in buffers, so the checkpoint is the usual
    family + config + state_dict.
    """

    family = "lag"

    def __init__(self, n_rates: int, degree: int):
        super().__init__()
        if n_rates < 1 or degree < 0:
            raise ValueError(f"need n_rates >= 1 and degree >= 0, got {n_rates}, {degree}")
        self.config = dict(n_rates=n_rates, degree=degree)
        self.register_buffer("rates", torch.zeros(n_rates, 2, dtype=torch.float64))  # (Re λ, Im λ)
        self.register_buffer("coef", torch.zeros(degree + 1, n_rates, 2, dtype=torch.float64))
        self.register_buffer("scale", torch.ones((), dtype=torch.float64))

    @classmethod
    def from_fit(cls, fit: lk.LagFit) -> LagKernel:
        kernel = cls(len(fit.rates), fit.degree)
        kernel.rates.copy_(torch.view_as_real(torch.from_numpy(np.asarray(fit.rates, dtype=complex))))
        kernel.coef.copy_(torch.view_as_real(torch.from_numpy(np.asarray(fit.coef, dtype=complex))))
        kernel.scale.fill_(fit.scale)
        return kernel

    def lag_fit(self) -> lk.LagFit:
        return lk.LagFit("lag", torch.view_as_complex(self.rates).numpy().copy(),
                         torch.view_as_complex(self.coef).numpy().copy(), float(self.scale))

    def set_scales(self, G: np.ndarray, t_max: float) -> None:
        """Fitted with its scale (lag_kernels): nothing to set."""

    def forward(self, G: torch.Tensor, tau: torch.Tensor | None = None) -> torch.Tensor:
        if tau is None:
            raise ValueError("a LagKernel takes the lag: pass tau")
        rates, coef = torch.view_as_complex(self.rates), torch.view_as_complex(self.coef)
        a = torch.exp(-tau.reshape(-1, 1).to(rates.dtype) * rates) @ coef.T  # (batch, degree + 1)
        a = a.expand(len(G), -1)
        eye = torch.eye(G.shape[-2], dtype=G.dtype, device=G.device)
        K, X, Pk = a[:, 0, None, None] * eye, G / self.scale, None
        for k in range(1, coef.shape[0]):
            Pk = X if Pk is None else Pk @ X
            K = K + a[:, k, None, None] * Pk
        return K

    def numpy_kernel(self) -> Callable[[np.ndarray, object], np.ndarray]:
        return self.lag_fit()


KERNELS: dict[str, type[nn.Module]] = {k.family: k for k in (SeriesKernel, MLPKernel, LagKernel)}


# ----------------------------------------------------------------------------- choosing a kernel on a hold-out tail

def streaming_values(F, G: np.ndarray, dt: float) -> np.ndarray:
    """F(G_n, t_n) at every node of every trajectory: (n_traj, n_t, d, m)."""
    return np.stack([np.broadcast_to(F(G[:, i], i * dt), G[:, i].shape) for i in range(G.shape[1])], axis=1)


def windows(G: np.ndarray, I: np.ndarray | None, Fvals: np.ndarray | None, dt: float, order: int, target: str,
            holdout: float) -> tuple[lk.Window | None, lk.Window | None, lk.Window]:
    """(fit, score, whole) windows: fit on the first 1 − holdout of the nodes, score on the rest, refit on
    all. holdout 0: no hold-out (the first two are None)."""
    n_t = G.shape[1]
    whole = lk.Window(G, dt, order, order, n_t, target, I=I, Fvals=Fvals)
    if holdout == 0:
        return None, None, whole
    n_fit = int(round((1 - holdout) * (n_t - 1))) + 1
    if n_fit < 3 * order or n_t - n_fit < order:
        raise ValueError(f"model.holdout={holdout:g} of the {n_t} nodes of dataset.t_final / dataset.dt leaves too "
                         f"few to fit or to score (order {order}); lower model.holdout or lengthen the window")
    fit = lk.Window(G, dt, order, order, n_fit, target, I=I, Fvals=Fvals)
    score = lk.Window(G, dt, order, n_fit, n_t, target, I=I, Fvals=Fvals)
    return fit, score, whole


HOPELESS = 1e300  # the hold-out residual recorded when no candidate's is finite (checkpoints hold finite numbers)


class Candidate:
    """A kernel fitted on the fit window: its label, size (real parameters), numpy kernel, and how to
    fit the same kind of kernel on the whole window (returns the module and its history)."""

    def __init__(self, label: str, size: int, kernel, refit: Callable[[], tuple[nn.Module, dict]]):
        self.label, self.size, self.kernel, self.refit = label, size, kernel, refit
        self.score = np.nan


def lag_candidates(family: str, fit: lk.Window, whole: lk.Window, *, max_rates: int, max_degree: int,
                   n_starts: int, grid_size: int, ridges: list[float]) -> list[Candidate]:
    """The candidates of a lag family ("exp" or "grid") for degrees 0..max_degree (0 only for non-square G)."""
    scale = spectral_scale(whole.G) if whole.G.shape[-1] == whole.G.shape[-2] else 1.0
    degrees = range(max_degree + 1) if whole.G.shape[-1] == whole.G.shape[-2] else [0]
    out = []
    for P in degrees:
        if family == "exp":
            for f in lk.fit_exp_path(fit, P, max_rates, scale, n_starts=n_starts):
                def refit(f=f):
                    final = lk.refine(whole, f.rates, f.degree, f.scale, 1.0 / whole.dt, 200)
                    return LagKernel.from_fit(final), {"loss": [final.residual**2]}
                out.append(Candidate(f.describe(), f.size, f, refit))
        else:
            rates = lk.default_grid(whole.t[-1], whole.dt, grid_size)
            for f in lk.fit_grid_path(fit, P, rates, scale, ridges):
                def refit(f=f):
                    final = lk.fit_grid_path(whole, f.degree, f.rates, f.scale, [f.ridge])[0]
                    return LagKernel.from_fit(final), {"loss": [final.residual**2]}
                out.append(Candidate(f.describe(), f.size, f, refit))
    return out


def choose(candidates: list[Candidate], score_window: lk.Window | None, factor: float,
           floor: float) -> Candidate:
    """Score every candidate on the hold-out window (sets .score) and apply the parsimony rule."""
    if score_window is None:
        if len(candidates) != 1:
            raise ValueError("choosing among several kernels needs a hold-out window")
        return candidates[0]
    for c in candidates:
        with np.errstate(all="ignore"):
            c.score = lk.score(c.kernel, score_window)
    scores = [c.score if np.isfinite(c.score) else np.inf for c in candidates]
    if not np.isfinite(scores).any():  # every candidate blew up on the tail: keep the smallest, flagged
        worst = min(candidates, key=lambda c: c.size)
        worst.score = HOPELESS
        return worst
    return candidates[lk.select(scores, [c.size for c in candidates], factor, floor)]


def _fft_length(n: int) -> int:
    return 1 << (n - 1).bit_length()


class GregoryConvolution:
    """I_n = h Σ_{j=0}^{n} w_j^(n) A_{n-j} G_j at nodes n = p..n_t-1, for fixed G and any A.

    G: complex (n_traj, n_t, d, m) tensor (the data), A: (n_traj, n_t, d, d) (K at every node).
    The plain sum Σ_j A_{n-j} G_j is one FFT product along time (G's transform is computed once);
    the order-p Gregory corrections Σ_{j<p} δ_j (A_{n-j} G_j + A_j G_{n-j}) are 2p shifted
    products. Nodes n < p are left out: the reference solver gets I there from its collocation
    start-up (an integral over an interpolating polynomial, not the Gregory sum), so the Gregory
    sum does not reproduce them; they are p of n_t nodes and carry no information the others lack.
    Differentiable in A.
    """

    def __init__(self, G: torch.Tensor, dt: float, order: int):
        n_t = G.shape[1]
        if n_t <= order:
            raise ValueError(f"the Gregory rule of order {order} needs more than {order} nodes, got {n_t}")
        self.G, self.dt, self.order = G, dt, order
        self.n_fft = _fft_length(2 * n_t - 1)
        self.G_hat = torch.fft.fft(G, n=self.n_fft, dim=1)
        self.delta = [float(x) for x in gregory_end_correction(order)]

    def __call__(self, A: torch.Tensor) -> torch.Tensor:
        G, p = self.G, self.order
        n_t = G.shape[1]
        S = torch.fft.ifft(torch.fft.fft(A, n=self.n_fft, dim=1) @ self.G_hat, dim=1)[:, p:n_t]
        for j, delta in enumerate(self.delta):  # node n = p + i pairs A_{n-j} with G_j, and A_j with G_{n-j}
            S = S + delta * (A[:, p - j : n_t - j] @ G[:, j : j + 1] + A[:, j : j + 1] @ G[:, p - j : n_t - j])
        return self.dt * S


def kernel_memory(kernel: nn.Module, conv: GregoryConvolution, tau: torch.Tensor) -> torch.Tensor:
    """K_θ at every node of conv's G (lag τ_i = t_i), then the Gregory sum: I at nodes p..n_t-1."""
    G = conv.G
    n_traj, n_t, d, _ = G.shape
    A = kernel(G.reshape(n_traj * n_t, d, -1), tau.repeat(n_traj)).reshape(n_traj, n_t, d, d)
    return conv(A)


def amplitude_weights(I: np.ndarray) -> np.ndarray:
    """Per-trajectory weights 1/(n · mean |I|²) over the fitted nodes: each trajectory counts equally."""
    ms = (np.abs(I) ** 2).reshape(I.shape[0], -1).mean(axis=1)
    ms = np.where(ms > 0, ms, 1.0)
    return 1.0 / (I.shape[0] * ms)


def memory_loss(I_pred: torch.Tensor, I_true: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Σ_traj weight · mean |I_pred − I_true|²: with `amplitude_weights`, the relative squared error
    of each trajectory, averaged (a small-amplitude trajectory counts as much as a large one)."""
    err = torch.view_as_real(I_pred - I_true).pow(2).sum(-1).reshape(len(I_true), -1).mean(1)
    return (weight * err).sum()


def fit_kernel_operator(
    kernel: nn.Module,
    G: np.ndarray,
    I: np.ndarray,
    dt: float,
    *,
    order: int,
    optimizer: str,
    steps: int,
    lr: float | None,
    seed: int,
    lbfgs_iterations: int,
    on_step: Callable[[int, dict], None] | None = None,
    device: torch.device | str | None = None,
    checkpointing: Checkpointing | None = None,
) -> dict:
    """Fit `kernel` (in place) so that its order-`order` Gregory memory matches I. Returns the history.

    G, I: complex (n_traj, n_t, d, m) on the grid t_n = n dt; `order` should be the order of the
    solver that produced I (then the exact kernel has zero loss up to round-off). Loss: relative
    squared error of I at nodes order..n_t-1 (see GregoryConvolution for why the first nodes are
    left out), per trajectory, averaged over trajectories. The kernel's scales are set from G first
    (its parameters are the starting point).

    optimizer="lbfgs": strong-Wolfe L-BFGS, full batch; a step is one `LBFGS.step` of up to
    `lbfgs_iterations` iterations (the unit of checkpoints and of the loss history). The series fit
    is a quadratic problem, which L-BFGS solves to round-off in under a hundred iterations, and on
    the MLP it reached a 100x smaller loss than Adam (issue 12). optimizer="adam": `steps`
    full-batch Adam steps, cosine decay. `lr` None means DEFAULT_LR[optimizer]. Checkpoints, resume and the
    non-finite guards are those of `run_loop` (the L-BFGS state is part of the optimiser's
    state_dict). Nothing is sampled (full batch): `seed` seeds torch and run_loop's generator;
    seed the kernel's own initialisation (the MLP's) when constructing it.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    G, I = np.asarray(G, dtype=complex), np.asarray(I, dtype=complex)
    if G.ndim != 4 or I.shape != G.shape:
        raise ValueError(f"G and I must both be (n_traj, n_t, d, m); got {G.shape} and {I.shape}")
    lr = DEFAULT_LR[optimizer] if lr is None else lr
    gen = torch.Generator().manual_seed(seed)  # nothing is sampled; kept for run_loop's resumable state
    torch.manual_seed(seed)
    device = torch.device(device or "cpu")
    n_t = G.shape[1]
    t = np.arange(n_t) * dt
    kernel.set_scales(G, float(t[-1]))
    kernel.to(device)
    conv = GregoryConvolution(torch.from_numpy(G).to(device), dt, order)
    target = torch.from_numpy(I[:, order:]).to(device)
    weight = torch.from_numpy(amplitude_weights(I[:, order:])).to(device)
    tau = torch.from_numpy(t).to(device)

    def loss_fn() -> torch.Tensor:
        return memory_loss(kernel_memory(kernel, conv, tau), target, weight)

    if optimizer == "lbfgs":
        # A step's iterations stop early once the (scaled) loss changes by less than 1e-20 of the
        # relative loss: far below what any fit here reaches, so it only skips work after convergence.
        # (One iteration per step stalls: torch's L-BFGS restarts its line search state every call.)
        opt = torch.optim.LBFGS(kernel.parameters(), lr=lr, max_iter=lbfgs_iterations, history_size=100,
                                line_search_fn="strong_wolfe", tolerance_grad=0.0,
                                tolerance_change=1e-20 * LBFGS_LOSS_SCALE)
        sched = None
    else:
        opt = torch.optim.Adam(kernel.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))

    def step(i: int) -> dict:
        if optimizer == "adam":
            value = optimiser_step(opt, loss_fn(), f"step {i + 1}")
            sched.step()
            return {"loss": value}
        closure_step(opt, loss_fn, f"step {i + 1}", scale=LBFGS_LOSS_SCALE)
        with torch.no_grad():
            return {"loss": loss_fn().item()}

    return run_loop(kernel, opt, sched, gen, steps, step, on_step, checkpointing)


def power_coefficients(kernel: SeriesKernel) -> np.ndarray:
    """b_k with K_θ(G) = Σ_k b_k G^k: a power-basis series' coefficients without its scale (b_k = a_k / s^k)."""
    if kernel.basis != "power" or kernel.even:
        raise ValueError("power_coefficients needs a power series in G (basis power, not even)")
    a = torch.view_as_complex(kernel.coef.detach()).cpu().numpy()
    return a / float(kernel.scale) ** np.arange(len(a))


def memory_along(coef: np.ndarray, G: np.ndarray, dt: float, order: int) -> np.ndarray:
    """I of the power-series kernel Σ_k coef_k G^k along histories G (n_traj, n_t, d, d) by the order-p
    Gregory rule; nodes < order (the reference gets them from its start-up, see GregoryConvolution) are 0."""
    n_traj, n_t, d, _ = G.shape
    A = matrix_series(np.asarray(coef, dtype=complex), G.reshape(-1, d, d)).reshape(G.shape)
    I = np.zeros_like(G, dtype=complex)
    I[:, order:] = GregoryConvolution(torch.from_numpy(np.asarray(G, dtype=complex)), dt, order)(
        torch.from_numpy(A)).numpy()
    return I


def relative_residual(I_model: np.ndarray, I: np.ndarray, order: int) -> float:
    """sqrt of the fit's loss: the relative L2 error of I per trajectory (nodes >= order), averaged in square."""
    err = np.abs(I_model[:, order:] - I[:, order:]) ** 2
    size = np.abs(I[:, order:]) ** 2
    per_traj = err.reshape(len(I), -1).sum(1) / np.maximum(size.reshape(len(I), -1).sum(1), 1e-300)
    return float(np.sqrt(per_traj.mean()))


def continue_with_kernel(F, K, G_known: np.ndarray, I_known: np.ndarray | None, dt: float, n_total: int, *,
                         order: int, memory: str, corrector: bool,
                         max_abs: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Continue trajectories from their known window (batch, n0, d, m) to n_total nodes with the
    reference stepper (AB(order) + AM(order) corrector) and the Gregory memory of kernel K.

    K(G (batch, d, m), tau) -> (batch, d, d) is a numpy callable: `kernel.numpy_kernel()` for a
    learned one, or an exact one. The memory operator evaluates K itself on every known node when
    it starts, so the history it sums is K applied to the known G (the learned kernel's own
    memory, not the data's). I_known enters only through F + I at the last `order` known nodes,
    which start AB(order): pass the data's I there, or None to use K's own Gregory sum on the known
    window (needs n0 >= 2·order). Returns G, I (batch, n_total, d, m), the known part unchanged.
    Raises BlowUpError (solvers.multistep) past `max_abs`.
    """
    G_known = np.asarray(G_known, dtype=complex)
    batch = len(G_known)
    K = matrix_kernel(K, G_known[:, 0].shape)
    if I_known is None:
        I_known = own_memory(K, G_known, dt, order)
    memory_op = exact_memory(K, dt, n_total - 1, order, memory, batch)
    return adams_integrate(F, memory_op, G_known, np.asarray(I_known, dtype=complex), dt, n_total, order=order,
                           corrector=corrector, max_abs=max_abs)


def own_memory(K, G_known: np.ndarray, dt: float, order: int) -> np.ndarray:
    """K's Gregory memory on the known window; nodes < order (never read by the stepper) stay 0."""
    batch, n0, d, _ = G_known.shape
    if n0 < 2 * order:
        raise ValueError(f"computing I on the known window needs at least {2 * order} nodes, got {n0}; pass I_known")
    A = np.stack([K(G_known[:, i], i * dt) for i in range(n0)], axis=1)
    I = np.zeros_like(G_known)
    I[:, order:] = GregoryConvolution(torch.from_numpy(G_known), dt, order)(torch.from_numpy(A)).numpy()
    return I


def continue_with_recurrence(F, kernel: LagKernel, G_known: np.ndarray, I_known: np.ndarray | None, dt: float,
                             n_total: int, *, order: int, corrector: bool,
                             max_abs: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """`continue_with_kernel` for a pure lag kernel (degree 0), its memory by the exact exponential
    recurrence (solvers/recurrence.py: O(J) per step, no history). Fewer than `order` known nodes: the
    reference's collocation start-up from G(0) first."""
    fit = kernel.lag_fit()
    if fit.degree != 0:
        raise ValueError(f"the recurrence needs a pure lag kernel (degree 0), got degree {fit.degree}")
    G_known = np.asarray(G_known, dtype=complex)
    K = matrix_kernel(fit, G_known[:, 0].shape)
    if G_known.shape[1] < order:
        G_known, I_known = collocation_start(F, K, G_known[:, 0], dt, order)
    elif I_known is None:
        I_known = own_memory(K, G_known, dt, order)
    memory = ExponentialRecurrenceMemory(fit.rates, fit.coef[0], dt, order)
    return adams_integrate(F, memory, G_known, np.asarray(I_known, dtype=complex), dt, n_total, order=order,
                           corrector=corrector, max_abs=max_abs)


# ----------------------------------------------------------------------------- the estimator

class KernelFamily(Enum):
    auto = "auto"  # chosen on a hold-out tail of the window among `candidates`
    series = "series"
    mlp = "mlp"
    exp = "exp"  # lag kernel, a few complex rates refined by variable projection
    grid = "grid"  # lag kernel, a ridge-regularised grid of real rates


class FitTarget(Enum):
    memory = "memory"  # the data's memory integral I
    trajectory = "trajectory"  # G alone, with the dataset's streaming term F: G(t) − G(t_a) − ∫F = ∫I


class SeriesBasis(Enum):
    power = "power"
    chebyshev = "chebyshev"


class KernelOptimizer(Enum):
    lbfgs = "lbfgs"
    adam = "adam"


@dataclass
class LagFamilyConfig(ModelConfig):
    """The keys of the lag kernel families' fit and their hold-out choice (kernel_operator, memory_operator)."""

    max_rates: int = MISSING  # exp: up to this many complex rates
    max_degree: int = MISSING  # exp, grid: K = Σ_{k<=max_degree} G^k a_k(τ) (0: a pure lag kernel)
    n_starts: int = MISSING  # exp: starts refined for each added rate
    grid_size: int = MISSING  # grid: real rates, log-spaced
    ridges: list[float] = MISSING  # grid: relative ridge levels tried (each a candidate)
    holdout: float = MISSING  # fraction of the window's nodes held out to score (and choose) the kernel
    parsimony: float = MISSING  # auto: the smallest candidate scoring within this factor of the best...
    exact_score: float = MISSING  # ...or under this hold-out residual
    fit_on: FitTarget = MISSING

    def check(self):
        super().check()
        require(1 <= self.max_rates <= 8, "model.max_rates", f"must be in 1..8, got {self.max_rates}")
        require(0 <= self.max_degree <= 4, "model.max_degree", f"must be in 0..4, got {self.max_degree}")
        require(1 <= self.n_starts <= 100, "model.n_starts", f"must be in 1..100, got {self.n_starts}")
        require(1 <= self.grid_size <= 256, "model.grid_size", f"must be in 1..256, got {self.grid_size}")
        require(len(self.ridges) >= 1 and all(0 <= r < 1 for r in self.ridges), "model.ridges",
                f"must be a non-empty list of values in [0, 1), got {self.ridges}")
        require(0 <= self.holdout < 1, "model.holdout", f"must be in [0, 1), got {self.holdout}")
        require(self.parsimony >= 1, "model.parsimony", f"must be >= 1, got {self.parsimony}")
        require(self.exact_score >= 0, "model.exact_score", f"must be >= 0, got {self.exact_score}")


@dataclass
class KernelOperatorConfig(LagFamilyConfig):
    name: str = "kernel_operator"
    family: KernelFamily = MISSING  # series: an analytic matrix function of G; mlp: any function of G (and τ)
    n_terms: int = MISSING  # series
    basis: SeriesBasis = MISSING  # series
    even: bool = MISSING  # series: a series in G² (even kernels only)
    width: int = MISSING  # mlp
    depth: int = MISSING  # mlp
    lag: bool = MISSING  # mlp: K(G, τ) also takes the lag τ
    order: int | None = MISSING  # Gregory order of the training loss; None: the data's solver.order
    optimizer: KernelOptimizer = MISSING
    steps: int = MISSING  # optimiser steps (an L-BFGS step is up to lbfgs_iterations iterations)
    lbfgs_iterations: int = MISSING
    lr: float | None = MISSING  # None: 1 for L-BFGS, 3e-3 for Adam
    candidates: list[str] = MISSING  # family=auto: the families tried (not auto)
    recurrence: bool = MISSING  # a pure lag kernel (degree 0) extrapolates by the exact exponential recurrence

    def check(self):
        super().check()
        require(1 <= self.n_terms <= 64, "model.n_terms", f"must be in 1..64, got {self.n_terms}")
        known = [f.value for f in KernelFamily if f is not KernelFamily.auto]
        require(len(self.candidates) >= 1 and set(self.candidates) <= set(known), "model.candidates",
                f"must list some of {', '.join(known)}, got {list(self.candidates)}")
        require(self.holdout > 0 or self.family in (KernelFamily.series, KernelFamily.mlp), "model.holdout",
                f"must be > 0 for model.family={self.family.value} (it chooses on the hold-out), got 0")
        require(1 <= self.width <= MAX_WIDTH, "model.width", f"must be in 1..{MAX_WIDTH}, got {self.width}")
        require(1 <= self.depth <= MAX_LAYERS, "model.depth", f"must be in 1..{MAX_LAYERS}, got {self.depth}")
        require(self.order is None or 3 <= self.order <= 8, "model.order", f"must be in 3..8, got {self.order}")
        require(1 <= self.steps <= MAX_ITERATIONS, "model.steps", f"must be in 1..{MAX_ITERATIONS:.0e}, "
                f"got {self.steps}")
        require(1 <= self.lbfgs_iterations <= 10**4, "model.lbfgs_iterations", f"must be in 1..10000, "
                f"got {self.lbfgs_iterations}")
        require(self.lr is None or 0 < self.lr <= MAX_LR, "model.lr", f"must be in (0, {MAX_LR:g}], got {self.lr}")

    def budget(self):
        return self.steps, "step"


class KernelOperatorModel(Model):
    """Beyond the papers: the memory integral stays exact (the reference's Gregory quadrature), only the
    kernel K_θ(G) is learned; extrapolation is the reference solver with K_θ."""

    name = "kernel_operator"
    config_class = KernelOperatorConfig
    tiny_data = ("dataset=dyson", "dataset.t_final=1")
    tiny = dict(steps="5", n_terms="2", lbfgs_iterations="5")
    numerics = (SeriesKernel, MLPKernel, fit_kernel_operator, lag_candidates, choose, lk.fit_exp_path,
                lk.fit_grid_path)
    accepts = IDE_DATA
    needs_window = False  # K_θ alone solves from G(0)

    def check(self, kind, n_traj):
        needs_ide(self, kind)

    takes_streaming_term = True  # fit_on=trajectory needs F

    def make_net(self, family, **net_config):
        return KERNELS[family](**net_config)

    def torch_candidate(self, family: KernelFamily, data, fit_nodes: int | None, order: int, seed: int,
                        **extra_args) -> Candidate:
        """A series or MLP kernel fitted by L-BFGS on the first `fit_nodes` nodes (None: all)."""
        c = self.config
        d, m = data.G.shape[-2:]

        def make():
            torch.manual_seed(seed)
            if family is KernelFamily.series:
                return self.make_net("series", n_terms=c.n_terms, basis=c.basis.value, even=c.even)
            return self.make_net("mlp", d=d, m=m, width=c.width, depth=c.depth, lag=c.lag)

        def fit_on(n: int | None, **extra):
            net = make()
            history = fit_kernel_operator(net, data.G[:, :n], data.I[:, :n], data.dt, order=order,
                                                     optimizer=c.optimizer.value, steps=c.steps, lr=c.lr, seed=seed,
                                                     lbfgs_iterations=c.lbfgs_iterations, **extra)
            return net, history

        first = fit_on(fit_nodes)[0] if fit_nodes is not None else None
        size = sum(p.numel() for p in make().parameters())  # real parameters (a series: Re and Im of its a_k)
        label = f"series n={c.n_terms}" if family is KernelFamily.series else f"mlp {c.width}x{c.depth}"
        return Candidate(label, size, None if first is None else first.numpy_kernel(),
                                    lambda: fit_on(None, **extra_args))

    def fit(self, data, *, seed, on_iteration=None, device=None, checkpointing=None, F=None):
        c = self.config
        if c.fit_on is FitTarget.memory:
            needs_memory(self, data, "fit from G and the streaming term F with")
        torch.manual_seed(seed)
        order = data_order(self, c.order, data)
        target = c.fit_on.value
        families = [KernelFamily(f) for f in c.candidates] if c.family is KernelFamily.auto else [c.family]
        if c.fit_on is FitTarget.trajectory:
            if F is None:
                raise Incompatible(NEEDS_STREAMING_TERM)
            torch_families = [f.value for f in families if f in (KernelFamily.series, KernelFamily.mlp)]
            if c.family is not KernelFamily.auto and torch_families:
                raise Incompatible(f"model.fit_on=trajectory fits the lag families (exp, grid); "
                                   f"model.family={torch_families[0]} fits I (model.fit_on=memory)")
            families = [f for f in families if f not in (KernelFamily.series, KernelFamily.mlp)]
        Fvals = streaming_values(F, data.G, data.dt) if target == "trajectory" else None
        try:
            fit_win, score_win, whole = windows(data.G, data.I, Fvals, data.dt, order, target, c.holdout)
        except ValueError as exc:
            raise Incompatible(str(exc)) from None
        fit_nodes = None if fit_win is None else fit_win.hi
        candidates = []
        for family in families:
            if family in (KernelFamily.series, KernelFamily.mlp):
                if family is KernelFamily.series and data.G.shape[-1] != data.G.shape[-2]:
                    continue  # a matrix function needs square G
                candidates.append(self.torch_candidate(family, data, fit_nodes, order, seed, on_step=on_iteration,
                                                       device=device, checkpointing=checkpointing))
            else:
                candidates += lag_candidates(family.value, fit_win, whole, max_rates=c.max_rates,
                                                        max_degree=c.max_degree, n_starts=c.n_starts,
                                                        grid_size=c.grid_size, ridges=list(c.ridges))
        chosen = choose(candidates, score_win, c.parsimony, c.exact_score)
        self.net, history = chosen.refit()
        residual = None if score_win is None else float(chosen.score)
        self.fitted = {"order": order, "kernel": chosen.label, "memory_holdout_residual": residual}
        history = dict(history)
        history["kernel_choice"] = chosen.label
        if score_win is not None:
            history["memory_holdout_residual"] = [residual]
            history["kernel_candidates"] = [{"kernel": k.label, "size": k.size, "holdout_residual": float(k.score)}
                                            for k in candidates]
        if on_iteration is not None and chosen.label.startswith(("exp", "grid")):
            on_iteration(0, {"loss": float(history["loss"][-1])})
        return history

    def checkpoint(self) -> dict:
        ckpt = super().checkpoint()
        ckpt["net_config"] = {"family": self.net.family, **self.net.config}
        return ckpt

    def learned_kernel(self):
        """K_θ as a numpy callable K(G (batch, d, m), tau) -> (batch, d, d), for `solve_ide` or any solver."""
        return self.net.numpy_kernel()

    def extrapolate(self, G_known, t, *, F=None, I_known=None, solver=None):
        if F is None or solver is None:
            raise ValueError("kernel_operator extrapolation needs the streaming term F and the solver settings")
        dt, K = float(t[1] - t[0]), self.learned_kernel()
        if self.config.recurrence and self.net.family == "lag" and self.net.config["degree"] == 0:
            G, _ = continue_with_recurrence(F, self.net, G_known, I_known, dt, len(t), order=solver.order,
                                            corrector=solver.corrector, max_abs=solver.max_abs)
            return G
        if G_known.shape[1] < solver.order:  # G(0) alone: solve from t = 0 with K_θ
            return solve_ide(F, K, G_known[:, 0], float(t[-1]), dt, order=solver.order, corrector=solver.corrector,
                             memory=solver.memory, max_abs=solver.max_abs).G
        G, _ = continue_with_kernel(F, K, G_known, I_known, dt, len(t), order=solver.order,
                                               memory=solver.memory, corrector=solver.corrector,
                                               max_abs=solver.max_abs)
        return G


MODEL = KernelOperatorModel
