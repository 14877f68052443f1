"""idelearn generate: solve an equation, write dataset.npz + dataset.json + dataset.png."""

from __future__ import annotations

from .. import config
from ..config import to_object
from ..data.ide_datasets import PartialSolution
from ..data.io import save_dataset
from ..errors import RunFailure
from ..report.plots import plot_dataset
from ..report.progress import progress
from .common import limit_threads, log, parallel_job, run_dir


def register() -> None:
    config.register("generate")


def run(cfg) -> None:
    dataset = to_object(cfg.dataset)
    solver = to_object(cfg.solver)
    limit_threads(to_object(cfg.device).threads)
    out = run_dir()
    n_nodes = round(dataset.t_final / dataset.dt) + 1 if hasattr(dataset, "dt") else 1
    log.info("generating %s (%s) into %s", dataset.name, solver.name.value, out)
    try:
        with progress(f"solving {dataset.name}", total=n_nodes, bar=not parallel_job()) as update:
            data = dataset.generate(solver.spec(), update)
    except PartialSolution as exc:  # keep what was solved (2 nodes or more), marked partial, and fail
        if exc.data is None:
            raise RunFailure(str(exc)) from None
        save_dataset(exc.data, out)
        raise RunFailure(f"{exc}; the partial dataset (t <= {exc.data.meta['t_reached']:g}) is in {out}") from None
    save_dataset(data, out)
    plot_dataset(data, out / "dataset.png")
    wall = data.meta.get("wall_s")
    log.info("wrote %s: G %s%s", out / "dataset.npz", tuple(data.G.shape),
             f", solved in {wall:.2f} s" if wall is not None else "")
