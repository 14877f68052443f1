"""Training on segments (`model.random_start`): a curve model learns to continue a curve from a
context window anywhere along it, not only from its first points.

Paper 2's Table 5 test gives points 20-40 of unseen curves as a new initial condition; its
fMRI experiment trains on exactly that ("each time point characterize[s] the initial condition
of a 20 time points curve"). With random starts, each mini-batch draws one start s uniformly
in 0..n_t - context - 1; its curves give the points s..s+context-1 and the model predicts the
rest of the curve, s+context..n_t-1, scored there only. One start per mini-batch, not per
curve: the batch then shares one time grid t[s:], which every curve model takes as a single
vector (an integral's limits, a transformer's time tokens, an ODE solver's output times); over
an epoch of several batches and many epochs, the starts still cover the whole curve.

The model is given the segment's absolute times t[s:], not times restarted at zero: the
spirals' kernel is not a function of t - s, so where the segment sits in time matters.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

BatchLoss = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict]]


class SegmentSampler:
    """Draws the start of each mini-batch's context window: uniform in 0..n_t - context - 1
    (at least one point is left to predict). The draws come from the training's own batch
    generator, whose state a checkpoint saves: a resumed run draws the same starts."""

    def __init__(self, n_t: int, context: int, gen: torch.Generator):
        if not 1 <= context < n_t:
            raise ValueError(f"context must be in 1..{n_t - 1} for curves of {n_t} points, got {context}")
        self.n_starts = n_t - context
        self.gen = gen

    def start(self) -> int:
        return int(torch.randint(self.n_starts, (1,), generator=self.gen))

    def __call__(self, batch: torch.Tensor, t: torch.Tensor | None) -> tuple[int, torch.Tensor, torch.Tensor | None]:
        """(start, the batch's curves from `start` on (B, n_t - start, ...), their times t[start:] (None: None))."""
        s = self.start()
        return s, batch[:, s:], None if t is None else t[s:]


def on_segments(batch_loss: BatchLoss, sampler: SegmentSampler) -> BatchLoss:
    """`batch_loss` applied to each batch cut at a random start: the loss, which scores the points
    after the first `context` ones of what it is given, then scores the curve after its segment."""

    def loss(batch: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, dict]:
        _, segment, t_segment = sampler(batch, t)
        return batch_loss(segment, t_segment)

    return loss


def trained_on_first_segments_before(ckpt: dict) -> dict:
    """A checkpoint written before `model.random_start` existed: its model was trained on first segments."""
    return {**ckpt, "config": {"random_start": False, **ckpt["config"]}}
