"""A user's IDE in the general form (idesolver's, for `solve_general_ide` and `dataset=custom`):

    y'(x) = c(x, y) + d(x) ∫_{lower_bound(x)}^{upper_bound(x)} k(x, s) f(y(s)) ds,    y(x_0) = y_0

Unset callables take idesolver's defaults (c = 0, d = 1, k = 1, f = 0, limits: the grid's ends).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any


@dataclass
class GeneralIDEProblem:
    y_0: Any  # a scalar or a vector, real or complex
    c: Callable | None = None
    d: Callable | None = None
    k: Callable | None = None
    f: Callable | None = None
    lower_bound: Callable | None = None
    upper_bound: Callable | None = None

    def functions(self) -> dict:
        """The callables that are set, by name, as solve_general_ide's keyword arguments."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "y_0" and getattr(self, f.name)
                is not None}
