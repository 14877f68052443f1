"""Generated datasets cached by the hash of their config, so `train` solves each once.

Concurrency: parallel sweep jobs (joblib, submitit, SLURM arrays) often ask for
the same dataset at the same moment. Files are written to temporary names and
renamed into place, so a reader never sees a half-written file; on top of that
an exclusive lock on `<entry>/.lock` (fcntl.flock) makes the second process
wait for the first and load its file instead of solving again. Where locks are
unavailable (no fcntl, a file system without flock) both solve and the last
rename wins: still one valid file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from pathlib import Path

from ..errors import UserError
from .dataset import Dataset
from .io import load_dataset, save_dataset

log = logging.getLogger("idelearn")


def cache_key(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode()).hexdigest()[:16]


@contextlib.contextmanager
def file_lock(path: Path):
    """Hold an exclusive advisory lock on `path` (created if needed); a no-op where unsupported."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(path, "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        except OSError:  # e.g. a network file system without flock: rely on the atomic rename
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _load(folder: Path) -> Dataset | None:
    """The cached dataset, or None when absent or unreadable (it is then solved again)."""
    path = folder / "dataset.npz"
    if not (path.exists() and (folder / "dataset.json").exists()):
        return None
    try:
        return load_dataset(path)
    except UserError as exc:
        log.warning("cache entry unreadable, solving again: %s", exc)
        return None


def cached(description: dict, make, cache_dir) -> tuple[Dataset, Path]:
    """Load the dataset described by `description` from the cache, or make() and store it.

    Two processes making the same dataset at once: the first solves while the
    second waits on the entry's lock, then loads the first one's file.
    """
    folder = Path(cache_dir) / f"{description.get('name', 'dataset')}-{cache_key(description)}"
    path = folder / "dataset.npz"
    data = _load(folder)  # fast path: no lock needed to read a complete entry
    if data is not None:
        return data, path
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"trainer.cache_dir: cannot create {folder} ({exc.strerror or type(exc).__name__})") from None
    with file_lock(folder / ".lock"):
        data = _load(folder)  # made by another process while we waited
        if data is None:
            data = make()
            save_dataset(data, folder)
    return data, path
