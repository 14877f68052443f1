"""Attentional Neural Integral Equation (paper 2 §2.2, Alg. 2).

    y = f + Att(y)

Att embeds each time point as a token [y(t), t], runs a transformer encoder
and projects back to the state: self-attention's query-key products play the
kernel K(t, s) and the weighted sum over tokens plays ∫ ds. A causal mask
(token t sees s <= t) gives a Volterra equation, no mask a Fredholm one.
f is the observed initial segment (see `ie_common`); the equation is solved
by the same smoothed fixed-point iteration as NIE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import MISSING
from torch import nn

from ..schema import require
from . import ie_common
from .base import MAX_LAYERS, MAX_WIDTH
from .curve_model import CurveModel, IEModelConfig
from .ie_common import fixed_point, free_term


class ANIE(nn.Module):
    """Integral equation whose integral operator is a transformer encoder."""

    def __init__(self, dim: int, *, d_model: int, n_heads: int, n_layers: int, dim_feedforward: int, mode: str,
                 max_iter: int, tol: float, smoothing: float):
        super().__init__()
        if mode not in ("volterra", "fredholm"):
            raise ValueError(f"mode must be 'volterra' or 'fredholm', got {mode!r}")
        self.config = dict(
            dim=dim, d_model=d_model, n_heads=n_heads, n_layers=n_layers,
            dim_feedforward=dim_feedforward, mode=mode,
            max_iter=max_iter, tol=tol, smoothing=smoothing,
        )
        self.mode, self.max_iter, self.tol, self.smoothing = mode, max_iter, tol, smoothing
        self.embed = nn.Linear(dim + 1, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, dim_feedforward, dropout=0.0, activation="gelu", batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.project = nn.Linear(d_model, dim)

    def _tokens(self, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.embed(torch.cat([y, t[None, :, None].expand(len(y), -1, 1)], dim=-1))

    def _mask(self, n_t: int, dtype) -> torch.Tensor | None:
        if self.mode == "fredholm":
            return None
        return nn.Transformer.generate_square_subsequent_mask(n_t, dtype=dtype)

    def integral(self, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Att(y): (B, n_t, dim) -> (B, n_t, dim), the stand-in for ∫ K(t, s) F(y(s)) ds."""
        h = self.encoder(self._tokens(y, t), mask=self._mask(len(t), y.dtype))
        return self.project(h)

    def forward(self, known: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Whole curves (B, n_t, dim) from the first k observed points (B, k, dim)."""
        f = free_term(known, len(t))
        # The operator acts only after the context: given points stay as observed.
        after = (torch.arange(len(t)) >= known.shape[1]).to(f.dtype)[None, :, None]
        y, _ = fixed_point(lambda y: f + after * self.integral(y, t), f, self.max_iter, self.tol, self.smoothing)
        return y

    @torch.no_grad()
    def attention_maps(self, known: torch.Tensor, t: torch.Tensor) -> list[torch.Tensor]:
        """Per-layer attention weights (B, n_t, n_t), heads averaged, on the solved curve.

        Row i is how much time t_i draws on each t_j: the learned kernel's
        weights (upper triangle zero in Volterra mode).
        """
        y = self.forward(known, t)
        h, mask, maps = self._tokens(y, t), self._mask(len(t), y.dtype), []
        for layer in self.encoder.layers:
            x = layer.norm1(h) if layer.norm_first else h
            _, w = layer.self_attn(x, x, x, attn_mask=mask, need_weights=True, average_attn_weights=True)
            maps.append(w)
            h = layer(h, src_mask=mask)
        return maps


# ----------------------------------------------------------------------------- the estimator

@dataclass
class ANIEConfig(IEModelConfig):
    name: str = "anie"
    d_model: int = MISSING
    n_heads: int = MISSING
    n_layers: int = MISSING
    dim_feedforward: int = MISSING

    def check(self):
        super().check()
        require(1 <= self.d_model <= MAX_WIDTH, "model.d_model", f"must be in 1..{MAX_WIDTH}, got {self.d_model}")
        require(1 <= self.n_heads <= self.d_model and self.d_model % self.n_heads == 0, "model.n_heads",
                f"must divide model.d_model ({self.d_model}), got {self.n_heads}")
        require(1 <= self.n_layers <= MAX_LAYERS, "model.n_layers", f"must be in 1..{MAX_LAYERS}, got {self.n_layers}")
        require(1 <= self.dim_feedforward <= MAX_WIDTH, "model.dim_feedforward", f"must be in 1..{MAX_WIDTH}, "
                f"got {self.dim_feedforward}")


class ANIEModel(CurveModel):
    """Paper 2: y = f + Att(y), self-attention as the integral (causal mask = Volterra)."""

    name = "anie"
    config_class = ANIEConfig
    tiny_data = ("dataset=spirals", "dataset.n_traj=6", "dataset.n_t=30", "model.context=10")
    tiny = dict(epochs="1", d_model="8", n_heads="2", n_layers="1", dim_feedforward="8",
                max_iter="2", batch_size="2")
    numerics = (ANIE, ie_common.fit_ie_model)

    def net_config(self):
        c = self.config
        return dict(d_model=c.d_model, n_heads=c.n_heads, n_layers=c.n_layers, dim_feedforward=c.dim_feedforward,
                    mode=c.mode.value, max_iter=c.max_iter, tol=c.tol, smoothing=c.smoothing)

    def make_net(self, **net_config):
        return ANIE(**net_config)

    def attention_maps(self, G_known, t):
        param = next(self.net.parameters())
        as_tensor = lambda a: torch.as_tensor(a, dtype=param.dtype, device=param.device)  # noqa: E731
        with torch.no_grad():
            maps = self.net.attention_maps(as_tensor(self.normalise(G_known)), as_tensor(self.unit_time(t)))
        return [m.cpu().numpy() for m in maps]


MODEL = ANIEModel
