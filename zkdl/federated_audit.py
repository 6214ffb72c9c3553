"""Auditing a federated claim (format ``zkdl-federated-claim/v1``, docs/FORMAT.md section 8).

Verifier side: imports the verifier and core pieces only (no prover, numba, numpy or
tracer). :func:`audit_federated` verifies every client and aggregation proof (in parallel
worker processes) and checks, from the public parameters alone:

* the participation schedule: each round's participants and stale clients are the public
  function of the seed (``zkdl.federated``), every participant has exactly one client
  proof in the round and no one else has; no proof file is used twice;
* every client proof: training method ``sgd_mlp``, the config of its (round, client)
  (its own batch schedule: a proof of another round has another config), E steps, its
  client's dataset commitment and size in every round, range checks, and that it starts
  from the round's global commitment W_r;
* every aggregation: method ``fedavg_agg`` with exactly the public coefficients of the
  round, each input commitment byte-identical to the commitment it must be (W_r, a
  participant's final weights of this round, a stale client's final weights of its last
  round, an earlier global model), and its output the next global commitment W_{r+1}.
"""

from __future__ import annotations

import os
import time

from zkdl import __version__
from zkdl.audit import MANIFEST, ClaimError, _inside, read_manifest_json
from zkdl.circuits.ir import CircuitError
from zkdl.errors import VerificationError
from zkdl.federated import (AGG_METHOD, FEDERATED_FORMAT, aggregation_inputs, aggregation_params, check_federation,
                            client_config, participants, stale_sources)
from zkdl.verify_pool import verify_files

__all__ = ["FEDERATED_AUDIT_FORMAT", "is_federated", "load_federated_manifest", "audit_federated"]

FEDERATED_AUDIT_FORMAT = "zkdl-federated-audit/v1"


def is_federated(claim_dir: str) -> bool:
    """Whether ``claim_dir`` holds a federated claim (its manifest's format); False when it
    cannot tell (the ordinary claim loader then reports what is wrong)."""
    try:
        m = read_manifest_json(claim_dir)
    except ClaimError:
        return False
    return isinstance(m, dict) and m.get("format") == FEDERATED_FORMAT


def _is_int(v) -> bool:
    return type(v) is int


def _is_digest(v) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


def load_federated_manifest(claim_dir: str) -> dict:
    """The manifest, checked to be usable (ClaimError otherwise): its shape and the
    federation parameters. What it states is checked by the audit."""
    mpath = os.path.join(claim_dir, MANIFEST)
    m = read_manifest_json(claim_dir)
    if not isinstance(m, dict) or m.get("format") != FEDERATED_FORMAT:
        raise ClaimError(f"{mpath}: not a federated claim (format {FEDERATED_FORMAT!r})")
    if not isinstance(m.get("config"), dict):
        raise ClaimError(f"{mpath}: 'config' must be an object")
    fed = m.get("federation")
    try:
        check_federation(fed)
    except CircuitError as exc:
        raise ClaimError(f"{mpath}: 'federation': {str(exc)[:200]}") from None
    K, Rn = fed["clients"], fed["rounds"]
    clients = m.get("clients")
    if not (isinstance(clients, list) and len(clients) == K and all(
            isinstance(c, dict) and c.get("client") == k and _is_int(c.get("n_samples")) and c["n_samples"] >= 1
            for k, c in enumerate(clients))):
        raise ClaimError(f"{mpath}: 'clients' must list the {K} clients in order, each with n_samples")
    g = m.get("globals")
    if not (isinstance(g, list) and len(g) == Rn + 1 and all(_is_digest(x) for x in g)):
        raise ClaimError(f"{mpath}: 'globals' must be the {Rn + 1} global-model commitment digests W_0..W_{Rn}")
    rounds = m.get("rounds")
    if not (isinstance(rounds, list) and len(rounds) == Rn):
        raise ClaimError(f"{mpath}: 'rounds' must list the {Rn} rounds")

    def entry_ok(e):
        return isinstance(e, dict) and isinstance(e.get("file"), str) and isinstance(e.get("sha256"), str)
    for r, rd in enumerate(rounds):
        ok = (isinstance(rd, dict) and rd.get("round") == r and isinstance(rd.get("participants"), list)
              and all(_is_int(k) for k in rd["participants"]) and isinstance(rd.get("stale"), list)
              and isinstance(rd.get("client_proofs"), list)
              and all(entry_ok(e) and _is_int(e.get("client")) for e in rd["client_proofs"])
              and entry_ok(rd.get("aggregation")))
        if not ok:
            raise ClaimError(f"{mpath}: rounds[{r}] must have 'round' = {r}, 'participants', 'stale', "
                             f"'client_proofs' (client, file, sha256) and 'aggregation' (file, sha256)")
    return m


