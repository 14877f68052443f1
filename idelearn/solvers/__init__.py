"""Numerical core: steppers, memory operators, the public `solve_ide`."""

from .ide import IDESolution, solve_ide

__all__ = ["IDESolution", "solve_ide"]
