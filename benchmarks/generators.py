"""Column-generator benchmark: what deriving G_j costs against reading them from a file.

    python benchmarks/generators.py [--counts 256 1024 2048 4096] [--repeat 3] [--proof FILE.zkdl]

Per point: ``hash_to_curve`` (the derivation, serial and on the shared thread pool),
``from_xy_bytes_unchecked_be`` (what a file load costs without checks), ``is_in_subgroup``
(the check a loaded point needs before it may be used) and ``from_compressed_bytes``.
Per count m: deriving G_0..G_{m-1} against loading them with a subgroup check, and
against loading plus re-deriving every point (the only file check that excludes a
planted relation such as G_1234 = G_0 + G_1; it costs more than deriving alone).

``--proof``: verify that proof in this process and report the largest generator
count it asked ``zkdl.curve.generators`` for (the verifier's whole need), with the
derivation cost of that many points.
Timings are the best of ``--repeat`` runs (the machine may be shared).
"""

from __future__ import annotations

import argparse
import struct
import time

from py_arkworks_bls12381 import G1Point

from zkdl import curve

from commit import best  # noqa: E402  (benchmarks/commit.py: best-of-n timing)


def msgs(m):
    return [b"G" + struct.pack(">I", j) for j in range(m)]


def derive_serial(m):
    return [G1Point.hash_to_curve(x, curve.DST) for x in msgs(m)]


def derive_pool(m):
    return list(curve.thread_pool().map(lambda x: G1Point.hash_to_curve(x, curve.DST), msgs(m)))


def load_checked(blobs):
    pts = [G1Point.from_xy_bytes_unchecked_be(b) for b in blobs]
    if not all(p.is_in_subgroup() for p in pts):
        raise RuntimeError("subgroup check failed")
    return pts


def load_rederived(blobs):
    pts = load_checked(blobs)
    if pts != derive_serial(len(pts)):
        raise RuntimeError("file differs from the derivation")
    return pts


def verifier_need(path):
    """Largest m the verifier of ``path`` passes to curve.generators (in this process)."""
    from zkdl.api import verify
    seen = [0]
    real = curve.generators

    def spy(m):
        seen[0] = max(seen[0], m)
        return real(m)

    curve.generators = spy
    try:
        with open(path, "rb") as fh:
            verify(fh.read())
    finally:
        curve.generators = real
    return seen[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", type=int, nargs="+", default=[256, 1024, 2048, 4096])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--proof", default=None, help="a .zkdl file: report the verifier's generator count")
    args = ap.parse_args()

    n = 512
    pts = derive_serial(n)
    blobs = [p.to_xy_bytes_be() for p in pts]
    comp = [p.to_compressed_bytes() for p in pts]
    per = [
        ("hash_to_curve (serial)", best(lambda: derive_serial(n), args.repeat)[0]),
        ("hash_to_curve (thread_pool)", best(lambda: derive_pool(n), args.repeat)[0]),
        ("from_xy_bytes_unchecked_be", best(lambda: [G1Point.from_xy_bytes_unchecked_be(b) for b in blobs],
                                            args.repeat)[0]),
        ("is_in_subgroup", best(lambda: [p.is_in_subgroup() for p in pts], args.repeat)[0]),
        ("from_compressed_bytes (checked)", best(lambda: [G1Point.from_compressed_bytes(c) for c in comp],
                                                 args.repeat)[0]),
    ]
    print(f"per point ({n} points, best of {args.repeat}, {curve._CPUS} cores)")
    print(f"{'operation':<34}{'us/point':>10}")
    for name, t in per:
        print(f"{name:<34}{t / n * 1e6:>10.1f}")

    print()
    print(f"{'m':>6}{'derive s':>11}{'derive pool s':>15}{'load+subgroup s':>17}{'load+re-derive s':>18}")
    for m in args.counts:
        ref = derive_serial(m)
        blobs = [p.to_xy_bytes_be() for p in ref]
        t_d = best(lambda: derive_serial(m), args.repeat)[0]
        t_p, out = best(lambda: derive_pool(m), args.repeat)
        if out != ref:
            raise RuntimeError("pool derivation differs")
        t_l = best(lambda: load_checked(blobs), args.repeat)[0]
        t_r = best(lambda: load_rederived(blobs), args.repeat)[0]
        print(f"{m:>6}{t_d:>11.3f}{t_p:>15.3f}{t_l:>17.3f}{t_r:>18.3f}")

    if args.proof:
        need = verifier_need(args.proof)
        t_need = best(lambda: derive_serial(need), args.repeat)[0]
        print()
        print(f"verifier of {args.proof}: {need} column generators, derived in {t_need:.3f} s")


if __name__ == "__main__":
    main()
