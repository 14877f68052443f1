"""What NIE and ANIE share: the free term, the fixed-point solve, training, prediction.

Both models are integral equations y = f + 𝒦(y) on a time grid. Here f is the
known initial segment (paper 2 §2.3/§3.5): the first `context` observed points,
then the last of them held constant. The operator 𝒦 (quadrature for NIE,
self-attention for ANIE) acts only after the context, so the given points stay
exactly as observed and the learned dynamics continue from them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from .segments import SegmentSampler, on_segments
from .training import Checkpointing, optimiser_step, run_loop


def free_term(known: torch.Tensor, n_t: int) -> torch.Tensor:
    """(B, k, dim) observed points -> (B, n_t, dim): the points, then the last one held."""
    tail = known[:, -1:].expand(-1, n_t - known.shape[1], -1)
    return torch.cat([known, tail], dim=1)


def fixed_point(
    T: Callable[[torch.Tensor], torch.Tensor],
    y0: torch.Tensor,
    max_iter: int,
    tol: float,
    smoothing: float = 1.0,
) -> tuple[torch.Tensor, int]:
    """Iterate y <- (1 - a) y + a T(y) from y0; returns (y, iterations done).

    Stops when the relative change ‖y_new - y‖/‖y‖ drops below `tol`. The loop
    stays on the autograd tape (paper 2, Alg. 1: gradients flow through every
    iterate), so a small `max_iter` keeps training cheap.
    """
    y = y0
    for k in range(1, max_iter + 1):  # noqa: B007 (k is returned: the iterations done)
        y_new = (1.0 - smoothing) * y + smoothing * T(y)
        change = (torch.linalg.vector_norm(y_new - y) / torch.linalg.vector_norm(y).clamp_min(1e-12)).item()
        y = y_new
        if change < tol:
            break
    return y, k


def fit_ie_model(
    model: torch.nn.Module,
    curves,
    t,
    *,
    context: int,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    lr_final: float | None,
    on_epoch: Callable[[int, dict], None] | None = None,
    device: torch.device | str | None = None,
    checkpointing: Checkpointing | None = None,
    random_start: bool,
) -> dict:
    """Adam on the MSE of the points after the first `context` ones; returns the history (`fit_curves`).

    random_start: each mini-batch is cut at a random start first (`segments`): the context is
    then `context` points from there, and the points after it are scored.
    """

    def mse_after_context(batch, t):
        pred = model(batch[:, :context], t)
        return torch.mean((pred[:, context:] - batch[:, context:]) ** 2), {}

    return fit_curves(model, curves, t, mse_after_context, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                      lr_final=lr_final, on_epoch=on_epoch, device=device, checkpointing=checkpointing,
                      segment_context=context if random_start else None)


def fit_curves(
    model: torch.nn.Module,
    curves,
    t,
    batch_loss: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict]],
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    lr_final: float | None,
    on_epoch: Callable[[int, dict], None] | None = None,
    device: torch.device | str | None = None,
    checkpointing: Checkpointing | None = None,
    segment_context: int | None = None,
) -> dict:
    """The curve models' training: Adam over shuffled mini-batches, `epochs` passes; returns the history.

    batch_loss(batch (B, n_t, dim), t) -> (loss, {name: float}): the model's loss on a batch, and any
    extra per-batch numbers to average into the epoch's record. curves: (n, n_t, dim) float, t: (n_t,).
    The learning rate decays from `lr` to `lr_final` along a cosine (None: constant), which settles
    the last epochs without a separate tuning pass. `on_epoch(epoch, record)` sees each epoch's record
    {"loss", extras, "s_per_iter", "wall_s"} (training time so far, callbacks excluded); the history
    holds the per-epoch lists. segment_context: train on segments (`model.random_start`): each batch
    is cut at a start drawn from the batch generator, leaving at least one point after this many.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model.to(device or "cpu")
    param = next(model.parameters())
    y = torch.as_tensor(np.asarray(curves), dtype=param.dtype, device=param.device)
    t = torch.as_tensor(np.asarray(t), dtype=param.dtype, device=param.device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n_steps = epochs * -(-len(y) // batch_size)
    sched = None
    if lr_final is not None:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=n_steps, eta_min=lr_final)
    train_s = [0.0]  # excludes on_epoch, which may evaluate or plot
    if segment_context is not None:
        batch_loss = on_segments(batch_loss, SegmentSampler(len(t), segment_context, gen))

    def epoch_fn(epoch: int) -> dict:
        tic, losses, extras = time.perf_counter(), [], {}
        for idx in torch.randperm(len(y), generator=gen).split(batch_size):
            loss, extra = batch_loss(y[idx], t)
            losses.append(optimiser_step(opt, loss, f"epoch {epoch + 1}"))
            for key, value in extra.items():
                extras.setdefault(key, []).append(value)
            if sched is not None:
                sched.step()
        epoch_s = time.perf_counter() - tic
        train_s[0] += epoch_s
        return {"loss": float(np.mean(losses)), **{k: float(np.mean(v)) for k, v in extras.items()},
                "s_per_iter": epoch_s / len(losses), "wall_s": train_s[0]}

    history = run_loop(model, opt, sched, gen, epochs, epoch_fn, on_epoch, checkpointing)
    history["wall_s"] = history["wall_s"][-1] if history.get("wall_s") else 0.0
    return history


def predict(model: torch.nn.Module, curves_context, t, context: int) -> np.ndarray:
    """Whole curves (n, n_t, dim) from their first `context` points (extra points are ignored)."""
    param = next(model.parameters())
    known = torch.as_tensor(np.asarray(curves_context)[:, :context], dtype=param.dtype, device=param.device)
    t = torch.as_tensor(np.asarray(t), dtype=param.dtype, device=param.device)
    model.eval()
    with torch.no_grad():
        return model(known, t).cpu().numpy()
