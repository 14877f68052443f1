"""Numerical core: steppers, memory operators, the public `solve_ide` and `solve_general_ide`."""

from .general import GeneralIDESolution, solve_general_ide
from .ide import IDESolution, solve_ide

__all__ = ["GeneralIDESolution", "IDESolution", "solve_general_ide", "solve_ide"]
