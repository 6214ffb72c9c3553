"""Prover / verifier benchmark for aggregated SGD-MLP proofs (issue 6). Prints tables.

    python benchmarks/prove.py                 # widths 32, 64, 128 and the aggregation sweep
    python benchmarks/prove.py --widths 32 --aggregate ""   # quicker

Each configuration runs in its own subprocess (so peak RSS is its own). Reported per
proof of one step (T = 1) in the middle of a chain, i.e. without the once-per-chain
range checks of W[t0] and the dataset (measured separately as "first proof"):
prover time with a breakdown (commit / sumcheck-style reductions / openings / other),
verifier time, proof size, peak RSS, committed values, and prover time over one
float64 numpy training step of the same network.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

CHILD = r"""
import json, resource, sys, time
import numpy as np
import zkdl
from zkdl import data as D
from zkdl.config import TrainConfig
from zkdl.prover.aggregate import prove_window
from zkdl.prooffile import unpack
from zkdl.verifier.verify import verify
from zkdl.reference import train_float
width, batch, T, first, zk = (int(a) for a in sys.argv[1:6])
cfg = TrainConfig(width=width, batch_size=batch, lr_shift=9 + max(0, (width // 32).bit_length() - 1))
data = D.synthetic()
run = zkdl.train(cfg, data, steps=T + 1, keep_in_memory=True)
prove_window(run, 0, 1, check_initial_weights=False, check_dataset=False, zk=bool(zk))  # warm caches
tm = {}
t = time.perf_counter()
proof, _ = prove_window(run, 1, T, timings=tm, check_initial_weights=bool(first), check_dataset=bool(first),
                        zk=bool(zk))
tp = time.perf_counter() - t
t = time.perf_counter(); verify(proof); tv = time.perf_counter() - t
t = time.perf_counter(); train_float(run.config, data, steps=3); tf = (time.perf_counter() - t) / 3
committed = unpack(proof)[0]["sizes"]["committed_values"]
print(json.dumps({"width": width, "batch": batch, "T": T, "first": first, "zk": zk, "prove": tp, "verify": tv,
                  "bytes": len(proof), "timings": tm, "committed": committed,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "float_step": tf}))
"""


def measure(width, batch, T, first=0, zk=1, tree=None):
    """One configuration in a fresh subprocess; ``tree``: a directory holding another
    version's ``zkdl`` package (see :func:`checkout`), imported instead of this one."""
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = tree + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", CHILD, str(width), str(batch), str(T), str(first), str(zk)],
                         check=True, capture_output=True, text=True, env=env, cwd=tree or None).stdout
    return json.loads(out.strip().splitlines()[-1])


def checkout(ref: str) -> str:
    """The ``zkdl`` package of git revision ``ref`` laid out as installed (circuits/,
    prover/, verifier/ inside zkdl/), in a temporary directory; returns that directory."""
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], check=True, capture_output=True,
                          text=True).stdout.strip()
    dest = tempfile.mkdtemp(prefix="zkdl-bench-")
    src = os.path.join(dest, "src")
    os.makedirs(src)
    archive = subprocess.run(["git", "-C", root, "archive", ref], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(src, filter="data")
    pkg = os.path.join(dest, "zkdl")
    shutil.copytree(os.path.join(src, "zkdl"), pkg)
    for sub in ("circuits", "prover", "verifier"):
        shutil.copytree(os.path.join(src, sub), os.path.join(pkg, sub))
    return dest


def compare(ref: str, widths, Ts, repeats: int):
    """HEAD against git revision ``ref``, alternating runs, medians side by side."""
    tree, here = checkout(ref), checkout("HEAD")   # snapshots: editing meanwhile changes nothing
    print(f"\nHEAD vs {ref} (ZK, batch 32, chained; median of {repeats} alternating runs)")
    print("| width | T | prove s {0} | prove s new | ratio | verify s {0} | verify s new | ratio | "
          "proof KiB {0} | proof KiB new | ratio |".format(ref))
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    for w in widths:
        for T in Ts:
            old, new = [], []
            for _ in range(repeats):
                old.append(measure(w, 32, T, tree=tree))
                new.append(measure(w, 32, T, tree=here))
            po, pn = med([r["prove"] for r in old]), med([r["prove"] for r in new])
            vo, vn = med([r["verify"] for r in old]), med([r["verify"] for r in new])
            bo, bn = old[0]["bytes"], new[0]["bytes"]
            print(f"| {w} | {T} | {po:.2f} | {pn:.2f} | {pn / po:.3f} | {vo:.2f} | {vn:.2f} | {vn / vo:.3f} | "
                  f"{bo / 1024:.0f} | {bn / 1024:.0f} | {bn / bo:.4f} |", flush=True)
    shutil.rmtree(tree, ignore_errors=True)
    shutil.rmtree(here, ignore_errors=True)


def breakdown(r):
    tm = r["timings"]
    commit = tm.get("commit", 0.0)
    opening = tm.get("open", 0.0)
    reductions = sum(v for k, v in tm.items() if k not in ("commit", "open"))
    other = r["prove"] - commit - opening - reductions
    return commit, reductions, opening, other


def row(r):
    commit, red, opening, other = breakdown(r)
    T = r["T"]
    return (f"| {'ZK' if r['zk'] else 'plain'} | {r['width']} | {r['batch']} | {T} | {r['prove'] / T:.2f} | {commit / T:.2f} | {red / T:.2f} | "
            f"{opening / T:.2f} | {other / T:.2f} | {r['verify']:.2f} | {r['bytes'] / 1024:.0f} | "
            f"{r['rss_mb']:.0f} | {r['committed'] / T / 1e6:.2f} | {r['prove'] / T / r['float_step']:.0f}x |")


HEAD = ("| mode | width | batch | T | prove s/step | commit | reductions | openings | other | verify s | "
        "proof KiB | peak RSS MB | committed M/step | prove / float step |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--widths", default="32,64,128")
    ap.add_argument("--batches", default="32,64")
    ap.add_argument("--aggregate", default="1,2,4,8", help="T values at width 64, batch 32 ('' to skip)")
    ap.add_argument("--compare", default="64,128", help="widths for the ZK vs plain table ('' to skip)")
    ap.add_argument("--against", metavar="GITREF", help="only compare HEAD with revision GITREF "
                    "(prover, verifier, proof size at --compare widths, T = 1 and 4)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ints = lambda spec: [int(x) for x in spec.split(",") if x]  # noqa: E731
    if args.against:
        compare(args.against, ints(args.compare), [1, 4], args.repeats)
        return
    print("Per-step proofs, zero-knowledge (8 layers, synthetic 16 -> 4, chained: no W[t0]/dataset checks)")
    print(HEAD)
    for w in ints(args.widths):
        for b in ints(args.batches):
            print(row(measure(w, b, 1)), flush=True)
    print("\nFirst proof of a chain (includes the W[t0] and dataset range checks)")
    print(HEAD)
    print(row(measure(32, 32, 1, first=1)), flush=True)
    if args.aggregate:
        print("\nAggregation (width 64, batch 32, zero-knowledge): one proof for T steps")
        print(HEAD)
        for T in ints(args.aggregate):
            print(row(measure(64, 32, T)), flush=True)
    if args.compare:
        print("\nZero-knowledge vs plain (batch 32)")
        print(HEAD)
        for w in ints(args.compare):
            for T in (1, 4):
                for zk in (0, 1):
                    print(row(measure(w, 32, T, zk=zk)), flush=True)


if __name__ == "__main__":
    main()
