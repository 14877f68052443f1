"""Figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..data.dataset import Dataset  # noqa: E402


def plot_dataset(data: Dataset, path: Path, max_curves: int = 5) -> Path:
    """IDE data: Re/Im of G_00 and I_00 (when known) over t. Trajectory data: each coordinate over t."""
    n = min(data.n_traj, max_curves)
    if data.kind == "ide":
        panels = [(data.G, "G")] + ([] if data.I is None else [(data.I, "I")])
        fig, axes = plt.subplots(2, len(panels), figsize=(5 * len(panels), 6), sharex=True, squeeze=False)
        for k in range(n):
            for col, (arr, name) in enumerate(panels):
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


def plot_loss(history: dict, path: Path, title: str = "", unit: str = "step") -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(np.arange(1, len(history["loss"]) + 1), history["loss"], lw=1, label="train")
    val = history.get("val_loss") or []
    if val:
        epochs, values = zip(*val) if isinstance(val[0], (list, tuple)) else (range(1, len(val) + 1), val)
        ax.semilogy(np.asarray(epochs) + 1, values, "o-", ms=3, lw=1, label="validation")
    ax.set_xlabel(unit)
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _entry_panels(t, true, approx, t_known: float, labels: tuple[str, str], symbol: str, entry):
    """Three stacked panels sharing t: Re and Im of one matrix entry, true against approximation, the
    training window shaded; the third panel is left to the caller."""
    i, j = entry
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    for ax, part, name in ((axes[0], np.real, "Re"), (axes[1], np.imag, "Im")):
        ax.plot(t, part(true[:, i, j]), "k", lw=1.2, label=labels[0])
        ax.plot(t, part(approx[:, i, j]), "r--", lw=1.0, label=labels[1])
        ax.axvspan(t[0], t_known, color="0.85", label="training window")
        ax.set_ylabel(f"{name} {symbol}$_{{{i}{j}}}$")
    return fig, axes


def _save(fig, axes, path: Path, title: str) -> Path:
    axes[0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_extrapolation(t, G_pred, G_true, t_known: float, path: Path, title: str = "", entry=(0, 0),
                       truth: str = "reference") -> Path:
    """Paper-1 figures 5-8 style: true vs predicted Re/Im of one entry, training window shaded,
    and the absolute error on a log axis. `truth` names G_true (the reference solve, or measured data)."""
    fig, axes = _entry_panels(t, G_true, G_pred, t_known, (truth, "prediction"), "G", entry)
    axes[0].legend(loc="upper right")
    # the error beside the signal's own size: |G| may decay (Dyson: t^-3/2), and a curve that looks
    # right on a linear axis can be off by its whole size at late times
    err = np.abs(G_pred - G_true).reshape(len(t), -1).max(axis=1)
    size = np.abs(G_true).reshape(len(t), -1).max(axis=1)
    axes[2].semilogy(t, np.maximum(size, 1e-17), "k", lw=1, label=f"max |G| ({truth})")
    axes[2].semilogy(t, np.maximum(err, 1e-17), "b", lw=1, label="max |error|")
    axes[2].axvspan(t[0], t_known, color="0.85")
    axes[2].legend(loc="lower left", fontsize=8)
    axes[2].set_ylabel("magnitude")
    axes[2].set_xlabel("t")
    return _save(fig, axes, path, title)


def plot_curves(t, pred, true, context: int, path: Path, title: str = "", max_curves: int = 6) -> Path:
    """Predicted vs true curves (2-D curves in the plane, others per coordinate over t)."""
    n = min(len(pred), max_curves)
    dim = true.shape[-1]
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.5 * rows), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        if k >= n:
            ax.axis("off")
            continue
        if dim == 2:
            ax.plot(true[k, :, 0], true[k, :, 1], "k", lw=1, label="true")
            ax.plot(pred[k, :, 0], pred[k, :, 1], "r--", lw=1, label="predicted")
            ax.plot(true[k, :context, 0], true[k, :context, 1], "b.", ms=3, label="given")
        else:
            for i in range(dim):
                ax.plot(t, true[k, :, i], "k", lw=1)
                ax.plot(t, pred[k, :, i], "r--", lw=1)
            ax.axvspan(t[0], t[context - 1], color="0.85")
        ax.set_title(f"curve {k}")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_attention(maps, path: Path) -> Path:
    """ANIE attention maps (paper 2 §3.6): one panel per layer, first curve."""
    fig, axes = plt.subplots(1, len(maps), figsize=(4 * len(maps), 3.6), squeeze=False)
    for layer, (ax, m) in enumerate(zip(axes[0], maps)):
        im = ax.imshow(np.asarray(m)[0], cmap="viridis", origin="upper")
        ax.set_title(f"layer {layer}")
        ax.set_xlabel("s (key)")
        ax.set_ylabel("t (query)")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_kernels(kernels: dict, t_known: float, path: Path, title: str = "", entry=(0, 0)) -> Path:
    """A learned kernel against the true one on the G the reference visits: one entry of K over t
    (real and imaginary parts), and the relative error of the whole matrix on a log axis."""
    t, true, learned = kernels["t"], kernels["true"], kernels["learned"]
    fig, axes = _entry_panels(t, true, learned, t_known, ("true K(G(t))", "learned K_θ(G(t))"), "K", entry)
    axes[0].legend(loc="upper right", fontsize=8)
    err = np.abs(learned - true).reshape(len(t), -1).max(axis=1)
    size = np.abs(true).reshape(len(t), -1).max(axis=1)
    axes[2].semilogy(t, np.maximum(err / np.where(size > 0, size, 1.0), 1e-17), "b", lw=1)
    axes[2].axvspan(t[0], t_known, color="0.85")
    axes[2].set_ylabel("max |K_θ − K| / max |K|")
    axes[2].set_xlabel("t (G along the reference solution)")
    return _save(fig, axes, path, title)


def plot_r2_distribution(per_curve: dict, path: Path, measure: str = "r2") -> Path:
    """One row of points per model/test: each curve's score (paper 2's figure 7), with the mean marked."""
    labels = list(per_curve)
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(labels) + 1.5))
    rng = np.random.default_rng(0)
    for row, label in enumerate(labels):
        values = np.asarray(per_curve[label])
        ax.plot(values, row + 0.15 * rng.uniform(-1, 1, len(values)), ".", ms=3, alpha=0.6)
        ax.plot([values.mean()] * 2, [row - 0.3, row + 0.3], "k", lw=2)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel(f"{measure} per curve (bar: mean)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
