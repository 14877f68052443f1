"""General-form IDEs with exact solutions, for `solve_general_ide`:

    y'(x) = c(x, y) + d(x) ∫_{lower_bound(x)}^{upper_bound(x)} k(x, s) f(y(s)) ds,    y(x[0]) = y_0.

`peer_problems()`: the analytic problems idesolver (JoshKarpel/idesolver) tests itself on, on its
grids (100 points on [0, 1], [0, 7] for the 2-D system), written here from the equations; four are
from Gelmi & Jorquera (2014). `manufactured_problems()`: further ones of each kind with closed forms
(a two-time kernel with a nonlinear f, a complex Fredholm problem, moving limits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class GeneralProblem:
    name: str
    kind: str  # "volterra", "fredholm", "moving" (limits that are neither x[0]..x nor fixed), "trivial"
    x: np.ndarray
    y_0: object
    exact: Callable  # x -> y, in the solver's layout ((len(x),) or (dim, len(x)))
    functions: dict = field(default_factory=dict)  # c, d, k, f, lower_bound, upper_bound (absent: defaults)

    def kwargs(self) -> dict:
        return {"x": self.x, "y_0": self.y_0, **self.functions}


def peer_problems() -> list[GeneralProblem]:
    unit = np.linspace(0, 1, 100)
    root = np.sqrt(25 - 12j)
    return [
        GeneralProblem(  # y' = 5y + 1 - 3i ∫_0^x y: y'' = 5y' - 3i y, y(0) = 0, y'(0) = 1
            "complex, k = 1, d = -3i", "volterra", unit, 0j,
            lambda x: 2 * np.exp(5 * x / 2) * np.sinh(0.5 * root * x) / root,
            dict(c=lambda x, y: 5 * y + 1, d=lambda x: -3j, k=lambda x, s: 1, f=lambda y: y,
                 lower_bound=lambda x: 0, upper_bound=lambda x: x)),
        GeneralProblem(  # (sin x, cos x): y0' = (y1 + 1)/2 - ½∫y0 = cos x, y1' = -y0/2 - ½∫y1 = -sin x
            "2-D system -> (sin x, cos x)", "volterra", np.linspace(0, 7, 100), [0.0, 1.0],
            lambda x: np.array([np.sin(x), np.cos(x)]),
            dict(c=lambda x, y: [0.5 * (y[1] + 1), -0.5 * y[0]], d=lambda x: -0.5, f=lambda y: y,
                 lower_bound=lambda x: 0, upper_bound=lambda x: x)),
        GeneralProblem(
            "zero right-hand side", "trivial", unit, 1.0, lambda x: np.ones_like(x),
            dict(c=lambda x, y: 0, d=lambda x: 0, k=lambda x, s: 0, f=lambda y: 0,
                 lower_bound=lambda x: 0, upper_bound=lambda x: 1)),
        GeneralProblem("defaults (zero right-hand side)", "trivial", unit, 1.0, lambda x: np.ones_like(x)),
        GeneralProblem(  # Gelmi 1: y = log(1 + x); ∫_0^1 log(1+s)/(1+s) ds = log(2)²/2
            "Gelmi 1: Fredholm, k = x/(1+s)", "fredholm", unit, 0.0, lambda x: np.log(1 + x),
            dict(c=lambda x, y: y - 0.5 * x + 1 / (1 + x) - np.log(1 + x), d=lambda x: 1 / np.log(2) ** 2,
                 k=lambda x, s: x / (1 + s), f=lambda y: y, lower_bound=lambda x: 0, upper_bound=lambda x: 1)),
        GeneralProblem(  # Gelmi 2: y = cos(2πx); ∫_0^1 sin(2π(2x+s)) cos(2πs) ds = ½ sin(4πx)
            "Gelmi 2: Fredholm, k = sin(2π(2x+s))", "fredholm", unit, 1.0, lambda x: np.cos(2 * np.pi * x),
            dict(c=lambda x, y: y - np.cos(2 * np.pi * x) - 2 * np.pi * np.sin(2 * np.pi * x)
                 - 0.5 * np.sin(4 * np.pi * x),
                 d=lambda x: 1, k=lambda x, s: np.sin(2 * np.pi * (2 * x + s)), f=lambda y: y,
                 lower_bound=lambda x: 0, upper_bound=lambda x: 1)),
        GeneralProblem(  # Gelmi 3: y = 1 + x + x²; ∫_0^1 s (1 + s + s²)² ds = 149/60
            "Gelmi 3: Fredholm, k = x·s, f = y²", "fredholm", unit, 1.0, lambda x: 1 + x + x**2,
            dict(c=lambda x, y: 1 - 29 / 60 * x, d=lambda x: 1, k=lambda x, s: x * s, f=lambda y: y**2,
                 lower_bound=lambda x: 0, upper_bound=lambda x: 1)),
        GeneralProblem(  # Gelmi 4: y = e^-x; x ∫_x^√x s e^-s ds = x[(1+x)e^-x - (1+√x)e^-√x]
            "Gelmi 4: limits [x, √x], k = x·s", "moving", unit, 1.0, lambda x: np.exp(-x),
            dict(c=lambda x, y: x * (1 + np.sqrt(x)) * np.exp(-np.sqrt(x)) - (x**2 + x + 1) * np.exp(-x),
                 d=lambda x: 1, k=lambda x, s: x * s, f=lambda y: y,
                 lower_bound=lambda x: x, upper_bound=lambda x: np.sqrt(x))),
    ]


def manufactured_problems() -> list[GeneralProblem]:
    """Problems built backwards from a chosen solution: c carries what the integral does not."""
    unit = np.linspace(0, 1, 100)

    def volterra_integral(x):  # ∫_0^x cos(x - 2s) (e^-s + s)² ds
        return (x**2 * np.sin(x) / 2 + x * np.cos(x) / 2 + (4 * np.sin(x) - 2 * np.cos(x)) * x * np.exp(-x) / 5
                + 7 * np.sin(x) / 100 + np.cos(x) / 100 + (8 * np.sin(x) + 6 * np.cos(x)) * np.exp(-x) / 25
                - (np.cos(x) - np.sin(x)) * np.exp(-2 * x) / 4)

    def fredholm_integral(x):  # ∫_0^1 e^{xs} (e^{2is})² ds
        return (np.exp(x + 4j) - 1) / (x + 4j)

    def window_integral(x):  # ∫_{x/2}^{(1+x)/2} (x - s) cos s ds
        return (x * (np.sin(x / 2 + 0.5) - np.sin(x / 2)) / 2 - np.sin(x / 2 + 0.5) / 2
                + np.cos(x / 2) - np.cos(x / 2 + 0.5))

    def half_integral(x):  # ∫_{x/2}^x s / (1 + s)² ds
        return np.log((1 + x) / (1 + x / 2)) - x / ((1 + x) * (2 + x))

    return [
        GeneralProblem(  # y = e^-x + x
            "Volterra, k = cos(x - 2s), f = y²", "volterra", np.linspace(0, 2, 100), 1.0,
            lambda x: np.exp(-x) + x,
            dict(c=lambda x, y: -0.5 * y + 1 - np.exp(-x) / 2 + x / 2 - 0.5 * volterra_integral(x),
                 d=lambda x: 0.5, k=lambda x, s: np.cos(x - 2 * s), f=lambda y: y**2,
                 lower_bound=lambda x: 0, upper_bound=lambda x: x)),
        GeneralProblem(  # y = e^{2ix}
            "Fredholm, complex, k = e^(xs), f = y²", "fredholm", unit, 1 + 0j, lambda x: np.exp(2j * x),
            dict(c=lambda x, y: 2j * y - 0.5 * fredholm_integral(x), d=lambda x: 0.5,
                 k=lambda x, s: np.exp(x * s), f=lambda y: y**2, lower_bound=lambda x: 0, upper_bound=lambda x: 1)),
        GeneralProblem(  # y = cos x; the upper limit runs ahead of x
            "moving limits [x/2, (1+x)/2], k = x - s", "moving", unit, 1.0, np.cos,
            dict(c=lambda x, y: 0.3 * y - 0.3 * np.cos(x) - np.sin(x) - window_integral(x),
                 k=lambda x, s: x - s, f=lambda y: y,
                 lower_bound=lambda x: x / 2, upper_bound=lambda x: (1 + x) / 2)),
        GeneralProblem(  # y = 1/(1+x), y' = -y²; causal (stepped), a lower limit between nodes
            "moving limits [x/2, x], k = s, f = y², c = -y²", "moving", unit, 1.0, lambda x: 1 / (1 + x),
            dict(c=lambda x, y: -y**2 - half_integral(x), k=lambda x, s: s, f=lambda y: y**2,
                 lower_bound=lambda x: x / 2, upper_bound=lambda x: x)),
    ]
