"""Federated averaging (FedAvg / FedStale, issue 17): proving and auditing costs, and the
fidelity of the exact-integer rule against its float64 reference.

    python benchmarks/federated.py                       # width 64, 8 layers, batch 32, K = 4, 2 rounds, E = 2
    python benchmarks/federated.py --fidelity-only --rounds 20

Proving: one `zkdl.train_federated` run (ZK unless --plain, range strategy logup) on the
built-in synthetic data (2048 x 16, 4 classes), clients on shards of it; every client
round is one proof of its E local steps (it range-checks W_r, and its dataset in its first
round), every aggregation one proof. Columns: seconds per client proof and per local step,
client proof KiB, seconds per aggregation (its inputs: W_r, the fresh and stale finals,
the stale globals; it range-checks its remainder and output), aggregation KiB, the audit's wall time
(every proof verified, 2 worker processes). Fidelity: per round, the whole-data loss of
the integer global model W_r and of the float64 run (same batches, same participation,
only rounding differs), largest relative gap over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--participants", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--local-steps", type=int, default=2)
    ap.add_argument("--beta-num", type=int, default=2, help="FedStale beta = beta_num / 4 (0: FedAvg)")
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--fidelity-only", action="store_true")
    ap.add_argument("--fidelity-rounds", type=int, default=20)
    a = ap.parse_args(argv)
    import zkdl
    from zkdl import data as D
    from zkdl.config import TrainConfig
    from zkdl.federated_sim import normalize_federation
    from zkdl.federated_trace import fidelity
    data = D.synthetic()
    cfg = TrainConfig(width=a.width, layers=a.layers, batch_size=a.batch, lr_shift=9)
    params = {"clients": a.clients, "rounds": a.rounds, "local_steps": a.local_steps, "participants": a.participants,
              "beta_num": a.beta_num, "beta_shift": 2, "participation_seed": 1}
    if not a.fidelity_only:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "fed")
            t = time.monotonic()
            m = zkdl.train_federated(cfg, data, out, params=params, zk=not a.plain, range_strategy="logup")
            total = time.monotonic() - t
            t = time.monotonic()
            rep = zkdl.audit_claim(os.path.join(out, "claim"), jobs=2)
            audit = time.monotonic() - t
            assert rep["ok"], rep["failures"]
        cp = [e for rd in m["rounds"] for e in rd["client_proofs"]]
        ag = [rd["aggregation"] for rd in m["rounds"]]
        print(f"FedAvg/FedStale proving: {a.layers} layers of width {a.width}, batch {a.batch}, K = {a.clients}, "
              f"{a.participants} participants per round, {a.rounds} rounds, E = {a.local_steps}, beta "
              f"{a.beta_num}/4, {'PLAIN' if a.plain else 'ZK'}, logup")
        print(f"| client proofs | s/client proof | s/local step | client KiB | aggregations | inputs | "
              f"s/aggregation | aggregation KiB | audit s | total s |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        cs = statistics.mean(e["prove_seconds"] for e in cp)
        print(f"| {len(cp)} | {cs:.2f} | {cs / a.local_steps:.2f} | {statistics.mean(e['bytes'] for e in cp) / 1024:.0f} "
              f"| {len(ag)} | {'/'.join(str(len(x['inputs'])) for x in ag)} | "
              f"{statistics.mean(x['prove_seconds'] for x in ag):.2f} | "
              f"{statistics.mean(x['bytes'] for x in ag) / 1024:.0f} | {audit:.1f} | {total:.1f} |")
    fcfg = TrainConfig(width=32, layers=4, batch_size=32, lr_shift=8)
    print(f"\nfidelity: 4 layers of width 32, batch 32, K = {a.clients}, {a.participants} participants, "
          f"{a.fidelity_rounds} rounds of E = {a.local_steps}, synthetic data; loss of the global model on all 2048 rows")
    print("| rule | loss W_0 | loss W_R (int) | loss W_R (float) | max rel. gap over rounds |")
    print("|---|---|---|---|---|")
    for name, beta in (("FedAvg", 0), ("FedStale beta 1/2", 2)):
        fed = normalize_federation({**params, "rounds": a.fidelity_rounds, "beta_num": beta}, data)
        rows = fidelity(fcfg, data, fed)
        print(f"| {name} | {rows[0]['loss_float']:.4f} | {rows[-1]['loss_int']:.4f} | {rows[-1]['loss_float']:.4f} | "
              f"{max(r['rel_gap'] for r in rows):.2e} |")


if __name__ == "__main__":
    main()
