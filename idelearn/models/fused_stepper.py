"""Fast closed-loop extrapolation with a learned memory and Adams-Bashforth, in one fused loop.

Both learned memories run here over preallocated numpy buffers: the paper's LSTM
(`lstm_operator.LSTMOperator`: fused cell, below) and the structured LegS memory
(`memory_operator.StructuredMemory`; `_LegSLoop`: the same recursion as `legs.LegSMemory`, or
`legs.LagLegSMemory` for a lag kernel, in place, its step tables built in chunks). A net says which
it is by `uses_lstm` / `uses_legs`.

`adams_integrate` + `LearnedMemory` spend almost all of a step in framework
overhead: for a 2x64 LSTM and one trajectory a step is ~50k multiply-adds, yet
every step makes a dozen torch tensors and several numpy <-> torch copies. Here
the whole rollout is one loop over preallocated numpy buffers:

* the weights are rearranged once (`FusedLSTM`): input/recurrent weights and
  the bias of a layer form one matrix acting on a window of a shared vector
  Z = [x, h_0, 1, h_1, ..., h_{L-1}], so each layer (and the head) is a single
  matmul; x_scale / y_scale and the feature order are folded in, so G's complex
  storage is read and I written with no conversion;
* the sigmoid is ½ + ½·tanh(x/2), the inner ½ folded into the weights, so one
  tanh call serves all four gates;
* the amplitude EMA and the AB(k) update work on float64 views of the complex
  arrays, the LSTM in `dtype` (float32 by default, as the trained model).

It is the plain path's maths (same warm-up, same EMA, same AB coefficients), so
results agree with it to float32 rounding (the LegS part runs in float64). The AM
corrector is not handled here (`supported`); callers fall back to the plain path.
For large batches (`engine="torch"`, the default from `TORCH_BATCH` trajectories
on) the per-step work is big enough that framework overhead no longer matters,
and the model's own nn.LSTM cell (fused elementwise work) beats numpy's
one-op-at-a-time arrays; the glue around it is the same.
"""

from __future__ import annotations

import contextlib
import copy
import math

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ..solvers.multistep import blow_up
from ..solvers.quadrature import adams_bashforth
from .features import to_features
from .kernel_operator import matrix_series
from .legs import LegS

# From this many trajectories on, engine="auto" steps the LSTM with torch: for the 2x64 model on one
# thread the numpy engine was ~10 % faster at 512 trajectories and ~30 % slower at 1024.
TORCH_BATCH = 768


def supported(model, corrector: bool = False, memory: str = "legs") -> bool:
    """Whether `adams_fused` reproduces the generic `adams_integrate` with this model's memory and stepper.

    memory: the structured memory's kind; only LegS is fused (series φ or lag kernel), the exponential
    recurrence ("exp", already O(J) per step) takes the generic stepper."""
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())  # the loop reads weights as numpy
    return not corrector and on_cpu and (memory == "legs" or not model.uses_legs)


def _interleave(n: int) -> np.ndarray:
    """Feature index of each float in a complex array's float64 view: re_0, im_0, re_1, ...

    `to_features` orders features as all real parts, then all imaginary parts.
    """
    k = n // 2
    return np.stack([np.arange(k), k + np.arange(k)], 1).reshape(-1)


