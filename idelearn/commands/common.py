"""What every command does at its start: the run directory, threads, schema objects."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from hydra.core.hydra_config import HydraConfig

from ..data.io import atomic_write

log = logging.getLogger("idelearn")


def run_dir() -> Path:
    return Path(HydraConfig.get().runtime.output_dir)


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def launcher_threads() -> int:
    """Threads per job that a parallel Hydra launcher leaves each job (0: not in a parallel sweep).

    joblib: the cores divided among its n_jobs workers (n_jobs=-1: all cores, one thread each).
    submitit (local or SLURM): the job's cpus_per_task, else 1.
    """
    try:
        from hydra.types import RunMode

        hydra_cfg = HydraConfig.get()
        if hydra_cfg.mode != RunMode.MULTIRUN:
            return 0
        launcher = hydra_cfg.launcher
        target = str(launcher.get("_target_", ""))
    except Exception:  # outside a Hydra job
        return 0
    cpus = available_cpus()
    if "joblib" in target.lower():
        n_jobs = int(launcher.get("n_jobs") or -1)
        workers = n_jobs if n_jobs > 0 else max(1, cpus + 1 + n_jobs)
        return max(1, cpus // max(1, min(workers, cpus)))
    if "submitit" in target.lower():
        return int(launcher.get("cpus_per_task") or 1)
    return 0  # the basic launcher runs jobs one after another


def parallel_job() -> bool:
    """True inside a job that a parallel launcher (joblib, submitit) runs beside others."""
    return launcher_threads() > 0


def limit_threads(threads: int) -> None:
    """Cap torch and BLAS threads (0 = automatic).

    Automatic: the library defaults in a single run; in a sweep run by a parallel
    launcher (hydra/launcher=joblib, submitit_local, submitit_slurm or a preset in
    conf/hydra/launcher/), the job's share of the cores (`launcher_threads`), so
    parallel jobs don't oversubscribe them. device.threads=N > 0 always wins.
    A single small-matrix solve also runs faster on one BLAS thread.
    """
    automatic = threads <= 0
    threads = launcher_threads() if automatic else threads
    if threads <= 0:
        return
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)
    if automatic:
        log.info("parallel sweep job: torch/BLAS limited to %d thread(s) (set device.threads to change)", threads)


def write_json(path: Path, payload: dict) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=2, default=float)))
