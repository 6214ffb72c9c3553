"""Audit benchmark: `zkdl audit` of a claim, in parallel vs sequentially (issue 8).

    python benchmarks/audit.py CLAIM_DIR [--jobs N] [--single]

CLAIM_DIR: a claim (e.g. the claim/ of `zkdl train --steps 32 --width 64`). Measures, each
in a fresh process: `zkdl audit --jobs 1` (every proof verified one after the other in one
process) and `zkdl audit --jobs N` (N worker processes, default all cores), wall time
including start-up; and the sum of the per-proof verification times. --single also
times `zkdl verify FILE` for each proof in its own process (sum of single verifications
as a user would run them, start-up included).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def timed(cmd):
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    return time.perf_counter() - t, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("claim")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--single", action="store_true")
    args = ap.parse_args()
    zkdl = [sys.executable, "-m", "zkdl"]
    with open(os.path.join(args.claim, "manifest.json")) as fh:
        m = json.load(fh)
    print(f"claim {args.claim}: {len(m['proofs'])} proofs, width {m['config']['width']}, "
          f"batch {m['config']['batch_size']}, zk {m['zk']}; {os.cpu_count()} cores")
    rows = {}
    for jobs in (1, args.jobs):
        wall, res = timed(zkdl + ["audit", args.claim, "--json", "--jobs", str(jobs)])
        rep = json.loads(res.stdout)
        assert rep["ok"], rep["failures"]
        rows[jobs] = (wall, rep["timing"]["verify_seconds_sum"])
        per = [p["verify_seconds"] for p in rep["proofs"]]
        print(f"  per proof: first {per[0]:.2f} s, min {min(per):.2f} s, max {max(per):.2f} s, "
              f"last {per[-1]:.2f} s")
        print(f"audit --jobs {jobs}: {wall:.1f} s wall (sum of per-proof verify times {rows[jobs][1]:.1f} s)")
    if args.single:
        total = 0.0
        for p in m["proofs"]:
            wall, res = timed(zkdl + ["verify", os.path.join(args.claim, p["file"])])
            assert res.returncode == 0, res.stdout + res.stderr
            total += wall
        print(f"sum of single `zkdl verify FILE` runs: {total:.1f} s")
        rows["single"] = total
    print(f"parallel / sequential audit: {rows[args.jobs][0] / rows[1][0]:.2f}x")
    print(json.dumps({str(k): v for k, v in rows.items()}))


if __name__ == "__main__":
    main()