class FusedLSTM:
    """An LSTM model's weights laid out for one-matmul-per-layer numpy steps (see module doc)."""

    def __init__(self, model, dtype=np.float32):
        lstm = model.lstm
        self.dtype = np.dtype(dtype)
        H, L = lstm.hidden_size, lstm.num_layers
        nf = model.head.out_features
        self.H, self.L, self.nf = H, L, nf
        perm = _interleave(nf)
        # Layout of Z: x at 0, h_0 next, then the constant 1, then h_1..h_{L-1}. Every layer's
        # inputs (previous h, own h, 1) then lie in one contiguous window; columns of the window
        # a layer does not use get zero weights (only for L >= 3, and only the head).
        self.pos = [nf] + [nf + H + 1 + (l - 1) * H for l in range(1, L)]  # start of h_l
        self.one = nf + H
        self.width = nf + L * H + 1
        get = lambda name: getattr(lstm, name).detach().double().numpy()  # noqa: E731
        # torch gate order (i, f, g, o) -> (i, f, o, g): the three sigmoids contiguous, then tanh
        order = np.concatenate([np.arange(0, 2 * H), np.arange(3 * H, 4 * H), np.arange(2 * H, 3 * H)])
        half = np.r_[np.full(3 * H, 0.5), np.ones(H)]  # sigmoid(x) = 1/2 + tanh(x/2)/2
        x_scale = model.x_scale.detach().double().numpy()[perm]
        self.layers = []
        for l in range(L):
            W_ih, W_hh = get(f"weight_ih_l{l}")[order], get(f"weight_hh_l{l}")[order]
            b = (get(f"bias_ih_l{l}") + get(f"bias_hh_l{l}"))[order]
            if l == 0:
                W_ih = W_ih[:, perm] / x_scale  # Z holds G / r; the model divides by r * x_scale
            src = 0 if l == 0 else self.pos[l - 1]
            blocks = [(src, W_ih), (self.pos[l], W_hh), (self.one, b[:, None])]
            self.layers.append(self._window(blocks, half[:, None]))
        y_scale = model.y_scale.detach().double().numpy()[perm][:, None]
        Wh = model.head.weight.detach().double().numpy()[perm] * y_scale
        bh = model.head.bias.detach().double().numpy()[perm][:, None] * y_scale
        self.head = self._window([(self.pos[L - 1], Wh), (self.one, bh)], 1.0)

    def _window(self, blocks, row_scale):
        """(start, stop, W^T) for blocks [(column of Z, matrix acting there)]: z[start:stop] @ W^T."""
        lo = min(c for c, _ in blocks)
        hi = max(c + w.shape[1] for c, w in blocks)
        W = np.zeros((blocks[0][1].shape[0], hi - lo))
        for c, w in blocks:
            W[:, c - lo: c - lo + w.shape[1]] = w
        return lo, hi, np.ascontiguousarray((W * row_scale).T, dtype=self.dtype)


def _warm_up(model, G_known: np.ndarray):
    """LSTM state (h, c: (L, B, H)) and r^2 (B,) after the known history: LearnedMemory.init's maths."""
    with torch.no_grad():
        _, (h, c, r2) = model(torch.from_numpy(to_features(G_known)))
    return h.double().numpy(), c.double().numpy(), r2.double().numpy()


def adams_fused(model, F, G_known: np.ndarray, I_known: np.ndarray, dt: float, n_total: int,
               order: int = 3, *, dtype=np.float32, engine: str = "auto", progress=None,
               max_abs: float = np.inf):
    """`adams_integrate(F, <the model's memory>, ...)` with AB(order), no corrector, fused.

    G_known, I_known: complex (B, n0, d, m); F(G (B, d, m), t) -> (B, d, m). Returns G, I of shape
    (B, n_total, d, m). engine (the LSTM's): "numpy" (fused cell, best for few trajectories),
    "torch" (the model's nn.LSTM per step, best for large batches) or "auto". Raises BlowUpError
    like adams_integrate.
    """
    B, n0, d, m = G_known.shape
    if n0 < order:
        raise ValueError(f"AB{order} needs {order} known nodes, got {n0}")
    if engine == "auto":
        engine = "torch" if B >= TORCH_BATCH else "numpy"
    nf = 2 * d * m
    # Time-major history, float64 views of complex storage. Row 2k of X holds G_k, row 2k+1 holds
    # g_k = F(G_k, t_k) + I_k, so the AB step G_n = G_{n-1} + dt sum_j beta_j g_{n-1-j} is one
    # fixed-coefficient product with the contiguous rows 2(n-order) .. 2n-1: no ring, no add.
    X = np.zeros((2 * n_total, B * nf))
    Ih = np.zeros((n_total, B, nf))
    X3 = X.reshape(2 * n_total, B, nf)
    Xc = X.view(complex).reshape(2 * n_total, B, d, m)
    Ic = Ih.view(complex).reshape(n_total, B, d, m)
    Xc[0: 2 * n0: 2] = G_known.transpose(1, 0, 2, 3)
    Ic[:n0] = I_known.transpose(1, 0, 2, 3)
    for k in range(n0 - order, n0):
        Xc[2 * k + 1] = F(Xc[2 * k], k * dt) + Ic[k]
    coef = np.zeros(2 * order)
    coef[1::2] = dt * adams_bashforth(order)[::-1]  # row 2i+1: g of node n-order+i, lag order-1-i
    coef[-2] = 1.0  # G_{n-1}

    legs = _LegSLoop(model, G_known, dt, n_total) if model.uses_legs else None
    lstm = model.uses_lstm
    if lstm:
        h0, c0, r2 = _warm_up(model, G_known)
        cell = (_numpy_cell if engine == "numpy" else _torch_cell)(model, h0, c0, B, dtype)
        a = float(model.ema)
        if B == 1:
            r2 = float(r2[0])  # scalar maths is cheaper than 1-element arrays
        # r_n and 1/r_n per trajectory (stay 1 when ema == 0); 0-d for one trajectory, as numpy
        # broadcasts a 0-d array about twice as fast as a (1, 1) one or a Python float
        scale = np.ones(() if B == 1 else (B, 1))
        inv = np.ones_like(scale)
        y_lstm = np.empty((B, nf)) if legs is not None else None
    matmul, add, vdot = np.matmul, np.add, np.vdot
    # The numpy engine's products are tiny (one row): BLAS threads only add wake-up latency.
    with threadpool_limits(1, user_api="blas") if engine == "numpy" or not lstm else contextlib.nullcontext():
        for n in range(n0, n_total):
            matmul(coef, X[2 * (n - order): 2 * n], out=X[2 * n])
            g = X3[2 * n]
            if legs is not None:
                legs.step(n, Xc[2 * n], Ic[n])
            if lstm:
                if a > 0:  # running amplitude r_n = sqrt(EMA of mean |G_n|^2 over the 2dm features)
                    if B == 1:
                        r2 = (1 - a) * r2 + a * float(vdot(g, g)) / nf
                        r = math.sqrt(max(r2, 1e-300))
                        scale[()], inv[()] = r, 1.0 / r
                    else:
                        r2 = (1 - a) * r2 + a * np.einsum("ij,ij->i", g, g) / nf
                        np.sqrt(np.maximum(r2, 1e-300), out=scale[:, 0])
                        np.divide(1.0, scale, out=inv)
                if legs is None:
                    cell(g, inv, scale, Ih[n])
                else:
                    cell(g, inv, scale, y_lstm)
                    add(Ih[n], y_lstm, out=Ih[n])
            add(F(Xc[2 * n], n * dt), Ic[n], out=Xc[2 * n + 1])
            if n % 256 == 0 or n == n_total - 1:  # as adams_integrate: checked in blocks
                size = np.max(np.abs(g))
                if not np.isfinite(size) or size > max_abs:
                    raise blow_up(Xc[0: 2 * n + 2: 2].transpose(1, 0, 2, 3), Ic[: n + 1].transpose(1, 0, 2, 3),
                                  dt, max_abs)
                if progress is not None:
                    progress(n + 1)
    return Xc[0::2].transpose(1, 0, 2, 3).copy(), Ic.transpose(1, 0, 2, 3).copy()


