"""CUDA backend benchmark (issue 9). Prints markdown tables; needs CuPy and a GPU.

    python benchmarks/cuda.py                        # everything (8 x 1024, batch 64, T = 1 and 16)
    python benchmarks/cuda.py --quick                # small sizes: a smoke run of the script itself
    python benchmarks/cuda.py --steps 1 --msm-logs 20

1. Fr multiplication throughput: ``fr_vec_mul`` over 2^24 elements on the GPU
   (mean of 10 launches) next to FrVec.mul on all CPU cores (2^22 elements).
2. MSM throughput: GPU row commitments (``commit_rows_small``) of 2^20 and 2^24
   random 16-bit scalars in Hyrax shape (2^(n - n//2) rows x 2^(n//2) columns):
   points/s end to end (upload, kernels, download, Jacobian -> affine conversion on
   the host) and of the kernels alone; arkworks on the CPU for 2^20 for comparison.
3. Per-step prover time at ``layers`` x ``width`` (8 x 1024), batch 64, T = 1 and T = 16:
   ``prove_window(backend="cuda")`` in a subprocess (own peak RSS), chained proof (no
   W[t0]/dataset range checks), zero-knowledge, with benchmarks/prove.py's breakdown
   columns; the verifier runs on the CPU; proof size. Row commitments use the GPU
   MSM (the backend's ``msm_backend``; with GPU commitments off the child routes
   ``zkdl.prover.hyrax.commit`` to arkworks on the CPU instead). Each configuration has a
   time limit (``--child-timeout``); a configuration that fails or runs out of time
   prints its reason instead of a row.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prove import HEAD, row  # noqa: E402  (benchmarks/prove.py: the same table)

CHILD = r"""
import json, resource, sys, time
import numpy as np
import zkdl
from zkdl import data as D
from zkdl.config import TrainConfig
from zkdl.prover import hyrax
from zkdl.prover.aggregate import prove_window
from zkdl.prover.backend import get_backend
from zkdl.prooffile import unpack
from zkdl.verifier.verify import verify
from zkdl.reference import train_float
width, layers, batch, T, zk, gpu_commit = (int(a) for a in sys.argv[1:7])
be = get_backend("cuda")
if not gpu_commit:  # compare: row commitments on the CPU (arkworks) instead of the GPU MSM
    _commit = hyrax.commit
    def commit(tensor, col_bits=None, *, backend=None, **kw):
        return _commit(tensor, col_bits, backend=None, **kw)
    hyrax.commit = commit
