"""Speed of the learned-operator (LSTM) extrapolation and training.

    python benchmarks/lstm_speed.py            # a few minutes
    python benchmarks/lstm_speed.py --quick    # under a minute

Rows (2x64 LSTMOperator, Dyson F, AB3, dt = 0.01; random weights, as speed does not
depend on them):

* one trajectory, µs per step, torch and BLAS on one thread:
  - plain nn.LSTM loop: the model's nn.LSTM called once per step, nothing else (the floor
    of any per-step torch code);
  - current path: LearnedMemory + adams_integrate (what extrapolate used before);
  - fast path: fast_lstm.adams_lstm (what extrapolate uses now);
* a batch of trajectories (--batch, default 1024), trajectory·steps per second, one thread:
  the bare batched nn.LSTM stepped once per step over the batch (the fair reference: the
  rollout must step, it cannot see the future inputs), the fast path (torch engine, the
  default for large batches) and its numpy engine, all over the same number of LSTM steps
  (the fast path's warm-up over the known nodes included); the cuDNN-style full-sequence
  forward is listed for reference only;
* training: seconds per epoch of fit_lstm_operator on Dyson trajectories with 1 and 2
  torch threads.

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
from idelearn.models import fast_lstm
from idelearn.models.lstm_operator import LearnedMemory, LSTMOperator, fit_lstm_operator
from idelearn.solvers.multistep import adams_integrate

DT = 0.01


def make_model(seed: int = 0) -> LSTMOperator:
    torch.manual_seed(seed)
    model = LSTMOperator(2, 64, 2).eval()
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


def single(steps: int, repeat: int) -> dict:
    """µs per step, one trajectory."""
    model = make_model()
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
        "fast path (adams_lstm, numpy engine)":
            lambda: fast_lstm.adams_lstm(model, p.F, Gk, Ik, DT, n0 + steps, order=3),
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
            lambda: fast_lstm.adams_lstm(model, p.F, Gk, Ik, DT, n0 + steps, engine="torch"),
        "fast path, numpy engine":
            lambda: fast_lstm.adams_lstm(model, p.F, Gk, Ik, DT, n0 + steps, engine="numpy"),
        "nn.LSTM full sequence (reference only)": full_sequence,
    }
    return {k: B * (n0 + steps) / s for k, s in median_times(fns, repeat).items()}


def training(n_traj: int, n_t: int, batch_size: int, epochs: int, threads: list[int]) -> dict:
    """threads -> (median seconds per epoch of fit_lstm_operator, seconds of the whole fit).

    Epoch times are the gaps between on_epoch calls, so epoch 0 (setup) is left out.
    """
    h = np.random.default_rng(1).uniform(1, 10, n_traj)
    t = np.arange(n_t) * DT
    G = np.stack([dyson_exact(t, np.array([[x]]), 1.0) for x in h])
    I = np.gradient(G, DT, axis=1) + 1j * h[:, None, None, None] * G  # I = dG/dt - F(G)
    out = {}
    for nt in threads:
        torch.set_num_threads(nt)
        stamps = []
        start = time.perf_counter()
        fit_lstm_operator(LSTMOperator(2, 64, 2), G, I, epochs=epochs, batch_size=batch_size, seed=0,
                          on_epoch=lambda ep, rec: stamps.append(time.perf_counter()))
        out[nt] = float(np.median(np.diff(stamps))), time.perf_counter() - start
    torch.set_num_threads(1)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer steps and repeats (< 60 s)")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--train-traj", type=int, default=200)
    ap.add_argument("--train-batch", type=int, default=128)
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
        print(f"  fast path vs current path: {cur / us['fast path (adams_lstm, numpy engine)']:.0f}x faster")

        tp = batched(args.batch, steps=40 if q else 200, repeat=3 if q else 5)
        bare = tp["bare nn.LSTM, stepped"]
        default = "torch" if args.batch >= fast_lstm.TORCH_BATCH else "numpy"
        print(f"\n{args.batch} trajectories (trajectory·steps per second; default engine here: {default})")
        for k, v in tp.items():
            print(f"  {k:<44} {v:12.3g}   {v / bare:6.1%} of bare stepped nn.LSTM")

    epochs = 4 if q else 8
    n_traj = 40 if q else args.train_traj
    n_t = 301 if q else 1001
    sec = training(n_traj, n_t, args.train_batch, epochs, [1, 2])
    print(f"\ntraining: fit_lstm_operator, {n_traj} Dyson trajectories x {n_t} nodes, batch "
          f"{args.train_batch}, median of {epochs - 1} epochs")
    for nt, (s, total) in sec.items():
        print(f"  torch.set_num_threads({nt})  {s:8.3f} s/epoch   ({total:.1f} s for the whole fit of {epochs} epochs)")


if __name__ == "__main__":
    main()
