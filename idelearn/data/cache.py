"""Generated datasets cached by the hash of their config, so `train` solves each once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .dataset import Dataset
from .io import load_dataset, save_dataset


def cache_key(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached(description: dict, make, cache_dir) -> tuple[Dataset, Path]:
    """Load the dataset described by `description` from the cache, or make() and store it.

    Files are written to temporary names and renamed into place, so two
    processes making the same dataset at once both leave a valid file.
    """
    folder = Path(cache_dir) / f"{description.get('name', 'dataset')}-{cache_key(description)}"
    path = folder / "dataset.npz"
    if path.exists() and (folder / "dataset.json").exists():
        return load_dataset(path), path
    data = make()
    folder.mkdir(parents=True, exist_ok=True)
    save_dataset(data, folder)
    return data, path
