"""The training loop all models share: non-finite guards, periodic checkpoints, resume.

A fit function builds its optimiser, scheduler and batch-sampling generator,
and an `iteration(i) -> record` that runs one iteration through
`optimiser_step`: one optimiser step on a mini-batch for the models trained
in `model.steps`, one pass over the training curves for those trained in
`model.epochs`. `run_loop` does the rest. With checkpointing, the full
training state (model, optimiser, scheduler, RNG states, history) is written
every `every` iterations to a temporary file renamed into place, so a crash or
SIGKILL leaves the last complete checkpoint, and a rerun continues from it to
the same weights as an uninterrupted run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


class ResumeMismatch(RuntimeError):
    """The saved training state does not belong to this model or optimiser."""


class NonFiniteError(RuntimeError):
    """The loss or the gradients stopped being finite."""

    def __init__(self, message: str):
        super().__init__(message)


@dataclass
class Checkpointing:
    path: Path
    every: int = 10  # iterations between checkpoints


# Validation is monitoring only (it never changes the weights), yet scoring every held-out
# trajectory costs up to a whole step's training again: with the paper's 2000 Dyson
# trajectories and batches of 10, 400 held-out sequences every 10 steps more than doubled the
# training time. So the curve uses a fixed random subset; the last step scores them all.
VAL_EVERY = 10
VAL_MONITOR = 64


def validation_rows(i: int, n: int) -> slice | None:
    """Held-out trajectories to score at iteration i of n (they come in random order): None = none."""
    if i == n - 1:
        return slice(None)
    return slice(0, VAL_MONITOR) if i % VAL_EVERY == 0 else None


def optimiser_step(opt: torch.optim.Optimizer, loss: torch.Tensor, where: str, clip: float | None = None) -> float:
    """zero_grad, backward, (clip), step — refusing a non-finite loss or gradient.

    `where` names the point of training in error messages, e.g. "step 12" or "epoch 3".
    """
    value = loss.item()
    if not math.isfinite(value):
        raise NonFiniteError(f"training stopped: the loss is {value} at {where}")
    opt.zero_grad()
    loss.backward()
    params = [p for group in opt.param_groups for p in group["params"] if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, clip if clip is not None else float("inf"))
    if not torch.isfinite(norm):
        raise NonFiniteError(f"training stopped: non-finite gradients at {where}")
    opt.step()
    return value


def closure_step(opt: torch.optim.Optimizer, loss_fn: Callable[[], torch.Tensor], where: str,
                 scale: float = 1.0) -> None:
    """One step of an optimiser that evaluates the loss itself (L-BFGS: a closure), on `scale` × the
    loss, refusing a non-finite loss or gradient as `optimiser_step` does."""

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        if not torch.isfinite(loss):
            raise NonFiniteError(f"training stopped: the loss is {loss.item()} at {where}")
        loss = scale * loss
        loss.backward()
        grads = [p.grad for group in opt.param_groups for p in group["params"] if p.grad is not None]
        if not all(torch.isfinite(g).all() for g in grads):
            raise NonFiniteError(f"training stopped: non-finite gradients at {where}")
        return loss

    opt.step(closure)


def _save(path: Path, state: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def run_loop(model: torch.nn.Module, opt, sched, gen: torch.Generator, n: int,
             iteration: Callable[[int], dict], on_iteration=None, checkpointing: Checkpointing | None = None) -> dict:
    """Run iteration(i) for i < n; returns the history {"loss": [...], other keys: [...]}.

    `val_loss`, reported only at some iterations, is kept as (iteration, value) pairs.
    """
    history: dict = {"loss": []}
    start = 0
    if checkpointing is not None and checkpointing.path.exists():
        try:
            state = torch.load(checkpointing.path, map_location="cpu", weights_only=True)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            if sched is not None:
                sched.load_state_dict(state["scheduler"])
            gen.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            history, start = state["history"], state["iteration"]
        except Exception as exc:  # another model's state, a truncated file, ...
            raise ResumeMismatch(f"{checkpointing.path} does not match this training run ({type(exc).__name__}); "
                                 "use trainer.resume=false to start over") from None
    for i in range(start, n):
        model.train()
        record = iteration(i)
        for key, value in record.items():
            if key == "val_loss":
                history.setdefault(key, []).append((i, value))
            else:
                history.setdefault(key, []).append(value)
        if on_iteration is not None:
            on_iteration(i, record)
        done = i + 1
        if checkpointing is not None and (done % checkpointing.every == 0 or done == n):
            _save(checkpointing.path, {
                "model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": None if sched is None else sched.state_dict(), "generator": gen.get_state(),
                "torch_rng": torch.get_rng_state(), "history": history, "iteration": done})
    model.eval()
    return history


def split_trajectories(n_traj: int, val_fraction: float, gen: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out trajectory indices (none held out from a single trajectory)."""
    if n_traj == 1 or val_fraction <= 0:
        return np.arange(n_traj), np.array([], dtype=int)
    perm = torch.randperm(n_traj, generator=gen).numpy()
    n_val = max(1, int(round(val_fraction * n_traj)))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])
