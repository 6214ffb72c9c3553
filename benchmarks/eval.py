"""Cost of a proof of test accuracy (``zkdl prove-eval``, issue 18) beside one training step.

    python benchmarks/eval.py                  # width 64, 8 layers; 256 and 1024 test rows
    python benchmarks/eval.py --rows 256 --width 32 --layers 3

For each row: a proven run of 2 steps (one window, ZK) on synthetic data is written to a
temporary directory; then the evaluation proof of its final model on ``rows`` synthetic
test rows (ZK, hiding test set), its size, the time to verify it and to check its link to
the claim (zkdl.eval_claim.check_evaluation), and, in the same run, the time of the
training proof per step for comparison.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from click.testing import CliRunner


def _cli(*args):
    from zkdl.cli import cli
    res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if res.exit_code != 0:
        raise SystemExit(f"zkdl {' '.join(map(str, args))} failed:\n{res.output}")
    return res


def measure(width: int, layers: int, rows: int, tmp: str) -> dict:
    import zkdl
    from zkdl.eval_claim import check_evaluation
    from zkdl.prooffile import read_proof_file
    out = os.path.join(tmp, f"w{width}-l{layers}-r{rows}")
    t = time.perf_counter()
    _cli("train", "--out", out, "--data", f"synthetic:{max(512, rows)}:16:4", "--width", width, "--layers", layers,
         "--batch-size", 32, "--steps", 2, "--window", 2, "-q")
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    res = zkdl.prove_eval(out, f"synthetic:{rows}:16:4", name="bench")
    prove_s = time.perf_counter() - t
    proof = read_proof_file(res["proof"])
    last = read_proof_file(os.path.join(out, "claim", "proofs", "steps_000000-000002.zkdl"))
    t = time.perf_counter()
    check_evaluation(proof, last)
    check_s = time.perf_counter() - t
    return {"width": width, "layers": layers, "rows": rows, "prove_s": prove_s, "bytes": len(proof),
            "check_s": check_s, "train2_s": train_s, "accuracy": res["accuracy"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--rows", type=int, nargs="+", default=[256, 1024])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        res = [measure(a.width, a.layers, r, tmp) for r in a.rows]
    print("| width x layers | test rows | prove-eval | proof size | verify + link check | "
          "`zkdl train` 2 steps, batch 32, proven (same run) |")
    print("|---|---|---|---|---|---|")
    for r in res:
        print(f"| {r['width']} x {r['layers']} | {r['rows']} | {r['prove_s']:.1f} s | {r['bytes'] / 1024:.0f} KiB | "
              f"{r['check_s']:.2f} s | {r['train2_s']:.1f} s |")


if __name__ == "__main__":
    main()