class _LegSLoop:
    """The LegS memory of `legs.LegSMemory`, stepped in place: `step(n, G_n, out)` writes I_n.

    State m (N, C) real, C = 4 B d² (the kernel column and G of each trajectory, as complex (B, 2, d, d)
    viewed as floats); f rows of the last four nodes in a window buffer; tables for `CHUNK` steps at a time.
    The kernel column at node n is φ(G_n) for a series, K(G_n, n dt) for a lag kernel (`legs.LagLegSMemory`).
    """

    CHUNK = 512

    def __init__(self, model, G_known: np.ndarray, dt: float, n_total: int):
        B, n0, d, m = G_known.shape
        if d != m:
            raise ValueError(f"the structured memory needs square G; got {d}x{m}")
        if n0 < 4:
            raise ValueError(f"the LegS memory needs >= 4 known nodes, got {n0}")
        self.B, self.d, self.n_total = B, d, n_total
        self.legs = LegS(model.legs_order, dt)
        N = self.legs.N
        # the window's projection and last three columns from the generic memory's own init (same maths)
        start, _ = model.memory(dt, kind="legs").init(G_known)
        self.m = start.m  # (N, C): node n0 - 1
        f = start.f
        C = f.shape[1]
        self.fb = np.zeros((self.CHUNK + 3, C))  # f of nodes fb0 .. fb0 + CHUNK + 2
        self.fb[:3] = f[-3:]
        self.fb0 = n0 - 3
        self.fc = self.fb.view(complex).reshape(len(self.fb), B, 2, d, d)
        self.q = np.empty((N, C), dtype=complex)
        self.S = np.zeros((N, C), dtype=complex)  # row 0 stays 0: the exclusive prefix sum
        # numpy's cumsum along axis 0 is ~4x slower than torch's here (measured ~40 vs ~10 µs at N = 256,
        # 16 columns); torch works on the same memory (from_numpy shares it)
        self.qt, self.St = torch.from_numpy(self.q)[:-1], torch.from_numpy(self.S)[1:]
        self.tmp = np.empty((N, C))
        self.sign = self.legs.sign
        self.sv = np.empty(N)
        self.tab = None
        self.column = _column_function(model, dt, B, d, self.CHUNK)
        mc = self.m.view(complex).reshape(N, B, 2, d, d)
        self.mphi, self.mG = mc[:, :, 0], mc[:, :, 1]
        if d == 1:
            self.prod = np.empty((N, B), dtype=complex)
        else:
            self.Abuf = np.empty((B, d, N, d), dtype=complex)
            self.Bbuf = np.empty((B, N, d, d), dtype=complex)
            self.A2, self.B2 = self.Abuf.reshape(B, d, N * d), self.Bbuf.reshape(B, N * d, d)

    def step(self, n: int, G: np.ndarray, out: np.ndarray) -> None:
        """Include node n (G (B, d, d) complex view) and write I_n into out (B, d, d)."""
        row = n - self.fb0
        if row >= len(self.fb):  # slide the window: keep the last three nodes
            self.fb[:3] = self.fb[-3:]
            self.fb0 += len(self.fb) - 3
            row = n - self.fb0
        self.column(n, G, self.fc[row, :, 0])
        self.fc[row, :, 1] = G
        f4 = self.fb[row - 3: row + 1]
        tab = self.tab
        s = n - 1  # the step s -> s + 1 = n
        if tab is None or s >= tab.n_lo + len(tab.last):
            tab = self.tab = self.legs.tables(s, min(self.legs.span(s, self.CHUNK), self.n_total - 1))
        j = s - tab.n_lo
        m, q, S, tmp = self.m, self.q, self.S, self.tmp
        for r in range(0 if j == 0 else tab.last[j - 1] + 1, tab.last[j] + 1):
            np.multiply(tab.c1[r][:, None], m, out=q)
            torch.cumsum(self.qt, dim=0, out=self.St)  # S_k = Σ_{j<k} q_j
            S *= tab.c3[r][:, None]
            m *= tab.a[r][:, None]
            m += S.imag
            np.matmul(tab.W[r], f4, out=tmp)
            m += tmp
        t = n * self.legs.dt
        if self.d == 1:
            np.multiply(self.mphi[:, :, 0, 0], self.mG[:, :, 0, 0], out=self.prod)
            np.divide(self.sign, t, out=self.sv)
            np.matmul(self.sv, self.prod, out=out[:, 0, 0])
        else:
            np.divide(self.sign, t, out=self.sv)
            np.multiply(self.mphi.transpose(1, 2, 0, 3), self.sv[:, None], out=self.Abuf)
            self.Bbuf[...] = self.mG.transpose(1, 0, 2, 3)
            np.matmul(self.A2, self.B2, out=out)


