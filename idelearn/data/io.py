"""Dataset files: `dataset.npz` (arrays) + `dataset.json` (metadata).

Loaded without executing code (allow_pickle=False). Writes go to a temporary
file and are renamed into place, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from .dataset import Dataset

REQUIRED = ("t", "G", "params")


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path) then rename tmp_path to path."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_dataset(data: Dataset, run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    arrays = {"t": data.t, "G": data.G, "params": data.params}
    if data.I is not None:
        arrays["I"] = data.I
    npz = run_dir / "dataset.npz"

    def write_npz(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write(npz, write_npz)
    meta = dict(data.meta, param_names=list(data.param_names), shape=list(data.G.shape))
    atomic_write(run_dir / "dataset.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
    return npz


def load_dataset(path) -> Dataset:
    """Load dataset.npz (with dataset.json beside it when present)."""
    path = Path(path)
    if path.is_dir():
        path = path / "dataset.npz"
    if not path.exists():
        raise UserError(f"dataset file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except ValueError as e:  # object arrays need pickle: refuse them
        raise UserError(f"{path}: refused to load (contains pickled objects): {e}") from None
    except Exception as e:
        raise UserError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None
    missing = [k for k in REQUIRED if k not in arrays]
    if missing:
        raise UserError(f"{path}: missing array(s) {missing}")
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    names = meta.get("param_names") or [f"p{i}" for i in range(arrays["params"].shape[1])]
    return Dataset(t=arrays["t"], G=arrays["G"], params=arrays["params"], param_names=names,
                   I=arrays.get("I"), meta=meta)


def load_curves(path, t_final: float = 1.0) -> Dataset:
    """Curves for curve models: an idelearn dataset.npz, or an .npy array (n_curves, n_t, dim).

    An .npy file stores no times: t = linspace(0, t_final, n_t).
    """
    path = Path(path).expanduser()
    if path.suffix == ".npz" or path.is_dir():
        return load_dataset(path)
    if not path.exists():
        raise UserError(f"dataset.path: file not found: {path}")
    try:
        curves = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise UserError(f"dataset.path: {path}: refused to load (contains pickled objects): {e}") from None
    except Exception as e:
        raise UserError(f"dataset.path: {path}: not a readable .npy file ({type(e).__name__})") from None
    if curves.ndim != 3 or not np.issubdtype(curves.dtype, np.number):
        raise UserError(f"dataset.path: {path}: expected a numeric array (n_curves, n_t, dim), got {curves.shape}")
    curves = curves.astype(np.float64)
    if not np.isfinite(curves).all():
        raise UserError(f"dataset.path: {path}: contains NaN or inf")
    n, n_t, _ = curves.shape
    meta = {"equation": "from_file", "path": str(path.resolve()), "kind": "trajectory"}
    return Dataset(t=np.linspace(0.0, t_final, n_t), G=curves, params=np.arange(n, dtype=float)[:, None],
                   param_names=["index"], meta=meta)