cfg = TrainConfig(width=width, layers=layers, batch_size=batch,
                  lr_shift=9 + max(0, (width // 32).bit_length() - 1))
data = D.synthetic()
small = zkdl.train(TrainConfig(width=8, layers=layers, batch_size=4), data, steps=1, keep_in_memory=True)
prove_window(small, 0, 1, check_initial_weights=False, check_dataset=False, backend="cuda")  # warm: kernels, numba
t = time.perf_counter()
run = zkdl.train(cfg, data, steps=T + 1, keep_in_memory=True)
t_train = time.perf_counter() - t
tm = {}
msm0 = dict(be.msm_backend.stats)
t = time.perf_counter()
proof, _ = prove_window(run, 1, T, timings=tm, check_initial_weights=False, check_dataset=False,
                        zk=bool(zk), backend="cuda")
tp = time.perf_counter() - t
msm = {k: be.msm_backend.stats[k] - msm0[k] for k in msm0}
t = time.perf_counter(); verify(proof); tv = time.perf_counter() - t
t = time.perf_counter(); train_float(run.config, data, steps=3); tf = (time.perf_counter() - t) / 3
committed = unpack(proof)[0]["sizes"]["committed_values"]
print(json.dumps({"width": width, "batch": batch, "T": T, "first": 0, "zk": zk, "prove": tp, "verify": tv,
                  "bytes": len(proof), "timings": tm, "committed": committed, "train_s": t_train, "msm": msm,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "float_step": tf}))
"""


def fr_mul_table(quick: bool) -> None:
    import cupy as cp

    from zkdl.field.vector import FrVec
    from zkdl.prover.backend import get_backend
    be = get_backend("cuda")
    n = 1 << (20 if quick else 24)
    rng = np.random.default_rng(1)
    a = be.vec(rng.integers(-(1 << 62), 1 << 62, size=n))
    b = be.vec(rng.integers(-(1 << 62), 1 << 62, size=n))
    be.mul(a, b)
    cp.cuda.Device().synchronize()
    reps = 10
    t = time.perf_counter()
    for _ in range(reps):
        be.mul(a, b)
    cp.cuda.Device().synchronize()
    gpu = n * reps / (time.perf_counter() - t)
    m = 1 << 22
    x = FrVec.from_int64(rng.integers(-(1 << 62), 1 << 62, size=m))
    y = FrVec.from_int64(rng.integers(-(1 << 62), 1 << 62, size=m))
    x.mul(y)
    t = time.perf_counter()
    x.mul(y)
    cpu = m / (time.perf_counter() - t)
    print(f"## Fr multiplication ({_device_name()})")
    print("| where | elements | mults/s |\n|---|---|---|")
    print(f"| GPU fr_vec_mul | 2^{n.bit_length() - 1} | {gpu / 1e9:.2f} G |")
    print(f"| CPU FrVec.mul ({os.cpu_count()} cores) | 2^22 | {cpu / 1e6:.0f} M |", flush=True)


def msm_table(logs, quick: bool) -> None:
    from zkdl import curve
    from zkdl.prover import hyrax as PH
    from zkdl.prover.backend import get_backend
    be = get_backend("cuda")
    msm = be.msm_backend
    rng = np.random.default_rng(2)
    print(f"\n## MSM: row commitments of random 16-bit scalars ({_device_name()})")
    print("| scalars | shape | GPU s | GPU points/s | kernels only points/s | CPU arkworks points/s |")
    print("|---|---|---|---|---|---|")
    be.commit_rows_small(rng.integers(0, 1 << 16, size=(4, 64)))  # compile / warm
    for lg in logs:
        cols = 1 << (lg // 2)
        rows = 1 << (lg - lg // 2)
        u = rng.integers(0, 1 << 16, size=(rows, cols))
        curve.generators(cols)
        msm.generators(cols)
        s0 = dict(msm.stats)
        t = time.perf_counter()
        be.commit_rows_small(u)
        tg = time.perf_counter() - t
        kern = msm.stats["kernel_s"] - s0["kernel_s"]
        cpu = "-"
        if lg <= 20:
            t = time.perf_counter()
            PH._commit_small(u, [0] * rows, None, os.cpu_count() or 1)
            cpu = f"{(1 << lg) / (time.perf_counter() - t) / 1e6:.2f} M"
        print(f"| 2^{lg} | {rows} x {cols} | {tg:.2f} | {(1 << lg) / tg / 1e6:.2f} M | "
              f"{(1 << lg) / kern / 1e6:.2f} M | {cpu} |", flush=True)


def _device_name() -> str:
    try:
        import cupy as cp
        props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception as exc:  # the tables still print
        return f"device name unavailable: {exc}"


def prover_table(width, layers, batch, steps, timeout, gpu_commit) -> None:
    print(f"\n## Per-step prover, cuda backend ({_device_name()}), {layers} x {width}, batch {batch}, ZK, "
          f"chained; verifier on the CPU ({os.cpu_count()} cores); GPU row commitments: {bool(gpu_commit)}")
    print(HEAD)
    extra = []
    for T in steps:
        args = [str(width), str(layers), str(batch), str(T), "1", str(int(gpu_commit))]
        try:
            res = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"| ZK | {width} | {batch} | {T} | over {timeout} s: not measured |", flush=True)
            continue
        if res.returncode != 0:
            tail = " / ".join(res.stderr.strip().splitlines()[-3:])
            print(f"| ZK | {width} | {batch} | {T} | failed (exit {res.returncode}): {tail} |", flush=True)
            continue
        r = json.loads(res.stdout.strip().splitlines()[-1])
        print(row(r), flush=True)
        extra.append(r)
    if extra:
        print("\nper-step detail (seconds per step; 'other' in the table includes witness tables)")
        print("| T | " + " | ".join(sorted({k for r in extra for k in r["timings"]})) +
              " | GPU MSM kernels | MSM point conversion | training (tracer) |")
        keys = sorted({k for r in extra for k in r["timings"]})
        for r in extra:
            T = r["T"]
            cells = " | ".join(f"{r['timings'].get(k, 0.0) / T:.3f}" for k in keys)
            print(f"| {T} | {cells} | {r['msm']['kernel_s'] / T:.3f} | {r['msm']['convert_s'] / T:.3f} | "
                  f"{r['train_s']:.1f} s total |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (checks the script, not the GPU)")
    ap.add_argument("--msm-logs", default="20,24")
    ap.add_argument("--steps", default="1,16", help="T values of the prover table ('' to skip)")
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--child-timeout", type=int, default=240)
    ap.add_argument("--cpu-commit", action="store_true", help="row commitments on the CPU (arkworks)")
    args = ap.parse_args()
    ints = lambda spec: [int(x) for x in spec.split(",") if x]  # noqa: E731
    if args.quick:
        args.msm_logs, args.width, args.batch = "12", 16, 8
        args.steps = args.steps if args.steps != "1,16" else "1"
    fr_mul_table(args.quick)
    msm_table(ints(args.msm_logs), args.quick)
    if ints(args.steps):
        prover_table(args.width, args.layers, args.batch, ints(args.steps), args.child_timeout,
                     not args.cpu_commit)


if __name__ == "__main__":
    main()
