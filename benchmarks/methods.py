"""Training methods side by side: full SGD vs lora, hut (rank 4), sltrain (rank 4, 3%),
subset_momentum (issue 16), muon (Drop-Muon's schedule; issue 17), eggroll (evolution strategies,
4 antithetic pairs of rank 2; issue 17).

    python benchmarks/methods.py                          # widths 64, 256; T = 1 and 4
    python benchmarks/methods.py --widths 256 --Ts 1 --methods sgd_mlp,lora

Every row is the second proof of a chain (ZK unless --plain): steps 1..T chained onto an
untimed proof of step 0 in the same process, as `zkdl train` proves (so no W[t0] / dataset
range checks, and W[t0]'s commitment is the first proof's), 8 layers, batch 64,
synthetic data, range strategy logup, measured in its own subprocess (peak RSS is its
own, both proofs included); the methods of one configuration run one after the other. Columns: committed witness values per step, prover
s/step with its breakdown (commitment MSMs of the witness and of the statement: the final state, the initial one and the dataset being the chain predecessor's, lookups
= the GKR trees of fractions, other reductions, openings, the witness check), verifier s,
proof KiB, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from range import HEAD as RANGE_HEAD, row  # noqa: F401  (benchmarks/range.py: the same columns)

CHILD = r"""
import json, resource, sys, time
import zkdl
from zkdl import data as D
from zkdl.config import TrainConfig
from zkdl.prover.aggregate import prove_window
from zkdl.prooffile import unpack
from zkdl.verifier.verify import verify
width, batch, T, zk = (int(a) for a in sys.argv[1:5])
method, params = sys.argv[5], json.loads(sys.argv[6])
strategy = "logup"
cfg = TrainConfig(width=width, batch_size=batch, lr_shift=9 + max(0, (width // 32).bit_length() - 1))
data = D.synthetic()
run = zkdl.train(cfg, data, steps=T + 1, keep_in_memory=True, method=method, method_params=params)
_, secrets = prove_window(run, 0, 1, zk=bool(zk), range_strategy=strategy)   # the chain's first proof (untimed)
tm = {}
t = time.perf_counter()
proof, _ = prove_window(run, 1, T, secrets=dict(secrets, initial=secrets["final"]), timings=tm,
                        check_initial_weights=False, check_dataset=False, zk=bool(zk), range_strategy=strategy)
tp = time.perf_counter() - t
t = time.perf_counter(); verify(proof); tv = time.perf_counter() - t
committed = unpack(proof)[0]["sizes"]["committed_values"]
print(json.dumps({"width": width, "batch": batch, "T": T, "zk": zk, "range": method,
                  "prove": tp, "verify": tv, "bytes": len(proof), "timings": tm, "committed": committed,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


PARAMS = {"sgd_mlp": {}, "lora": {"rank": 4}, "hut": {"rank": 4}, "sltrain": {"rank": 4, "density_permille": 30},
          "subset_momentum": {}, "muon": {}, "eggroll": {"pairs": 4, "rank": 2}}


def measure(width, batch, T, zk, method, timeout):
    env = dict(os.environ)
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, str(width), str(batch), str(T), str(zk), method,
                              json.dumps(PARAMS.get(method, {}))], capture_output=True, text=True, env=env,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"width": width, "batch": batch, "T": T, "zk": zk, "range": method, "error": f"over {timeout} s"}
    if out.returncode != 0:
        return {"width": width, "batch": batch, "T": T, "zk": zk, "range": method,
                "error": (out.stderr.strip().splitlines() or ["?"])[-1][:80]}
    return json.loads(out.stdout.strip().splitlines()[-1])


HEAD = RANGE_HEAD.replace("| range |", "| method |", 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", default="64,256")
    ap.add_argument("--Ts", default="1,4")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--methods", default="sgd_mlp,lora,hut,sltrain,subset_momentum,eggroll")
    ap.add_argument("--plain", action="store_true", help="plain (not zero-knowledge) proofs")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per configuration")
    args = ap.parse_args()
    ints = lambda spec: [int(x) for x in spec.split(",") if x]  # noqa: E731
    print(f"Training methods ({'plain' if args.plain else 'ZK'}, 8 layers, batch {args.batch}, logup, "
          f"second proof of a chain; lora rank 4)")
    print(HEAD, flush=True)
    for w in ints(args.widths):
        for T in ints(args.Ts):
            for method in args.methods.split(","):
                print(row(measure(w, args.batch, T, int(not args.plain), method, args.timeout)), flush=True)


if __name__ == "__main__":
    main()
