"""Figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..data.dataset import Dataset  # noqa: E402


def plot_dataset(data: Dataset, path: Path, max_curves: int = 5) -> Path:
    """IDE data: Re/Im of G_00 and I_00 over t. Trajectory data: each coordinate over t."""
    n = min(data.n_traj, max_curves)
    if data.kind == "ide":
        fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
        for k in range(n):
            for col, (arr, name) in enumerate(((data.G, "G"), (data.I, "I"))):
                axes[0, col].plot(data.t, arr[k, :, 0, 0].real, lw=1)
                axes[1, col].plot(data.t, arr[k, :, 0, 0].imag, lw=1)
                axes[0, col].set_title(f"{name}$_{{00}}(t)$")
        axes[0, 0].set_ylabel("real part")
        axes[1, 0].set_ylabel("imaginary part")
        for ax in axes[1]:
            ax.set_xlabel("t")
    else:
        dim = data.G.shape[-1]
        fig, axes = plt.subplots(1, dim, figsize=(4 * dim, 3.5), squeeze=False)
        for k in range(n):
            for i in range(dim):
                axes[0, i].plot(data.t, data.G[k, :, i], lw=1)
        for i in range(dim):
            axes[0, i].set_title(f"coordinate {i}")
            axes[0, i].set_xlabel("t")
    fig.suptitle(f"{data.meta.get('equation', 'dataset')}: {n} of {data.n_traj} trajectories")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
