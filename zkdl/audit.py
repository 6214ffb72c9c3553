"""Training claims: build one from a run directory, audit one received from someone else.

A **claim** is a directory holding ``manifest.json`` (format ``zkdl-claim/v1``,
docs/FORMAT.md section 5) and the proof files it lists, in chain order, with their
step ranges and SHA-256 digests. ``audit_claim`` verifies every proof (in parallel
worker processes) and checks that the proofs form one chain that proves exactly
what the manifest states. Everything in the manifest except the proof list is a
*statement to check*: the verdict rests on the proof files only.

Verifier side: imports only the verifier and core pieces, never the prover.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import time

from zkdl import __version__
from zkdl.errors import VerificationError, ZkdlError

CLAIM_FORMAT = "zkdl-claim/v1"
AUDIT_FORMAT = "zkdl-audit/v1"
MANIFEST = "manifest.json"


class ClaimError(ZkdlError):
    """The claim directory cannot be used at all (missing, manifest unreadable or malformed)."""


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hyperparameters(config: dict) -> dict:
    """The training hyperparameters a reader cares about, from a config dict."""
    from zkdl.config import TrainConfig
    c = TrainConfig.from_dict(config)
    return {
        "dims": list(c.dims()), "layers": c.layers, "batch_size": c.batch_size,
        "learning_rate": f"{c.lr_num}/2^{c.lr_shift}", "eta": c.eta,
        "R": c.R, "Q": c.Q, "update_bits": c.update_bits, "loss": c.loss,
        "init_seed": c.init_seed, "batch_seed": c.batch_seed, "run_steps": c.steps,
    }


# ============================================================================ building
def read_summary(run_out: str) -> dict | None:
    """The ``summary.json`` object of a ``zkdl train`` / ``zkdl prove`` output directory,
    or None when it is missing, unreadable or not a JSON object."""
    try:
        with open(os.path.join(run_out, "summary.json"), encoding="utf-8") as fh:
            summary = json.load(fh)
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def build_claim(run_out: str, claim_dir: str) -> dict:
    """Write a claim for the proofs of a ``zkdl train`` / ``zkdl prove`` output directory
    ``run_out`` into ``claim_dir`` (created; proof files copied). Returns the manifest.

    The proofs are taken from ``summary.json`` when present, else from ``proofs/*.zkdl``;
    they are ordered by step range. Raises ClaimError when there is nothing to claim
    or the proofs' headers disagree on the config."""
    from zkdl.prooffile import unpack
    summary = read_summary(run_out)
    files: list[str] = []
    if isinstance(summary, dict) and isinstance(summary.get("proofs"), list):
        files = [os.path.join(run_out, e["file"]) for e in summary["proofs"] if isinstance(e, dict) and "file" in e]
    if not files:
        pdir = os.path.join(run_out, "proofs")
        if os.path.isdir(pdir):
            files = [os.path.join(pdir, n) for n in sorted(os.listdir(pdir)) if n.endswith(".zkdl")]
    if not files:
        raise ClaimError(f"{run_out}: no proofs found (no summary.json proof list, no proofs/*.zkdl)")
    items = []
    for f in files:
        try:
            with open(f, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise ClaimError(f"{f}: cannot read ({exc.strerror or exc})") from None
        try:
            header = unpack(data)[0]
            st = header["statement"]
            steps = [int(st["steps"][0]), int(st["steps"][1])]
        except (VerificationError, KeyError, TypeError, ValueError, IndexError):
            raise ClaimError(f"{f}: not a zkdl proof file") from None
        items.append((steps, f, data, header))
    items.sort(key=lambda x: (x[0][0], x[0][1]))
    configs = {json.dumps(h.get("config"), sort_keys=True) for _, _, _, h in items}
    if len(configs) != 1:
        raise ClaimError(f"{run_out}: the proofs have different training configs; a claim is one run")
    first, last = items[0][3]["statement"], items[-1][3]["statement"]
    config = items[0][3]["config"]
    from zkdl.config import TrainConfig
    os.makedirs(os.path.join(claim_dir, "proofs"), exist_ok=True)
    entries = []
    for steps, f, data, header in items:
        name = "proofs/" + os.path.basename(f)
        dest = os.path.join(claim_dir, name)
        from zkdl.api import atomic_write
        atomic_write(dest, data)
        entries.append({"file": name, "steps": steps, "sha256": hashlib.sha256(data).hexdigest(),
                        "bytes": len(data)})
    manifest = {
        "format": CLAIM_FORMAT,
        "zkdl_version": __version__,
        "config": config,
        "config_digest": TrainConfig.from_dict(config).digest(),
        "zk": all(h.get("zk") is True for _, _, _, h in items),
        "steps": [entries[0]["steps"][0], entries[-1]["steps"][1]],
        "n_samples": first.get("n_samples"),
        "dataset_digest": first.get("dataset_digest"),
        "initial_weights_digest": first.get("initial_weights_digest"),
        "final_weights_digest": last.get("final_weights_digest"),
        "dataset_public": all(h["statement"].get("dataset_public") is True for _, _, _, h in items),
        "initial_weights_public": first.get("initial_weights_public") is True,
        "proofs": entries,
    }
    metrics: dict = {"proven": False}
    if all(isinstance(h["statement"].get("losses"), list) for _, _, _, h in items):
        cfg = TrainConfig.from_dict(config)
        scale = 2.0 * cfg.batch_size * float(1 << (2 * cfg.R))
        metrics["proven"] = True
        metrics["proven_loss"] = [{"t": steps[0] + i, "loss_sum": v, "loss": v / scale}
                                  for steps, _, _, h in items for i, v in enumerate(h["statement"]["losses"])]
    if isinstance(summary, dict) and isinstance(summary.get("training"), list):
        metrics["training"] = summary["training"]
    if len(metrics) > 1:
        manifest["metrics"] = metrics
    from zkdl.api import atomic_write
    atomic_write(os.path.join(claim_dir, MANIFEST),
                 (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
    return manifest


# ============================================================================ auditing
def load_manifest(claim_dir: str) -> dict:
    if not os.path.isdir(claim_dir):
        raise ClaimError(f"{claim_dir}: not a directory (a claim is a directory holding {MANIFEST})")
    mpath = os.path.join(claim_dir, MANIFEST)
    try:
        with open(mpath, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ClaimError(f"{mpath}: cannot read ({exc.strerror or exc})") from None
    try:
        m = json.loads(text)
    except ValueError as exc:
        raise ClaimError(f"{mpath}: not JSON ({exc})") from None
    if not isinstance(m, dict):
        raise ClaimError(f"{mpath}: not a JSON object")
    if m.get("format") != CLAIM_FORMAT:
        raise ClaimError(f"{mpath}: format {m.get('format')!r}, expected {CLAIM_FORMAT!r}")
    proofs = m.get("proofs")
    if not isinstance(proofs, list) or not proofs:
        raise ClaimError(f"{mpath}: 'proofs' must be a non-empty list")
    for i, e in enumerate(proofs):
        ok = (isinstance(e, dict) and isinstance(e.get("file"), str) and isinstance(e.get("sha256"), str)
              and isinstance(e.get("steps"), list) and len(e["steps"]) == 2
              and all(isinstance(x, int) and not isinstance(x, bool) for x in e["steps"]))
        if not ok:
            raise ClaimError(f"{mpath}: proofs[{i}] must have 'file' (string), 'steps' [t0, t1] and 'sha256'")
    if not isinstance(m.get("config"), dict):
        raise ClaimError(f"{mpath}: 'config' must be an object")
    return m


def verify_file(path: str) -> dict:
    """Read, hash and verify one proof file (runs in a worker process)."""
    started = time.perf_counter()
    res = {"sha256": None, "valid": False, "reason": None, "statement": None, "missing": False,
           "verify_seconds": None}
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        res["missing"] = True
        res["reason"] = "file missing"
        return res
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the manifest's path
        res["missing"] = True
        res["reason"] = f"cannot read ({getattr(exc, 'strerror', None) or exc})"
        return res
    res["sha256"] = hashlib.sha256(data).hexdigest()
    from zkdl.api import verify
    try:
        st = verify(data)
        res["valid"] = True
        res["statement"] = st.to_dict()
    except VerificationError as exc:
        res["reason"] = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    except Exception as exc:  # noqa: BLE001 - any crash on a hostile file is a rejection, not an abort
        res["reason"] = f"verifier error on this file: {type(exc).__name__}: {exc}"
    res["verify_seconds"] = round(time.perf_counter() - started, 4)
    return res


def _init_worker(msm_threads: int) -> None:
    # the verifier splits its large MSMs over all cores; with one process per core that only
    # adds contention, so each worker gets its share of the cores
    os.environ["ZKDL_MSM_THREADS"] = str(msm_threads)


def verify_files(paths: list[str], jobs: int) -> list[dict]:
    """verify_file on each path, ``jobs`` worker processes (1: in this process)."""
    if jobs <= 1 or len(paths) <= 1:
        return [verify_file(p) for p in paths]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    import threading
    ctx = None
    if threading.active_count() == 1 and "fork" in mp.get_all_start_methods():
        ctx = mp.get_context("fork")  # fastest start; safe with no other thread (no lock to copy)
    else:
        # the parent holds threads (MSM pools, numba): fork could copy a held lock
        try:
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(["zkdl.verifier.verify"])
        except ValueError:
            ctx = mp.get_context("spawn")
    workers = min(jobs, len(paths))
    share = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(share,)) as pool:
        return list(pool.map(verify_file, paths))


def _inside(claim_dir: str, rel: str) -> str | None:
    """The path of ``rel`` inside the claim directory, or None if it escapes it."""
    if os.path.isabs(rel) or rel.startswith(("/", "\\")):
        return None
    full = os.path.normpath(os.path.join(claim_dir, rel))
    base = os.path.normpath(claim_dir)
    if os.path.commonpath([os.path.abspath(full), os.path.abspath(base)]) != os.path.abspath(base):
        return None
    return full


def audit_claim(claim_dir: str, jobs: int | None = None, *, data_spec: str | None = None,
                label_column: str = "label", model_path: str | None = None) -> dict:
    """Audit a claim directory; returns the report (``report["ok"]``: the whole claim holds).
    ``data_spec``: the public dataset (a ``--data`` spec) to recompute the dataset
    commitment from; ``model_path``: a released model (``zkdl export-model``) to check
    against the final weights. Raises ClaimError when the claim (or the data) cannot be
    read at all."""
    started = time.perf_counter()
    m = load_manifest(claim_dir)
    jobs = jobs or os.cpu_count() or 1
    entries = m["proofs"]
    failures: list[dict] = []
    notes: list[str] = []

    def fail(code: str, where: str, message: str) -> None:
        failures.append({"code": code, "location": where, "message": message})

    paths = []
    for i, e in enumerate(entries):
        p = _inside(claim_dir, e["file"])
        paths.append(p)
    todo = [p for p in paths if p is not None]
    results_iter = iter(verify_files(todo, jobs))
    results = [next(results_iter) if p is not None else None for p in paths]

    rows = []
    for i, (e, res) in enumerate(zip(entries, results)):
        where = f"proofs[{i}] {e['file']} (steps {e['steps'][0]}..{e['steps'][1] - 1})"
        row = {"index": i, "file": e["file"], "steps": e["steps"], "sha256": e["sha256"], "digest_ok": False,
               "valid": False, "reason": None, "verify_seconds": None, "statement": None, "link_ok": None,
               "status": "ok"}
        if res is None:
            row["reason"] = "path outside the claim directory"
            fail("bad_path", where, f"{e['file']!r} points outside the claim directory")
        elif res["missing"]:
            row["reason"] = res["reason"]
            fail("missing_proof", where, f"proof file missing: {e['file']} ({res['reason']})")
        else:
            row["digest_ok"] = res["sha256"] == e["sha256"]
            row["valid"] = res["valid"]
            row["reason"] = res["reason"]
            row["verify_seconds"] = res["verify_seconds"]
            row["statement"] = res["statement"]
            if not row["digest_ok"]:
                fail("digest_mismatch", where, f"SHA-256 of the file is {res['sha256'][:16]}…, the manifest "
                     f"says {e['sha256'][:16]}… (file changed or replaced)")
            if not res["valid"]:
                code = "not_a_proof" if "not a zkdl proof file" in (res["reason"] or "") else "invalid_proof"
                fail(code, where, f"proof rejected: {res['reason']}")
            elif row["statement"]["steps"] != e["steps"]:
                s = row["statement"]["steps"]
                fail("steps_mismatch", where, f"the proof covers steps {s[0]}..{s[1] - 1}, the manifest says "
                     f"{e['steps'][0]}..{e['steps'][1] - 1}")
        rows.append(row)

    _check_manifest_types(m, fail)

    # --- step ranges: contiguous from the first, complete, each in order
    claimed = m.get("steps")
    start = entries[0]["steps"][0]
    if isinstance(claimed, list) and len(claimed) == 2 and all(isinstance(x, int) for x in claimed):
        if start != claimed[0]:
            fail("incomplete", f"proofs[0] {entries[0]['file']}",
                 f"the claim states steps {claimed[0]}..{claimed[1] - 1} but its first proof starts at step {start}")
    else:
        claimed = None
        fail("manifest_field", "manifest.json", "'steps' must be [t0, t1]")
    expected = start
    seen: dict[tuple, int] = {}
    for i, e in enumerate(entries):
        a, b = e["steps"]
        where = f"proofs[{i}] {e['file']} (steps {a}..{b - 1})"
        if b <= a:
            fail("bad_range", where, f"empty or reversed step range [{a}, {b})")
        elif (a, b) in seen:
            fail("duplicate_range", where, f"steps {a}..{b - 1} already covered by proofs[{seen[(a, b)]}]")
        elif a > expected:
            later = [j for j in range(i + 1, len(entries)) if entries[j]["steps"][0] == expected]
            if later:
                fail("out_of_order", where, f"starts at step {a} but the chain is at step {expected}; the proof "
                     f"of step {expected} comes later, at proofs[{later[0]}] (proofs out of order)")
            else:
                fail("gap", where, f"steps {expected}..{a - 1} are not covered by any proof (gap before this one)")
        elif a < expected:
            earlier = [j for j in range(i) if entries[j]["steps"][0] > a]
            if earlier:
                fail("out_of_order", where, f"steps {a}..{b - 1} come after proofs[{earlier[0]}] "
                     f"(steps {entries[earlier[0]]['steps'][0]}..), which they precede (proofs out of order)")
            else:
                fail("overlap", where, f"steps {a}..{min(b, expected) - 1} overlap the previous proof")
        seen.setdefault((a, b), i)
        expected = max(expected, b)
    end = max(e["steps"][1] for e in entries)
    if claimed is not None and end != claimed[1]:
        fail("incomplete", "manifest.json",
             f"the claim states steps {claimed[0]}..{claimed[1] - 1} but the proofs end at step {end}"
             if end < claimed[1] else f"the proofs go beyond the claimed steps (to step {end})")

    # --- shared config, dataset, links between consecutive proofs (verified statements only)
    from zkdl.config import TrainConfig
    try:
        mcfg = TrainConfig.from_dict(m["config"])
        mcfg_dict = mcfg.to_dict()
    except (ZkdlError, TypeError, ValueError) as exc:
        mcfg_dict = None
        fail("config_mismatch", "manifest.json config", f"the manifest's config is not a valid config: {exc}")
    if mcfg_dict is not None and m.get("config_digest") not in (None, mcfg.digest()):
        fail("config_mismatch", "manifest.json config_digest", "config_digest is not the digest of config")
    prev = None
    for i, row in enumerate(rows):
        st = row["statement"]
        if st is None:
            prev = None
            continue
        where = f"proofs[{i}] {row['file']} (steps {st['steps'][0]}..{st['steps'][1] - 1})"
        if mcfg_dict is not None and st["config"] != mcfg_dict:
            diff = sorted(k for k in set(st["config"]) | set(mcfg_dict) if st["config"].get(k) != mcfg_dict.get(k))
            detail = ", ".join(f"{k}: manifest {mcfg_dict.get(k)!r}, proof {st['config'].get(k)!r}" for k in diff)
            fail("config_mismatch", where, f"the proof's training config differs from the manifest's ({detail})")
        if m.get("dataset_digest") is not None and st["dataset_digest"] != m.get("dataset_digest"):
            fail("dataset_mismatch", where, f"dataset commitment {st['dataset_digest'][:16]}… is not the "
                 f"manifest's {str(m.get('dataset_digest'))[:16]}…")
        if m.get("n_samples") is not None and st["n_samples"] != m.get("n_samples"):
            fail("dataset_mismatch", where, f"dataset of {st['n_samples']} rows, the manifest says {m['n_samples']}")
        if m.get("zk") is True and st["zk"] is not True:
            fail("mode_mismatch", where, "the manifest claims zero-knowledge but this proof is PLAIN")
        if i == 0:
            if m.get("initial_weights_digest") is not None and \
                    st["initial_weights_digest"] != m.get("initial_weights_digest"):
                fail("chain_broken", where, "initial-weights commitment differs from the manifest's")
            if not st["initial_weights_range_checked"]:
                fail("not_range_checked", where, f"the first proof does not range-check W[{st['steps'][0]}] "
                     f"(its bound would be an unproven precondition)")
            if not st["dataset_range_checked"]:
                fail("not_range_checked", where, "the first proof does not range-check the dataset")
        elif prev is not None:
            row["link_ok"] = st["initial_weights_digest"] == prev["final_weights_digest"]
            if not row["link_ok"]:
                fail("chain_broken", where, f"starts from W {st['initial_weights_digest'][:16]}…, the previous proof "
                     f"ends at W {prev['final_weights_digest'][:16]}… (not its continuation)")
            if st["dataset_digest"] != prev["dataset_digest"]:
                fail("dataset_mismatch", where, "a different dataset commitment than the previous proof")
        prev = st
    if rows[-1]["statement"] is not None and m.get("final_weights_digest") is not None and \
            rows[-1]["statement"]["final_weights_digest"] != m.get("final_weights_digest"):
        fail("chain_broken", f"proofs[{len(rows) - 1}] {rows[-1]['file']}",
             "final-weights commitment differs from the manifest's")
    anchors, proven_loss = _check_anchors(m, mcfg if mcfg_dict is not None else None, rows, fail, notes,
                                          data_spec, label_column, model_path)
    for i, row in enumerate(rows):
        st = row["statement"]
        if i > 0 and st is not None:
            if st["initial_weights_range_checked"] or st["dataset_range_checked"]:
                notes.append(f"proofs[{i}] range-checks its initial weights/dataset again (allowed)")
    inherited = sum(1 for r in rows[1:] if r["statement"] and not r["statement"]["initial_weights_range_checked"])
    if inherited:
        notes.append(f"{inherited} later proof(s) inherit the W and dataset range checks from the first proof")
    if any(r["statement"] and r["statement"]["zk"] is False for r in rows):
        notes.append("PLAIN mode (not zero-knowledge) in some proofs: sound, but they do not hide data or weights")
    if proven_loss is not None:
        notes.append("the training loss of every step is proven (a public output of the proofs); other "
                     "metrics (accuracy) are reported by the prover, not proven")
    elif isinstance(m.get("metrics"), dict):
        notes.append("the manifest's training metrics are reported by the prover, NOT proven")

    bad_rows = {f["location"].split(" ")[0] for f in failures}
    for row in rows:
        if f"proofs[{row['index']}]" in bad_rows:
            row["status"] = "fail"
        row["failures"] = [f["code"] for f in failures if f["location"].startswith(f"proofs[{row['index']}] ")]
    ok = not failures
    summary = {
        "steps": claimed, "n_proofs": len(entries),
        "n_steps": (claimed[1] - claimed[0]) if claimed else None,
        "config": m.get("config"), "config_digest": mcfg.digest() if mcfg_dict is not None else None,
        "hyperparameters": hyperparameters(m["config"]) if mcfg_dict is not None else None,
        "zk": m.get("zk"), "n_samples": m.get("n_samples"), "dataset_digest": m.get("dataset_digest"),
        "initial_weights_digest": m.get("initial_weights_digest"),
        "final_weights_digest": m.get("final_weights_digest"),
        "whole_run": bool(claimed and mcfg_dict is not None and claimed[0] == 0 and claimed[1] == mcfg.steps),
    }
    vsum = sum(r["verify_seconds"] or 0 for r in rows)
    return {
        "format": AUDIT_FORMAT, "zkdl_version": __version__, "claim": claim_dir, "ok": ok,
        "summary": summary, "proofs": rows, "failures": failures, "notes": notes,
        "metrics": m.get("metrics") if isinstance(m.get("metrics"), dict) else None,
        "anchors": anchors, "proven_loss": proven_loss,
        "timing": {"wall_seconds": round(time.perf_counter() - started, 3), "verify_seconds_sum": round(vsum, 3),
                   "jobs": jobs},
    }


def _check_manifest_types(m: dict, fail) -> None:
    """Optional manifest statements must be well-typed when present (``manifest_field``)."""
    def bad(key, what):
        fail("manifest_field", f"manifest.json {key}", f"must be {what}, got {json.dumps(m_get(key))[:60]}")

    def m_get(key):
        cur = m
        for part in key.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        return cur

    for key in ("zk", "dataset_public", "initial_weights_public"):
        if key in m and type(m[key]) is not bool:
            bad(key, "true or false")
    for key in ("config_digest", "dataset_digest", "initial_weights_digest", "final_weights_digest"):
        v = m.get(key)
        if key in m and not (isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)):
            bad(key, "a SHA-256 hex digest")
    if "n_samples" in m and (type(m["n_samples"]) is not int or m["n_samples"] < 1):
        bad("n_samples", "a positive integer")
    if "metrics" not in m:
        return
    metrics = m["metrics"]
    if not isinstance(metrics, dict):
        bad("metrics", "an object")
        return
    if "proven" in metrics and type(metrics["proven"]) is not bool:
        bad("metrics.proven", "true or false")
    for key in ("proven_loss", "training"):
        entries = metrics.get(key)
        if key in metrics and not (isinstance(entries, list) and all(
                isinstance(e, dict) and type(e.get("t")) is int and isinstance(e.get("loss"), (int, float))
                and not isinstance(e.get("loss"), bool) for e in entries)):
            bad(f"metrics.{key}", "a list of {\"t\": step, \"loss\": number, ...} objects")


def _check_anchors(m: dict, cfg, rows: list[dict], fail, notes: list, data_spec, label_column, model_path):
    """Public anchors (public init, --data, --model) and proven metrics of a claim.
    Returns (anchors report, proven losses [{t, loss_sum, loss}] or None)."""
    from zkdl import anchors as A
    sts = [r["statement"] for r in rows]
    first, last = sts[0], sts[-1]
    w_first = f"proofs[0] {rows[0]['file']}"
    rep = {"dataset": "hiding commitment (private data)", "initial_weights": "hiding commitment",
           "model": None}
    # public initialization: recompute W[0] from the config's seed
    if m.get("initial_weights_public") is True and first is not None and not first["initial_weights_public"]:
        fail("manifest_field", "manifest.json initial_weights_public",
             "the manifest claims a public initialization, the first proof's W commitment is hiding")
    if first is not None and first["initial_weights_public"] and cfg is not None:
        if A.initial_weights_digest(cfg) == first["initial_weights_digest"]:
            rep["initial_weights"] = f"public initialization from init_seed {cfg.init_seed}: recomputed, matches"
        else:
            rep["initial_weights"] = "public initialization claimed: DOES NOT match the seed's"
            fail("init_mismatch", w_first, f"W[{first['steps'][0]}] is not the public initialization of "
                 f"init_seed {cfg.init_seed} (the recomputed commitment differs)")
    public_data = all(st is not None and st["dataset_public"] for st in sts)
    if m.get("dataset_public") is True and not public_data:
        fail("manifest_field", "manifest.json dataset_public",
             "the manifest claims public data, but not every proof commits the dataset deterministically")
    if public_data:
        rep["dataset"] = "deterministic commitment (public data): check it with --data"
    if data_spec is not None and cfg is None:
        fail("data_mismatch", f"--data {data_spec}", "cannot check the data: the manifest's config is not valid")
    if data_spec is not None and cfg is not None:
        from zkdl.data import load_spec
        from zkdl.errors import DataError
        try:
            data = load_spec(data_spec, label_column, R=cfg.R)
        except DataError as exc:
            raise ClaimError(f"--data: {exc}") from None
        where = f"--data {data_spec}"
        if not public_data:
            rep["dataset"] = "hiding commitment: cannot be checked against a data file"
            fail("data_not_public", where, "the claim's dataset commitment is hiding (not proven with "
                 "--public-data): it cannot be checked against a data file")
        elif first is not None:
            try:
                digest = A.dataset_digest(cfg, data)
            except A.AnchorError as exc:
                digest = None
                fail("data_mismatch", where, f"the data file does not fit the claim: {exc}")
            if data.n_samples != first["n_samples"]:
                fail("data_mismatch", where, f"the data file has {data.n_samples} rows, the proofs' dataset "
                     f"{first['n_samples']}")
            elif digest is not None and digest != first["dataset_digest"]:
                fail("data_mismatch", where, f"the data file commits to {digest[:16]}…, the proofs' dataset is "
                     f"{first['dataset_digest'][:16]}… (not the data the model was trained on)")
            elif digest is not None:
                rep["dataset"] = f"public data: {data_spec} recomputed, matches"
    if model_path is not None:
        where = f"--model {model_path}"
        if last is None or cfg is None:
            fail("model_mismatch", where, "no final weights to check against (the last proof did not verify "
                 "or the manifest's config is not valid)")
        else:
            try:
                problems = A.check_model(model_path, cfg, last["final_weights_digest"], last["steps"][1])
            except A.AnchorError as exc:
                problems = [str(exc)]
            for p in problems:
                fail("model_mismatch", where, p)
            rep["model"] = (f"{model_path}: exactly the trained W[{last['steps'][1]}]" if not problems
                            else f"{model_path}: NOT the trained model")
    # proven metrics: the statements' loss sums; the manifest's metrics must agree with them
    proven = None
    if sts and all(st is not None and st["losses"] is not None for st in sts):
        proven = [{"t": st["steps"][0] + i, "loss_sum": v, "loss": f}
                  for st in sts for i, (v, f) in enumerate(zip(st["losses"], st["loss_values"]))]
    metrics = m.get("metrics") if isinstance(m.get("metrics"), dict) else {}
    by_t = {e["t"]: e for e in proven or []}
    stated = metrics.get("proven_loss")
    if metrics.get("proven") is True and proven is None:
        fail("metric_mismatch", "manifest.json metrics.proven",
             "the manifest says its metrics are proven, but not every proof proves its loss")
    if isinstance(stated, list):
        if proven is None:
            fail("metric_mismatch", "manifest.json metrics.proven_loss",
                 "the manifest states proven losses, but not every proof proves its loss")
        else:
            for e in stated:
                t = e.get("t") if isinstance(e, dict) else None
                ref = by_t.get(t) if type(t) is int else None
                if ref is None or e.get("loss_sum") != ref["loss_sum"] or not _close(e.get("loss"), ref["loss"]):
                    fail("metric_mismatch", f"manifest.json metrics.proven_loss (step {t})",
                         f"the manifest states loss {e.get('loss') if isinstance(e, dict) else e!r}, the proofs "
                         f"prove {ref['loss'] if ref else 'no loss for that step'}")
    training = metrics.get("training")
    for e in training if isinstance(training, list) else []:
        if isinstance(e, dict) and type(e.get("t")) is int and e["t"] in by_t and not _close(e.get("loss"), by_t[e["t"]]["loss"]):
            fail("metric_mismatch", f"manifest.json metrics.training (step {e['t']})",
                 f"reported loss {e.get('loss')!r} differs from the proven {by_t[e['t']]['loss']!r}")
    return rep, proven


def _close(a, b) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool) and abs(a - b) <= 1e-9 * max(1.0, abs(b))


# ============================================================================ reports
def text_report(r: dict) -> str:
    s = r["summary"]
    out = []
    verdict = "HOLDS" if r["ok"] else "DOES NOT HOLD"
    out.append(f"claim {r['claim']}: {verdict}")
    if s["steps"]:
        out.append(f"  steps       {s['steps'][0]}..{s['steps'][1] - 1} ({s['n_steps']} steps, {s['n_proofs']} proofs)"
                   + ("; the whole run" if s["whole_run"] else ""))
    hp = s.get("hyperparameters")
    if hp:
        out.append(f"  model       {hp['layers']}-layer MLP {hp['dims']}, loss {hp['loss']}")
        out.append(f"  SGD         batch {hp['batch_size']}, eta {hp['learning_rate']}, R={hp['R']}, Q={hp['Q']}, "
                   f"update_bits={hp['update_bits']}, seeds init {hp['init_seed']} batch {hp['batch_seed']}")
        out.append(f"  config      {s['config_digest']}")
    out.append(f"  mode        {'zero-knowledge' if s['zk'] else 'PLAIN (not zero-knowledge) or mixed'}")
    out.append(f"  dataset     {s['dataset_digest']} ({s['n_samples']} rows)")
    out.append(f"  W initial   {s['initial_weights_digest']}")
    out.append(f"  W final     {s['final_weights_digest']}")
    an = r.get("anchors") or {}
    out.append(f"  data        {an.get('dataset')}")
    out.append(f"  W[0]        {an.get('initial_weights')}")
    if an.get("model"):
        out.append(f"  model       {an['model']}")
    if r.get("proven_loss"):
        pl = r["proven_loss"]
        out.append(f"  loss        PROVEN per step: {pl[0]['loss']:.6g} at step {pl[0]['t']} -> {pl[-1]['loss']:.6g} "
                   f"at step {pl[-1]['t']}")
    out.append("  proofs:")
    for row in r["proofs"]:
        a, b = row["steps"]
        sec = "-" if row["verify_seconds"] is None else f"{row['verify_seconds']:.2f}s"
        mark = "ok  " if row["status"] == "ok" else "FAIL"
        out.append(f"    {mark} [{row['index']}] {row['file']}  steps {a}..{b - 1}  {sec}")
    if r["failures"]:
        out.append(f"  {len(r['failures'])} failure(s):")
        for f in r["failures"]:
            out.append(f"    {f['code']}: {f['location']}: {f['message']}")
    for n in r["notes"]:
        out.append(f"  note: {n}")
    t = r["timing"]
    out.append(f"  audited in {t['wall_seconds']:.2f}s with {t['jobs']} job(s) "
               f"(sum of single verifications {t['verify_seconds_sum']:.2f}s)")
    if r["ok"]:
        an = r.get("anchors") or {}
        data = "the data file given (--data)" if "recomputed, matches" in str(an.get("dataset")) else "the committed dataset"
        w0 = ("the public initialization" if "recomputed, matches" in str(an.get("initial_weights"))
              else f"the committed W[{s['steps'][0]}]")
        wf = ("the released model (--model)" if str(an.get("model") or "").endswith("exactly the trained "
                                                                                    f"W[{s['steps'][1]}]")
              else f"the committed W[{s['steps'][1]}]")
        out.append(f"proven: steps {s['steps'][0]}..{s['steps'][1] - 1} of exact integer SGD with this config, "
                   f"from {w0} to {wf}, on {data}" + (", with the loss of every step" if r.get("proven_loss") else ""))
    return "\n".join(out)


def _svg_chain(rows: list[dict]) -> str:
    n = len(rows)
    bw, gap, h = 110, 30, 54
    width = max(n * (bw + gap), 200)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 30}" '
             f'viewBox="0 0 {width} {h + 30}" role="img" aria-label="proof chain">']
    for i, row in enumerate(rows):
        x = 10 + i * (bw + gap)
        color = "#2e7d32" if row["status"] == "ok" else "#c62828"
        a, b = row["steps"]
        parts.append(f'<rect x="{x}" y="10" width="{bw}" height="{h}" rx="6" fill="#fff" stroke="{color}" '
                     f'stroke-width="2"/>')
        parts.append(f'<text x="{x + bw / 2}" y="32" text-anchor="middle" font-size="12">#{i} steps {a}..{b - 1}</text>')
        parts.append(f'<text x="{x + bw / 2}" y="50" text-anchor="middle" font-size="11" fill="{color}">'
                     f'{"ok" if row["status"] == "ok" else "FAIL"}</text>')
        if i + 1 < n:
            nxt = rows[i + 1]
            lc = "#2e7d32" if nxt.get("link_ok") else "#c62828"
            x1, x2, y = x + bw, x + bw + gap, 10 + h / 2
            parts.append(f'<line x1="{x1}" y1="{y}" x2="{x2 - 4}" y2="{y}" stroke="{lc}" stroke-width="2"/>')
            parts.append(f'<polygon points="{x2},{y} {x2 - 7},{y - 4} {x2 - 7},{y + 4}" fill="{lc}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_metric(points: list[tuple[int, float]], label: str) -> str:
    if len(points) < 2:
        return ""
    w, h, pad = 480, 160, 30
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (w - 2 * pad) / ((x1 - x0) or 1)
    sy = (h - 2 * pad) / ((y1 - y0) or 1)
    pts = " ".join(f"{pad + (x - x0) * sx:.1f},{h - pad - (y - y0) * sy:.1f}" for x, y in points)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
            f'aria-label="{html.escape(label)}"><rect width="{w}" height="{h}" fill="#fafafa"/>'
            f'<polyline points="{pts}" fill="none" stroke="#555" stroke-width="2"/>'
            f'<text x="{pad}" y="18" font-size="12">{html.escape(label)}: {y0:.4g} .. {y1:.4g} over steps '
            f'{x0}..{x1}</text></svg>')


def html_report(r: dict) -> str:
    e = html.escape
    s = r["summary"]
    hp = s.get("hyperparameters") or {}
    verdict = "HOLDS" if r["ok"] else "DOES NOT HOLD"
    vcolor = "#2e7d32" if r["ok"] else "#c62828"
    summary_rows = [
        ("Verdict", f'<b style="color:{vcolor}">{verdict}</b>'),
        ("Steps", e(f"{s['steps'][0]}..{s['steps'][1] - 1} ({s['n_steps']} steps, {s['n_proofs']} proofs)"
                    + ("; the whole run" if s["whole_run"] else "")) if s["steps"] else "?"),
        ("Model", e(f"{hp.get('layers')}-layer MLP {hp.get('dims')}, loss {hp.get('loss')}")),
        ("SGD", e(f"batch {hp.get('batch_size')}, eta {hp.get('learning_rate')}, R={hp.get('R')}, Q={hp.get('Q')}, "
                  f"update_bits={hp.get('update_bits')}, seeds init {hp.get('init_seed')} batch {hp.get('batch_seed')}")),
        ("Config digest", f"<code>{e(str(s['config_digest']))}</code>"),
        ("Mode", "zero-knowledge" if s["zk"] else "PLAIN (not zero-knowledge) or mixed"),
        ("Dataset commitment", f"<code>{e(str(s['dataset_digest']))}</code> ({e(str(s['n_samples']))} rows)"),
        ("Initial weights", f"<code>{e(str(s['initial_weights_digest']))}</code>"),
        ("Final weights", f"<code>{e(str(s['final_weights_digest']))}</code>"),
        ("Dataset anchor", e(str((r.get("anchors") or {}).get("dataset")))),
        ("Initial-weights anchor", e(str((r.get("anchors") or {}).get("initial_weights")))),
        ("Released model", e(str((r.get("anchors") or {}).get("model") or "not checked"))),
        ("Audit time", e(f"{r['timing']['wall_seconds']:.2f}s, {r['timing']['jobs']} job(s); sum of single "
                         f"verifications {r['timing']['verify_seconds_sum']:.2f}s")),
    ]
    body = [f"<h1>zkdl claim audit: <span style=\"color:{vcolor}\">{verdict}</span></h1>",
            f"<p>Claim directory <code>{e(r['claim'])}</code>, audited by zkdl {e(r['zkdl_version'])}.</p>",
            '<h2>Summary</h2><table id="summary">']
    body += [f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in summary_rows]
    body.append("</table>")
    body.append('<h2>Chain</h2><div class="chain">' + _svg_chain(r["proofs"]) + "</div>")
    body.append('<h2>Proofs</h2><table id="proofs"><thead><tr><th>#</th><th>file</th><th>steps</th>'
                "<th>digest</th><th>verified</th><th>linked</th><th>range checks</th><th>time</th>"
                "<th>status</th></tr></thead><tbody>")
    for row in r["proofs"]:
        st = row["statement"] or {}
        rc = ("W, data" if st.get("initial_weights_range_checked") else "inherited") if st else "-"
        link = "-" if row["link_ok"] is None else ("yes" if row["link_ok"] else "NO")
        a, b = row["steps"]
        cls = "ok" if row["status"] == "ok" else "fail"
        sec = "-" if row["verify_seconds"] is None else f"{row['verify_seconds']:.2f}s"
        body.append(f'<tr class="proof {cls}"><td>{row["index"]}</td><td><code>{e(row["file"])}</code></td>'
                    f"<td>{a}..{b - 1}</td><td>{'match' if row['digest_ok'] else 'MISMATCH'}</td>"
                    f"<td>{'valid' if row['valid'] else e('INVALID: ' + str(row['reason']))}</td>"
                    f"<td>{link}</td><td>{rc}</td>"
                    f"<td>{sec}</td>"
                    f"<td>{cls.upper()}</td></tr>")
    body.append("</tbody></table>")
    if r["failures"]:
        body.append('<h2>Failures</h2><ul id="failures">')
        body += [f"<li><b>{e(f['code'])}</b> at <code>{e(f['location'])}</code>: {e(f['message'])}</li>"
                 for f in r["failures"]]
        body.append("</ul>")
    if r["notes"]:
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in r["notes"]) + "</ul>")
    metrics = r.get("metrics") or {}
    training = metrics.get("training") if isinstance(metrics.get("training"), list) else []
    pts = [(t["t"], t["loss"]) for t in training if isinstance(t, dict) and isinstance(t.get("t"), int)
           and isinstance(t.get("loss"), (int, float))]
    proven = r.get("proven_loss")
    if proven:
        body.append('<h2>Metrics</h2><p id="proven-metric">The training loss of every step is <b>proven</b> '
                    "(a public output of the proofs, checked by the verifier).</p>"
                    + _svg_metric([(p["t"], p["loss"]) for p in proven], "proven loss"))
    elif pts:
        body.append("<h2>Metrics</h2><p>No metric is proven by these proofs; the loss below is reported by the "
                    "prover (unverified).</p>" + _svg_metric(pts, "reported loss (not proven)"))
    css = ("body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:.5em 0}"
           "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}tr.fail td{background:#fdecea}"
           "code{font-size:.9em}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>zkdl claim audit</title>"
            f"<style>{css}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
