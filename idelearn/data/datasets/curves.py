"""Paper 2's curve datasets (appendix C): Lotka-Volterra, Lorenz, the 2D IE spirals; seeded and solved here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ...equations.lorenz import LYAPUNOV_EXPONENT
from .. import curve_datasets
from .base import CurvesConfig, solved

TINY = {"n_traj": "3", "n_t": "8", "t_final": "1.0"}


@dataclass
class LotkaVolterraConfig(CurvesConfig):
    tiny: ClassVar[dict[str, str]] = TINY
    name: str = "lotka_volterra"

    def generate(self, solver=None, progress=None):
        return solved(self.name, lambda: curve_datasets.lotka_volterra(self.n_traj, self.n_t, self.t_final, self.seed))


@dataclass
class LorenzConfig(CurvesConfig):
    tiny: ClassVar[dict[str, str]] = TINY
    lyapunov_exponent: ClassVar[float] = LYAPUNOV_EXPONENT
    name: str = "lorenz"

    def generate(self, solver=None, progress=None):
        return solved(self.name, lambda: curve_datasets.lorenz(self.n_traj, self.n_t, self.t_final, self.seed))


@dataclass
class SpiralsConfig(CurvesConfig):
    tiny: ClassVar[dict[str, str]] = TINY
    name: str = "spirals"

    def generate(self, solver=None, progress=None):
        return solved(self.name, lambda: curve_datasets.spirals(self.n_traj, self.n_t, self.t_final, self.seed))