def _column_function(model, dt: float, B: int, d: int, block: int):
    """column(n, G, out): out = K(G_n, τ_n = n dt) for G (B, d, d), the projected column at node n.

    The series φ(G) = Σ_k c_k G^k ignores τ; a lag kernel (`model.has_lag`, lag_kernels.LagFit)
    K = Σ_k a_k(τ) (G/s)^k is the same polynomial in X = G/s with per-node coefficients a_k(τ_n), tabulated
    `block` nodes at a time. Cheapest evaluation per case (one trajectory: Python scalars)."""
    if getattr(model, "has_lag", False):
        fit = model.lag_fit()
        scale, coefficients = fit.scale, _lag_coefficients(fit, dt, block)
    else:
        cs = [complex(c) for c in model.kernel_coef[::-1]]  # highest degree first (Horner)
        scale, coefficients = 1.0, lambda n: cs
    if B == 1 and d == 1:
        def column(n, G, out):
            x, acc = complex(G[0, 0, 0]) / scale, 0j
            for c in coefficients(n):
                acc = acc * x + c
            out[0, 0, 0] = acc
        return column
    if B == 1 and d == 2:
        # Cayley-Hamilton: X^k = α_k X + β_k 1 with α_{k+1} = t α_k + β_k, β_{k+1} = -δ α_k (t = tr X, δ = det X),
        # so Σ c_k X^k = (Σ c_k α_k) X + (Σ c_k β_k) 1; Horner on the pair (α, β).
        def column(n, G, out):
            g00, g01 = complex(G[0, 0, 0]) / scale, complex(G[0, 0, 1]) / scale
            g10, g11 = complex(G[0, 1, 0]) / scale, complex(G[0, 1, 1]) / scale
            tr, det = g00 + g11, g00 * g11 - g01 * g10
            al, be = 0j, 0j  # acc = al X + be 1
            for c in coefficients(n):  # acc <- acc X + c
                al, be = al * tr + be, c - al * det
            out[0, 0, 0], out[0, 0, 1] = al * g00 + be, al * g01
            out[0, 1, 0], out[0, 1, 1] = al * g10, al * g11 + be
        return column

    def column(n, G, out):
        out[...] = matrix_series(np.array(coefficients(n)[::-1]), G / scale)
    return column


