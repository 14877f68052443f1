"""What every command does at its start: the run directory, threads, schema objects."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.core.hydra_config import HydraConfig

log = logging.getLogger("idelearn")


def run_dir() -> Path:
    return Path(HydraConfig.get().runtime.output_dir)


def limit_threads(threads: int) -> None:
    """Cap torch and BLAS threads (0 = leave the library defaults).

    Parallel sweep jobs each set this so they don't oversubscribe the cores; a
    single small-matrix solve also runs faster on one BLAS thread.
    """
    if threads <= 0:
        return
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)


def write_json(path: Path, payload: dict) -> None:
    import json

    from ..data.io import atomic_write

    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=2, default=float)))
