"""Lag kernels: K(G, τ) = Σ_{k≤P} (G/s)^k a_k(τ), a_k(τ) = Σ_j c_kj e^{−λ_j τ}, fitted in numpy/scipy.

The memory of an IDE, I(t) = ∫_0^t K(G(t−s), t−s) G(s) ds, is often a function of the lag τ = t − s
(relaxation, generalized Langevin, power laws, damped oscillations) rather than of G at the lag
point, or of both. With the rates λ_j fixed, the Gregory memory of such a kernel is linear in the
coefficients c_kj: each basis function B_kj(G_i, t_i) = (G_i/s)^k e^{−λ_j t_i} has its own Gregory
convolution with G, and c follows by linear least squares. Two ways to choose the rates:

- `fit_exp_path`: a few complex rates (J ≤ 4) refined by variable projection: the coefficients
  are eliminated by least squares, the rates minimise the projected residual (scipy's
  `least_squares`, bounded to Re λ ≥ 0 so no kernel grows); rates are added one at a time, the
  new one started from the best few points of a screening grid (greedy, several starts).
  Exact for sums of exponentials and damped oscillations (the rates are found, not guessed).
- `fit_grid_path`: a fixed grid of log-spaced real rates, ridge-regularised (power-law tails).
  Alone, such grids are ill-conditioned (condition numbers 1e15+): the ridge, chosen on the
  hold-out tail, is what keeps them from fitting the window and blowing up past it.

`select` is the parsimony rule of the automatic choice: the smallest candidate whose hold-out score
is within `factor` of the best (or under `floor`).

Fit targets (`Window`): "memory", the data's I at nodes ≥ order; or "trajectory", from G alone with
the streaming term F known: G(t_n) − G(t_a) − ∫_{t_a}^{t_n} F = ∫_{t_a}^{t_n} I, the integrals by the
same order-p Gregory rule. Both are linear in c; the second needs no I and no differentiation of
(noisy) G. Residuals are relative per trajectory (each counts equally), averaged in square.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from ..solvers.quadrature import gregory_end_correction

TARGETS = ("memory", "trajectory")


def _fft_length(n: int) -> int:
    return 1 << (n - 1).bit_length()


def gregory_sum(A: np.ndarray, G: np.ndarray, dt: float, order: int) -> np.ndarray:
    """I_n = h Σ_{j≤n} w_j^(n) A_{n−j} G_j at nodes n = order..n_t−1 (the reference solver's memory).

    A: (..., n_traj, n_t, d, d) kernel values at the nodes (lag t_i), G: (n_traj, n_t, d, m).
    Returns (..., n_traj, n_t − order, d, m). One FFT product along time plus the order-p end corrections.
    """
    n_t = G.shape[1]
    if n_t <= order:
        raise ValueError(f"the Gregory rule of order {order} needs more than {order} nodes, got {n_t}")
    n_fft = _fft_length(2 * n_t - 1)
    # The end corrections Σ_{j<p} δ_j (A_{n−j} G_j + A_j G_{n−j}) are convolutions too: of A with δ_j G_j and
    # of δ_j A_j with G (sequences that vanish past j = p−1), so one product of transforms does it all.
    delta = gregory_end_correction(order)[:, None, None]
    G_corr = G.copy()
    G_corr[:, :order] *= 1 + delta
    A_head = A[..., :order, :, :] * delta
    fft = lambda x: np.fft.fft(x, n=n_fft, axis=-3)  # noqa: E731
    S = _mm(fft(A), fft(G_corr)) + _mm(fft(A_head), fft(G))
    return dt * np.fft.ifft(S, axis=-3)[..., order:n_t, :, :]


def _mm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A @ B for stacks of tiny matrices: broadcast products summed (numpy's batched matmul of 2x2
    matrices costs ~50x more per element)."""
    if A.shape[-1] == 1:
        return A * B
    return (A[..., :, :, None] * B[..., None, :, :]).sum(axis=-2)


def cumulative(f: np.ndarray, lo: int, hi: int, dt: float, order: int) -> np.ndarray:
    """∫_{t_lo}^{t_n} f by the order-p Gregory rule for n = lo+p−1..hi−1 (nodes along axis −3).

    f holds the nodes lo..hi−1 along axis −3 (its index 0 is node lo). Returns (..., hi−lo−p+1, d, m).
    """
    p = order
    n = hi - lo
    if n < p:
        raise ValueError(f"the cumulative Gregory rule of order {p} needs >= {p} nodes, got {n}")
    delta = gregory_end_correction(p)
    csum = np.cumsum(f, axis=-3)[..., p - 1 :, :, :]  # Σ_{j≤m} f_j for m = p−1..n−1
    left = sum(d * f[..., i : i + 1, :, :] for i, d in enumerate(delta))
    right = sum(d * f[..., p - 1 - i : n - i, :, :] for i, d in enumerate(delta))
    return dt * (csum + left + right)


@dataclass
class Window:
    """A fit or score target: the data's G (n_traj, n_t, d, m) on t_n = n dt and what to match on nodes lo..hi−1.

    target "memory": I (given) at those nodes (lo ≥ order). "trajectory": G_n − G_lo − ∫_{t_lo}^{t_n} F
    at n = lo+order−1..hi−1, with `Fvals` F(G_n, t_n) at every node. The convolutions use G[:, :hi].
    """

    G: np.ndarray
    dt: float
    order: int
    lo: int
    hi: int
    target: str
    I: np.ndarray | None = None
    Fvals: np.ndarray | None = None
    y: np.ndarray = field(init=False)
    weight: np.ndarray = field(init=False)

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if not self.order <= self.lo < self.hi <= self.G.shape[1]:
            raise ValueError(f"need order <= lo < hi <= n_t; got order={self.order}, lo={self.lo}, hi={self.hi}, "
                             f"n_t={self.G.shape[1]}")
        self.G = np.asarray(self.G[:, : self.hi], dtype=complex)
        if self.target == "memory":
            if self.I is None:
                raise ValueError("target 'memory' needs I")
            self.y = np.asarray(self.I, dtype=complex)[:, self.lo : self.hi]
        else:
            if self.Fvals is None:
                raise ValueError("target 'trajectory' needs Fvals")
            Fint = cumulative(np.asarray(self.Fvals, dtype=complex)[:, self.lo : self.hi], self.lo, self.hi, self.dt,
                              self.order)
            first = self.lo + self.order - 1
            self.y = self.G[:, first : self.hi] - self.G[:, self.lo : self.lo + 1] - Fint
        ms = (np.abs(self.y) ** 2).reshape(len(self.y), -1).mean(axis=1)
        # relative per trajectory: 1/sqrt(n_traj · n · mean|y|²), so Σ (weight |r|)² is the mean relative square
        size = np.where(ms > 0, ms, 1.0) * len(self.y) * self.y[0].size
        self.weight = 1.0 / np.sqrt(size)

    def observe(self, M: np.ndarray) -> np.ndarray:
        """What the target sees of memory values M (..., n_traj, hi − order, d, m) at nodes order..hi−1."""
        M = M[..., self.lo - self.order :, :, :]
        if self.target == "memory":
            return M
        return cumulative(M, self.lo, self.hi, self.dt, self.order)

    def memory_of(self, A: np.ndarray) -> np.ndarray:
        """The observed memory of kernel values A (..., n_traj, hi, d, d)."""
        return self.observe(gregory_sum(A, self.G, self.dt, self.order))

    def residual(self, observed: np.ndarray) -> float:
        """Relative residual of an observation against the target (per trajectory, averaged in square)."""
        r = (observed - self.y) * self.weight[:, None, None, None]
        return float(np.sqrt(np.sum(np.abs(r) ** 2)))

    @property
    def t(self) -> np.ndarray:
        return np.arange(self.hi) * self.dt


def powers(G: np.ndarray, degree: int, scale: float) -> list[np.ndarray]:
    """[(G/s)^0, ..., (G/s)^degree] at every node: (n_traj, n_t, d, d) each (degree ≥ 1 needs square G)."""
    d = G.shape[-2]
    out = [np.broadcast_to(np.eye(d, dtype=complex), G.shape[:2] + (d, d))]
    if degree >= 1 and G.shape[-1] != d:
        raise ValueError(f"degree >= 1 needs square G (G^k), got {G.shape[-2]}x{G.shape[-1]}")
    X = G / scale
    for _ in range(degree):
        out.append(out[-1] @ X)
    return out


def design(win: Window, rates: np.ndarray, Gk: list[np.ndarray], lag_power: int = 0) -> np.ndarray:
    """The weighted columns of the linear problem: (rows, (P+1)·J), column k·J + j for basis (k, j).
    lag_power 1: the columns of τ·basis (minus their derivative in λ_j)."""
    decay = np.exp(-np.outer(rates, win.t)) * win.t**lag_power  # (J, n_t)
    A = np.stack([g[None] * decay[:, None, :, None, None] for g in Gk])  # (P+1, J, n_traj, n_t, d, d)
    obs = win.observe(gregory_sum(A, win.G, win.dt, win.order)) * win.weight[:, None, None, None]
    return obs.reshape(len(Gk) * len(rates), -1).T


def weighted_target(win: Window) -> np.ndarray:
    return (win.y * win.weight[:, None, None, None]).ravel()


@dataclass
class LagFit:
    """A fitted lag kernel K(G, τ) = Σ_k (G/s)^k Σ_j coef[k, j] e^{−rates[j] τ}."""

    family: str  # "exp" (refined rates) or "grid" (fixed rates, ridge)
    rates: np.ndarray  # (J,) complex
    coef: np.ndarray  # (P+1, J) complex
    scale: float
    residual: float = np.nan  # relative residual on the window it was fitted on
    ridge: float = 0.0

    @property
    def degree(self) -> int:
        return self.coef.shape[0] - 1

    @property
    def size(self) -> int:
        """Real parameters: the coefficients, plus the rates where they were fitted."""
        return 2 * self.coef.size + (2 * len(self.rates) if self.family == "exp" else 0)

    def describe(self) -> str:
        extra = f", ridge {self.ridge:.0e}" if self.family == "grid" else ""
        return f"{self.family} J={len(self.rates)} P={self.degree}{extra}"

    def a(self, tau) -> np.ndarray:
        """a_k(τ) for every k: (P+1, len(τ))."""
        tau = np.atleast_1d(np.asarray(tau, dtype=float))
        return self.coef @ np.exp(-np.outer(self.rates, tau))

    def __call__(self, G: np.ndarray, tau) -> np.ndarray:
        """K(G (batch, d, m), τ (scalar or (batch,))) -> (batch, d, d)."""
        G = np.asarray(G, dtype=complex)
        batch, d = len(G), G.shape[-2]
        a = np.broadcast_to(self.a(tau).T, (batch, self.degree + 1))  # (batch, P+1)
        K = np.zeros((batch, d, d), dtype=complex)
        K.reshape(batch, d * d)[:, :: d + 1] += a[:, :1]
        X, Pk = G / self.scale, None
        for k in range(1, self.degree + 1):
            Pk = X if Pk is None else Pk @ X
            K = K + a[:, k, None, None] * Pk
        return K


def _lstsq(Phi: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c, *_ = np.linalg.lstsq(Phi, y, rcond=None)
    return c, y - Phi @ c


def linear_fit(win: Window, rates: np.ndarray, degree: int, scale: float, family: str = "exp") -> LagFit:
    """Coefficients for fixed rates by (unregularised) least squares."""
    rates = np.asarray(rates, dtype=complex)
    Phi = design(win, rates, powers(win.G, degree, scale))
    c, r = _lstsq(Phi, weighted_target(win))
    return LagFit(family, rates, c.reshape(degree + 1, len(rates)), scale, float(np.linalg.norm(r)))


def screening_grid(window_length: float, dt: float) -> np.ndarray:
    """Starting points for a new rate: decay 0 or log-spaced from 0.1/T to 1/(10 dt), frequencies 0 or
    ± log-spaced from π/T to π/(10 dt) (what the window and the grid can resolve)."""
    decays = np.concatenate([[0.0], np.geomspace(0.1 / window_length, 0.1 / dt, 7)])
    freqs = np.geomspace(np.pi / window_length, 0.1 * np.pi / dt, 6)
    freqs = np.concatenate([[0.0], freqs, -freqs])
    return (decays[:, None] + 1j * freqs[None, :]).ravel()


def refine(win: Window, rates: np.ndarray, degree: int, scale: float, max_rate: float,
           max_nfev: int) -> LagFit:
    """Variable projection from `rates`: minimise ‖(1 − Φ Φ⁺) y‖ over the rates (Re λ in [0, max_rate],
    |Im λ| ≤ π/dt), the coefficients eliminated by least squares. Jacobian: Kaufman's approximation
    −(1 − Φ Φ⁺) (∂Φ/∂λ_j) c, with ∂Φ/∂λ_j the columns of −τ·basis (Im λ: i times it)."""
    J = len(rates)
    Gk = powers(win.G, degree, scale)
    y = weighted_target(win)
    nyquist = np.pi / win.dt
    cache: dict = {}

    def solve(theta):
        key = theta.tobytes()
        if key not in cache:
            cache.clear()
            lam = theta[:J] + 1j * theta[J:]
            Phi = design(win, lam, Gk)
            Q, R = np.linalg.qr(Phi)
            c = np.linalg.lstsq(R, Q.conj().T @ y, rcond=None)[0]
            cache[key] = (lam, Phi, Q, c, y - Phi @ c)
        return cache[key]

    def residual(theta):
        r = solve(theta)[4]
        return np.concatenate([r.real, r.imag])

    def jacobian(theta):
        lam, Phi, Q, c, _ = solve(theta)
        dPhi = -design(win, lam, Gk, lag_power=1)  # ∂(column k·J + j)/∂λ_j
        C = c.reshape(degree + 1, J)
        V = np.stack([dPhi[:, k * J : (k + 1) * J] * C[k] for k in range(degree + 1)]).sum(axis=0)  # (rows, J)
        V = -(V - Q @ (Q.conj().T @ V))  # ∂r/∂λ_j
        dV = np.concatenate([V, 1j * V], axis=1)  # Re λ, Im λ
        return np.concatenate([dV.real, dV.imag], axis=0)

    theta0 = np.concatenate([np.clip(rates.real, 0, max_rate), np.clip(rates.imag, -nyquist, nyquist)])
    lower = np.concatenate([np.zeros(J), np.full(J, -nyquist)])
    upper = np.concatenate([np.full(J, max_rate), np.full(J, nyquist)])
    theta0 = np.clip(theta0, lower, upper)
    sol = least_squares(residual, theta0, jac=jacobian, bounds=(lower, upper), method="trf", x_scale=1.0,
                        max_nfev=max_nfev, xtol=1e-12, ftol=1e-12, gtol=1e-15)
    return linear_fit(win, sol.x[:J] + 1j * sol.x[J:], degree, scale)


def fit_exp_path(win: Window, degree: int, max_rates: int, scale: float, *, n_starts: int,
                 max_rate: float | None = None, max_nfev: int = 200, exact: float = 1e-12) -> list[LagFit]:
    """Fits with J = 1..max_rates refined rates: each adds one rate to the previous J's, started from
    the `n_starts` best points of `screening_grid` (scored with the other rates kept), each refined by
    variable projection; the best by residual on `win` is kept. The path stops once a fit's residual
    is under `exact` (round-off: more rates cannot help)."""
    if max_rates < 1:
        raise ValueError(f"max_rates must be >= 1, got {max_rates}")
    max_rate = 1.0 / win.dt if max_rate is None else max_rate
    grid = screening_grid(win.t[-1], win.dt)
    Gk = powers(win.G, degree, scale)
    y = weighted_target(win)
    fits: list[LagFit] = []
    rates = np.zeros(0, dtype=complex)
    new_columns = design(win, grid, Gk).reshape(-1, degree + 1, len(grid))  # every screening rate's columns, once
    for _ in range(max_rates):
        kept = design(win, rates, Gk) if len(rates) else np.zeros((len(y), 0), dtype=complex)
        screened = [np.linalg.norm(_lstsq(np.concatenate([kept, new_columns[:, :, i]], axis=1), y)[1])
                    for i in range(len(grid))]
        best = None
        for i in np.argsort(screened)[:n_starts]:
            fit = refine(win, np.append(rates, grid[i]), degree, scale, max_rate, max_nfev)
            if best is None or fit.residual < best.residual:
                best = fit
        fits.append(best)
        rates = best.rates
        if best.residual < exact:
            break
    return fits


def default_grid(window_length: float, dt: float, n: int) -> np.ndarray:
    """n real rates log-spaced over three decades from 0.1/T (tails ten times the window) to 100/T,
    at most 1/dt (decays the grid resolves)."""
    return np.geomspace(0.1 / window_length, min(100 / window_length, 1 / dt), n)


def fit_grid_path(win: Window, degree: int, rates: np.ndarray, scale: float, ridges) -> list[LagFit]:
    """Ridge fits on fixed real rates, one per relative ridge level α (Tikhonov on column-normalised
    design: c = V diag(σ/(σ² + (α σ_max)²)) Uᴴ y), from one SVD."""
    rates = np.asarray(rates, dtype=complex)
    Phi = design(win, rates, powers(win.G, degree, scale))
    norms = np.linalg.norm(Phi, axis=0)
    norms = np.where(norms > 0, norms, 1.0)
    U, s, Vh = np.linalg.svd(Phi / norms, full_matrices=False)
    y = weighted_target(win)
    Uy = U.conj().T @ y
    fits = []
    for alpha in ridges:
        lam = alpha * s[0]
        c = (Vh.conj().T @ (s / (s**2 + lam**2) * Uy)) / norms
        r = float(np.linalg.norm(y - Phi @ c))
        fits.append(LagFit("grid", rates, c.reshape(degree + 1, len(rates)), scale, r, float(alpha)))
    return fits


def kernel_values(K, G: np.ndarray, dt: float) -> np.ndarray:
    """A_i = K(G_i, t_i) at every node of every trajectory: (n_traj, n_t, d, d)."""
    n_traj, n_t, d, _ = G.shape
    return np.stack([np.broadcast_to(K(G[:, i], i * dt), (n_traj, d, d)) for i in range(n_t)], axis=1)


def score(K, win: Window) -> float:
    """Relative residual of kernel K's observed memory on the window (a hold-out tail, or the fit window)."""
    return win.residual(win.memory_of(kernel_values(K, win.G, win.dt)))


def select(scores: list[float], sizes: list[int], factor: float, floor: float) -> int:
    """The parsimony rule: among candidates scoring within `factor` of the best (or under `floor`),
    the smallest; ties by score. Non-finite scores never win."""
    scores = np.asarray(scores, dtype=float)
    if not np.isfinite(scores).any():
        raise ValueError("no candidate has a finite score")
    best = np.nanmin(np.where(np.isfinite(scores), scores, np.inf))
    ok = [i for i, s in enumerate(scores) if np.isfinite(s) and (s <= factor * best or s <= floor)]
    return min(ok, key=lambda i: (sizes[i], scores[i]))
