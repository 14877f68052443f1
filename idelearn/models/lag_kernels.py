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

A fit evaluates the columns for hundreds of sets of rates; what does not depend on the rates (G's
transform, the powers of G/s, the end-correction products) is made once per window (`_Basis`), and
the screening grid's columns once per window when they fit in `CHUNK_BYTES` (else a chunk at a time).
`benchmarks/fit_time.py` measures the fits (issue 19's target: 30 s per trajectory on one core).

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
import scipy.fft as sfft
from scipy.optimize import least_squares

from ..solvers.quadrature import gregory_end_correction

TARGETS = ("memory", "trajectory")
# Screening evaluates the columns of every grid rate; they are built this many bytes of transforms at a
# time, so many trajectories do not hold all of them at once.
CHUNK_BYTES = 1 << 27
# A refined rate with Re λ · T below this (it decays by less than 1e-6 over the window) is tried on the bound 0.
NEAR_BOUND = 1e-6


def _fft_length(n: int) -> int:
    """A fast FFT length for the linear convolution of two length-n sequences (no wrap-around)."""
    return sfft.next_fast_len(2 * n - 1)


def _time_last(X: np.ndarray) -> np.ndarray:
    """(..., n_t, d, m) -> (..., d, m, n_t), contiguous: the FFTs then run along contiguous memory and a product of
    2x2 matrices at every node is a few whole-array multiplications (`_matmul_last`)."""
    return np.ascontiguousarray(np.moveaxis(X, -3, -1))


def _matmul_last(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A @ B for matrices along axes (−3, −2), time along −1: (..., d, e, n) @ (..., e, m, n) -> (..., d, m, n).
    A sum of e broadcast products (numpy's batched matmul of 2x2 matrices costs ~50x more per element)."""
    out = A[..., :, 0, None, :] * B[..., None, 0, :, :]
    for e in range(1, A.shape[-2]):
        out = out + A[..., :, e, None, :] * B[..., None, e, :, :]
    return out


def gregory_sum(A: np.ndarray, G: np.ndarray, dt: float, order: int) -> np.ndarray:
    """I_n = h Σ_{j≤n} w_j^(n) A_{n−j} G_j at nodes n = order..n_t−1 (the reference solver's memory).

    A: (..., n_traj, n_t, d, d) kernel values at the nodes (lag t_i), G: (n_traj, n_t, d, m).
    Returns (..., n_traj, n_t − order, d, m). One FFT product along time plus the order-p end corrections.
    """
    n_t = G.shape[1]
    if n_t <= order:
        raise ValueError(f"the Gregory rule of order {order} needs more than {order} nodes, got {n_t}")
    p, n_fft = order, _fft_length(n_t)
    delta = gregory_end_correction(p)
    Gt, At = _time_last(np.asarray(G, dtype=complex)), _time_last(np.asarray(A, dtype=complex))
    # Σ_j A_{n−j} G_j (1 + δ_j [j < p]) by one product of transforms, and the mirrored corrections
    # Σ_{i<p} δ_i A_i G_{n−i} directly (p shifted products)
    Gc = Gt.copy()
    Gc[..., :p] *= 1 + delta
    S = sfft.ifft(_matmul_last(sfft.fft(At, n=n_fft, axis=-1), sfft.fft(Gc, n=n_fft, axis=-1)), axis=-1)[..., p:n_t]
    for i in range(p):
        S += delta[i] * _matmul_last(At[..., i : i + 1], Gt[..., p - i : n_t - i])
    return dt * np.moveaxis(S, -1, -3)


def cumulative(f: np.ndarray, lo: int, hi: int, dt: float, order: int, axis: int = -3) -> np.ndarray:
    """∫_{t_lo}^{t_n} f by the order-p Gregory rule for n = lo+p−1..hi−1 (nodes along `axis`).

    f holds the nodes lo..hi−1 along `axis` (its index 0 is node lo). Returns (..., hi−lo−p+1, d, m)
    (the nodes along `axis`).
    """
    p = order
    n = hi - lo
    if n < p:
        raise ValueError(f"the cumulative Gregory rule of order {p} needs >= {p} nodes, got {n}")
    f = np.moveaxis(f, axis, -1)
    delta = gregory_end_correction(p)
    csum = np.cumsum(f, axis=-1)[..., p - 1 :]  # Σ_{j≤m} f_j for m = p−1..n−1
    left = sum(d * f[..., i : i + 1] for i, d in enumerate(delta))
    right = sum(d * f[..., p - 1 - i : n - i] for i, d in enumerate(delta))
    return np.moveaxis(dt * (csum + left + right), -1, axis)


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
    _bases: dict = field(init=False, repr=False, default_factory=dict)  # (degree, scale) -> _Basis

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

    def observe_last(self, M: np.ndarray) -> np.ndarray:
        """`observe` for memory values with time along the last axis: (..., d, m, hi − order)."""
        M = M[..., self.lo - self.order :]
        if self.target == "memory":
            return M
        return cumulative(M, self.lo, self.hi, self.dt, self.order, axis=-1)

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

    def basis(self, degree: int, scale: float) -> _Basis:
        """The building blocks of the columns of K = Σ_{k≤degree} (G/s)^k a_k(τ) on this window, made once."""
        key = (degree, float(scale))
        if key not in self._bases:
            self._bases[key] = _Basis(self, degree, scale)
        return self._bases[key]


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


class _Basis:
    """What the columns of K = Σ_{k≤P} (G/s)^k a_k(τ) share on one window, for any rates: G's transform, the
    powers (G/s)^k and the end-correction products, computed once (a fit evaluates columns hundreds of times).

    Column (k, j) is the Gregory memory of A_i = (G_i/s)^k φ_j(t_i), φ_j(τ) = τ^q e^{−λ_j τ}, at node n:
    h Σ_{i≤n} A_{n−i} G_i (1 + δ_i [i < p])  +  h Σ_{i<p} δ_i φ_j(t_i) (G_i/s)^k G_{n−i}.
    The first is a product of transforms with G's, made once (for k = 0 the transform of the scalar φ_j, not
    of a matrix per trajectory); the second a (J, p) by (p, rows) product with H_k[i] = (G_i/s)^k G_{n−i},
    made once. Arrays hold time along the last axis.
    """

    def __init__(self, win: Window, degree: int, scale: float):
        p, n = win.order, win.hi
        self.win, self.degree = win, degree
        self.delta = gregory_end_correction(p)
        self.n_fft = _fft_length(n)
        Gt = _time_last(win.G)  # (n_traj, d, m, n)
        Gc = Gt.copy()
        Gc[..., :p] *= 1 + self.delta
        self.G_hat = sfft.fft(Gc, n=self.n_fft, axis=-1)
        self.X = [_time_last(Xk) for Xk in powers(win.G, degree, scale)[1:]]  # (n_traj, d, d, n) for k >= 1
        shifted = np.stack([Gt[..., p - i : n - i] for i in range(p)])  # G_{n−i}: (p, n_traj, d, m, n − p)
        self.heads = [shifted] + [np.stack([_matmul_last(X[..., i : i + 1], shifted[i]) for i in range(p)])
                                  for X in self.X]
        # a rate's transforms in `columns`, roughly: 3 complex arrays of (P+1) n_traj d m n_fft
        self.rate_bytes = 16 * 3 * (degree + 1) * (Gt.size // n) * self.n_fft
        self.screening: tuple | None = None  # (grid, its columns) when they fit in one chunk

    def columns(self, rates: np.ndarray, lag_power: int = 0) -> np.ndarray:
        """The weighted observed columns: ((P+1)·J, rows), row k·J + j for basis (k, j)."""
        win, p, n = self.win, self.win.order, self.win.hi
        t = win.t
        phi = np.exp(-np.outer(rates, t)) * t**lag_power  # (J, n)
        head_coef = phi[:, :p] * self.delta  # (J, p)
        J, rest = len(rates), self.heads[0].shape[1:]

        def memory(A_hat, head):
            main = sfft.ifft(A_hat, axis=-1)[..., p:n]
            return main + (head_coef @ head.reshape(p, -1)).reshape(J, *rest)

        cols = [memory(sfft.fft(phi, n=self.n_fft, axis=-1)[:, None, None, None, :] * self.G_hat, self.heads[0])]
        for X, head in zip(self.X, self.heads[1:]):
            A_hat = sfft.fft(X[None] * phi[:, None, None, None, :], n=self.n_fft, axis=-1)  # (J, n_traj, d, d, n_fft)
            cols.append(memory(_matmul_last(A_hat, self.G_hat), head))
        M = win.dt * np.stack(cols)  # (P+1, J, n_traj, d, m, n − p): nodes p..n−1
        obs = win.observe_last(M) * win.weight[:, None, None, None]
        return obs.reshape(len(cols) * J, -1)


def design(win: Window, rates: np.ndarray, degree: int, scale: float, lag_power: int = 0) -> np.ndarray:
    """The weighted columns of the linear problem: (rows, (P+1)·J), column k·J + j for basis (k, j).
    lag_power 1: the columns of τ·basis (minus their derivative in λ_j). Rows in `weighted_target`'s order."""
    return win.basis(degree, scale).columns(np.asarray(rates, dtype=complex), lag_power).T


def weighted_target(win: Window) -> np.ndarray:
    """The target, weighted, in the rows' order of `design` (time along the last axis)."""
    return _time_last(win.y * win.weight[:, None, None, None]).ravel()


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

    def along(self, G: np.ndarray, dt: float) -> np.ndarray:
        """K(G_i, t_i) at every node of trajectories G (n_traj, n_t, d, m), t_i = i dt: (n_traj, n_t, d, d)."""
        a = self.a(np.arange(G.shape[1]) * dt)  # (P+1, n_t)
        Gk = powers(np.asarray(G, dtype=complex), self.degree, self.scale)
        return sum(a[k][:, None, None] * Gk[k] for k in range(self.degree + 1))

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
    Phi = design(win, rates, degree, scale)
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
    y = weighted_target(win)
    nyquist = np.pi / win.dt
    cache: dict = {}

    def solve(theta):
        key = theta.tobytes()
        if key not in cache:
            cache.clear()
            lam = theta[:J] + 1j * theta[J:]
            Phi = design(win, lam, degree, scale)
            Q, R = np.linalg.qr(Phi)
            c = np.linalg.lstsq(R, Q.conj().T @ y, rcond=None)[0]
            cache[key] = (lam, Phi, Q, c, y - Phi @ c)
        return cache[key]

    def residual(theta):
        r = solve(theta)[4]
        return np.concatenate([r.real, r.imag])

    def jacobian(theta):
        lam, Phi, Q, c, _ = solve(theta)
        dPhi = -design(win, lam, degree, scale, lag_power=1)  # ∂(column k·J + j)/∂λ_j
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
    lam = sol.x[:J] + 1j * sol.x[J:]
    fit = linear_fit(win, lam, degree, scale)
    # trf keeps its iterates strictly inside the bounds: a rate whose optimum is the bound Re λ = 0 (a memory
    # that does not decay, e.g. Dyson's K = −i G) stops where round-off decides, 1e-12 to 1e-8 from it
    # (measured), and the extrapolation error grows with that distance. The rate on the bound is tried too.
    near = (lam.real > 0) & (lam.real * win.t[-1] < NEAR_BOUND)
    if near.any():
        on_bound = linear_fit(win, np.where(near, 1j * lam.imag, lam), degree, scale)
        if on_bound.residual <= fit.residual:
            return on_bound
    return fit


def screen(win: Window, rates: np.ndarray, grid: np.ndarray, degree: int, scale: float) -> np.ndarray:
    """For each rate of `grid`: the residual of the least-squares fit on the columns of `rates` and its own.

    The grid's columns are made a chunk of `CHUNK_BYTES` of transforms at a time (many trajectories never
    hold them all), and kept on the window's basis for the next call when they fit in one chunk."""
    basis, y = win.basis(degree, scale), weighted_target(win)
    kept = design(win, rates, degree, scale) if len(rates) else np.zeros((len(y), 0), dtype=complex)
    size = max(1, CHUNK_BYTES // basis.rate_bytes)
    out = []
    for start in range(0, len(grid), size):
        chunk = grid[start : start + size]
        if len(chunk) < len(grid):
            new = design(win, chunk, degree, scale)
        else:  # one chunk: made once per window and grid
            if basis.screening is None or not np.array_equal(basis.screening[0], grid):
                basis.screening = (grid.copy(), design(win, grid, degree, scale))
            new = basis.screening[1]
        new = new.reshape(-1, degree + 1, len(chunk))
        out += [np.linalg.norm(_lstsq(np.concatenate([kept, new[:, :, i]], axis=1), y)[1]) for i in range(len(chunk))]
    return np.array(out)


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
    fits: list[LagFit] = []
    rates = np.zeros(0, dtype=complex)
    for _ in range(max_rates):
        screened = screen(win, rates, grid, degree, scale)
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
    Phi = design(win, rates, degree, scale)
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
    if isinstance(K, LagFit):  # all nodes at once (any other K is called node by node, as a solver does)
        return K.along(G, dt)
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
