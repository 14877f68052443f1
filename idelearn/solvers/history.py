"""Exact memory operator: Gregory-corrected quadrature over the stored history.

    I_n = h Σ_{j=0}^{n} w_j^(n) A_{n-j} B_j,   A_i = K(G_i, t_i),  B_j = G_j

The plain sum S_n = Σ_j A_{n-j} B_j is a discrete convolution; Gregory
corrections touch only the p nodes at each end. Per step the part of S_n that
does not involve the new node is one matrix product over the stored history
(the A history is stored time-reversed so that slice is contiguous); it is
cached, because a predictor-corrector asks for the same node twice.
relaxed.py computes the same sum by blocked FFT products, O(log² n) per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .quadrature import gregory_end_correction


@dataclass
class HistoryState:
    n: int  # index of the last committed node


class _HistoryBuffers:
    """Stored A_i = K(G_i, t_i) (time-reversed) and B_j = G_j, preallocated.

    `kernel(G, tau)` must return (batch, d, d) (see solvers.ide.matrix_kernel).
    """

    def __init__(self, kernel, dt: float, n_steps: int, start_nodes: int):
        self.kernel = kernel
        self.dt = dt
        self.start_nodes = start_nodes
        self.capacity = n_steps + 1

    def init(self, G_known: np.ndarray, I_known: np.ndarray) -> HistoryState:
        batch, n0, d, m = G_known.shape
        if n0 < self.start_nodes:
            raise ValueError(f"{type(self).__name__} needs {self.start_nodes} start nodes, got {n0}")
        N = self.capacity
        # A stored time-reversed: A_i at position N-1-i, laid out (batch, d, N, d)
        # so that a run of consecutive lags reshapes to (batch, d, L*d) without copying.
        self.A_rev = np.zeros((batch, d, N, d), dtype=complex)
        self.B = np.zeros((batch, N, d, m), dtype=complex)
        for i in range(n0):
            self._store(i, G_known[:, i])
        return HistoryState(n=n0 - 1)

    def _store(self, i: int, G: np.ndarray) -> None:
        if i >= self.capacity:
            raise ValueError("memory operator: more steps than allocated")
        self.A_rev[:, :, self.capacity - 1 - i, :] = self.kernel(G, i * self.dt)
        self.B[:, i] = G

    def _A(self, i: int) -> np.ndarray:
        return self.A_rev[:, :, self.capacity - 1 - i, :]

    def _lag_product(self, n: int, j_lo: int, j_hi: int, weights=None) -> np.ndarray:
        """Σ_{j=j_lo}^{j_hi-1} w_j A_{n-j} B_j as one matrix product over the stored history."""
        batch, d, N, _ = self.A_rev.shape
        m = self.B.shape[-1]
        L = j_hi - j_lo
        if L <= 0:
            return np.zeros((batch, d, m), dtype=complex)
        A = self.A_rev[:, :, N - 1 - n + j_lo : N - 1 - n + j_hi, :].reshape(batch, d, L * d)
        B = self.B[:, j_lo:j_hi]
        if weights is not None:
            B = B * weights[None, :, None, None]
        return A @ B.reshape(batch, L * d, m)


class ExactMemory:
    """Order-p Gregory quadrature of I(t) = ∫_0^t K(G(t-s), t-s) G(s) ds, direct O(n) per step.

    With δ the end corrections, I_n = h [T_n + C_n + (1+δ_0)(A_n B_0 + A_0 B_n)] where
    T_n = Σ_{j=1}^{n-1} A_{n-j} B_j is the plain sum and C_n = Σ_{j<p} δ_j (A_{n-j} B_j + A_j B_{n-j})
    the corrections (j ≥ 1). T_n + C_n only involves committed nodes, so it is computed once per
    step (`_history_sum`) and cached for the corrector's second call. The first p nodes are the
    start-up nodes, fixed at `init`, so every factor of C_n that involves them is precomputed.
    A is stored time-reversed for the first `reversed_nodes` nodes (all of them here) so that
    T_n is one contiguous matrix product.
    """

    def __init__(self, kernel, dt: float, n_steps: int, order: int):
        self.kernel, self.dt, self.order = kernel, dt, order
        self.capacity = n_steps + 1
        self.delta = gregory_end_correction(order)
        self.reversed_nodes = self.capacity

    def init(self, G_known: np.ndarray, I_known: np.ndarray) -> HistoryState:
        batch, n0, d, m = G_known.shape
        p, N, R = self.order, self.capacity, self.reversed_nodes
        if n0 < p:
            raise ValueError(f"{type(self).__name__} needs {p} start nodes, got {n0}")
        # A_i at A_rev[..., R-1-i, :], laid out (batch, d, R, d): a run of lags reshapes to (batch, d, L*d).
        self.A_rev = np.zeros((batch, d, R, d), dtype=complex)
        self.B = np.zeros((batch, N, d, m), dtype=complex)
        for i in range(n0):
            self._store(i, G_known[:, i])
        delta = self.delta[1:, None]
        self.dB_head = (delta[:, None] * self.B[:, 1:p]).reshape(batch, (p - 1) * d, m)  # δ_j B_j, j = 1..p-1
        self.dA_rev = (self.A_rev[:, :, R - p : R - 1] * delta[::-1]).reshape(batch, d, (p - 1) * d)
        # the new-node terms h(1+δ_0)(A_n B_0 + A_0 B_n) with the constant factors folded in
        self.hB0 = self.dt * (1 + self.delta[0]) * self.B[:, 0]
        self.hA0 = self.dt * (1 + self.delta[0]) * self._A(0)
        self._cached_n, self._cached = -1, None
        return HistoryState(n=n0 - 1)

    def _store(self, i: int, G: np.ndarray) -> np.ndarray:
        """Store node i (overwriting a predicted one) and return A_i."""
        if i >= self.capacity:
            raise ValueError("memory operator: more steps than allocated")
        A = self._A(i)
        A[...] = self.kernel(G, i * self.dt)
        self.B[:, i] = G
        return A

    def _A(self, i: int) -> np.ndarray:
        return self.A_rev[:, :, self.reversed_nodes - 1 - i, :]

    def _history_sum(self, n: int) -> np.ndarray:
        """h (T_n + C_n): one product for the plain sum, two small ones for the corrections."""
        batch, d, R, _ = self.A_rev.shape
        m, p = self.B.shape[-1], self.order
        A_lags = self.A_rev[:, :, R - n : R - 1]  # A_{n-1}, ..., A_1
        T = A_lags.reshape(batch, d, -1) @ self.B[:, 1:n].reshape(batch, -1, m)
        C = A_lags[:, :, : p - 1].reshape(batch, d, -1) @ self.dB_head
        T += C
        T += self.dA_rev @ self.B[:, n - p + 1 : n].reshape(batch, -1, m)
        return self.dt * T

    def step(self, state: HistoryState, G_new: np.ndarray):
        n = state.n + 1
        A_n = self._store(n, G_new)  # overwrites slot n if this node was predicted before
        if self._cached_n != n:  # the corrector asks for the same node again
            self._cached, self._cached_n = self._history_sum(n), n
        return self._cached + A_n @ self.hB0 + self.hA0 @ G_new, HistoryState(n=n)


def simpson_weights(n: int) -> np.ndarray:
    """Composite Simpson weights on [0, n] (units of h); 3/8 rule on the last 3 intervals when n is odd."""
    w = np.zeros(n + 1)
    if n == 1:
        w[:] = 0.5
        return w
    even = n if n % 2 == 0 else n - 3
    if even > 0:
        w[:even + 1:2] += 2 / 3
        w[1:even:2] += 4 / 3
        w[0] -= 1 / 3
        w[even] -= 1 / 3
    if n % 2 == 1:
        w[n - 3 :] += np.array([3, 9, 9, 3]) / 8
    return w


class SimpsonMemory(_HistoryBuffers):
    """The paper's baseline memory: composite Simpson over the whole history every step."""

    def __init__(self, kernel, dt: float, n_steps: int):
        super().__init__(kernel, dt, n_steps, start_nodes=1)

    def step(self, state: HistoryState, G_new: np.ndarray):
        n = state.n + 1
        self._store(n, G_new)
        return self.dt * self._lag_product(n, 0, n + 1, simpson_weights(n)), HistoryState(n=n)
