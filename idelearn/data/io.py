"""Dataset files: `dataset.npz` (arrays) + `dataset.json` (metadata).

Loaded without executing code (allow_pickle=False): a file holding pickled
objects is refused, and so is a truncated or malformed one, with one line that
names the file, what was expected and what was found. Writes go to a temporary
file and are renamed into place, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..schema import MAX_VALUES  # numbers in one array: beyond this a file is refused before it is read
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


def _prefix(key: str | None, path: Path) -> str:
    return f"{key}: {path}" if key else str(path)


def _check_header(fp, size: int, name: str, where: str) -> None:
    """Refuse an .npy array (a file or an .npz member of `size` bytes) whose header announces more numbers
    than idelearn reads, or more bytes than the file holds, before reading (or allocating) its data."""
    try:
        major, _ = np.lib.format.read_magic(fp)
        reader = {1: np.lib.format.read_array_header_1_0, 2: np.lib.format.read_array_header_2_0}.get(major)
        if reader is None:
            return
        shape, _, dtype = reader(fp)
    except (ValueError, EOFError, OSError):  # not an .npy header: np.load says what it is
        return
    if dtype.hasobject:  # refused by np.load (allow_pickle=False)
        return
    n = math.prod(shape)
    if n > MAX_VALUES:
        raise UserError(f"{where}: array {name} of shape {tuple(shape)} holds {n:.3g} numbers; idelearn reads "
                        f"at most {MAX_VALUES:.0e}")
    if n * dtype.itemsize > size - fp.tell():
        raise UserError(f"{where}: truncated: array {name} of shape {tuple(shape)} needs {n * dtype.itemsize} "
                        f"bytes, the file holds {max(size - fp.tell(), 0)}")


def _check_headers(path: Path, where: str) -> None:
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    if info.filename.endswith(".npy"):
                        with z.open(info) as fp:
                            _check_header(fp, info.file_size, info.filename[:-4], where)
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError):
            return  # np.load reports it
    else:
        with open(path, "rb") as fp:
            _check_header(fp, os.fstat(fp.fileno()).st_size, "", where)


def _read_npz(path: Path, where: str) -> dict:
    """All arrays of an .npz archive, refusing pickles and unreadable files in one line."""
    _check_headers(path, where)
    try:
        with open(path, "rb") as fh:  # ours to close: np.load leaks its own handle when the zip is corrupt
            f = np.load(fh, allow_pickle=False)
            if not isinstance(f, np.lib.npyio.NpzFile):
                raise UserError(f"{where}: expected an .npz archive (t, G, params), got a single .npy array")
            with f:
                return {k: f[k] for k in f.files}
    except UserError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower():  # object arrays, or a plain pickle renamed .npz
            raise UserError(f"{where}: refused to load: it contains pickled Python objects "
                            "(idelearn files hold numeric arrays only)") from None
        raise UserError(f"{where}: not a valid .npz archive ({e})") from None
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as e:  # (a zip of
        size = path.stat().st_size if path.exists() else 0  # another compression, or encrypted: Not..., Runtime...)
        raise UserError(f"{where}: truncated or not an .npz archive ({size} bytes; "
                        f"{type(e).__name__}: {e})") from None


def check_arrays(arrays: dict, where: str) -> None:
    """Shapes and dtypes of the dataset contract (README: Usage), named on failure."""
    missing = [k for k in REQUIRED if k not in arrays]
    if missing:
        raise UserError(f"{where}: missing array(s) {', '.join(missing)} (expected {', '.join(REQUIRED)}; "
                        f"the file has {', '.join(sorted(arrays)) or 'none'})")
    for key, value in arrays.items():
        if not np.issubdtype(value.dtype, np.number):
            raise UserError(f"{where}: array {key} has dtype {value.dtype}, expected numbers")
        if not np.isfinite(value).all():
            raise UserError(f"{where}: array {key} holds NaN or inf")
    t, G, params = arrays["t"], arrays["G"], arrays["params"]
    if t.ndim != 1 or len(t) < 2:
        raise UserError(f"{where}: t must be a 1-D time grid of >= 2 nodes, got shape {t.shape}")
    if np.iscomplexobj(t) or np.iscomplexobj(params):
        raise UserError(f"{where}: t and params must be real, got {t.dtype} and {params.dtype}")
    if not (np.diff(t) > 0).all():
        raise UserError(f"{where}: t must increase, got {t[:4].tolist()}...")
    if "I" in arrays and not np.allclose(np.diff(t), t[1] - t[0], rtol=1e-6, atol=0):
        raise UserError(f"{where}: t must be a uniform grid for IDE data (with I)")
    if G.ndim not in (3, 4) or G.shape[1] != len(t) or 0 in G.shape:
        raise UserError(f"{where}: G must be (n_traj, n_t={len(t)}, dim) or (n_traj, n_t={len(t)}, d, m), "
                        f"got shape {G.shape}")
    if params.ndim != 2 or params.shape[0] != G.shape[0]:
        raise UserError(f"{where}: params must be (n_traj={G.shape[0]}, k), got shape {params.shape}")
    if "I" in arrays and arrays["I"].shape != G.shape:
        raise UserError(f"{where}: I has shape {arrays['I'].shape}, expected G's shape {G.shape}")


def load_dataset(path, key: str | None = None) -> Dataset:
    """Load dataset.npz (with dataset.json beside it when present).

    `key` (e.g. "dataset.path") prefixes error messages, naming the config key that gave the file.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "dataset.npz"
    where = _prefix(key, path)
    if not path.exists():
        raise UserError(f"{where}: file not found")
    arrays = _read_npz(path, where)
    check_arrays(arrays, where)
    meta_path = path.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    except (OSError, ValueError) as e:
        raise UserError(f"{meta_path}: not a readable JSON file ({type(e).__name__})") from None
    if not isinstance(meta, dict):
        raise UserError(f"{meta_path}: expected a JSON object, got {type(meta).__name__}")
    names = meta.get("param_names") or [f"p{i}" for i in range(arrays["params"].shape[1])]
    if len(names) != arrays["params"].shape[1]:
        names = [f"p{i}" for i in range(arrays["params"].shape[1])]
    return Dataset(t=arrays["t"], G=arrays["G"], params=arrays["params"], param_names=names,
                   I=arrays.get("I"), meta=meta)


