"""Field-kernel and sumcheck benchmarks (issue 2). Prints a table.

    python benchmarks/field_sumcheck.py [--quick]

Measures Fr multiplications per second (vectors of 2^22) on 1 and 2 threads, a
degree-2 product sumcheck over 2^20 and 2^23 entries of 16-bit integers (prover
including the int64 -> Fr conversion, and verifier), and numba's cold compile time
and warm start time (fresh NUMBA_CACHE_DIR, then a second process).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

WARMUP_SNIPPET = """
import time, numpy as np
t0 = time.perf_counter()
from zkdl.field.vector import FrVec, vecmat_small
from zkdl.prover.sumcheck import prove_sumcheck
from zkdl.prover.mle import eq_table, partial_evaluate
from zkdl.sumcheck import verify_sumcheck
from zkdl.transcript import Transcript
a = FrVec.from_int64(np.arange(1, 65)); b = FrVec.from_ints(list(range(64)))
a.mul(b); a.add(b); a.sub(b); a.scale(3); a.dot(b); a.sum(); a.inverse()
FrVec.from_bytes(a.to_bytes()); vecmat_small(a[:8], np.ones((8, 4), np.int64))
r = prove_sumcheck(Transcript(b"w"), [a, b], eq_point=[1, 2, 3, 4, 5, 6])
verify_sumcheck(Transcript(b"w"), r.claim, 6, 3, r.proof)
partial_evaluate(np.arange(64), (8, 8), {0: [1, 2, 3]})
print(time.perf_counter() - t0)
"""


def best_of(fn, repeat=3):
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def compile_times() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        times = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", WARMUP_SNIPPET], env=env, check=True,
                                 capture_output=True, text=True).stdout
            times.append(float(out.strip().splitlines()[-1]))
        return times[0], times[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (2^16 / 2^18)")
    args = ap.parse_args()
    from zkdl.field import P
    from zkdl.field.vector import FrVec
    from zkdl.prover.sumcheck import prove_sumcheck
    from zkdl.sumcheck import verify_sumcheck
    from zkdl.transcript import Transcript

    rng = np.random.default_rng(0)
    rows = []
    n = 1 << (16 if args.quick else 22)
    a = FrVec.from_int64(rng.integers(-(1 << 62), 1 << 62, n))
    b = FrVec.from_int64(rng.integers(-(1 << 62), 1 << 62, n))
    for th in (1, 2):
        t = best_of(lambda: a.mul(b, threads=th))
        rows.append((f"Fr mul, 2^{n.bit_length() - 1} vector", th, f"{n / t / 1e6:.1f} M mul/s", f"{t * 1e3:.1f} ms"))
        t = best_of(lambda: a.dot(b, threads=th))
        rows.append((f"Fr inner product, 2^{n.bit_length() - 1}", th, f"{n / t / 1e6:.1f} M/s", f"{t * 1e3:.1f} ms"))

    for logn in ((16, 18) if args.quick else (20, 23)):
        m = 1 << logn
        x = rng.integers(-(1 << 15), 1 << 15, m)
        y = rng.integers(-(1 << 15), 1 << 15, m)
        claim = int(np.dot(x.astype(object), y.astype(object))) % P
        for th in (1, 2):
            holder = {}

            def prove():
                X, Y = FrVec.from_int64(x, th), FrVec.from_int64(y, th)
                holder["res"] = prove_sumcheck(Transcript(b"bench"), [X, Y], claim=claim, threads=th)

            tp = best_of(prove, repeat=2)
            res = holder["res"]
            tv = best_of(lambda: verify_sumcheck(Transcript(b"bench"), res.claim, logn, 2, res.proof), repeat=5)
            rows.append((f"sumcheck deg 2, 2^{logn} x 16-bit", th, f"prove {tp:.3f} s",
                         f"verify {tv * 1e3:.2f} ms, {len(res.proof.to_bytes())} B"))

    cold, warm = compile_times()
    rows.append(("numba cold compile (fresh cache)", "-", f"{cold:.1f} s", ""))
    rows.append(("warm start (second process)", "-", f"{warm:.1f} s", ""))

    w = [max(len(str(r[i])) for r in rows + [("what", "threads", "result", "detail")]) for i in range(4)]
    line = "| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(("what", "threads", "result", "detail"))) + " |"
    print(line)
    print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w[i]) for i, c in enumerate(r)) + " |")


if __name__ == "__main__":
    main()
