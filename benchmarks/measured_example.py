"""docs/your_own_ide.md's measured-data example: a memory learned from a file of noisy G alone, with F known.

    python benchmarks/measured_example.py      # writes benchmarks/results/measured_example.json

A stand-in for measured data: y' = −iy − 0.5 ∫ e^{−(t−s)} y(s) ds (idelearn/equations/lag_memories.py,
`exponential`) solved to t = 40 at dt = 0.02 by the order-8 reference, complex Gaussian noise of
1e-4 × RMS|G| added to G (seed 0), I dropped. Each model is trained on t <= 10 by the command a user
runs (`dataset=from_file` with the package's function as `dataset.problem`: only its F is read) and
extrapolated to the file's end; rel_l2 on (10, 40] against the noisy file (what `extrapolate` prints)
and against the clean solution.
"""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from idelearn.equations.lag_memories import exponential
from idelearn.report.metrics import rel_l2
from idelearn.solvers import solve_ide

DT, WINDOW, END, NOISE = 0.02, 10.0, 40.0, 1e-4
PROBLEM = "idelearn.equations.lag_memories:exponential"
MODELS = {"kernel_operator": [], "memory_operator": ["model.kernel=auto"]}
RESULTS = Path(__file__).parent / "results" / "measured_example.json"


def idelearn(*args: str) -> None:
    exe = str(Path(sys.executable).parent / "idelearn") if not shutil.which("idelearn") else "idelearn"
    subprocess.run([exe, *args], check=True, capture_output=True, text=True)


def main() -> None:
    F, K, G0 = exponential()
    clean = solve_ide(F, K, G0, END, DT, order=8)
    rng = np.random.default_rng(0)
    rms = np.sqrt(np.mean(np.abs(clean.G) ** 2))
    G = clean.G + NOISE * rms * (rng.normal(size=clean.G.shape) + 1j * rng.normal(size=clean.G.shape)) / np.sqrt(2)
    n0 = int(round(WINDOW / DT)) + 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "measured.npz"
        np.savez(path, t=clean.t, G=G[..., 0], params=np.zeros((1, 1)))
        for name, extra in MODELS.items():
            train, pred = Path(tmp) / f"{name}_train", Path(tmp) / f"{name}_pred"
            command = [f"model={name}", *extra, "dataset=from_file", f"dataset.path={path}",
                       f"dataset.problem={PROBLEM}", f"dataset.t_window={WINDOW:g}", "model.fit_on=trajectory",
                       "model.order=6", "device.threads=1"]
            idelearn("train", *command, f"hydra.run.dir={train}")
            idelearn("extrapolate", f"run={train}", f"hydra.run.dir={pred}")
            trained = json.loads((train / "metrics.json").read_text())
            metrics = json.loads((pred / "metrics.json").read_text())
            with np.load(pred / "prediction.npz") as f:
                G_pred = f["G_pred"]
            shown = " ".join(["idelearn train", *command]).replace(str(path), "measured.npz")
            rows.append({"model": name, "command": shown, "kernel": trained["kernel_choice"],
                         "fit_s": trained["wall_s"], "memory_holdout_residual": trained["memory_holdout_residual"],
                         "rel_l2_vs_file": metrics["rel_l2"],
                         "rel_l2_vs_clean": rel_l2(G_pred[:, n0:], clean.G[:, n0:])})
            print(f"{name:16s} {rows[-1]['kernel']:12s} hold-out {rows[-1]['memory_holdout_residual']:.2g}  "
                  f"rel_l2 vs file {rows[-1]['rel_l2_vs_file']:.3g}, vs clean {rows[-1]['rel_l2_vs_clean']:.3g}")
    file_vs_clean = rel_l2(G[:, n0:], clean.G[:, n0:])
    print(f"the noisy file itself vs clean on ({WINDOW:g}, {END:g}]: {file_vs_clean:.3g}")
    RESULTS.write_text(json.dumps({
        "run": {"command": "python benchmarks/measured_example.py", "date": datetime.date.today().isoformat()},
        "dt": DT, "window": WINDOW, "t_final": END, "noise": NOISE, "file_vs_clean": file_vs_clean, "rows": rows,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