def _commitments_by_base(path: str, sha256: str) -> dict | None:
    """{statement base: digest of its commitments} of the (verified) proof file ``path``,
    read from its body; None when the file is no longer the verified one."""
    import hashlib

    from zkdl.curve import Reader
    from zkdl.prooffile import read_proof_file, unpack
    from zkdl.verifier.verify import commitments_digest, parse_header, read_statement_commitments
    try:
        data = read_proof_file(path)
    except (OSError, ValueError):
        return None
    if hashlib.sha256(data).hexdigest() != sha256:
        return None
    try:
        header, body = unpack(data)
        _, circuit, _ = parse_header(header, len(body))
        stmt = read_statement_commitments(Reader(body, "proof body"), circuit)
    except VerificationError:
        return None
    groups: dict = {}
    for entries in stmt.values():
        for base, _, c in entries:
            groups.setdefault(base, []).append(c)
    return {b: commitments_digest(cs) for b, cs in groups.items()}


def audit_federated(claim_dir: str, jobs: int | None = None, progress=None, ray: str | bool | None = None) -> dict:
    """Audit a federated claim (module docstring); the report's ``ok`` says whether the
    whole claim holds. ClaimError when the claim cannot be used at all. ``progress(done,
    total)``: called as the client and aggregation proofs are verified (as
    :func:`zkdl.audit.audit_claim`'s, the CLI's progress bar); None: nothing is called."""
    started = time.perf_counter()
    m = load_federated_manifest(claim_dir)
    fed, base, G = m["federation"], m["config"], m["globals"]
    K, Rn, E = fed["clients"], fed["rounds"], fed["local_steps"]
    failures: list[dict] = []
    notes: list[str] = []

    def fail(code: str, where: str, message: str) -> None:
        failures.append({"code": code, "location": where, "message": message})

    # ---- every file, verified in parallel
    items = []   # (round, kind, client or None, entry, where)
    for r, rd in enumerate(m["rounds"]):
        for i, e in enumerate(rd["client_proofs"]):
            items.append((r, "client", e["client"], e, f"round {r} client {e['client']} ({e['file']})"))
        items.append((r, "aggregation", None, rd["aggregation"], f"round {r} aggregation ({rd['aggregation']['file']})"))
    paths = [_inside(claim_dir, it[3]["file"]) for it in items]
    todo = list(dict.fromkeys(p for p in paths if p is not None))
    verified = dict(zip(todo, verify_files(todo, jobs or os.cpu_count() or 1, progress=progress,
                                          **({'ray': ray} if ray else {}))))
    seen_sha: dict = {}
    stmts = []
    for it, p in zip(items, paths):
        r, kind, k, e, where = it
        st = None
        if p is None:
            fail("bad_path", where, f"{e['file']!r} points outside the claim directory")
        else:
            res = verified[p]
            if res["missing"]:
                fail("missing_proof", where, f"proof file missing: {res['reason']}")
            elif res["sha256"] != e["sha256"]:
                fail("digest_mismatch", where, "the file's SHA-256 differs from the manifest's (file changed)")
            elif not res["valid"]:
                fail("invalid_proof", where, f"proof rejected: {res['reason']}")
            else:
                st = res["statement"]
            if res.get("sha256"):
                if res["sha256"] in seen_sha:
                    fail("proof_reused", where, f"the same proof file as {seen_sha[res['sha256']]}: a proof "
                         f"counts once (reused from another round or client)")
                else:
                    seen_sha[res["sha256"]] = where
        stmts.append(st)

    # ---- client proofs and the participation schedule
    client_final: dict = {}      # (r, k) -> final-weights digest
    dataset_of: dict = {}        # k -> (dataset digest, where)
    first_round: dict = {}       # k -> first round it proved
    rows = []
    for r, rd in enumerate(m["rounds"]):
        P = participants(fed["participation_seed"], r, K, fed["participants"])
        S = stale_sources(fed, r)
        if rd["participants"] != P:
            fail("participation_mismatch", f"round {r}", f"the manifest lists participants {rd['participants']}, "
                 f"the public schedule (seed {fed['participation_seed']}) picks {P}")
        want_stale = [{"client": k, "from_round": q} for k, q in S.items()]
        if rd["stale"] != want_stale:
            fail("stale_mismatch", f"round {r}", f"the manifest lists stale updates {rd['stale']}, the schedule "
                 f"gives {want_stale}")
        got = [e["client"] for e in rd["client_proofs"]]
        for k in P:
            if k not in got:
                fail("client_missing", f"round {r} client {k}", f"participant {k} of round {r} has no client "
                     f"proof (a dropped client: the round's aggregation cannot be checked against it)")
        for k in sorted(set(got)):
            if k not in P:
                fail("unexpected_client", f"round {r} client {k}", f"client {k} does not take part in round {r}")
            if got.count(k) > 1:
                fail("unexpected_client", f"round {r} client {k}", f"client {k} has {got.count(k)} proofs in round {r}")
        rows.append({"round": r, "participants": P, "stale": S, "clients": [], "aggregation": None})
    for (r, kind, k, e, where), st in zip(items, stmts):
        if kind != "client":
            continue
        row = {"client": k, "file": e["file"], "valid": st is not None, "link_ok": None}
        rows[r]["clients"].append(row)
        if st is None or not (_is_int(k) and 0 <= k < K):
            continue
        want = client_config(base, r, k, E)
        if st["method"] != "sgd_mlp":
            fail("wrong_method", where, f"a client proof of method {st['method']!r}, expected sgd_mlp")
        if st["config"] != want:
            diff = sorted(x for x in set(want) | set(st["config"]) if want.get(x) != st["config"].get(x))
            fail("config_mismatch", where, f"not the config of round {r} client {k} (differs in {', '.join(diff)}"
                 + ("; a proof of another round or client" if "batch_seed" in diff else "") + ")")
        if st["steps"] != [0, E]:
            fail("steps_mismatch", where, f"covers steps {st['steps']}, expected [0, {E}] (E local steps)")
        if st["n_samples"] != m["clients"][k]["n_samples"]:
            fail("dataset_mismatch", where, f"states {st['n_samples']} dataset rows, client {k} has "
                 f"{m['clients'][k]['n_samples']}")
        if k in dataset_of and dataset_of[k][0] != st["dataset_digest"]:
            fail("dataset_mismatch", where, f"another dataset commitment than client {k}'s in {dataset_of[k][1]}")
        dataset_of.setdefault(k, (st["dataset_digest"], where))
        if not st["initial_weights_range_checked"]:
            fail("not_range_checked", where, "the client proof does not range-check its initial weights")
        if k not in first_round:
            first_round[k] = r
            if not st["dataset_range_checked"]:
                fail("not_range_checked", where, f"client {k}'s first proof does not range-check its dataset")
        if st["zk"] is not m.get("zk"):
            fail("mode_mismatch", where, f"zk is {st['zk']}, the manifest says {m.get('zk')}")
        row["link_ok"] = st["initial_weights_digest"] == G[r]
        if not row["link_ok"]:
            old = [q for q in range(len(G)) if G[q] == st["initial_weights_digest"]]
            fail("global_link", where, f"starts from W {st['initial_weights_digest'][:16]}…, not the global model "
                 f"W_{r} {G[r][:16]}…" + (f" (it is the stale global model W_{old[0]})" if old else ""))
        client_final[(r, k)] = st["final_weights_digest"]

    # ---- aggregations
    for (r, kind, _, e, where), st, p in zip(items, stmts, paths):
        if kind != "aggregation":
            continue
        arow = {"file": e["file"], "valid": st is not None, "inputs": None, "links_ok": None}
        rows[r]["aggregation"] = arow
        if st is None:
            continue
        want_params = aggregation_params(fed, r)
        inputs = aggregation_inputs(fed, r)
        arow["inputs"] = len(inputs)
        if st["method"] != AGG_METHOD:
            fail("wrong_method", where, f"an aggregation proof of method {st['method']!r}, expected {AGG_METHOD}")
            continue
        if st["steps"] != [0, 1]:
            fail("steps_mismatch", where, f"covers steps {st['steps']}, an aggregation is one step [0, 1]")
        if st["config"] != {**base, "steps": 1}:
            fail("config_mismatch", where, "not the federation's model config")
        if st["method_params"] != want_params:
            got = st["method_params"]
            diff = [x for x in sorted(set(got) | set(want_params), key=lambda s: (len(s), s))
                    if got.get(x) != want_params.get(x)]
            shown = ", ".join(f"{x} = {got.get(x)} (public schedule: {want_params.get(x)})" for x in diff[:4])
            fail("aggregation_weights", where, f"aggregation coefficients differ from the public rule: {shown}")
            continue
        if e.get("inputs") is not None and e["inputs"] != [list(src) for src, _ in inputs]:
            fail("manifest_field", where, "the manifest's list of aggregation inputs is not the schedule's")
        coms = _commitments_by_base(p, e["sha256"])
        if coms is None:
            fail("invalid_proof", where, "the proof file changed after it was verified")
            continue
        ok = True
        for i, (src, _) in enumerate(inputs):
            have = coms.get(f"FI{i}")
            if src[0] == "global":
                need, what, code = G[src[1]], f"the global model W_{src[1]}", "global_link"
            else:
                q, kk = src[1], src[2]
                need = client_final.get((q, kk))
                stale = q != r
                what = (f"client {kk}'s final weights of round {q}" + (" (its stale update)" if stale else ""))
                code = "stale_update" if stale else "aggregation_link"
                if need is None:
                    ok = False
                    fail(code, where, f"input {i} must be {what}, but that client proof is missing or invalid")
                    continue
            if have != need:
                ok = False
                fail(code, where, f"input {i} is not {what} (its commitment differs)")
        if st["final_weights_digest"] != G[r + 1]:
            ok = False
            fail("global_link", where, f"its output is not the global model W_{r + 1} of the manifest")
        arow["links_ok"] = ok
    if m.get("initial_weights_digest") not in (None, G[0]) or m.get("final_weights_digest") not in (None, G[-1]):
        fail("manifest_field", "manifest.json", "initial/final_weights_digest differ from globals[0]/globals[-1]")
    notes.append("the aggregations' inputs are bounded by the proofs they are linked to (client proofs: W_r "
                 "range-checked, W_r - sum dW with range-checked dW; global models: range-checked by their "
                 "aggregation); each aggregation range-checks its remainder and its output W_{r+1}")
    if m.get("zk") is False:
        notes.append("PLAIN mode (not zero-knowledge): sound, but the proofs do not hide data or weights")
    notes.append("trust model: the global model W_r and its commitment's blinds are shared with the participants "
                 "(they prove from it); the claim hides every client's data and weights from the auditor")
    if fed["client_weights"] != [c["n_samples"] for c in m["clients"]]:
        notes.append("the clients' aggregation weights are not their shard sizes (public parameters, as stated)")
    if fed["beta_num"]:
        notes.append(f"FedStale: non-participants contribute their last update with beta = "
                     f"{fed['beta_num']}/2^{fed['beta_shift']}")
    bad = {f["location"].split(" (")[0] for f in failures}
    for row in rows:
        for c in row["clients"]:
            c["status"] = "fail" if f"round {row['round']} client {c['client']}" in bad else "ok"
        if row["aggregation"] is not None:
            row["aggregation"]["status"] = "fail" if f"round {row['round']} aggregation" in bad else "ok"
        row["stale"] = [{"client": k, "from_round": q} for k, q in row["stale"].items()]
    return {
        "format": FEDERATED_AUDIT_FORMAT, "zkdl_version": __version__, "claim": claim_dir, "ok": not failures,
        "summary": {"clients": K, "rounds": Rn, "local_steps": E, "participants_per_round": fed["participants"],
                    "beta": [fed["beta_num"], fed["beta_shift"]], "shift": fed["shift"],
                    "method": "fedstale" if fed["beta_num"] else "fedavg", "config": base, "zk": m.get("zk"),
                    "n_proofs": len(items), "initial_weights_digest": G[0], "final_weights_digest": G[-1]},
        "rounds": rows, "failures": failures, "notes": notes,
        "timing": {"wall_seconds": round(time.perf_counter() - started, 3),
                   "verify_seconds_sum": round(sum((v.get("verify_seconds") or 0) for v in verified.values()), 3)},
    }
