"""Cost of the proven loss and of the public anchors (issue 8). Prints two tables.

    python benchmarks/anchors.py                  # width 64, batch 32, T = 1 and 4
    python benchmarks/anchors.py --width 128 --T 1

Table 1: prover time, verifier time and proof size of one zero-knowledge proof in the
middle of a chain, without and with ``prove_loss`` (the same run, warm caches; the
better of ``--repeat`` runs). Table 2: what an auditor spends recomputing the public
anchors: the dataset commitment from the data, W[0] from the seed, and a released
model's commitment from its opening.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import zkdl  # noqa: E402
from zkdl import anchors  # noqa: E402
from zkdl import data as D  # noqa: E402
from zkdl.config import TrainConfig  # noqa: E402
from zkdl.prover.aggregate import prove_window  # noqa: E402
from zkdl.verifier.verify import verify  # noqa: E402


def best(fn, repeat):
    out, tbest = None, float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        tbest = min(tbest, time.perf_counter() - t)
    return out, tbest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--T", default="1,4", help="window sizes")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    Ts = [int(x) for x in args.T.split(",") if x]
    cfg = TrainConfig(width=args.width, batch_size=args.batch, lr_shift=9 + max(0, (args.width // 32).bit_length() - 1))
    data = D.synthetic()
    run = zkdl.train(cfg, data, steps=max(Ts) + 1, keep_in_memory=True)
    prove_window(run, 0, 1, prove_loss=True)  # warm caches (numba, generators)
    print(f"# proven loss: width {args.width}, batch {args.batch}, 8 layers, zero-knowledge, "
          f"proof of steps 1..T (best of {args.repeat})")
    print("| T | loss | prove s | verify s | size KiB |")
    print("|---|---|---|---|---|")
    for T in Ts:
        for loss in (False, True):
            (proof, _), tp = best(lambda: prove_window(run, 1, T, check_initial_weights=False, check_dataset=False,
                                                       prove_loss=loss), args.repeat)
            st, tv = best(lambda: verify(proof), args.repeat)
            assert (st.losses is not None) == loss
            print(f"| {T} | {'yes' if loss else 'no'} | {tp:.2f} | {tv:.2f} | {len(proof) / 1024:.1f} |")
    print()
    print("# public anchors: recomputation by the auditor")
    print("| anchor | size | seconds |")
    print("|---|---|---|")
    _, t = best(lambda: anchors.dataset_digest(run.config, data), args.repeat)
    print(f"| dataset (--data) | {data.n_samples} x {data.n_features} features, {data.n_classes} classes | {t:.2f} |")
    _, t = best(lambda: anchors.initial_weights_digest(run.config), args.repeat)
    n_w = sum(w.size for w in run.weights(0))
    print(f"| W[0] from the seed (--public-init) | {n_w} weights | {t:.2f} |")
    with tempfile.TemporaryDirectory() as tmp:
        proof, sec = prove_window(run, 0, 1)
        st = verify(proof)
        from zkdl.api import atomic_write
        path = os.path.join(tmp, "model.npz")
        atomic_write(path, anchors.model_bytes(run.config, run.weights(1), sec["final"], 1, st.final_weights_digest,
                                               "bench"))
        problems, t = best(lambda: anchors.check_model(path, run.config, st.final_weights_digest, 1), args.repeat)
        assert problems == [], problems
        print(f"| released model (--model) | {n_w} weights, {os.path.getsize(path) / 1024:.0f} KiB file | {t:.2f} |")


if __name__ == "__main__":
    main()
