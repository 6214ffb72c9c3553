"""Benchmark of the quantized training tracer (issue 4).

1. Step time: one exact integer SGD step of the tracer (forward, backward, update, every
   remainder and sign bit recorded in RAM, all bound checks) vs one float64 numpy SGD step
   of the same network (zkdl.reference.float_step), 8 layers, batch 64, all widths equal to
   W (input features = classes = W, so 8 W^2 weights: 8.4 M at W = 1024, as in the paper).
2. Accuracy after a fixed number of epochs, quantized vs float64 from the same initial
   weights and batches, on the built-in synthetic task and on scikit-learn's digits
   (if installed). Accuracy is measured on the whole (training) dataset.

Usage: python benchmarks/tracer.py [--widths 128,256,1024] [--repeat 5] [--epochs 10] [--spill]

On a machine shared with other processes, threaded OpenBLAS stalls whenever one of its
threads is descheduled (both step kinds slow down by up to 100x, erratically); run with
OPENBLAS_NUM_THREADS=1 for stable, comparable figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

from zkdl import TrainConfig, train
from zkdl.data import synthetic
from zkdl.reference import accuracy_float, float_step, train_float
from zkdl.schedule import batch_indices
from zkdl.tracer import _State, _step, init_weights


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def step_times(width: int, repeat: int, layers: int = 8, batch: int = 64):
    data = synthetic(n_samples=max(4 * batch, 2 * width), n_features=width, n_classes=width, clusters_per_class=1)
    cfg = TrainConfig(width=width, layers=layers, batch_size=batch, lr_num=1, lr_shift=16).for_data(data)
    W0 = init_weights(cfg)
    st = _State(W0)
    Wf = [w.astype(np.float64) / 2 ** cfg.R for w in W0]
    X = data.X_float()
    _step(cfg, data, st, 0)  # warm-up (numba compile / cache load, page faults)
    idx = batch_indices(cfg.batch_seed, data.n_samples, batch, 0)
    float_step(Wf, X[idx], data.y[idx], cfg.eta, cfg.n_classes)
    tq, tf = [], []
    for t in range(repeat):  # interleaved, so that both see the same machine load
        t0 = time.perf_counter()
        T, st, loss, acc = _step(cfg, data, st, t)
        tq.append(time.perf_counter() - t0)
        del T
        idx = batch_indices(cfg.batch_seed, data.n_samples, batch, t)
        t0 = time.perf_counter()
        float_step(Wf, X[idx], data.y[idx], cfg.eta, cfg.n_classes)
        tf.append(time.perf_counter() - t0)
    return cfg, data, min(tq), min(tf), statistics.median(tq), statistics.median(tf)


def spill_time(cfg, data, steps: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        train(cfg, data, steps=steps, out_dir=os.path.join(d, "run"))
        return (time.perf_counter() - t0) / steps


def accuracy_row(name, data, cfg, epochs):
    steps = epochs * (data.n_samples // cfg.batch_size)
    t0 = time.perf_counter()
    run = train(cfg, data, steps=steps)
    tq = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = train_float(cfg, data, steps=steps)
    tf = time.perf_counter() - t0
    q, f = np.array(run.losses), np.array(ref.losses)
    rel20 = float(np.max(np.abs(q[:20] - f[:20]) / f[:20]))
    return (name, cfg, epochs, steps, run.accuracy(), accuracy_float(ref.weights, data), rel20, tq, tf)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", default="128,256,1024")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--spill", action="store_true", help="also time train(out_dir=...) (npz per step)")
    args = ap.parse_args(argv)
    print(f"machine: {_cpu()}, {os.cpu_count()} logical CPUs, numpy {np.__version__}, "
          f"python {platform.python_version()}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    print()
    print("## step time, 8 layers, batch 64 (best of %d interleaved steps; median in brackets)" % args.repeat)
    head = f"| width | weights | quantized step (ms) | float64 step (ms) | ratio (best) |"
    if args.spill:
        head += " quantized + spill to npz (ms/step) |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for w in [int(x) for x in args.widths.split(",")]:
        cfg, data, tq, tf, mq, mf = step_times(w, args.repeat)
        row = (f"| {w} | {8 * w * w / 1e6:.2f} M | {tq * 1e3:.1f} [{mq * 1e3:.1f}] | {tf * 1e3:.1f} [{mf * 1e3:.1f}]"
               f" | {tq / tf:.2f}x |")
        if args.spill:
            row += f" {spill_time(cfg, data, 3) * 1e3:.0f} |"
        print(row, flush=True)
    if args.epochs <= 0:
        return 0
    print()
    print(f"## accuracy after {args.epochs} epochs (whole dataset), quantized vs float64")
    print("| task | network | eta | steps | quantized acc | float64 acc | max rel. loss diff, first 20 steps |"
          " time q / f (s) |")
    print("|---|---|---|---|---|---|---|---|")
    rows = [("synthetic (2048 x 16, 4 classes)", synthetic(), TrainConfig())]
    try:
        from zkdl.data import digits
        rows.append(("digits (1797 x 64, 10 classes)", digits(),
                     TrainConfig(width=32, batch_size=32, lr_num=1, lr_shift=8)))
    except Exception as e:  # scikit-learn missing
        print(f"(digits skipped: {e})", file=sys.stderr)
    for name, data, cfg in rows:
        n, c, ep, steps, aq, af, rel, tq, tf = accuracy_row(name, data, cfg, args.epochs)
        net = f"8 x {c.width[0]}, batch {c.batch_size}"
        print(f"| {n} | {net} | {c.lr_num}/2^{c.lr_shift} | {steps} | {aq:.3f} | {af:.3f} | {rel:.2e} |"
              f" {tq:.1f} / {tf:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
