"""Public API for the general IDE (idesolver's form, same parameter names):

    y'(x) = c(x, y) + d(x) ∫_{lower_bound(x)}^{upper_bound(x)} k(x, s) f(y(s)) ds,    y(x[0]) = y_0

    from idelearn.solvers import solve_general_ide
    sol = solve_general_ide(x, y_0, c, d, k, f, lower_bound, upper_bound)
    sol.x, sol.y        # y: (len(x),) for a scalar y_0, (dim, len(x)) for a vector one

One discretisation serves every case. On a uniform fine grid x_0..x_N (the output spacing divided by
`refine`) the IDE is written as the integral equation

    y_n = y_0 + Σ_j C_nj g_j,    g_j = c(x_j, y_j) + d(x_j) Σ_i W_ji k(x_j, x_i) f(y_i),

where both weight matrices come from one rule, `integration_rows`: ∫_{x_0}^{t} q for any t in the grid
is the Gregory end-corrected trapezoid on p = order - 1 end nodes up to the last node below t, plus the
integral of the interpolant through the p nodes around the partial cell (through nodes 0..p-1 inside
the first p-1 cells). C_n integrates up to x_n; W_n = Q(upper(x_n)) - Q(lower(x_n)) integrates the
integrand k(x_n, s) f(y(s)) over the moving interval by interpolating it between the nodes, so fixed
limits, Volterra limits and limits like [x, sqrt(x)] all cost the same and keep the order. Every
piece is exact for polynomials of degree < p and its error is one order higher, O(h^(p+1)) = O(h^order)
(tests/solvers/test_general_ide.py measures it for each kind). The matrices are dense: O(N^2) memory and
kernel evaluations (k is needed at every pair of nodes the rules touch), O(N^2) work when stepping
and O(N^3) for a global system; N is hundreds here.

- Causal problems (each row needs only nodes up to its own, as for [x_0, x] or [x/2, x]) are stepped:
  the first p nodes as one small system, then node by node, an Adams–Bashforth(p) predictor and the
  implicit row iterated to convergence (a contraction for h·|∂g/∂y| small; when it is not, a
  fixed `refine` stops with an error and the automatic one refines).
- Everything else (Fredholm limits, upper(x) > x) is one global nonlinear system, solved by Newton's
  method with a finite-difference Jacobian (chord steps while they converge fast). No convergence, or a
  singular system, stops with a ValueError saying so.
- With `refine=None` the solution on N steps is compared with the one on N/2 (N = len(x) - 1 first,
  then doubled) until they differ by at most `tol` (times max(1, |y|)) at the output points; the
  finer one is returned, so its error is about 2^-order of that estimate. The coarse solution is the
  initial guess of the fine global Newton solve.

The user's callables are evaluated at many points at once where they allow it (arrays in, arrays out;
vector values component-first, as in `c = lambda x, y: [y[1], -y[0]]`), else one point at a time;
the first batched call is checked against single-point calls. c and f of complex problems are taken
to be holomorphic in y (Newton uses the complex derivative).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import scipy.linalg
from threadpoolctl import ThreadpoolController

from .quadrature import adams_bashforth, gregory_end_correction

ORDERS = range(4, 10)
METHODS = ("auto", "newton")
SNAP = 1e-10  # a limit closer than this (in steps) to a node is that node: round-off in x_n must not move rows
STEP_TOL = 1e-14  # relative change at which the implicit row of one step counts as solved


@dataclass
class GeneralIDESolution:
    x: np.ndarray  # the output grid, as given
    y: np.ndarray  # (len(x),) for a scalar y_0; (dim, len(x)) for a vector y_0 (idesolver's layout)
    order: int
    refine: int  # fine steps per output step used for the returned solution
    error_estimate: float  # max |y - y_coarser| at the output points (nan with a fixed refine)
    method: str  # "stepping" (causal limits) or "newton" (a global system)
    newton_iterations: int  # of the global system, or of the start-up block when stepping
    integral: np.ndarray | None = None  # d(x) ∫ k f(y) ds at x, laid out as y


# ----------------------------------------------------------------------------- quadrature rows

def lagrange_basis(p: int, s: np.ndarray) -> np.ndarray:
    """L_j(s) for the Lagrange basis on nodes 0..p-1 (in steps): shape (len(s), p)."""
    nodes = np.arange(p, dtype=float)
    factors = (s[:, None, None] - nodes[None, None, :]) / _node_gaps(p)  # (s - i) / (j - i) at [., j, i]
    factors[:, np.arange(p), np.arange(p)] = 1.0
    return factors.prod(axis=2)


@cache
def _node_gaps(p: int) -> np.ndarray:
    gaps = np.arange(p)[:, None] - np.arange(p)[None, :]
    return np.where(gaps == 0, 1, gaps).astype(float)


def _basis_integrals(alpha: np.ndarray, beta: np.ndarray, p: int) -> np.ndarray:
    """∫_alpha^beta L_j(s) ds for the Lagrange basis on nodes 0..p-1 (in steps): shape (len(alpha), p).
    Gauss–Legendre with p//2 + 1 points is exact for these degree-(p-1) polynomials."""
    gx, gw = _gauss(p // 2 + 1)
    half = (beta - alpha) / 2
    s = ((alpha + beta) / 2)[:, None] + half[:, None] * gx[None, :]
    basis = lagrange_basis(p, s.ravel()).reshape(len(alpha), len(gx), p)
    return half[:, None] * np.einsum("g,rgj->rj", gw, basis)


@cache
def _gauss(n: int):
    return np.polynomial.legendre.leggauss(n)


@cache
def _blas():
    """Found once: scanning the loaded libraries costs milliseconds, more than a small solve."""
    return ThreadpoolController()


def _snap(u: np.ndarray) -> np.ndarray:
    nearest = np.rint(u)
    return np.where(np.abs(u - nearest) <= SNAP, nearest, u)


def integration_rows(u, n_steps: int, order: int) -> np.ndarray:
    """As `_integration_rows`, computed once per distinct position (fixed limits repeat one row)."""
    u = _snap(np.asarray(u, dtype=float))
    distinct, inverse = np.unique(u, return_inverse=True)
    if len(distinct) == len(u) and np.array_equal(u, np.arange(n_steps + 1)):
        return _node_rows(n_steps, order)
    return _integration_rows(distinct, n_steps, order)[inverse]


@cache
def _node_rows(n_steps: int, order: int) -> np.ndarray:
    rows = _integration_rows(np.arange(n_steps + 1, dtype=float), n_steps, order)
    rows.flags.writeable = False
    return rows


def _integration_rows(u, n_steps: int, order: int) -> np.ndarray:
    """Weights (in units of the step) over nodes 0..n_steps with ∫_0^{u_i} q ≈ Σ_j w_ij q(j), for
    positions u_i in [0, n_steps] (in steps): exact for polynomials of degree < order on every row.

    Up to the last node m below u: the order-p Gregory rule (from m = p-1 on); the partial cell [m, u]:
    the interpolant through the p nodes around it; inside the first p-1 cells: the interpolant through
    nodes 0..p-1 from 0 (the start-up block). A row whose u is a node uses no node beyond it, except in
    that start-up block.
    """
    p, N = order, n_steps
    u = _snap(np.asarray(u, dtype=float))
    rows = np.zeros((len(u), N + 1))
    m = np.minimum(np.floor(u).astype(int), N)
    gregory = np.flatnonzero(m >= p - 1)
    if gregory.size:
        delta = gregory_end_correction(p)
        rows[gregory] = np.arange(N + 1)[None, :] <= m[gregory, None]
        rows[gregory, :p] += delta
        rows[gregory[:, None], m[gregory, None] - np.arange(p)] += delta  # node m-j gets δ_j
        part = gregory[u[gregory] > m[gregory]]
        if part.size:
            j0 = np.clip(m[part] - p // 2 + 1, 0, N - p + 1)
            rows[part[:, None], j0[:, None] + np.arange(p)] += _basis_integrals(m[part] - j0, u[part] - j0, p)
    start = np.flatnonzero(m < p - 1)
    if start.size:
        rows[start, :p] = _basis_integrals(np.zeros(start.size), u[start], p)
    return rows


def interpolation_rows(u, n_steps: int, order: int) -> np.ndarray:
    """Weights over nodes 0..n_steps of the degree-(order-1) interpolant around each position u_i (in steps)."""
    p, N = order, n_steps
    u = _snap(np.asarray(u, dtype=float))
    j0 = np.clip(np.floor(u).astype(int) - p // 2 + 1, 0, N - p + 1)
    rows = np.zeros((len(u), N + 1))
    rows[np.arange(len(u))[:, None], j0[:, None] + np.arange(p)] = lagrange_basis(p, u - j0)
    return rows


# ----------------------------------------------------------------------------- the user's callables

class _StepFailure(Exception):
    """The implicit row of one step did not converge (the step is too large for the contraction)."""


class UserFunction:
    """One of the user's callables: named in every error, evaluated on many points at once when it allows."""

    def __init__(self, name: str, fn, complex_ok: bool = True):
        if not callable(fn):
            raise ValueError(f"{name} must be callable, got {type(fn).__name__}")
        self.name, self.fn, self.complex_ok = name, fn, complex_ok
        self.shape: tuple | None = None  # the value shape at one point, fixed by the first call
        self.batched: bool | None = None  # decided at the first call on many points

    def _array(self, out, where: str) -> np.ndarray:
        try:
            arr = np.asarray(out)
        except ValueError as exc:  # ragged lists
            raise ValueError(f"{self.name} returned {out!r} at {where}, not an array of numbers ({exc})") from None
        kind = arr.dtype.kind  # checked by kind: this runs several times per step
        if kind not in "iufc":
            raise ValueError(f"{self.name} returned {out!r} at {where}, not numbers")
        if kind == "c" and not self.complex_ok:
            raise ValueError(f"{self.name} returned a complex value at {where} in a real problem: "
                             "pass y_0 as a complex number (e.g. y_0=1+0j)")
        return arr

    def one(self, *args, where: str) -> np.ndarray:
        try:
            out = self.fn(*args)
        except Exception as exc:
            raise ValueError(f"{self.name} raised {type(exc).__name__}: {exc} (at {where})") from None
        arr = self._array(out, where)
        if self.shape is None:
            self.shape = arr.shape
        elif arr.shape != self.shape:
            raise ValueError(f"{self.name} returned shape {arr.shape} at {where} but {self.shape} elsewhere")
        return arr

    def many(self, args: tuple, n: int, point, where) -> np.ndarray:
        """Values at n points, shape (n,) + self.shape: one call on arrays (component axis first, the
        point axis last, or a constant), else n calls; point(i) gives the arguments of point i,
        where(i) names it."""
        if self.shape is None:
            self.one(*point(0), where=where(0))
        if self.batched is not False:
            out = self._batched(args, n)
            if self.batched is None and out is not None:
                sample = sorted({0, n // 2, n - 1})
                scale = 1.0 + float(np.max(np.abs(out), initial=0.0)) if np.isfinite(out).all() else 1.0
                self.batched = all(_close(out[i], self.one(*point(i), where=where(i)), 1e-12 * scale)
                                   for i in sample)
            if self.batched and out is not None:
                return out
        self.batched = False
        return np.stack([self.one(*point(i), where=where(i)) for i in range(n)]) if n else \
            np.zeros((0,) + self.shape)

    def _batched(self, args, n):
        try:
            with np.errstate(all="ignore"):
                out = np.asarray(self.fn(*args))
        except Exception:
            return None
        if out.dtype.kind not in "iufc" or (out.dtype.kind == "c" and not self.complex_ok):
            return None  # the point-by-point calls name the point
        if out.shape == self.shape + (n,):
            return np.moveaxis(out, -1, 0)
        if out.shape == self.shape:
            return np.broadcast_to(out, (n,) + self.shape)
        return None


def _close(a, b, atol) -> bool:
    """Equal to rounding (vectorised and scalar maths may differ in the last bits), NaN equal to NaN."""
    with np.errstate(invalid="ignore"):
        return bool(np.all((np.abs(a - b) <= atol + 1e-10 * np.abs(b)) | (np.isnan(a) & np.isnan(b))))


def _as_matrices(values: np.ndarray, shape: tuple, cols: int, name: str, what: str):
    """Values (n,) + shape of k (acting on f's `cols` components) or d (on the integral's) as matrices
    (n, rows, cols), with idesolver's rules: a scalar or vector multiplies elementwise, a matrix multiplies."""
    n = len(values)
    if len(shape) == 2:
        if shape[1] != cols:
            raise ValueError(f"{name} returned a {shape[0]}x{shape[1]} matrix, but {what} has {cols} components")
        return values
    if len(shape) > 2:
        raise ValueError(f"{name} must return a scalar, a vector or a matrix, got shape {shape}")
    a = 1 if shape == () else shape[0]
    v = values.reshape(n, a)
    if cols == 1:
        return v[:, :, None]
    if a == 1:
        return v[:, :, None] * np.eye(cols)
    if a == cols:
        return v[:, :, None] * np.eye(cols)[None]
    raise ValueError(f"{name} returned shape {shape}, which does not combine with {what} ({cols} components)")


# ----------------------------------------------------------------------------- the problem on one grid

@dataclass
class _Grid:
    X: np.ndarray  # (N+1,) nodes
    C: np.ndarray  # (N+1, N+1) cumulative integration weights
    M: np.ndarray  # (N+1, N+1, r, q) integral weights times kernel matrices
    D: np.ndarray  # (N+1, m, r)
    causal: bool


class _Problem:
    def __init__(self, x0, x1, y_0, c, d, k, f, lower_bound, upper_bound, order):
        self.x0, self.x1, self.p = x0, x1, order - 1  # rules exact for degree < p: error O(h^(p+1))
        y0 = np.asarray(y_0)
        self.scalar = y0.ndim == 0
        self.m = 1 if self.scalar else y0.shape[0]
        where0 = f"x = {x0:g}"
        self.c, self.d, self.k, self.f = c, d, k, f
        self.lower, self.upper = lower_bound, upper_bound
        # one call each at the start fixes the value shapes (and whether the problem is complex)
        cv = c.one(x0, self.user(y0.reshape(self.m)), where=f"{where0}, y = y_0")
        fv = f.one(self.user(y0.reshape(self.m)), where="y = y_0")
        dv = d.one(x0, where=where0)
        kv = k.one(x0, x0, where=f"x = s = {x0:g}")
        if cv.shape != y0.shape and not (self.scalar and cv.shape == (1,)):
            raise ValueError(f"c(x, y) returned shape {cv.shape}, but y_0 has shape {y0.shape}")
        if fv.ndim > 1:
            raise ValueError(f"f(y) must return a scalar or a vector, got shape {fv.shape}")
        self.q = fv.size
        self.r = _as_matrices(kv[None], kv.shape, self.q, "k(x, s)", "f(y)").shape[1]
        m_out = _as_matrices(dv[None], dv.shape, self.r, "d(x)", "the integral of k f").shape[1]
        if m_out != self.m:
            raise ValueError(f"d(x) ∫ k(x, s) f(y) ds has {m_out} components (d: {dv.shape}, k: {kv.shape}, "
                             f"f: {fv.shape}), but y_0 has shape {y0.shape}")
        self.complex = any(np.iscomplexobj(v) for v in (y0, cv, fv, dv, kv))
        self.dtype = complex if self.complex else float
        for fn in (c, d, k, f, lower_bound, upper_bound):
            fn.complex_ok = self.complex
        lower_bound.complex_ok = upper_bound.complex_ok = False
        self.y0 = y0.reshape(self.m).astype(self.dtype)

    def user(self, y):
        """One node's (m,) values as the user's callables see them: a scalar for a scalar problem."""
        return y[0] if self.scalar else y

    def users(self, Y):
        """Many nodes' values (n, m) as the user's callables see them: (n,) or component-first (m, n)."""
        return Y[:, 0] if self.scalar else Y.T

    def c_many(self, X, Y):
        return self.c.many((X, self.users(Y)), len(X), lambda i: (X[i], self.user(Y[i])),
                           lambda i: f"x = {X[i]:.6g}").reshape(len(X), self.m)

    def f_many(self, X, Y):
        return self.f.many((self.users(Y),), len(X), lambda i: (self.user(Y[i]),),
                           lambda i: f"x = {X[i]:.6g}").reshape(len(X), self.q)

    def grid(self, n_steps: int) -> _Grid:
        N, p = n_steps, self.p
        X = np.linspace(self.x0, self.x1, N + 1)
        h = (self.x1 - self.x0) / N
        limits = []
        for fn in (self.lower, self.upper):
            v = fn.many((X,), N + 1, lambda i: (X[i],), lambda i: f"x = {X[i]:.6g}").astype(float)
            if v.ndim != 1:
                raise ValueError(f"{fn.name} must return one number per x, got shape {v.shape[1:]}")
            bad = ~np.isfinite(v) | (v < self.x0 - SNAP * h) | (v > self.x1 + SNAP * h)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(f"{fn.name} = {v[i]:.6g} at x = {X[i]:.6g} lies outside the grid "
                                 f"[{self.x0:g}, {self.x1:g}]: the integral needs y there")
            limits.append(np.clip((v - self.x0) / h, 0, N))
        C = h * integration_rows(np.arange(N + 1), N, p)
        W = h * (integration_rows(limits[1], N, p) - integration_rows(limits[0], N, p))
        used = np.nonzero(W)
        kv = self.k.many((X[used[0]], X[used[1]]), len(used[0]), lambda i: (X[used[0][i]], X[used[1][i]]),
                         lambda i: f"x = {X[used[0][i]]:.6g}, s = {X[used[1][i]]:.6g}")
        self._finite(kv, "k(x, s)", lambda i: f"x = {X[used[0][i]]:.6g}, s = {X[used[1][i]]:.6g}")
        M = np.zeros((N + 1, N + 1, self.r, self.q), dtype=self.dtype)
        M[used] = W[used][:, None, None] * _as_matrices(kv, self.k.shape, self.q, "k(x, s)", "f(y)")
        dv = self.d.many((X,), N + 1, lambda i: (X[i],), lambda i: f"x = {X[i]:.6g}")
        self._finite(dv, "d(x)", lambda i: f"x = {X[i]:.6g}")
        D = _as_matrices(dv, self.d.shape, self.r, "d(x)", "the integral of k f").astype(self.dtype)
        # causal: no row reaches beyond its own node (the first p nodes are one block)
        used_cols = (C != 0) | (W != 0)
        reach = np.where(used_cols.any(axis=1), N - np.argmax(used_cols[:, ::-1], axis=1), 0)
        causal = bool(np.all(reach <= np.maximum(np.arange(N + 1), p - 1)))
        return _Grid(X, C, M, D, causal)

    @staticmethod
    def _finite(values, name, where):
        bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
        if bad.any():
            raise ValueError(f"{name} returned a non-finite value at {where(int(np.argmax(bad)))}")

    # ------------------------------------------------------------------------- solvers

    def newton(self, g: _Grid, n: int, tol: float, max_iter: int, guess=None):
        """Solve rows 0..n-1 (which use nodes 0..n-1 only) as one system, from `guess` (n, m) or y_0.
        Returns Y (n, m) and the number of iterations."""
        X, C, M, D = g.X[:n], g.C[:n, :n], g.M[:n, :n], g.D[:n]
        m = self.m
        DM = np.einsum("nar,njrq->najq", D, M)
        Y = np.tile(self.y0, (n, 1)) if guess is None else guess.astype(self.dtype)
        lu, last = None, np.inf
        for it in range(1, max_iter + 1):
            cv, fv = self.c_many(X, Y), self.f_many(X, Y)
            self._check_cf(X, cv, fv)
            R = Y - self.y0 - C @ (cv + np.einsum("najq,jq->na", DM, fv))
            if lu is None:
                lu = self._jacobian(X, Y, cv, fv, C, DM)
            delta = -scipy.linalg.lu_solve(lu, R.reshape(-1)).reshape(n, m)
            Y = Y + delta
            size = float(np.max(np.abs(delta))) / (1.0 + float(np.max(np.abs(Y))))
            if not np.isfinite(size):
                break
            if size <= tol:
                return Y, it
            if size > 0.1 * last:  # chord steps converging slowly: a fresh Jacobian
                lu = None
            last = size
        raise ValueError(
            "the global system (the integral over [lower_bound(x), upper_bound(x)] reaches beyond x, e.g. a "
            f"Fredholm term) did not converge: Newton's relative update was {size:.3g} after {it} iterations "
            f"(tolerance {tol:g}). The problem may have no solution, or several, near the initial guess")

    def _jacobian(self, X, Y, cv, fv, C, DM):
        n, m = Y.shape
        dc = np.empty((n, m, m), dtype=self.dtype)
        fp = np.empty((n, self.q, m), dtype=self.dtype)
        for b in range(m):
            eps = 1e-7 * (1.0 + np.abs(Y[:, b]))
            Yb = Y.copy()
            Yb[:, b] += eps
            dc[:, :, b] = (self.c_many(X, Yb) - cv) / eps[:, None]
            fp[:, :, b] = (self.f_many(X, Yb) - fv) / eps[:, None]
        dG = np.einsum("najq,jqb->najb", DM, fp)
        dG[np.arange(n), :, np.arange(n), :] += dc
        J = np.eye(n * m) - (C @ dG.reshape(n, -1)).reshape(n * m, n * m)
        if not np.isfinite(J).all():
            raise ValueError("the Jacobian of the global system is not finite at the current iterate")
        lu = scipy.linalg.lu_factor(J, check_finite=False)
        gecon = scipy.linalg.get_lapack_funcs("gecon", (lu[0],))
        rcond, _ = gecon(lu[0], np.linalg.norm(J, 1))
        if rcond < 1e-11:  # an exactly singular system shows ~1e-14 after rounding
            raise ValueError(f"the global system is singular (reciprocal condition number {rcond:.1e}): "
                             "this problem has no unique solution (e.g. d·k resonant with the ODE part)")
        return lu

    def _check_cf(self, X, cv, fv):
        for name, v in (("c(x, y)", cv), ("f(y)", fv)):
            self._finite(v, name, lambda i: f"x = {X[i]:.6g}")

    def step(self, g: _Grid, tol: float, max_iter: int):
        """Causal limits: the first p nodes as one block, then node by node."""
        X, C, M, D = g.X, g.C, g.M, g.D
        N1, p = len(X), self.p
        n0 = min(p, N1)
        Y = np.empty((N1, self.m), dtype=self.dtype)
        G = np.empty_like(Y)
        Fv = np.empty((N1, self.q), dtype=self.dtype)
        Y[:n0], iterations = self.newton(g, n0, tol, max_iter)
        Fv[:n0] = self.f_many(X[:n0], Y[:n0])
        G[:n0] = self.c_many(X[:n0], Y[:n0]) + np.einsum("nar,njrq,jq->na", D[:n0], M[:n0, :n0], Fv[:n0])
        h = X[1] - X[0]
        ab = h * adams_bashforth(p)
        scalar_kernel = self.r == self.q == 1
        for n in range(n0, N1):
            x, where = X[n], f"x = {X[n]:.6g}"
            known = self.y0 + C[n, :n] @ G[:n]
            if scalar_kernel:
                hist = M[n, :n, :, 0].T @ Fv[:n, 0]
            else:
                hist = np.einsum("jrq,jq->r", M[n, :n], Fv[:n])
            Dn, Mnn, cnn = D[n], M[n, n], C[n, n]
            y = Y[n - 1] + ab @ G[n - 1 : n - 1 - p : -1] if n > p else Y[n - 1] + ab @ G[n - 1 :: -1]
            last = np.inf
            for _ in range(max_iter):
                fy = self.f.one(self.user(y), where=where).reshape(self.q)
                cy = self.c.one(x, self.user(y), where=where).reshape(self.m)
                gy = cy + Dn @ (hist + Mnn @ fy)
                y_new = known + cnn * gy
                change = abs(y_new - y).max() / (1.0 + abs(y_new).max())
                if not np.isfinite(change):
                    self._check_cf([x], cy[None], fy[None])
                    raise ValueError(f"the solution is not finite at x = {x:.6g} (it blew up)")
                y = y_new
                if change <= STEP_TOL:
                    break
                if change >= last:  # not a contraction, unless this is rounding noise near the tolerance
                    if change <= 1e3 * STEP_TOL:
                        break
                    raise _StepFailure(f"x = {x:.6g}")
                # what is left after a contraction by `ratio` per iteration: change·ratio/(1 - ratio)
                ratio = change / last if last < np.inf else 1.0  # no estimate after the first iteration
                if change * ratio <= STEP_TOL * (1 - ratio):
                    break
                last = change
            else:
                raise _StepFailure(f"x = {x:.6g}")
            Y[n], G[n], Fv[n] = y, gy, fy
        return Y, iterations

    def solve(self, n_steps: int, tol: float, max_iter: int, coarse=None, method: str = "auto"):
        """Y (n_steps+1, m) on the uniform grid, the method, its iterations; `coarse`, a solution on a
        coarser grid, interpolated, is the initial guess of a global Newton solve."""
        g = self.grid(n_steps)
        if g.causal and method == "auto":
            Y, it = self.step(g, tol, max_iter)
            used = "stepping"
        else:
            guess = None
            if coarse is not None:
                guess = interpolation_rows(np.arange(n_steps + 1) * (len(coarse) - 1) / n_steps, len(coarse) - 1,
                                           self.p + 1) @ coarse
            Y, it = self.newton(g, len(g.X), tol, max_iter, guess)
            used = "newton"
        integral = np.einsum("nar,njrq,jq->na", g.D, g.M, self.f_many(g.X, Y))
        return Y, used, it, integral


# ----------------------------------------------------------------------------- public entry

def _zeros_like(y_0):
    zero = np.zeros_like(np.asarray(y_0))
    return lambda *args: zero


def solve_general_ide(x, y_0, c=None, d=None, k=None, f=None, lower_bound=None, upper_bound=None, *,
                      order: int = 9, refine: int | None = None, tol: float = 1e-9,
                      max_nodes: int = 2049, newton_tol: float = 1e-12, max_iter: int = 50,
                      method: str = "auto") -> GeneralIDESolution:
    """Solve y'(x) = c(x, y) + d(x) ∫_{lower_bound(x)}^{upper_bound(x)} k(x, s) f(y(s)) ds, y(x[0]) = y_0.

    Arguments as idesolver's IDESolver: x the output grid (increasing; on [x[0], x[-1]]), y_0 a
    scalar or a vector (real or complex), c(x, y), d(x), k(x, s), f(y), lower_bound(x), upper_bound(x)
    callables; the defaults are idesolver's (c = 0, d = 1, k = 1, f = 0, limits x[0] and x[-1]).
    k and d may return a scalar, a vector (multiplies elementwise) or a matrix (multiplies f(y), or
    the integral). Plain numbers or lists are fine where arrays are expected.

    Options: `order` in 4..9, the convergence order (error O(h^order), h the internal step);
    `refine` fine steps per output step (None: automatic, doubled until the solutions on N/2 and N
    steps agree to `tol`, relative to max(1, |y|), at the output points); `max_nodes` caps the fine
    grid (dense O(N^2) matrices); `newton_tol`, `max_iter` control the nonlinear iterations (the
    global Newton solve and the implicit row of each step); `method="newton"` solves causal problems
    as one global system too (the same discrete equations, so the same answer to rounding).
    A non-uniform x is served by a uniform internal grid and interpolation of the same order.

    Returns a GeneralIDESolution: `.x` (the given grid) and `.y`, shaped (len(x),) for a scalar y_0
    and (dim, len(x)) for a vector y_0 (idesolver's layout: y[i] is component i); real unless the
    problem is complex. Raises ValueError, naming the argument, for bad input, a limit outside the
    grid, a callable that raises or returns the wrong shape or a non-finite value, and a global
    system that does not converge.
    """
    # BLAS on one thread: the systems are small (hundreds of unknowns), and on a busy machine a threaded
    # LU of a 14x14 start-up block was measured at 160 ms instead of microseconds
    with _blas().limit(limits=1, user_api="blas"):
        return _solve(x, y_0, c, d, k, f, lower_bound, upper_bound, order, refine, tol, max_nodes, newton_tol,
                      max_iter, method)


def _solve(x, y_0, c, d, k, f, lower_bound, upper_bound, order, refine, tol, max_nodes, newton_tol, max_iter,
           method) -> GeneralIDESolution:
    x = np.asarray(x)
    if x.ndim != 1 or len(x) < 2 or not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise ValueError(f"x must be a 1-D grid of at least 2 real numbers, got shape {x.shape}")
    x = x.astype(float)
    steps = np.diff(x)
    if not np.isfinite(x).all() or not (steps > 0).all():
        raise ValueError("x must be finite and strictly increasing")
    y0 = np.asarray(y_0)
    if y0.ndim > 1 or y0.size == 0 or not np.issubdtype(y0.dtype, np.number) or not np.isfinite(y0).all():
        raise ValueError(f"y_0 must be a finite scalar or a 1-D vector of numbers, got {y_0!r}")
    if order not in ORDERS:
        raise ValueError(f"order must be in {ORDERS.start}..{ORDERS.stop - 1}, got {order}")
    if refine is not None and (int(refine) != refine or refine < 1):
        raise ValueError(f"refine must be a positive integer or None, got {refine}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if not newton_tol > 0 or max_iter < 1:
        raise ValueError(f"newton_tol must be > 0 and max_iter >= 1, got {newton_tol}, {max_iter}")
    x0, x1 = float(x[0]), float(x[-1])
    problem = _Problem(
        x0, x1, y0,
        UserFunction("c(x, y)", c if c is not None else _zeros_like(y0)),
        UserFunction("d(x)", d if d is not None else (lambda x: 1.0)),
        UserFunction("k(x, s)", k if k is not None else (lambda x, s: 1.0)),
        UserFunction("f(y)", f if f is not None else _zeros_like(y0)),
        UserFunction("lower_bound(x)", lower_bound if lower_bound is not None else (lambda x: x0)),
        UserFunction("upper_bound(x)", upper_bound if upper_bound is not None else (lambda x: x1)),
        order)

    n_out = len(x) - 1
    uniform = bool(np.allclose(steps, (x1 - x0) / n_out, rtol=1e-9, atol=0.0))

    def at_output(Y):
        N = len(Y) - 1
        if uniform and N % n_out == 0:
            Yo = Y[:: N // n_out]
        else:  # the output points are not nodes: the degree-(order-1) interpolant, error O(h^order) too
            Yo = interpolation_rows((x - x0) / ((x1 - x0) / N), N, order) @ Y
        Yo = Yo if problem.complex else Yo.real
        return Yo[:, 0] if problem.scalar else Yo.T

    def solve(N, what, coarse=None):
        if N + 1 > max_nodes:
            raise ValueError(f"{what} needs {N + 1} fine nodes, more than max_nodes = {max_nodes}")
        return problem.solve(N, newton_tol, max_iter, coarse, method)

    if refine is not None:
        r = int(refine)
        if n_out * r < order:
            raise ValueError(f"refine = {r} gives {n_out * r} fine steps; order {order} needs at least {order}")
        try:
            Y, used, it, integral = solve(n_out * r, f"refine = {r}")
        except _StepFailure as exc:
            raise ValueError(f"the implicit step at {exc} did not converge: the step is too large for this "
                             "problem (stiff, or fast-changing); raise refine") from None
        return GeneralIDESolution(x, at_output(Y), order, r, float("nan"), used, it, at_output(integral))

    # Automatic: solutions on N/2 and N steps (N = n_out·r) until they agree to tol; the finer one is returned.
    r = max(1, -(-2 * order // n_out))  # the coarser grid needs `order` steps too
    previous = None
    while True:
        N = n_out * r
        what = f"tol = {tol:g}" + (f" (estimated error {previous[2]:.2g} at {previous[3]} steps)"
                                   if previous and previous[2] is not None else "")
        try:
            if previous is None:
                Yc = solve(-(-N // 2), what)[0]
                previous = (Yc, at_output(Yc), None, -(-N // 2))
            Y, used, it, integral = solve(N, what, previous[0])
        except _StepFailure:
            previous, r = None, 2 * r  # too coarse to step at all: refine and start over
            continue
        y_out = at_output(Y)
        estimate = float(np.max(np.abs(y_out - previous[1])))
        if estimate <= tol * max(1.0, float(np.max(np.abs(y_out)))):
            return GeneralIDESolution(x, y_out, order, r, estimate, used, it, at_output(integral))
        previous, r = (Y, y_out, estimate, N), 2 * r
