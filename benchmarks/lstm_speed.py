"""Speed of the learned-operator (LSTM) extrapolation and training.

    python benchmarks/lstm_speed.py            # about 15 minutes (mostly the training table at the paper's sizes)
    python benchmarks/lstm_speed.py --quick    # about a minute

Rows (2x64 LSTMOperator, Dyson F, AB3, dt = 0.01; random weights, as speed does not
depend on them):

* one trajectory, µs per step, torch and BLAS on one thread:
  - plain nn.LSTM loop: the model's nn.LSTM called once per step, nothing else (the floor
    of any per-step torch code);
  - current path: LearnedMemory + adams_integrate (the generic memory-operator path);
  - fast path: fused_stepper.adams_fused with the paper's LSTM memory, and with the default LegS
    memory (N = 256 Legendre modes), what extrapolate uses;
  - the exact reference solver (ABM8, relaxed FFT memory) over the same steps;
* a batch of trajectories (--batch, default 1024), trajectory·steps per second, one thread:
  the bare batched nn.LSTM stepped once per step over the batch (the fair reference: the
  rollout must step, it cannot see the future inputs), the fast path (torch engine, the
  default for large batches) and its numpy engine, all over the same number of LSTM steps
  (the fast path's warm-up over the known nodes included); the cuDNN-style full-sequence
  forward is listed for reference only;
* training: seconds per epoch of fit_lstm_operator in the paper's two multi-trajectory
  settings (2000 trajectories, 20 % held out), before and after validation was cut to a
  fixed subset, with 1 and 2 torch threads, and with truncated BPTT windows.

Modes are interleaved within each repeat and the median is reported, so that a busy
machine slows all alike; ratios are only meaningful within one run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from idelearn.equations.dyson import dyson_exact, dyson_problem
from idelearn.models import fused_stepper, training
from idelearn.models.lstm_operator import LearnedMemory, LSTMOperator, fit_lstm_operator
from idelearn.models.memory_operator import StructuredMemory
from idelearn.solvers import solve_ide
from idelearn.solvers.multistep import adams_integrate

DT = 0.01


def make_model(seed: int = 0) -> LSTMOperator:
    torch.manual_seed(seed)
    model = LSTMOperator(2, 64, 2, ema=0.003).eval()
    with torch.no_grad():  # a small output keeps the random closed loop tame (no overflow)
        model.y_scale.fill_(0.05)
    return model


def known(h: np.ndarray, n0: int):
    """Exact Dyson G on the first n0 nodes for each h, and a stand-in I (only its speed matters)."""
    t = np.arange(n0) * DT
    G = np.stack([dyson_exact(t, np.array([[x]]), 1.0) for x in h])
    return G, 0.1 * G


def median_times(fns: dict, repeat: int) -> dict:
    """name -> median seconds of fn(), the names interleaved within each repeat."""
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - start)
    return {k: float(np.median(v)) for k, v in times.items()}


def legs_model(N: int = 256) -> StructuredMemory:
    """memory_operator's structured LegS memory (N modes) with Dyson's kernel φ(G) = -iG (speed does not depend
    on it)."""
    model = StructuredMemory(N, 8).eval()
    model.set_kernel(np.array([0, -1j, 0, 0, 0, 0, 0, 0, 0]))
    model.dt.fill_(DT)
    return model


def single(steps: int, repeat: int) -> dict:
    """µs per step, one trajectory."""
    model = make_model()
    structured = legs_model()
    p = dyson_problem(np.array([[2.0]]), 1.0)
    n0 = 100
    Gk, Ik = known(np.array([2.0]), n0)
    x = torch.zeros(1, 1, 2)
    slow_steps = max(50, steps // 20)  # the current path is ~100x slower per step

    def plain():
        with torch.no_grad():
            hc = None
            for _ in range(steps):
                _, hc = model.lstm(x, hc)

    fns = {
        "plain nn.LSTM loop": plain,
        "current (LearnedMemory + adams_integrate)":
            lambda: adams_integrate(p.F, LearnedMemory(model), Gk, Ik, DT, n0 + slow_steps, order=3),
        "fast path (adams_fused, numpy engine)":
            lambda: fused_stepper.adams_fused(model, p.F, Gk, Ik, DT, n0 + steps, order=3),
        "fast path, LegS memory (the default, N = 256)":
            lambda: fused_stepper.adams_fused(structured, p.F, Gk, Ik, DT, n0 + steps, order=3),
        "exact reference (ABM8, relaxed memory), same steps":
            lambda: solve_ide(p.F, p.K, p.G0, (n0 + steps) * DT, DT, order=8, memory="relaxed"),
    }
    n = {k: slow_steps if k.startswith("current") else steps for k in fns}
    return {k: 1e6 * s / n[k] for k, s in median_times(fns, repeat).items()}


def batched(B: int, steps: int, repeat: int) -> dict:
    """Trajectory·steps per second for B trajectories (each its own h, so its own F)."""
    model = make_model()
    h = np.random.default_rng(0).uniform(1, 10, B)
    p = dyson_problem(h[:, None, None].astype(complex), 1.0)
    # The fast path also runs the LSTM over the n0 known nodes (its warm-up), so both sides do
    # n0 + steps LSTM steps; n0 = 3 is AB3's minimum.
    n0 = 3
    Gk, Ik = known(h, n0)
    x = torch.zeros(B, 1, 2)
    xs = torch.zeros(B, n0 + steps, 2)

    def bare():
        with torch.no_grad():
            hc = None
            for _ in range(n0 + steps):
                _, hc = model.lstm(x, hc)

    def full_sequence():
        with torch.no_grad():
            model.lstm(xs)

    fns = {
        "bare nn.LSTM, stepped": bare,
        "fast path, torch engine":
            lambda: fused_stepper.adams_fused(model, p.F, Gk, Ik, DT, n0 + steps, engine="torch"),
        "fast path, numpy engine":
            lambda: fused_stepper.adams_fused(model, p.F, Gk, Ik, DT, n0 + steps, engine="numpy"),
        "nn.LSTM full sequence (reference only)": full_sequence,
    }
    return {k: B * (n0 + steps) / s for k, s in median_times(fns, repeat).items()}


# The paper's multi-trajectory settings: (G's matrix size, LSTM hidden size, batch, nodes).
PAPER_SETTINGS = {
    "fig 6-7, matrix IDE: 2x2 G, 2x64 LSTM, batch 128, t <= 20": (2, 64, 128, 2001),
    "fig 8, Dyson multi: 1x1 G, 2x128 LSTM, batch 10, t <= 10": (1, 128, 10, 1001),
}


def training_data(n_traj: int, d: int, n_t: int):
    """Exact Dyson G for random d x d Hermitian H, and I = dG/dt - F(G); speed only depends on shapes."""
    rng = np.random.default_rng(1)
    t = np.arange(n_t) * DT
    Hs = rng.normal(size=(n_traj, d, d)) + 1j * rng.normal(size=(n_traj, d, d))
    Hs = 2 * (Hs + Hs.conj().transpose(0, 2, 1))
    G = np.stack([dyson_exact(t, H, 1.0) for H in Hs])
    I = np.gradient(G, DT, axis=1) + 1j * Hs[:, None] @ G
    return G, I


def epoch_seconds(setting, G, I, epochs: int, threads: int, window: int = 0,
                  validate_all: bool = False) -> tuple[float, float]:
    """(median seconds of a training epoch, extra seconds of a validating one) for fit_lstm_operator.

    Epochs 1..epochs-2 are timed: epoch 0 holds the set-up, and the last always scores every
    held-out trajectory. validate_all: the old schedule, every held-out trajectory scored every
    VAL_EVERY epochs (now a fixed subset of VAL_MONITOR).
    """
    d, hidden, batch, _ = setting
    torch.set_num_threads(threads)
    monitor = training.VAL_MONITOR
    training.VAL_MONITOR = len(G) if validate_all else monitor
    stamps = []
    try:
        model = LSTMOperator(2 * d * d, hidden, 2, ema=0.003)
        fit_lstm_operator(model, G, I, steps=epochs, lr=1e-2, batch_size=batch, seed=0, gain=1.0,
                          bptt_window=window,
                          on_epoch=lambda ep, rec: stamps.append(time.perf_counter()))
    finally:
        training.VAL_MONITOR = monitor
        torch.set_num_threads(1)
    gaps = np.diff(stamps[:-1])  # gaps[k] = epoch k + 1
    validating = (np.arange(1, len(stamps) - 1) % training.VAL_EVERY) == 0
    train = float(np.median(gaps[~validating]))
    return train, float(np.mean(gaps[validating])) - train


def training_table(n_traj: int, n_t_cap: int | None, epochs: int) -> None:
    every = training.VAL_EVERY
    print(f"\ntraining: fit_lstm_operator, the paper's multi-trajectory settings, {n_traj} trajectories "
          f"(20 % held out); epoch = median of {epochs - 2} epochs; validation = the extra time of an "
          f"epoch that validates (every {every}); per epoch = epoch + validation / {every}")
    for name, setting in PAPER_SETTINGS.items():
        n_t = min(setting[3], n_t_cap or setting[3])
        window = (n_t - 1) // 4
        rows = {
            "before: every held-out trajectory validated, 1 thread": dict(threads=1, validate_all=True),
            f"now: {training.VAL_MONITOR} validated (all at the end), 1 thread": dict(threads=1),
            f"now: {training.VAL_MONITOR} validated, 2 threads": dict(threads=2),
            f"bptt_window={window} (less accurate: README), 1 thread": dict(threads=1, window=window),
        }
        G, I = training_data(n_traj, setting[0], n_t)
        print(f"  {name} ({n_t} nodes)")
        print(f"    {'':<54} {'epoch s':>8} {'valid. s':>8} {'per epoch':>9}")
        before = None
        for label, kw in rows.items():
            train, val = epoch_seconds(setting, G, I, epochs, **kw)
            amortised = train + val / every
            before = before or amortised
            print(f"    {label:<54} {train:8.3f} {val:8.3f} {amortised:9.3f}   {before / amortised:5.2f}x")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer steps, repeats and nodes (about a minute)")
    ap.add_argument("--batch", type=int, default=1024)
    args = ap.parse_args(argv)
    q = args.quick
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, numpy {np.__version__}; torch threads 1, BLAS threads 1 unless noted")
    with threadpool_limits(1):
        us = single(steps=1000 if q else 5000, repeat=3 if q else 7)
        ref = us["plain nn.LSTM loop"]
        print("\none trajectory (µs per step)")
        for k, v in us.items():
            print(f"  {k:<44} {v:10.1f}   {ref / v:6.2f}x vs plain loop")
        cur = us["current (LearnedMemory + adams_integrate)"]
        print(f"  fast path vs current path: {cur / us['fast path (adams_fused, numpy engine)']:.0f}x faster")

        tp = batched(args.batch, steps=40 if q else 200, repeat=3 if q else 5)
        bare = tp["bare nn.LSTM, stepped"]
        default = "torch" if args.batch >= fused_stepper.TORCH_BATCH else "numpy"
        print(f"\n{args.batch} trajectories (trajectory·steps per second; default engine here: {default})")
        for k, v in tp.items():
            print(f"  {k:<44} {v:12.3g}   {v / bare:6.1%} of bare stepped nn.LSTM")

    training_table(n_traj=400 if q else 2000, n_t_cap=301 if q else None, epochs=12 if q else 22)


if __name__ == "__main__":
    main()
