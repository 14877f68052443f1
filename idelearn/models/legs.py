"""Structured long memory: the memory integral as a bilinear form of online Legendre projections.

For an IDE whose memory is  I(t) = ∫_0^t φ(G(t-s)) G(s) ds  with φ an analytic matrix function,
φ(G) = Σ_k a_k G^k (both of paper 1's equations: Dyson φ(G) = -i c² G, the matrix IDE
φ(G) = -cos(G²/4)), two fixed-size states give I(t) at O(N) cost per step, whatever t:

* LegS projections (HiPPO-LegS, Gu et al. 2020) of f = φ(G) and of G over the whole history
  [0, t] onto the orthonormal shifted Legendre polynomials p_k(u) = √(2k+1) P_k(2u-1) on [0, 1]:

      m(t) = ∫_0^t f(s) p(s/t) ds        (N coefficients per matrix entry; f ≈ Σ_k m_k p_k(s/t) / t)

* a bilinear readout: p_k(1-u) = (-1)^k p_k(u), so for any two functions on [0, t]

      ∫_0^t f(t-s) g(s) ds = (1/t) Σ_k (-1)^k m^f_k m^g_k          (exact up to truncation at N)

  and for matrices I(t) = (1/t) Σ_k (-1)^k M^φ_k M^G_k. (With the coefficients of the plain P_k,
  f = Σ c_k P_k(2s/t-1), the same identity reads t Σ_k (-1)^k c^f_k c^g_k / (2k+1).)

Time stepping. In τ = ln t the projection obeys dm/dτ = -D m + t f(t) p(1) with D the matrix of
u d/du in the p basis: D_kk = k, D_kj = √(2k+1)√(2j+1) for j < k (lower triangular, semiseparable).
A step t_n -> t_{n+1} (Δ = ln((n+1)/n)) is

    m <- R(-ΔD) m + W_n [f_{n-2}, f_{n-1}, f_n, f_{n+1}]

* R = the (2,2) Padé approximant of exp (A-stable, error ~(kΔ)^5/7200 per mode): with
  r1 = 3 + i√3 it is R(-ΔD) y = y - 4√3 Im[(1 + (Δ/r1) D)^{-1} y] for real y, one complex
  semiseparable solve, i.e. a handful of vector operations and one cumulative sum (O(N));
* W_n = ∫_{t_n}^{t_{n+1}} ℓ_j(s) p(s/t_{n+1}) ds exactly for the cubic ℓ through the last four
  nodes (Gauss quadrature in r with u = 1 - (1-ρ) r², which keeps the endpoint behaviour of p_k
  smooth). The explicit schemes (Euler, RK4) are unstable for N ≳ 200 (D is far from normal); the
  bilinear (trapezoid) scheme is stable but 2e-2 off on Dyson h = 11.5 (scratch measurements).
* Early on (ΔN² > DN2_MAX) a step is split into equal sub-steps in τ, only to keep the unrolled
  recurrence in range. No table depends on anything but the step index n, the grid step and N;
  they are built in vectorised chunks.

The readout needs N ≳ (largest frequency of G) · t / 2: a fixed N covers a fixed horizon.
This module is pure numerics (numpy; the kernel is kernel_operator's series): no config, logging or I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import roots_legendre

from .kernel_operator import matrix_series

R1 = 3.0 + 1j * np.sqrt(3.0)  # a root of 1 - z/2 + z²/12, the (2,2) Padé denominator
C4 = 4.0 * np.sqrt(3.0)
# Largest Δ·N² of one (sub-)step: |1/P_k| <= exp(ΔN²/4) must stay representable (e^150 here). Accuracy
# needs no sub-steps: from a projection at node n >= 3, N = 256, the readout stays within ~1e-6 (tests).
DN2_MAX = 600.0
NODES = np.array([-3.0, -2.0, -1.0, 0.0])  # the forcing cubic's nodes, in steps from node n+1


def lagrange(y: np.ndarray) -> np.ndarray:
    """Cubic Lagrange basis on NODES at offsets y (any shape) -> (..., 4)."""
    y = np.asarray(y, dtype=float)
    out = np.ones(y.shape + (4,))
    for a in range(4):
        for b in range(4):
            if a != b:
                out[..., a] *= (y - NODES[b]) / (NODES[a] - NODES[b])
    return out


def legendre(u: np.ndarray, N: int) -> np.ndarray:
    """Orthonormal shifted Legendre p_k(u), k < N, at points u (any shape) -> (N, *u.shape)."""
    z = 2.0 * np.asarray(u, dtype=float) - 1.0
    out = np.empty((N,) + z.shape)
    out[0] = 1.0
    if N > 1:
        out[1] = z
    for k in range(1, N - 1):  # (k+1) P_{k+1} = (2k+1) z P_k - k P_{k-1}
        np.multiply(z, out[k], out=out[k + 1])
        out[k + 1] *= (2 * k + 1) / (k + 1)
        out[k + 1] -= (k / (k + 1)) * out[k - 1]
    out *= np.sqrt(2.0 * np.arange(N) + 1.0).reshape((N,) + (1,) * z.ndim)
    return out


def pade_coefficients(delta: np.ndarray, N: int):
    """Coefficients of R(-ΔD) for each Δ in delta (M,): a (M, N) real, c1, c3 (M, N) complex, with

        R(-ΔD) y = a ⊙ y + Im(c3 ⊙ S),   S_k = Σ_{j<k} c1_j y_j   (y real, any trailing columns).

    From (1 + αD) x = y, α = Δ/r1: x_k = (y_k - α v_k S'_k)/(1 + αk), S'_{k+1} = β_k S'_k + v_k y_k/(1 + αk)
    with β_k = (1 - α(k+1))/(1 + αk); the recurrence is unrolled with P_k = Π_{i<k} β_i
    (|1/P| ≲ exp(ΔN²/4), bounded because NΔ <= KAPPA).
    """
    k = np.arange(N, dtype=float)
    v = np.sqrt(2 * k + 1)
    al = (np.asarray(delta, dtype=float) / R1)[:, None]
    dd = 1.0 / (1.0 + al * k)
    beta = (1.0 - al * (k + 1)) * dd
    Pn1 = np.cumprod(beta, axis=1)  # P_{k+1}
    P = np.concatenate([np.ones_like(Pn1[:, :1]), Pn1[:, :-1]], axis=1)
    c1 = v * dd / Pn1
    c3 = (C4 * al * v) * dd * P
    a = 1.0 - C4 * dd.imag
    return a, c1, c3


@dataclass
class StepTables:
    """Micro-steps of steps n_lo .. n_hi-1 (step n: node n -> n+1): rows in order.

    last[i]: the row after which step n_lo + i is complete (its readout may be taken).
    """

    n_lo: int
    a: np.ndarray  # (M, N)
    c1: np.ndarray  # (M, N) complex
    c3: np.ndarray  # (M, N) complex
    W: np.ndarray  # (M, N, 4): forcing weights of f_{n-2}, f_{n-1}, f_n, f_{n+1}
    last: np.ndarray  # (n_hi - n_lo,)


class LegS:
    """Online LegS projection with N modes on the grid t_n = n dt (see the module docstring).

    State: m (N, C), real, C columns (any real functions). `start` builds m at node 3 from
    nodes 0..3; `tables(n_lo, n_hi)` the coefficients of steps n_lo..n_hi-1; `advance` one
    micro-step. The readout of two projections is `convolution`.
    """

    def __init__(self, N: int, dt: float):
        if N < 4:
            raise ValueError(f"LegS needs N >= 4 modes, got {N}")
        self.N, self.dt = int(N), float(dt)
        self.sign = (-1.0) ** np.arange(self.N)

    def substeps(self, n: np.ndarray) -> np.ndarray:
        return np.maximum(1, np.ceil(np.log1p(1.0 / n) * self.N**2 / DN2_MAX)).astype(int)

    def start(self, f4: np.ndarray) -> np.ndarray:
        """m at node 3 (t = 3 dt) for the cubic through f_0..f_3 (4, C): only modes < 4 are nonzero."""
        x, w = roots_legendre(4)
        u = (x + 1) / 2
        t3 = 3 * self.dt
        f_at = lagrange(3 * u - 3) @ f4  # (4 points, C); offsets from node 3
        m = np.zeros((self.N,) + f4.shape[1:])
        m[:4] = legendre(u, 4) @ ((w / 2 * t3)[:, None] * f_at)
        return m

    def projection_weights(self, n: int, chunk: int = 256) -> np.ndarray:
        """W (N, n+1): m(t_n) = W @ f_{0..n} exactly for the recursion's interpolant (the cubic through
        nodes j-2..j+1 on [t_j, t_{j+1}], through nodes 0..3 on [0, t_3]). Gauss in θ, u = (1 - cos θ)/2,
        per interval: p_k(u) = √(2k+1) P_k(-cos θ) varies on the same scale 1/k everywhere in θ, while in
        u it varies on a scale ~1/k² near both ends."""
        if n < 3:
            raise ValueError("the LegS projection needs at least 4 nodes")
        th = np.arccos(1 - 2 * np.arange(n + 1) / n)  # θ of the nodes (u = j/n)
        W = np.zeros((self.N, n + 1))
        for lo in range(0, n, chunk):
            j = np.arange(lo, min(lo + chunk, n))
            th0, th1 = th[j, None], th[j + 1, None]
            q = int(np.ceil(0.75 * self.N * float((th1 - th0).max()))) + 10
            x, w = roots_legendre(q)
            theta = th0 + (th1 - th0) * (x + 1) / 2  # (intervals, q)
            u = (1 - np.cos(theta)) / 2
            jac = (th1 - th0) / 2 * w * (n * self.dt) * np.sin(theta) / 2  # ds = (t/2) sin θ dθ
            base = np.maximum(j - 2, 0)
            L = lagrange(n * u - base[:, None] - 3) * jac[..., None]  # offsets from node base+3
            T = np.matmul(legendre(u, self.N).transpose(1, 0, 2), L)  # (intervals, N, 4)
            for a in range(4):
                np.add.at(W.T, base + a, T[:, :, a])
        return W

    def project(self, f: np.ndarray) -> np.ndarray:
        """m at the last node of f (n_t, C), exactly for the interpolant (see projection_weights)."""
        return self.projection_weights(len(f) - 1) @ f

    def span(self, n_lo: int, rows: int) -> int:
        """n_hi such that steps n_lo..n_hi-1 have about `rows` micro-steps in all (at least one step)."""
        n = np.arange(n_lo, n_lo + rows)
        return n_lo + max(1, int(np.searchsorted(np.cumsum(self.substeps(n)), rows, side="right")))

    def tables(self, n_lo: int, n_hi: int) -> StepTables:
        if n_lo < 3:
            raise ValueError("LegS steps start at node 3 (the forcing cubic needs nodes n-2..n+1)")
        n = np.arange(n_lo, n_hi)
        s = self.substeps(n)
        step = np.repeat(n, s)  # the step each micro-step belongs to
        i = np.arange(len(step)) - np.repeat(np.cumsum(s) - s, s)  # sub-step index within its step
        S = np.repeat(s, s)
        dlt = np.log1p(1.0 / step) / S  # Δ of each micro-step
        # micro-step i of step n ends at t_b = t_{n+1} e^{-rem}, rem = (S - 1 - i) Δ
        rem = (S - 1 - i) * dlt
        a, c1, c3 = pade_coefficients(dlt, self.N)
        one_m_rho = -np.expm1(-dlt)  # 1 - t_a/t_b
        # Gauss points in r: p_k(1 - (1-ρ) r²) ~ J_0(2k √(1-ρ) r); x + 6 points reach ~1e-12 (x + 4: ~1e-9)
        q = int(min(96, np.ceil(1.4 * self.N * np.sqrt(one_m_rho.max())) + 6))
        r, wr = roots_legendre(q)
        r, wr = (r + 1) / 2, wr / 2
        tb = (step + 1) * np.exp(-rem)  # t_b / dt
        # offset of s(r) = t_b (1 - (1-ρ) r²) from node n+1, in steps (expm1: no cancellation)
        y = ((step + 1) * np.expm1(-rem))[:, None] - (tb * one_m_rho)[:, None] * r**2
        L = lagrange(y) * (2 * self.dt * (tb * one_m_rho)[:, None] * r * wr)[..., None]  # (M, q, 4)
        P = legendre(1.0 - one_m_rho[:, None] * r**2, self.N)  # (N, M, q)
        W = np.matmul(P.transpose(1, 0, 2), L)  # (M, N, 4)
        return StepTables(n_lo, a, c1, c3, W, np.cumsum(s) - 1)

    @staticmethod
    def advance(m: np.ndarray, tab: StepTables, row: int, f4: np.ndarray) -> np.ndarray:
        """One micro-step: a new (N, C) array from m (N, C) and f4 (4, C) = f_{n-2..n+1}."""
        q = tab.c1[row][:, None] * m
        S = np.cumsum(q, axis=0)
        S -= q
        out = tab.a[row][:, None] * m
        out += (tab.c3[row][:, None] * S).imag
        out += tab.W[row] @ f4
        return out

    def run(self, f: np.ndarray, m: np.ndarray | None = None, n_from: int = 3, chunk: int = 512,
            each=None) -> np.ndarray:
        """Advance over all nodes of f (n_t, C) from node n_from (m there; None: start at node 3).

        each(n, m): called at every node n >= n_from (m after node n is included). Returns m at the last node.
        """
        n_t = len(f)
        if m is None:
            m, n_from = self.start(f[:4]), 3
        if each is not None:
            each(n_from, m)
        lo = n_from
        while lo < n_t - 1:
            hi = min(self.span(lo, chunk), n_t - 1)
            tab = self.tables(lo, hi)
            row = 0
            for j, n in enumerate(range(lo, hi)):
                f4 = f[n - 2: n + 2]
                while row <= tab.last[j]:
                    m = self.advance(m, tab, row, f4)
                    row += 1
                if each is not None:
                    each(n + 1, m)
            lo = hi
        return m

    def convolution(self, mf: np.ndarray, mg: np.ndarray, t: float) -> np.ndarray:
        """∫_0^t f(t-s) g(s) ds for scalar columns: (N, C), (N, C) -> (C,)."""
        return self.sign @ (mf * mg) / t


# -- the memory operator --------------------------------------------------------------


def state_columns(phi: np.ndarray, G: np.ndarray) -> np.ndarray:
    """φ(G), G (..., B, d, d) -> real columns (..., 4 B d²): the complex array (B, 2, d, d) viewed as floats."""
    both = np.stack([phi, G], axis=-3)  # (..., B, 2, d, d)
    return np.ascontiguousarray(both).view(float).reshape(*both.shape[:-4], -1)


def readout(m: np.ndarray, B: int, d: int, t: float, sign: np.ndarray) -> np.ndarray:
    """I (B, d, d) = (1/t) Σ_k (-1)^k M^φ_k M^G_k from the state m (N, 4 B d²)."""
    mc = m.view(complex).reshape(len(m), B, 2, d, d)
    A = mc[:, :, 0] * (sign / t)[:, None, None, None]  # (N, B, d, d)
    Bm = mc[:, :, 1]
    return np.matmul(A.transpose(1, 2, 0, 3).reshape(B, d, -1), Bm.transpose(1, 0, 2, 3).reshape(B, -1, d))


@dataclass
class LegSState:
    n: int  # index of the last node included in m
    m: np.ndarray  # (N, C)
    f: np.ndarray  # (3, C): columns of nodes n-2, n-1, n


class LegSMemory:
    """`MemoryOperator` (solvers.memory): I = ∫ φ(G(t-s)) G(s) ds from LegS states, O(N) per step.

    φ(G) = Σ_k coef_k G^k (e.g. kernel_operator.power_coefficients of a fitted series). `init` runs
    the projection over the known window (the same recursion as the steps, so the two agree); the
    known I is not needed. `step` never modifies its input
    state (a predictor-corrector may call it twice from one state).
    """

    def __init__(self, coef: np.ndarray, N: int, dt: float, chunk: int = 512):
        self.coef = np.asarray(coef, dtype=complex)
        self.legs = LegS(N, dt)
        self.chunk = chunk
        self._tab: StepTables | None = None

    def _columns(self, G: np.ndarray, nodes) -> np.ndarray:
        """Columns of φ(G) and G at grid nodes `nodes` (an int, or (n,) for G (n, B, d, d)); φ ignores them."""
        return state_columns(matrix_series(self.coef, G), G)

    def init(self, G_known: np.ndarray, I_known: np.ndarray | None = None):
        B, n0, d, m_ = G_known.shape
        if d != m_:
            raise ValueError(f"the structured memory needs square G (an analytic matrix function of G); got {d}x{m_}")
        if n0 < 4:
            raise ValueError(f"the LegS memory needs >= 4 known nodes, got {n0}")
        f = self._columns(G_known.transpose(1, 0, 2, 3), np.arange(n0))  # (n0, C)
        m = self.legs.project(f)
        return LegSState(n0 - 1, m, f[-3:].copy()), (B, d)

    def _table(self, n: int) -> tuple[StepTables, int]:
        tab = self._tab
        if tab is None or not (tab.n_lo <= n < tab.n_lo + len(tab.last)):
            tab = self._tab = self.legs.tables(n, self.legs.span(n, self.chunk))
        return tab, n - tab.n_lo

    def step(self, state, G_new: np.ndarray):
        st, (B, d) = state
        n = st.n  # step n -> n+1
        f_new = self._columns(G_new, n + 1)
        f4 = np.concatenate([st.f, f_new[None]], 0)
        tab, j = self._table(n)
        first = 0 if j == 0 else tab.last[j - 1] + 1
        m = st.m
        for row in range(first, tab.last[j] + 1):
            m = self.legs.advance(m, tab, row, f4)
        I = readout(m, B, d, (n + 1) * self.legs.dt, self.legs.sign)
        return I, (LegSState(n + 1, m, f4[1:]), (B, d))


class LagLegSMemory(LegSMemory):
    """`LegSMemory` for a lag kernel K(G, τ) = Σ_k (G/s)^k a_k(τ) (lag_kernels.LagFit): the memory is
    I(t) = ∫_0^t f(t−s) G(s) ds with f(τ) = K(G(τ), τ), so the projected function at node n is
    K(G_n, n·dt), the kernel along the trajectory at the node's own lag; the readout is unchanged."""

    def __init__(self, fit, N: int, dt: float, chunk: int = 512):
        super().__init__(np.zeros(1), N, dt, chunk)
        self.fit = fit

    def _columns(self, G: np.ndarray, nodes) -> np.ndarray:
        tau = np.asarray(nodes, dtype=float) * self.legs.dt
        a = self.fit.a(tau.ravel())  # (P+1, len(τ))
        lead = tau.shape + (1,) * (G.ndim - tau.ndim)  # a_k(τ_n) broadcast over node n's (B, d, d)
        d = G.shape[-1]
        K = a[0].reshape(lead) * np.eye(d, dtype=complex)
        X, Pk = G / self.fit.scale, None
        for k in range(1, self.fit.degree + 1):
            Pk = X if Pk is None else Pk @ X
            K = K + a[k].reshape(lead) * Pk
        return state_columns(np.broadcast_to(K, G.shape), G)
