"""Neural Integral Equation (paper 2, eq. 2), integral by torchquad.

    y(t) = f(t) + ∫_{a(t)}^{b(t)} K_θ(t, s) F_θ(y(s)) ds

K_θ: (t, s) -> (dim x width) matrix, F_θ: R^dim -> R^width (width = dim in
the paper). Volterra: [a, b] = [t_0, t]; Fredholm: [t_0, t_end] for every t.
f is the observed initial segment (see `ie_common`), and the equation is
solved by a smoothed fixed-point iteration kept on the autograd tape.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import Enum

import torch
import torchquad
from omegaconf import MISSING
from torch import nn

from ..schema import require
from . import ie_common
from .base import MAX_WIDTH
from .curve_model import CurveModel, IEModelConfig
from .ie_common import fixed_point, free_term

QUADRATURES = {
    "montecarlo": torchquad.MonteCarlo,
    "gausslegendre": torchquad.GaussLegendre,
    "simpson": torchquad.Simpson,
}


def mlp(n_in: int, hidden: int, n_out: int, depth: int = 2) -> nn.Sequential:
    layers, width = [], n_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.SiLU()]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def interp_time(values: torch.Tensor, grid: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear values(s): values (B, n_t, w) on `grid`, s (...) -> (B, ..., w).

    s outside the grid extrapolates linearly from the end intervals; inside a
    Volterra integral s <= t always, so no value after t is ever touched.
    """
    idx = (torch.searchsorted(grid, s.reshape(-1).contiguous(), right=True) - 1).clamp(0, len(grid) - 2)
    frac = ((s.reshape(-1) - grid[idx]) / (grid[idx + 1] - grid[idx]))[None, :, None]
    out = values[:, idx] * (1 - frac) + values[:, idx + 1] * frac
    return out.reshape(values.shape[0], *s.shape, values.shape[-1])


class NIE(nn.Module):
    """Neural integral equation solved by fixed-point iteration over the whole grid."""

    def __init__(self, dim: int, *, hidden: int, width: int, mode: str, quadrature: str, n_samples: int,
                 max_iter: int, tol: float, smoothing: float):
        super().__init__()
        if mode not in ("volterra", "fredholm"):
            raise ValueError(f"mode must be 'volterra' or 'fredholm', got {mode!r}")
        if quadrature not in QUADRATURES:
            raise ValueError(f"quadrature must be one of {sorted(QUADRATURES)}, got {quadrature!r}")
        self.config = dict(
            dim=dim, hidden=hidden, width=width, mode=mode, quadrature=quadrature,
            n_samples=n_samples, max_iter=max_iter, tol=tol, smoothing=smoothing,
        )
        self.dim, self.width, self.mode = dim, width, mode
        self.n_samples, self.max_iter, self.tol, self.smoothing = n_samples, max_iter, tol, smoothing
        self.kernel = mlp(2, hidden, dim * width)
        self.F = mlp(dim, hidden, width)
        self._quad = QUADRATURES[quadrature]()

    def integral(self, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """∫ K(t, s) F(y(s)) ds at every grid time, for every curve: (B, n_t, dim).

        One torchquad call covers all times and curves: with s = a + (b - a) u,
        ∫_a^b g(s) ds = (b - a) ∫_0^1 g(a + (b - a) u) du, and the integrand of u
        returns (N, B, n_t, dim). F is applied on the grid and then interpolated
        (same order as interpolating y first, but F runs B·n_t times, not B·n_t·N).
        """
        Fy = self.F(y)
        t0, t1 = t[0], t[-1]
        upper = t if self.mode == "volterra" else t1.expand_as(t)
        length = upper - t0  # (n_t,): Jacobian of s = t0 + length * u

        def integrand(u):  # u: (N, 1) nodes on [0, 1]; Gauss nodes arrive as float64
            s = t0 + u.to(y.dtype) * length  # (N, n_t)
            ts = torch.stack([t.expand_as(s), s], dim=-1)
            K = self.kernel(ts).reshape(*s.shape, self.dim, self.width)
            Fs = interp_time(Fy, t, s)  # (B, N, n_t, width)
            return torch.einsum("nkdw,bnkw->nbkd", K, Fs) * length[:, None]

        domain = torch.tensor([[0.0, 1.0]], dtype=y.dtype)
        kwargs = {}
        if isinstance(self._quad, torchquad.MonteCarlo):
            # torchquad reseeds torch's global RNG when given no rng; a private
            # RNG seeded from the global stream keeps training reproducible.
            seed = int(torch.randint(2**62, (1,)))
            kwargs["rng"] = torchquad.RNG(backend="torch", seed=seed, torch_save_state=True)
        with warnings.catch_warnings():
            # torchquad 0.6's Gauss weights copy-construct a tensor; harmless.
            warnings.filterwarnings("ignore", message="To copy construct from a tensor")
            return self._quad.integrate(integrand, dim=1, N=self.n_samples, integration_domain=domain, **kwargs)

    def forward(self, known: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Whole curves (B, n_t, dim) from the first k observed points (B, k, dim)."""
        f = free_term(known, len(t))
        # The integral acts only after the context: given points stay as observed.
        after = (torch.arange(len(t)) >= known.shape[1]).to(f.dtype)[None, :, None]
        y, _ = fixed_point(lambda y: f + after * self.integral(y, t), f, self.max_iter, self.tol, self.smoothing)
        return y


# ----------------------------------------------------------------------------- the estimator

class Quadrature(Enum):
    montecarlo = "montecarlo"
    gausslegendre = "gausslegendre"
    simpson = "simpson"


@dataclass
class NIEConfig(IEModelConfig):
    name: str = "nie"
    hidden: int = MISSING
    width: int = MISSING  # K(t, s) is dim x width, F maps dim -> width; > dim leaves room for drift terms
    quadrature: Quadrature = MISSING
    n_samples: int = MISSING  # quadrature nodes (Monte Carlo: samples)

    def check(self):
        super().check()
        require(1 <= self.hidden <= MAX_WIDTH, "model.hidden", f"must be in 1..{MAX_WIDTH}, got {self.hidden}")
        require(1 <= self.width <= MAX_WIDTH, "model.width", f"must be in 1..{MAX_WIDTH}, got {self.width}")
        require(2 <= self.n_samples <= 10**5, "model.n_samples", f"must be in 2..100000, got {self.n_samples}")


class NIEModel(CurveModel):
    """Paper 2: y = f + ∫ K(t, s) F(y(s)) ds, integrals through torchquad."""

    name = "nie"
    config_class = NIEConfig
    tiny_data = ("dataset=spirals", "dataset.n_traj=6", "dataset.n_t=30", "model.context=10")
    tiny = dict(epochs="1", hidden="8", width="2", n_samples="8", max_iter="2", batch_size="2")
    numerics = (NIE, ie_common.fit_ie_model)

    def net_config(self):
        c = self.config
        return dict(hidden=c.hidden, width=c.width, mode=c.mode.value, quadrature=c.quadrature.value,
                    n_samples=c.n_samples, max_iter=c.max_iter, tol=c.tol, smoothing=c.smoothing)

    def make_net(self, **net_config):
        return NIE(**net_config)


MODEL = NIEModel
