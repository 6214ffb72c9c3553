"""Hyrax commitment benchmark: commit cost vs raw MSM, opening cost and sizes.

    python benchmarks/commit.py [--log-sizes 16 20 22] [--open-log-size 20] [--repeat 3]

Commit: 16-bit signed values (uniform in [-2^15, 2^15)), default shape (2^(n - n//2)
rows x 2^(n//2) columns). "raw MSM" is the same run's cost of the row MSMs alone:
``multiexp_unchecked`` over the same offset-binary 16-bit scalars (Scalar objects
prebuilt, not timed) on the same thread pool, without blinds and without the Scalar
conversion; overhead = commit / raw. Timings are the best of ``--repeat`` runs
(the machine may be shared).

Opening: one tensor at a random point, plain and ZK mode (linear and log-size proof
of dot product): prover time, verifier time (including proof parsing), proof bytes.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

import numpy as np

from zkdl import curve
from zkdl import hyrax as H
from zkdl.field import P
from zkdl.prover import hyrax as PH
from zkdl.transcript import Transcript


def best(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def raw_msm(u: np.ndarray, threads: int) -> float:
    rows, cols = u.shape
    table = curve.small_scalar_table()
    gens = curve.generators(cols)
    scal = [[table[x] for x in r] for r in u.tolist()]
    t0 = time.perf_counter()
    if threads > 1:
        list(curve.thread_pool().map(lambda s: curve.G1Point.multiexp_unchecked(gens, s), scal))
    else:
        for s in scal:
            curve.G1Point.multiexp_unchecked(gens, s)
    return time.perf_counter() - t0


def bench_commit(log_sizes, repeat, threads):
    rng = np.random.default_rng(1)
    print(f"## commit (16-bit signed values, {threads} threads, best [median] of {repeat})")
    print("| values | shape | commit s | us/value | raw MSM s | raw us/value | overhead |")
    print("|---|---|---|---|---|---|---|")
    for n in log_sizes:
        t = rng.integers(-(1 << 15), 1 << 15, size=1 << n, dtype=np.int64)
        c = H.default_col_bits(n)
        curve.generators(1 << c)  # derive / load once, not timed
        PH.commit(t[:1 << c], c, threads=threads)  # warm tables and pool
        u = (t - int(t.min())).reshape(1 << (n - c), 1 << c)
        pairs = []
        for _ in range(repeat):  # interleave, so both see the same machine load
            raw = raw_msm(u, threads)
            t0 = time.perf_counter()
            PH.commit(t, c, threads=threads)
            pairs.append((time.perf_counter() - t0, raw))
        tc, tr = min(p[0] for p in pairs), min(p[1] for p in pairs)
        mc, mr = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
        us = 1e6 / (1 << n)
        print(f"| 2^{n} | {1 << (n - c)} x {1 << c} | {tc:.3f} [{mc:.3f}] | {tc * us:.2f} [{mc * us:.2f}] "
              f"| {tr:.3f} [{mr:.3f}] | {tr * us:.2f} [{mr * us:.2f}] | {tc / tr:.2f}x [{mc / mr:.2f}x] |")


def bench_open(n, repeat):
    rng = random.Random(2)
    t = np.random.default_rng(3).integers(-(1 << 15), 1 << 15, size=1 << n, dtype=np.int64)
    com, op = PH.commit(t)
    point = [rng.randrange(P) for _ in range(n)]
    print(f"\n## opening one tensor of 2^{n} values ({com.num_rows} x {com.num_cols}, best of {repeat})")
    print("| mode | prover s | verifier s | proof bytes | commitment bytes |")
    print("|---|---|---|---|---|")
    tp, (ys, proof) = best(lambda: PH.prove_eval(Transcript(b"bench"), [op], point), repeat)
    data = proof.to_bytes()
    tv, _ = best(lambda: H.verify_eval(Transcript(b"bench"), [com], point, ys,
                                       H.EvalProof.from_bytes(data, com.col_bits)), repeat)
    print(f"| plain (not ZK) | {tp:.3f} | {tv:.3f} | {len(data)} | {len(com.to_bytes())} |")
    for compact, name in ((False, "zero-knowledge, linear"), (True, "zero-knowledge, log (default)")):
        tp, res = best(lambda: PH.prove_eval_zk(Transcript(b"bench"), [op], point, compact=compact), repeat)
        data = res.proof.to_bytes()
        tv, _ = best(lambda: H.verify_eval_zk(Transcript(b"bench"), [com], point, res.value_commitments,
                                              H.ZkEvalProof.from_bytes(data, com.col_bits)), repeat)
        print(f"| {name} | {tp:.3f} | {tv:.3f} | {len(data)} (+48 per Com(y)) | {len(com.to_bytes())} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log-sizes", type=int, nargs="*", default=[16, 20, 22])
    ap.add_argument("--open-log-size", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; MSM backend arkworks (py-arkworks-bls12381)\n")
    if args.log_sizes:
        bench_commit(args.log_sizes, args.repeat, args.threads)
    if args.open_log_size:
        bench_open(args.open_log_size, args.repeat)


if __name__ == "__main__":
    main()
