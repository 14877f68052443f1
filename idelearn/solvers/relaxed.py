"""Exact Gregory memory with the history sum done by blocked online ("relaxed") FFT products.

The plain sum T_n = Σ_{i+j=n; i,j≥1} A_i B_j has both factors arriving online (A_i = K(G_i)
needs G_i). Pairs with min(i, j) in [L, 2L), L = L0·2^k, are tiled by squares
[L, 2L) × [mL, (m+1)L) (m ≥ 1) and [mL, (m+1)L) × [L, 2L) (m ≥ 2). Both squares of one m
touch only nodes < (m+1)L and first contribute to T_{(m+1)L}, so at the start of step
n = (m+1)L their full convolution (length 2L-1) is done by one FFT product and added into an
accumulator for T_n..T_{n+2L-2}. Per step that leaves the pairs with min(i, j) < L0 (direct,
two small products that also carry the Gregory weights) and one accumulator read:
O(n log² n) in total instead of O(n²).
"""

from __future__ import annotations

import numpy as np

from .history import ExactMemory


def _freq_product(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Σ_b A[a, b] B[b, c] for planar (a, b, ...) and (b, c, ...) arrays: a matrix product per frequency."""
    d, m = A.shape[0], B.shape[1]
    if d * d * m > 8:
        return np.einsum("ab...,bc...->ac...", A, B)
    # written out for small d: a few long contiguous products beat many tiny matrix products
    out = np.empty((d, m) + A.shape[2:], dtype=complex)
    for a in range(d):
        for c in range(m):
            np.multiply(A[a, 0], B[0, c], out=out[a, c])
            for b in range(1, d):
                out[a, c] += A[a, b] * B[b, c]
    return out


class RelaxedMemory(ExactMemory):
    """Same quadrature as ExactMemory (equal to round-off), O(log² n) amortised per step.

    `block` (L0, ≥ order) is the size of the smallest squares; below 2·L0 steps it is the
    direct method.
    """

    def __init__(self, kernel, dt: float, n_steps: int, order: int, block: int = 32):
        super().__init__(kernel, dt, n_steps, order)
        if block < order:
            raise ValueError(f"block must be >= order ({order}), got {block}")
        self.block = block
        self.reversed_nodes = min(self.capacity, 2 * block)

    def init(self, G_known: np.ndarray, I_known: np.ndarray):
        batch, _, d, m = G_known.shape
        # A forward in time as well, for the FFT blocks and the near-diagonal product
        self.A = np.zeros((batch, d, self.capacity, d), dtype=complex)
        # planar (d, m, batch, time): FFTs run along the contiguous last axis
        self.acc = np.zeros((d, m, batch, self.capacity), dtype=complex)
        self._strips = {}  # L -> FFTs of A and B on [L, 2L), shared by every square of that size
        self._near = None
        state = super().init(G_known, I_known)
        for n in range(self.reversed_nodes, state.n + 1):  # squares due within a long known history
            self._add_due_squares(n)
        return state

    def _store(self, i: int, G: np.ndarray) -> np.ndarray:
        A = self.A[:, :, i, :]
        A[...] = self.kernel(G, i * self.dt)
        self.B[:, i] = G
        if i < self.reversed_nodes:
            self.A_rev[:, :, self.reversed_nodes - 1 - i, :] = A
        return A

    def _A(self, i: int) -> np.ndarray:
        return self.A[:, :, i, :]

    def _history_sum(self, n: int) -> np.ndarray:
        if n < self.reversed_nodes:  # no square is complete yet: the direct sum
            return super()._history_sum(n)
        L0 = self.block
        self._add_due_squares(n)
        if self._near is None:
            self._near = self._near_heads()
        hA_w, hB_w = self._near
        batch, d, _, _ = self.A.shape
        m = self.B.shape[-1]
        # pairs with j < L0 (A_{n-j} against the weighted B_j) and with i < L0
        near = self.A[:, :, n - L0 + 1 : n].reshape(batch, d, -1) @ hB_w
        near += hA_w @ self.B[:, n - L0 + 1 : n].reshape(batch, -1, m)
        near += self.acc[..., n].transpose(2, 0, 1)
        return near

    def _add_due_squares(self, n: int) -> None:
        """Add every square first needed by T_n: sizes L with L | n and 2L <= n."""
        L = self.block
        while 2 * L <= n and n % L == 0:
            self._add_squares(n, L)
            L *= 2

    def _near_heads(self):
        """h (1+δ_j) A_j and h (1+δ_j) B_j for j = L0-1 .. 1 (time-reversed): the Gregory weights and h."""
        batch, d, _, _ = self.A.shape
        L0, m = self.block, self.B.shape[-1]
        w = np.ones(L0)
        w[: self.order] += self.delta
        w = self.dt * w[L0 - 1 : 0 : -1, None]
        A_w = (self.A[:, :, L0 - 1 : 0 : -1] * w).reshape(batch, d, -1)
        B_w = (self.B[:, L0 - 1 : 0 : -1] * w[:, None]).reshape(batch, -1, m)
        return A_w, B_w

    def _fft_blocks(self, lo: int, L: int):
        """FFTs (zero-padded to 2L) of A and B on [lo, lo+L), planar: (d, d, batch, 2L), (d, m, batch, 2L)."""
        A = np.ascontiguousarray(self.A[:, :, lo : lo + L].transpose(1, 3, 0, 2))
        B = np.ascontiguousarray(self.B[:, lo : lo + L].transpose(2, 3, 0, 1))
        return np.fft.fft(A, 2 * L), np.fft.fft(B, 2 * L)

    def _add_squares(self, n: int, L: int) -> None:
        """Add the squares of size L that first contribute to T_n (n = (m+1)L) into the accumulator."""
        m = n // L - 1
        if L not in self._strips:
            self._strips[L] = self._fft_blocks(L, L)
        A_strip, B_strip = self._strips[L]
        if m == 1:  # the corner square [L, 2L)²
            product = _freq_product(A_strip, B_strip)
        else:
            A_m, B_m = self._fft_blocks(m * L, L)
            product = _freq_product(A_strip, B_m)
            product += _freq_product(A_m, B_strip)
        conv = np.fft.ifft(product)
        conv *= self.dt  # the accumulator holds h T_n
        hi = min(n + 2 * L - 1, self.capacity)
        self.acc[..., n:hi] += conv[..., : hi - n]
