"""Public API: solve your own IDE  dG/dt = F(G, t) + ∫_0^t K(G(t-s), t-s) G(s) ds.

    from idelearn.solvers import solve_ide
    sol = solve_ide(F, K, G0, t_final=10.0, dt=0.01, order=8)
    sol.t, sol.G, sol.I          # G, I: (batch, n_t, d, m) complex

F(G, t) and K(G, tau) take G of shape (batch, d, m); F returns (batch, d, m),
K returns (batch, d, d) or anything that broadcasts to it (a constant matrix,
a scalar times the identity...). G0 may be (d,) (a vector IDE), (d, m) or
(batch, d, m) for many trajectories solved together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .history import ExactMemory, SimpsonMemory
from .multistep import adams_integrate, check_nodes
from .relaxed import RelaxedMemory
from .startup import collocation_start

METHODS = ("abm", "fe_simpson")
MEMORIES = ("auto", "direct", "relaxed")
# memory="auto" takes the relaxed FFT sum from this many steps × trajectories on: the measured
# crossover (benchmarks/solver_speed.py) is ~1000-2000 steps for one 2x2 trajectory and below 250
# for 100; under it the direct sum's one product per step costs less than the FFT bookkeeping.
RELAXED_FROM_WORK = 2000


@dataclass
class IDESolution:
    t: np.ndarray
    G: np.ndarray
    I: np.ndarray
    method: str
    order: int


def as_batch(G0) -> np.ndarray:
    """Normalise an initial value to (batch, d, m) complex."""
    G0 = np.asarray(G0, dtype=complex)
    if G0.ndim == 1:
        return G0[None, :, None]
    if G0.ndim == 2:
        return G0[None]
    if G0.ndim == 3:
        return G0
    raise ValueError(f"G0 must have shape (d,), (d, m) or (batch, d, m); got {G0.shape}")


def matrix_kernel(K, shape):
    """Wrap K so it always returns (batch, d, d): users may return a scalar or one constant matrix."""
    batch, d, _ = shape
    full = (batch, d, d)

    def K_matrix(G, tau):
        A = K(G, tau)
        # np.broadcast_to costs more than a whole step's arithmetic at small d: skip it when it is a no-op
        return A if getattr(A, "shape", None) == full else np.broadcast_to(A, full)

    return K_matrix


def time_grid(t_final: float, dt: float) -> np.ndarray:
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    if not t_final >= dt:
        raise ValueError(f"t_final must be >= dt, got t_final={t_final}, dt={dt}")
    n_steps = int(round(t_final / dt))
    return np.arange(n_steps + 1) * dt


def exact_memory(K, dt: float, n_steps: int, order: int, memory: str = "auto", batch: int = 1):
    """The Gregory memory operator: "direct" O(n) per step, "relaxed" blocked FFT, or "auto"."""
    if memory not in MEMORIES:
        raise ValueError(f"unknown memory {memory!r}; choose one of {MEMORIES}")
    if memory == "relaxed" or (memory == "auto" and n_steps * batch >= RELAXED_FROM_WORK):
        return RelaxedMemory(K, dt, n_steps, order)
    return ExactMemory(K, dt, n_steps, order)


def solve_ide(F, K, G0, t_final: float, dt: float, order: int = 8, method: str = "abm",
              corrector: bool = True, progress=None, max_abs: float = np.inf,
              memory: str = "auto") -> IDESolution:
    """Solve the IDE on the grid t_n = n dt, n = 0..round(t_final/dt).

    method="abm": AB(order) predictor + AM(order) corrector, Gregory memory
    quadrature of the same order, collocation start-up (order 3..8).
    method="fe_simpson": the paper-1 baseline, forward Euler + Simpson memory
    (first order in dt; `order` is ignored).
    memory (method="abm"): how the history sum is done, same result to round-off: "direct"
    (O(n) per step), "relaxed" (blocked online FFT, O(log² n) per step amortised) or "auto"
    (relaxed for long horizons).
    """
    if memory not in MEMORIES:
        raise ValueError(f"unknown memory {memory!r}; choose one of {MEMORIES}")
    G0 = as_batch(G0)
    K = matrix_kernel(K, G0.shape)
    t = time_grid(t_final, dt)
    n_total = len(t)
    if method == "abm":
        if not 3 <= order <= 8:
            raise ValueError(f"order must be in 3..8, got {order}")
        start = min(order, n_total)
        G_start, I_start = collocation_start(F, K, G0, dt, max(start, 2))
        # a blow-up inside the start-up (the first node included) stops here, with the good nodes before it
        check_nodes(G_start[:, :n_total], I_start[:, :n_total], dt, max_abs)
        if n_total <= order:
            return IDESolution(t, G_start[:, :n_total], I_start[:, :n_total], method, order)
        memory_op = exact_memory(K, dt, n_total - 1, order, memory, len(G0))
        G, I = adams_integrate(F, memory_op, G_start, I_start, dt, n_total, order=order,
                               corrector=corrector, progress=progress, max_abs=max_abs)
        return IDESolution(t, G, I, method, order)
    if method == "fe_simpson":
        memory_op = SimpsonMemory(K, dt, n_total - 1)
        G, I = adams_integrate(F, memory_op, G0[:, None], np.zeros_like(G0)[:, None], dt, n_total,
                               order=1, corrector=False, progress=progress, max_abs=max_abs)
        return IDESolution(t, G, I, method, 1)
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