def load_curves(path, t_final: float = 1.0, key: str = "dataset.path") -> Dataset:
    """Curves for curve models: an idelearn dataset.npz, or an .npy array (n_curves, n_t, dim).

    An .npy file stores no times: t = linspace(0, t_final, n_t). Curves must be finite.
    """
    path = Path(path).expanduser()
    where = _prefix(key, path)
    if not path.exists():
        raise UserError(f"{where}: file not found")
    if path.suffix == ".npz" or path.is_dir() or zipfile.is_zipfile(path):
        return load_dataset(path, key)  # finite arrays (check_arrays)
    _check_headers(path, where)
    try:
        curves = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise UserError(f"{where}: refused to load: it contains pickled Python objects "
                            "(expected a numeric .npy array)") from None
        raise UserError(f"{where}: not a valid .npy file ({e})") from None
    except (EOFError, OSError) as e:
        raise UserError(f"{where}: truncated or not an .npy file ({type(e).__name__})") from None
    if curves.ndim != 3 or not np.issubdtype(curves.dtype, np.number):
        raise UserError(f"{where}: expected a numeric array (n_curves, n_t, dim), got {curves.dtype} "
                        f"of shape {curves.shape}")
    if np.iscomplexobj(curves):
        raise UserError(f"{where}: expected real curves, got {curves.dtype}")
    if curves.shape[0] < 1 or curves.shape[1] < 2 or curves.shape[2] < 1:
        raise UserError(f"{where}: expected >= 1 curve of >= 2 points, got shape {curves.shape}")
    curves = curves.astype(np.float64)
    if not np.isfinite(curves).all():
        raise UserError(f"{where}: contains NaN or inf")
    n, n_t, _ = curves.shape
    meta = {"equation": "from_file", "path": str(path.resolve()), "kind": "trajectory"}
    return Dataset(t=np.linspace(0.0, t_final, n_t), G=curves, params=np.arange(n, dtype=float)[:, None],
                   param_names=["index"], meta=meta)