def _lag_coefficients(fit, dt: float, block: int):
    """n -> [a_P(τ_n), ..., a_0(τ_n)] (Python complex, highest degree first), τ_n = n dt; tabulated for `block`
    nodes at a time from the first node asked for (the loop asks for n0, n0 + 1, ...)."""
    lo, rows = [0], [[]]

    def coefficients(n):
        j = n - lo[0]
        if not 0 <= j < len(rows[0]):
            lo[0], j = n, 0
            rows[0] = fit.a(np.arange(n, n + block) * dt)[::-1].T.tolist()
        return rows[0][j]
    return coefficients


def _numpy_cell(model, h0, c0, B, dtype):
    """Step function (G_n view, 1/r, r, I_n out) -> writes I_n; state kept in closures' buffers."""
    fl = FusedLSTM(model, dtype)
    H, nf = fl.H, fl.nf
    Z = np.zeros((B, fl.width), fl.dtype)
    Z[:, fl.one] = 1.0
    x = Z[:, :nf]
    layers = []
    for l, (lo, hi, W) in enumerate(fl.layers):
        Z[:, fl.pos[l]: fl.pos[l] + H] = h0[l]
        # A = [i, f, o, g, c]: gates, then the cell state, so that [i, f] * [g, c] is one product
        A = np.zeros((B, 5 * H), fl.dtype)
        A[:, 4 * H:] = c0[l]
        layers.append((Z[:, lo:hi], W, A[:, :4 * H], A[:, :3 * H], A[:, :2 * H], A[:, 3 * H:],
                       A[:, 4 * H:], A[:, 2 * H:3 * H], Z[:, fl.pos[l]: fl.pos[l] + H]))
    lo, hi, Wh = fl.head
    z_head = Z[:, lo:hi]
    y = np.empty((B, nf), fl.dtype)
    P = np.empty((B, 2 * H), fl.dtype)
    P1, P2 = P[:, :H], P[:, H:]
    T = np.empty((B, H), fl.dtype)
    mul, add, tanh, matmul = np.multiply, np.add, np.tanh, np.matmul
    half = np.array(0.5, fl.dtype)  # a 0-d array: cheaper in a ufunc call than the Python float

    def cell(g, inv, scale, out):
        mul(g, inv, out=x)
        for z, W, gates, sig, if_, gc, c, o, h in layers:
            matmul(z, W, out=gates)
            tanh(gates, out=gates)
            mul(sig, half, out=sig)
            add(sig, half, out=sig)
            mul(if_, gc, out=P)  # [i*g, f*c]
            add(P1, P2, out=c)
            tanh(c, out=T)
            mul(o, T, out=h)
        matmul(z_head, Wh, out=y)
        mul(y, scale, out=out)

    return cell


def _torch_cell(model, h0, c0, B, dtype):
    """Same step through a copy of the model's nn.LSTM (one time step per call) and head."""
    fl_dtype = next(model.parameters()).dtype
    perm = torch.from_numpy(_interleave(model.head.out_features))
    lstm = copy.deepcopy(model.lstm).requires_grad_(False)
    with torch.no_grad():  # fold the feature order and x_scale into the first layer, as FusedLSTM
        lstm.weight_ih_l0.copy_(model.lstm.weight_ih_l0[:, perm] / model.x_scale[perm])
    Wh = (model.head.weight[perm] * model.y_scale[perm, None]).detach().T.contiguous()
    bh = (model.head.bias[perm] * model.y_scale[perm]).detach()
    state = [(torch.from_numpy(h0).to(fl_dtype), torch.from_numpy(c0).to(fl_dtype))]
    xs = torch.empty(B, 1, len(perm), dtype=fl_dtype)
    inv_t = torch.empty(B, 1, 1, dtype=fl_dtype)
    y = torch.empty(B, len(perm), dtype=fl_dtype)

    def cell(g, inv, scale, out):
        with torch.no_grad():
            inv_t.copy_(torch.from_numpy(inv).view(B, 1, 1))
            torch.mul(torch.from_numpy(g).view(B, 1, -1), inv_t, out=xs)
            o, state[0] = lstm(xs, state[0])
            torch.addmm(bh, o[:, 0], Wh, out=y)
        np.multiply(y.numpy(), scale, out=out)

    return cell
