"""Federated averaging simulated on one machine: K clients on shards of the data, R rounds,
every client round and every aggregation proven (prover side).

Output directory (written through a staging directory; it appears only when complete)::

    claim/manifest.json                         format zkdl-federated-claim/v1 (docs/FORMAT.md)
    claim/proofs/round_<r>/client_<k>.zkdl      client k's E local steps of round r
    claim/proofs/round_<r>/aggregate.zkdl       the aggregation W_r -> W_{r+1}
    secrets/round_<r>/...json                   the commitment blinds (0600; keep private)
    summary.json                                per-round client losses, proof sizes and times
    run/global_final.npz                        the final global model W_R (int64 per layer W1..WL)

Trust model of the simulation: the global model W_r and the blinds of its commitment are
shared by the server with the round's participants (they need both to prove that they
start from it); each client's data, its dataset commitment's blinds and its local weights
stay with the client until it sends its final weights (and their blinds) to the server,
which aggregates. The claim hides every client's data and every weight from the auditor.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np

from zkdl.federated import (AGG_METHOD, FEDERATED_FORMAT, check_federation, client_config, participants,
                            stale_sources)

__all__ = ["run_federated", "train_federated", "normalize_federation", "aggregation_inputs_for"]

SUMMARY_FORMAT = "zkdl-federated-summary/v1"


def normalize_federation(params: dict, data, K_default: int | None = None) -> dict:
    """The federation parameters with the defaults filled in: participants 0 means
    ceil(K/2); client_weights are the shard sizes."""
    from zkdl.federated import federation_defaults
    from zkdl.federated_trace import shards
    fed = {**federation_defaults(), **{k: v for k, v in params.items() if k != "client_weights"}}
    if fed["participants"] == 0:
        fed["participants"] = max(1, (fed["clients"] + 1) // 2)
    if 1 <= fed["clients"]:
        fed["client_weights"] = params.get("client_weights") or [int(s.n_samples) for s in shards(data, fed["clients"])]
    check_federation(fed)
    return fed


def aggregation_inputs_for(fed: dict, r: int, faults: dict):
    """aggregation_inputs of round r, changed by the soundness-test ``faults`` (tests only)."""
    from zkdl import federated as F
    dropped = {k for (q, k) in faults.get("drop", ()) if q == r}
    wrong = {k: q for (rr, k), q in faults.get("stale_round", {}).items() if rr == r}
    if not dropped and not wrong:
        return F.aggregation_inputs(fed, r)
    # the server's own (wrong) bookkeeping: the same rule with a participant missing or
    # a stale update taken from another round
    P = [k for k in participants(fed["participation_seed"], r, fed["clients"], fed["participants"])
         if k not in dropped]
    S = {**stale_sources(fed, r), **wrong}
    w, s = fed["client_weights"], fed["shift"]
    u = {k: w[k] << fed["beta_shift"] for k in P}
    us = {k: w[k] * fed["beta_num"] for k in S}
    U = sum(u.values()) + sum(us.values())
    e = {k: ((v << (s + 1)) + U) // (2 * U) for k, v in u.items()}
    es = {k: ((v << (s + 1)) + U) // (2 * U) for k, v in us.items()}
    out = [(("global", r), (1 << s) - sum(e.values()))] + [(("client", r, k), c) for k, c in e.items()]
    out += [(("client", S[k], k), c) for k, c in es.items()]
    back: dict = {}
    for k, c in es.items():
        back[S[k]] = back.get(S[k], 0) - c
    return out + [(("global", q), c) for q, c in sorted(back.items())]


def _layers_of(circuit, role: str) -> list[tuple[str, int]]:
    from zkdl.verifier.verify import statement_layout
    return [(b, l) for b, l, _ in statement_layout(circuit)[role]]


def _by_layer(circuit, role: str, blinds: list, base: str | None = None) -> dict:
    """{layer: row blinds} of the commitments of ``role`` (only base ``base`` if given)."""
    return {l: bl for (b, l), bl in zip(_layers_of(circuit, role), blinds) if base is None or b == base}


def _placeholder_data(cfg):
    """The aggregation proof commits no data; its run needs a dataset of the right shape."""
    from zkdl.data import Dataset
    B = cfg.batch_size
    return Dataset("fedavg aggregation (no data)", np.zeros((B, cfg.n_features), dtype=np.int64),
                   np.zeros(B, dtype=np.int64), cfg.n_classes, cfg.R)


def run_federated(cfg, data, fed: dict, out: str, *, zk: bool = True, range_strategy: str | None = None,
                  backend: str = "cpu", threads=None, say=None, faults: dict | None = None,
                  replace: bool = False) -> dict:
    """Simulate and prove a federated run into ``out`` (module docstring); returns the
    manifest. ``fed``: :func:`normalize_federation`'s parameters. ``faults`` (soundness
    tests only, never the CLI): ``stale_start`` {(r, k)}: the client starts from W_{r-1};
    ``drop`` {(r, k)}: the participant's proof is left out and the server aggregates without
    it; ``weight`` {r: (i, delta)}: input i's coefficient changed; ``stale_round``
    {(r, k): q}: the stale update of client k taken from round q; ``agg_tamper`` {r: fn}:
    the aggregation's witness tables tampered (fn(stage, obj), prover check off).

    ``say``: a callable given each progress line, or a :class:`zkdl.cli_common.Progress`
    (the CLI's), which also gets the prover's phases of every proof (plain lines, or bars
    on a terminal) and, on a terminal, bars of the rounds and of the proofs with a
    steady-state ETA (the mean time of the client proofs and of the aggregations made so
    far, less the first proof when it is the first of the process: it includes loading or
    compiling the kernels)."""
    from zkdl import rundir
    from zkdl.api import atomic_write, resolve_backend
    from zkdl.cli_common import Progress
    from zkdl.circuits.builder import DEFAULT_RANGE
    from zkdl.config import TrainConfig
    from zkdl.federated_trace import shards
    from zkdl.prover.aggregate import prove_window
    from zkdl.tracer import Run, init_weights, train
    from zkdl.verifier.verify import circuit_for
    prog = say if isinstance(say, Progress) else None
    say = say or (lambda *_: None)
    faults = dict(faults or {})
    range_strategy = range_strategy or DEFAULT_RANGE
    backend = resolve_backend(backend)
    check_federation(fed)
    cfg = cfg.for_data(data)
    base = cfg.to_dict()
    K, E, Rn = fed["clients"], fed["local_steps"], fed["rounds"]
    parts = shards(data, K)
    for k, p in enumerate(parts):
        if p.n_samples < cfg.batch_size:
            raise ValueError(f"client {k}'s shard has {p.n_samples} rows, fewer than the batch ({cfg.batch_size}); "
                             f"use fewer clients or a smaller batch")
    agg_cfg = cfg.replace(steps=1)
    agg_data = _placeholder_data(agg_cfg)
    staging = rundir.staging_dir(out)
    started = time.monotonic()
    track = _Tracker(prog, say, Rn, [len(participants(fed["participation_seed"], r, K, fed["participants"]))
                                     for r in range(Rn)],
                     (E, bool(zk), range_strategy, backend))
    try:
        os.makedirs(os.path.join(staging, "claim", "proofs"))
        sdir = os.path.join(staging, "secrets")
        os.makedirs(sdir, mode=0o700)

        def save(proof: bytes, secrets: dict, r: int, stem: str) -> dict:
            rel = f"proofs/round_{r:03d}/{stem}.zkdl"
            os.makedirs(os.path.join(staging, "claim", os.path.dirname(rel)), exist_ok=True)
            os.makedirs(os.path.join(sdir, f"round_{r:03d}"), mode=0o700, exist_ok=True)
            atomic_write(os.path.join(staging, "claim", rel), proof)
            atomic_write(os.path.join(sdir, f"round_{r:03d}", stem + ".json"), json.dumps(secrets).encode(), 0o600)
            import hashlib
            return {"file": rel, "sha256": hashlib.sha256(proof).hexdigest(), "bytes": len(proof)}

        from zkdl.prooffile import unpack
        g_w = [init_weights(cfg)]            # W_r (int64 per layer)
        g_bl: list = [None]                  # {layer: blinds} of W_r's commitment
        g_digest: list = [None]
        finals: dict = {}                    # (r, k) -> (weights, {layer: blinds})
        ds_secrets: dict = {}                # client -> its dataset blinds (one commitment per client)
        rounds, summary_rounds = [], []
        for r in range(Rn):
            P = participants(fed["participation_seed"], r, K, fed["participants"])
            entries, losses = [], {}
            track.round(r)
            for k in P:
                ccfg = TrainConfig.from_dict(client_config(base, r, k, E))
                q = r - 1 if (r, k) in faults.get("stale_start", ()) and r > 0 else r
                run = train(ccfg, parts[k], E, keep_in_memory=True, initial={"W": g_w[q]})
                first_data = k not in ds_secrets
                circuit = circuit_for(ccfg, E, parts[k].n_samples, True, first_data, False, "sgd_mlp", {},
                                      range_strategy)
                secrets = {}
                if g_bl[q] is not None:
                    secrets["initial"] = [g_bl[q][l] for _, l in _layers_of(circuit, "initial")]
                if not first_data:
                    secrets["dataset"] = ds_secrets[k]
                t = time.monotonic()
                with track.proof("client", f"round {r}: client {k}", f"{E} local step(s)", first_data) as phases:
                    proof, sec = prove_window(run, 0, E, secrets=secrets, check_initial_weights=True,
                                              check_dataset=first_data, zk=zk, range_strategy=range_strategy,
                                              backend=backend, threads=threads, progress=phases)
                seconds = time.monotonic() - t
                ds_secrets[k] = sec["dataset"]
                st = unpack(proof)[0]["statement"]
                if g_bl[r] is None:      # round 0: the first participant's proof commits W_0
                    g_bl[r] = _by_layer(circuit, "initial", sec["initial"])
                    g_digest[r] = st["initial_weights_digest"]
                finals[(r, k)] = (run.final_state["W"], _by_layer(circuit, "final", sec["final"]))
                losses[k] = float(np.mean(run.losses))
                say(f"round {r}: client {k} proved {E} local step(s) in {seconds:.1f}s (loss {losses[k]:.4f})")
                if (r, k) in faults.get("drop", ()):
                    continue
                entries.append({"client": k, "steps": [0, E], **save(proof, sec, r, f"client_{k:02d}"),
                                "prove_seconds": round(seconds, 3)})
            # ---- the aggregation
            inputs = aggregation_inputs_for(fed, r, faults)
            params = {"shift": fed["shift"], "inputs": len(inputs), **{f"c{i}": c for i, (_, c) in enumerate(inputs)}}
            if r in faults.get("weight", {}):
                i, delta = faults["weight"][r]
                params[f"c{i}"] += delta
            state, bl = {}, []
            for i, (src, _) in enumerate(inputs):
                w, b = (g_w[src[1]], g_bl[src[1]]) if src[0] == "global" else finals[(src[1], src[2])]
                state[f"fi{i}"] = w
                bl.append(b)
            arun = Run(agg_cfg, agg_data, state, method=AGG_METHOD, method_params=params, keep_in_memory=True)
            arun.resume(1)
            acirc = circuit_for(agg_cfg, 1, agg_data.n_samples, False, True, False, AGG_METHOD, arun.method_params,
                                range_strategy)
            init = [bl[int(b[2:])][l] for b, l in _layers_of(acirc, "initial")]
            tamper = faults.get("agg_tamper", {}).get(r)
            t = time.monotonic()
            with track.proof("aggregation", f"round {r}", f"the aggregation of {len(inputs)} inputs", len(inputs)) \
                    as phases:
                proof, sec = prove_window(arun, 0, 1, secrets={"initial": init}, check_initial_weights=False, zk=zk,
                                          range_strategy=range_strategy,
                                          backend=backend, threads=threads, tamper=tamper,
                                          check_witness=tamper is None, progress=phases)
            seconds = time.monotonic() - t
            st = unpack(proof)[0]["statement"]
            g_w.append(arun.final_state["fi0"])
            g_bl.append(_by_layer(acirc, "final", sec["final"]))
            g_digest.append(st["final_weights_digest"])
            say(f"round {r}: aggregation of {len(inputs)} inputs proved in {seconds:.1f}s")
            agg = {**save(proof, sec, r, "aggregate"), "inputs": [list(src) for src, _ in inputs],
                   "prove_seconds": round(seconds, 3)}
            S = stale_sources(fed, r)
            rounds.append({"round": r, "participants": P,
                           "stale": [{"client": k, "from_round": q} for k, q in S.items()],
                           "client_proofs": entries, "aggregation": agg})
            summary_rounds.append({"round": r, "client_loss": {str(k): v for k, v in losses.items()}})
        manifest = {
            "format": FEDERATED_FORMAT,
            "config": base,
            "federation": fed,
            "zk": bool(zk),
            "range": range_strategy,
            "clients": [{"client": k, "n_samples": int(parts[k].n_samples)} for k in range(K)],
            "globals": g_digest,
            "initial_weights_digest": g_digest[0],
            "final_weights_digest": g_digest[-1],
            "rounds": rounds,
        }
        atomic_write(os.path.join(staging, "claim", "manifest.json"),
                     (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
        summary = {"format": SUMMARY_FORMAT, "config": base, "federation": fed, "data": data.name,
                   "rounds": summary_rounds, "seconds": round(time.monotonic() - started, 3), "complete": True}
        atomic_write(os.path.join(staging, "summary.json"), (json.dumps(summary, indent=1) + "\n").encode())
        os.makedirs(os.path.join(staging, "run"))     # the final global model (the server's, int64 at scale 2^R)
        np.savez(os.path.join(staging, "run", "global_final.npz"), **{f"W{l + 1}": w for l, w in enumerate(g_w[-1])})
        rundir.install(staging, out, replace)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        track.done()
    return manifest


class _Tracker:
    """Progress of :func:`run_federated`: before each proof a line with the proofs done and
    a steady-state ETA (the mean time of the proofs so far, by kind, times the proofs left
    of each kind; the run's first proof left out when it is the process's first, which
    loads or compiles the kernels); with
    a Progress (``prog``) the prover's phases of each proof (rundir's phase tracker: plain
    lines, or bars on a terminal) and bars of the rounds and the proofs (drawn only live)."""

    def __init__(self, prog, say, rounds: int, participants_per_round: list[int], shape: tuple):
        self.prog, self.say, self.shape = prog, say, shape
        self.rounds = rounds
        self.left = {"client": sum(participants_per_round), "aggregation": rounds}
        self.total = self.left["client"] + self.left["aggregation"]
        self.times: dict = {"client": [], "aggregation": []}
        self.done_n = 0
        from zkdl import rundir
        self.first_compiles = not rundir._PROVED_IN_PROCESS
        self.first_kind = None    # the kind of the run's first proof
        self.rbar = prog.bar("rounds", total=rounds, unit="rounds") if prog is not None else None
        self.pbar = prog.bar("proofs", total=self.total, unit="proofs") if prog is not None else None

    def eta(self) -> float | None:
        from zkdl.cli_common import steady_eta
        parts = [steady_eta(self.times[kind], n, skip_first=self.first_compiles and kind == self.first_kind)
                 for kind, n in self.left.items()]
        return None if any(p is None for p in parts) else sum(parts)

    def round(self, r: int) -> None:
        if self.rbar is not None:
            self.rbar.update(completed=r, description=f"round {r + 1}/{self.rounds}", eta=self.eta())

    def proof(self, kind: str, tag: str, what: str, variant):
        import contextlib

        from zkdl.cli_common import eta_text
        left = self.eta()
        if self.prog is not None:
            from zkdl import rundir
            rundir._first_proof_notice(self.prog)   # before the first proof of the process: why it is slow
        self.say(f"{tag}: proving {what} (proof {self.done_n + 1}/{self.total}){eta_text(left)}")
        if self.pbar is not None:
            self.pbar.update(completed=self.done_n, description=tag, eta=left)
            self.rbar.update(eta=left)

        @contextlib.contextmanager
        def run():
            from zkdl import rundir
            started = time.monotonic()
            first = self.done_n == 0
            if first:
                self.first_kind = kind
            phases = None
            if self.prog is not None:
                phases = rundir._PhaseTracker(self.prog, ("federated", kind, variant) + self.shape, started)
            ok = False
            try:
                yield phases
                ok = True
            finally:
                if phases is not None:   # the compiling proof: its counts, not its times
                    phases.finish(ok, timed=not (first and self.first_compiles))
            self.times[kind].append(time.monotonic() - started)
            self.left[kind] -= 1
            self.done_n += 1
            if self.pbar is not None:
                self.pbar.update(completed=self.done_n, eta=self.eta())
                if kind == "aggregation":
                    self.rbar.update(advance=1, eta=self.eta())
        return run()

    def done(self) -> None:
        for bar in (self.pbar, self.rbar):
            if bar is not None:
                bar.done()


def train_federated(config=None, data=None, out: str = "zkdl-fedrun", *, method: str = "fedavg",
                    params: dict | None = None, zk: bool = True, range_strategy: str | None = None,
                    backend: str = "cpu", threads=None, progress=None, replace: bool = False) -> dict:
    """The Python API of ``zkdl train --method fedavg|fedstale``: simulate K clients on
    shards of ``data`` for R rounds, prove every client round and every aggregation into
    ``out`` and return the federated claim's manifest (audit ``out/claim`` with
    ``zkdl.audit_claim``). ``params``: clients, rounds, local_steps, participants (0:
    ceil(K/2)), participation_seed, shift, beta_num, beta_shift (``fedstale``: beta = 1/2
    unless given)."""
    from zkdl.config import TrainConfig
    from zkdl.data import synthetic
    from zkdl.errors import ConfigError
    if method not in ("fedavg", "fedstale"):
        raise ConfigError(f"method must be 'fedavg' or 'fedstale', got {method!r}")
    config = config if config is not None else TrainConfig()
    data = data if data is not None else synthetic(R=config.R)
    p = {**({"beta_num": 2, "beta_shift": 2} if method == "fedstale" else {}), **(params or {})}
    from zkdl.circuits.ir import CircuitError
    try:
        fed = normalize_federation(p, data)
    except CircuitError as exc:
        raise ConfigError(str(exc)) from None
    return run_federated(config, data, fed, out, zk=zk, range_strategy=range_strategy, backend=backend,
                         threads=threads, say=progress, replace=replace)
