"""Scalar IDEs with lag memories, for `dataset=custom` (the kernel_zoo suite and the tests):

    y' = −i ω y + ∫_0^t K(y(t−s), t−s) y(s) ds,   y(0) = 1  (−i for the G-dependent kernels)

    idelearn train model=kernel_operator dataset=custom dataset.problem=idelearn.equations.lag_memories:exponential

Each function returns (F, K, G0) as `dataset=custom` expects; its keyword arguments are the
dataset's parameters (`'dataset.kwargs={omega: 1.5}'` changes the streaming term).
"""

from __future__ import annotations

import numpy as np


def _streaming(omega: float):
    return lambda G, t: -1j * omega * G


G0 = np.array([1.0 + 0j])
# The G-dependent kernels −i G(t−s) start from G(0) = −i, paper 1's Dyson normalisation: from G(0) = 1
# the same kernel is the Dyson equation rotated by i into an unstable one (|G| 1.2e4 at t = 10, 4e21 at 40).
G0_DYSON = np.array([-1j])


def exponential(omega=1.0, strength=0.5, rate=1.0):
    """K = −strength · e^{−rate τ}: relaxation (one exponential)."""
    return _streaming(omega), lambda G, tau: -strength * np.exp(-rate * np.asarray(tau)), G0


def power_law(omega=1.0, strength=0.5, exponent=1.5):
    """K = −strength · (1 + τ)^{−exponent}: a power-law tail (anomalous diffusion)."""
    return _streaming(omega), lambda G, tau: -strength * (1.0 + np.asarray(tau)) ** -exponent, G0


def damped_cosine(omega=1.0, strength=0.5, rate=0.5, frequency=2.0):
    """K = −strength · e^{−rate τ} cos(frequency τ): a damped oscillation (two complex rates)."""
    return (_streaming(omega),
            lambda G, tau: -strength * np.exp(-rate * np.asarray(tau)) * np.cos(frequency * np.asarray(tau)), G0)


def g_times_exp(omega=1.0, coupling=1.0, rate=0.3):
    """K = −i coupling · G(t−s) e^{−rate τ}: a Dyson-like memory damped in the lag (G and τ both)."""
    return _streaming(omega), lambda G, tau: -1j * coupling * G * np.exp(-rate * np.asarray(tau)), G0_DYSON


def dyson(omega=1.0, coupling=1.0):
    """K = −i coupling · G(t−s): the Bethe-lattice Dyson equation (h = ω, c² = coupling), a control."""
    return _streaming(omega), lambda G, tau: -1j * coupling * G, G0_DYSON


def step(omega=1.0, strength=0.5, width=2.5):
    """K = −strength for τ < width, 0 after: a memory with a jump (outside every smooth kernel family)."""
    return _streaming(omega), lambda G, tau: -strength * (np.asarray(tau) < width), G0
