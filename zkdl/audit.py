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
import json
import math
import os
import time

from zkdl import __version__
from zkdl.errors import VerificationError, ZkdlError
from zkdl.verify_pool import verify_files

CLAIM_FORMAT = "zkdl-claim/v1"
AUDIT_FORMAT = "zkdl-audit/v1"
MANIFEST = "manifest.json"
MAX_MANIFEST = 1 << 26  # bytes of manifest.json (a step's metrics take ~100 bytes)
MAX_STEP = 1 << 63  # step numbers (proofs[].steps) lie in [0, 2^63), as TrainConfig.steps


class ClaimError(ZkdlError):
    """The claim directory cannot be used at all (missing, manifest unreadable or malformed)."""


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


def build_claim(run_out: str, claim_dir: str, *, publish_metrics: bool = False) -> dict:
    """Write a claim for the proofs of a ``zkdl train`` / ``zkdl prove`` output directory
    ``run_out`` into ``claim_dir`` (created; proof files copied). Returns the manifest.

    The proofs are taken from ``summary.json`` when present, else from ``proofs/*.zkdl``;
    they are ordered by step range. Raises ClaimError when there is nothing to claim
    or the proofs' headers disagree on the config.

    ``publish_metrics``: also copy the prover's reported (unproven) per-step training
    loss and batch accuracy from ``summary.json`` into ``metrics.training``. Off by
    default: they are functions of the private data and weights, and a zero-knowledge
    claim carries nothing witness-dependent unless asked. Proven losses (``--prove-loss``)
    are public outputs of the proofs and always listed."""
    from zkdl.prooffile import read_proof_file, unpack
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
            data = read_proof_file(f)
        except OSError as exc:
            raise ClaimError(f"{f}: cannot read ({exc.strerror or exc})") from None
        except VerificationError as exc:
            raise ClaimError(f"{f}: not a zkdl proof file ({exc})") from None
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
        **({"frozen_digest": first["frozen_digest"]} if "frozen_digest" in first else {}),
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
    if publish_metrics and isinstance(summary, dict) and isinstance(summary.get("training"), list):
        metrics["training"] = summary["training"]
    if len(metrics) > 1:
        manifest["metrics"] = metrics
    from zkdl.api import atomic_write
    atomic_write(os.path.join(claim_dir, MANIFEST),
                 (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
    return manifest


# ============================================================================ auditing
class _StrictJSONError(ValueError):
    """Valid JSON syntax that standard JSON (RFC 8259 interoperable) does not allow."""


def _unique_keys(pairs: list) -> dict:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _StrictJSONError(f"duplicate key {dup!r} in an object")
    return d


def _no_constant(name: str):
    raise _StrictJSONError(f"{name} is not a JSON number")


def read_manifest_json(claim_dir: str):
    """The strict JSON of ``claim_dir``'s manifest (size- and depth-bounded, UTF-8, no
    duplicate keys or non-standard constants); ClaimError with the reason otherwise."""
    if not os.path.isdir(claim_dir):
        raise ClaimError(f"{claim_dir}: not a directory (a claim is a directory holding {MANIFEST})")
    mpath = os.path.join(claim_dir, MANIFEST)
    from zkdl.prooffile import check_json_depth
    try:
        with open(mpath, "rb") as fh:
            raw = fh.read(MAX_MANIFEST + 1)
    except OSError as exc:
        raise ClaimError(f"{mpath}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_MANIFEST:
        raise ClaimError(f"{mpath}: larger than {MAX_MANIFEST} bytes")
    check_json_depth(raw, f"{mpath}:", ClaimError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClaimError(f"{mpath}: not UTF-8 (byte {exc.start}: {exc.reason})") from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _StrictJSONError as exc:
        raise ClaimError(f"{mpath}: not standard JSON ({exc})") from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):  # int max str digits: no Python advice
            raise ClaimError(f"{mpath}: not usable JSON (an integer with too many digits)") from None
        raise ClaimError(f"{mpath}: not JSON ({exc})") from None
    except RecursionError as exc:
        raise ClaimError(f"{mpath}: not JSON ({exc})") from None


def load_manifest(claim_dir: str) -> dict:
    m = read_manifest_json(claim_dir)
    mpath = os.path.join(claim_dir, MANIFEST)
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
              and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < MAX_STEP for x in e["steps"]))
        if not ok:
            raise ClaimError(f"{mpath}: proofs[{i}] must have 'file' (string), 'steps' [t0, t1] (integers in "
                             f"[0, 2^63)) and 'sha256'")
    if not isinstance(m.get("config"), dict):
        raise ClaimError(f"{mpath}: 'config' must be an object")
    if type(m.get("n_samples")) is not int or m["n_samples"] < 1:
        # the dataset size is part of what the claim states; without it, proofs of one
        # dataset commitment could each state another size (and read rows of padding)
        raise ClaimError(f"{mpath}: 'n_samples' (the dataset's rows) must be a positive integer; a claim "
                         f"without it is unusable")
    return m


def _inside(claim_dir: str, rel: str) -> str | None:
    """The path of ``rel`` inside the claim directory, or None if it escapes it."""
    if os.path.isabs(rel) or rel.startswith(("/", "\\")):
        return None
    full = os.path.normpath(os.path.join(claim_dir, rel))
    base = os.path.normpath(claim_dir)
    if os.path.commonpath([os.path.abspath(full), os.path.abspath(base)]) != os.path.abspath(base):
        return None
    # symlinks resolved: a link inside the claim to a file outside it escapes as well
    try:
        real, real_base = os.path.realpath(full), os.path.realpath(base)
    except ValueError:  # a NUL byte, a lone surrogate: names no file (reported missing)
        return full
    except OSError:
        return None
    if os.path.commonpath([real, real_base]) != real_base:
        return None
    return real


def check_output_path(path: str, what: str = "--html") -> None:
    """Raise ClaimError (naming ``path``) unless a file can be written there: its directory
    exists and takes a new file, and ``path`` is not a directory. Run before any work."""
    import tempfile
    full = os.path.abspath(os.fspath(path))
    if os.path.isdir(full):
        raise ClaimError(f"{what} {path}: is a directory; give a file name")
    folder = os.path.dirname(full)
    if not os.path.isdir(folder):
        raise ClaimError(f"{what} {path}: directory {folder} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except (OSError, ValueError) as exc:
        raise ClaimError(f"{what} {path}: cannot write in {folder} "
                         f"({getattr(exc, 'strerror', None) or exc})") from None


def _check_inputs(claim_dir: str, model_path: str | None) -> None:
    """What makes an audit pointless, found before any proof is verified (ClaimError)."""
    if os.path.isdir(claim_dir) and not os.path.exists(os.path.join(claim_dir, MANIFEST)) and \
            (os.path.exists(os.path.join(claim_dir, "summary.json")) or
             os.path.isdir(os.path.join(claim_dir, "proofs"))):
        inner = os.path.join(claim_dir, "claim")
        if os.path.exists(os.path.join(inner, MANIFEST)):
            raise ClaimError(f"{claim_dir} is a run output directory; its claim is {inner}")
        summary = read_summary(claim_dir)
        pdir = os.path.join(claim_dir, "proofs")
        proven = (isinstance(summary, dict) and isinstance(summary.get("proofs"), list) and
                  any(isinstance(e, dict) for e in summary["proofs"])) or \
            (os.path.isdir(pdir) and any(n.endswith(".zkdl") for n in os.listdir(pdir)))
        if not proven:   # a --no-prove run: `zkdl claim` would find no proofs
            raise ClaimError(f"{claim_dir} is a run output directory without proofs; run `zkdl prove {claim_dir}` "
                             f"first (it proves the recorded steps and writes the claim)")
        raise ClaimError(f"{claim_dir} is a run output directory without a claim; run `zkdl claim {claim_dir}` "
                         f"first")
    if model_path is not None:
        if os.path.isdir(model_path):
            raise ClaimError(f"--model {model_path}: is a directory, not a model file (.npz)")
        try:
            with open(model_path, "rb"):
                pass
        except FileNotFoundError:
            raise ClaimError(f"--model {model_path}: no such file") from None
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
            raise ClaimError(f"--model {model_path}: cannot read "
                             f"({getattr(exc, 'strerror', None) or exc})") from None
        from zkdl.anchors import ModelFormatError, AnchorError, load_model
        try:   # no zkdl model file at all: unusable, not a mismatch (a tampered model is one)
            load_model(model_path)
        except ModelFormatError as exc:
            raise ClaimError(f"--model {exc}") from None
        except AnchorError:
            pass   # a model file whose weights are inconsistent: model_mismatch in the audit


def _load_base(path: str | None):
    """The weights of the ``--base`` model file (ClaimError when it is no zkdl model file)."""
    if path is None:
        return None
    from zkdl.anchors import AnchorError, load_model
    try:
        return load_model(path)[1]
    except AnchorError as exc:
        raise ClaimError(f"--base {exc}") from None


def _load_data(m: dict, data_spec: str | None, label_column: str):
    """The ``--data`` dataset, loaded (at the manifest config's scale R) before any proof is
    verified; ClaimError when the spec cannot be loaded."""
    if data_spec is None:
        return None
    from zkdl.config import TrainConfig
    from zkdl.data import load_spec
    from zkdl.errors import DataError
    try:
        R = TrainConfig.from_dict(m["config"]).R
    except (ZkdlError, TypeError, ValueError, KeyError):
        R = 16   # the audit reports the invalid config; the spec is still checked now
    try:
        return load_spec(data_spec, label_column, R=R)
    except DataError as exc:
        raise ClaimError(f"--data: {exc}") from None


def audit_claim(claim_dir: str, jobs: int | None = None, *, data_spec: str | None = None,
                label_column: str = "label", model_path: str | None = None, base_path: str | None = None,
                progress=None, test_data: str | None = None, ray: str | bool | None = None) -> dict:
    """Audit a claim directory; returns the report (``report["ok"]``: the whole claim holds).
    ``data_spec``: the public dataset (a ``--data`` spec) to recompute the dataset
    commitment from; ``model_path``: a released model (``zkdl export-model``) to check
    against the final weights; ``base_path``: the published base model (a zkdl model
    file) of a ``--public-base`` claim, to recompute its frozen commitment from. Raises
    ClaimError when the claim (or the data) cannot be read at all, or the model or base
    file is missing or no zkdl model file. ``progress(done, total)``: called as the proofs
    are verified (the CLI's progress bar); None: nothing is called. ``ray``: verify the
    proofs as Ray tasks (True: on a local Ray instance; a string: on the cluster at that
    address; :mod:`zkdl.distributed`) instead of ``jobs`` local processes. Evaluation proofs
    in ``eval/`` (``zkdl prove-eval``) are checked against the last proof and their proven
    test accuracy reported (``report["evaluations"]``); ``test_data``: a public test set
    to recompute their test-set commitment from (zkdl.eval_claim)."""
    from zkdl.federated_audit import audit_federated, is_federated
    if os.path.isdir(claim_dir) and is_federated(claim_dir):   # zkdl-federated-claim/v1 (zkdl.federated_audit)
        if data_spec is not None or model_path is not None or base_path is not None or test_data is not None:
            raise ClaimError(f"{claim_dir}: a federated claim: --data, --model, --base and --test-data do not "
                             f"apply to it")
        return audit_federated(claim_dir, jobs, progress=progress, ray=ray)
    _check_inputs(claim_dir, model_path)
    base = _load_base(base_path)
    started = time.perf_counter()
    m = load_manifest(claim_dir)
    data = _load_data(m, data_spec, label_column)
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
    todo = list(dict.fromkeys(p for p in paths if p is not None))  # each distinct real path verified once
    extra = {k: v for k, v in (("progress", progress), ("ray", ray)) if v is not None}
    verified = dict(zip(todo, verify_files(todo, jobs, **extra)))
    results = [verified[p] if p is not None else None for p in paths]

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
            fail("bad_range", where, f"empty or reversed step range: the manifest's steps are [{a}, {b}] "
                 f"(end-exclusive), the end must come after the start")
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
        if st["n_samples"] != m["n_samples"]:
            fail("dataset_mismatch", where, f"dataset of {st['n_samples']} rows, the manifest says {m['n_samples']}")
        if st.get("frozen_digest") != m.get("frozen_digest"):
            fail("frozen_mismatch", where, f"frozen-base commitment {str(st.get('frozen_digest'))[:16]}… is not the "
                 f"manifest's {str(m.get('frozen_digest'))[:16]}… (one claim, one frozen base)")
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
            if st["n_samples"] != prev["n_samples"]:
                fail("dataset_mismatch", where, f"states a dataset of {st['n_samples']} rows, the previous proof "
                     f"{prev['n_samples']} (one claim, one dataset size)")
        prev = st
    if rows[-1]["statement"] is not None and m.get("final_weights_digest") is not None and \
            rows[-1]["statement"]["final_weights_digest"] != m.get("final_weights_digest"):
        fail("chain_broken", f"proofs[{len(rows) - 1}] {rows[-1]['file']}",
             "final-weights commitment differs from the manifest's")
    anchors, proven_loss = _check_anchors(m, mcfg if mcfg_dict is not None else None, rows, fail, notes,
                                          data_spec, data, model_path, base)
    from zkdl.eval_claim import audit_evaluations
    last_ok = rows[-1]["valid"] and rows[-1]["digest_ok"] and entries[-1]["steps"][1] == end
    evaluations = audit_evaluations(claim_dir, paths[-1] if last_ok else None, fail, notes, test_data, label_column)
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
        "frozen_digest": m.get("frozen_digest"),
        "method": next((r["statement"]["method"] for r in rows if r["statement"]), None),
        "method_params": next((r["statement"]["method_params"] for r in rows if r["statement"]), None),
        "initial_weights_digest": m.get("initial_weights_digest"),
        "final_weights_digest": m.get("final_weights_digest"),
        "whole_run": bool(claimed and mcfg_dict is not None and claimed[0] == 0 and claimed[1] == mcfg.steps),
    }
    vsum = sum(r["verify_seconds"] or 0 for r in rows)
    return {
        "format": AUDIT_FORMAT, "zkdl_version": __version__, "claim": claim_dir, "ok": ok,
        "summary": summary, "proofs": rows, "failures": failures, "notes": notes,
        "metrics": m.get("metrics") if isinstance(m.get("metrics"), dict) else None,
        "anchors": anchors, "proven_loss": proven_loss, "evaluations": evaluations,
        **({"prover_summary": ps} if (ps := _prover_summary(claim_dir, m)) else {}),
        "timing": {"wall_seconds": round(time.perf_counter() - started, 3), "verify_seconds_sum": round(vsum, 3),
                   "jobs": jobs, **({"ray": ray if isinstance(ray, str) else "local"} if ray else {})},
    }


def _prover_summary(claim_dir: str, m: dict) -> dict | None:
    """Plot data from the prover's own ``summary.json`` when the claim is the ``claim/`` of
    a run output directory that holds one for the same config (the prover auditing its
    own run): the held-out evaluation history and the proving seconds of each proof.
    Reported numbers, never proven and not part of the claim; None otherwise."""
    parent = os.path.dirname(os.path.abspath(claim_dir))
    if os.path.basename(os.path.abspath(claim_dir)) != "claim":
        return None
    summary = read_summary(parent)
    if not summary or summary.get("config_digest") is None:
        return None
    try:
        from zkdl.config import TrainConfig
        if summary["config_digest"] != TrainConfig.from_dict(m["config"]).digest():
            return None
    except (ZkdlError, TypeError, ValueError, KeyError, AttributeError):   # an unreadable config: no plot data
        return None
    ev = summary.get("evaluation") if isinstance(summary.get("evaluation"), dict) else {}
    hist = [{"step": h.get("step"), "epoch": h.get("epoch"), "loss": h.get("loss"), "accuracy": h.get("accuracy")}
            for h in ev.get("history") or [] if isinstance(h, dict)]
    proofs = [{"steps": e.get("steps"), "prove_seconds": e.get("prove_seconds")}
              for e in summary.get("proofs") or [] if isinstance(e, dict)]
    return {"source": "summary.json of the run output directory (reported by the prover, not proven)",
            "evaluation": hist, "proofs": proofs}


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
    for key in ("config_digest", "dataset_digest", "initial_weights_digest", "final_weights_digest", "frozen_digest"):
        v = m.get(key)
        if key in m and not (isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)):
            bad(key, "a SHA-256 hex digest")
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


def _check_anchors(m: dict, cfg, rows: list[dict], fail, notes: list, data_spec, data, model_path, base=None):
    """Public anchors (public init, --data, --model) and proven metrics of a claim.
    ``data``: the dataset of ``data_spec``, loaded before the proofs were verified.
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
    if first is not None and first["initial_weights_public"]:
        # recomputed under the first proof's own (verified) config, whose weight commitments
        # that file holds: the work is bounded by the proof, whatever the manifest states
        # (a manifest config that differs is reported as config_mismatch)
        from zkdl.config import TrainConfig
        own = TrainConfig.from_dict(first["config"])
        if A.initial_weights_digest(own, first["method"], first["method_params"]) == first["initial_weights_digest"]:
            rep["initial_weights"] = f"public initialization from init_seed {own.init_seed}: recomputed, matches"
        else:
            rep["initial_weights"] = "public initialization claimed: DOES NOT match the seed's"
            fail("init_mismatch", w_first, f"W[{first['steps'][0]}] is not the public initialization of "
                 f"init_seed {own.init_seed} (the recomputed commitment differs)")
    if first is not None and first.get("frozen_public"):
        from zkdl.config import TrainConfig
        own = TrainConfig.from_dict(first["config"])
        what = "the --base model" if base is not None else f"the initialization of init_seed {own.init_seed}"
        try:
            digest = A.frozen_digest(own, first["method"], first["method_params"], base)
        except A.AnchorError as exc:
            digest = None
            fail("base_mismatch", w_first, f"cannot recompute the frozen base from {what}: {exc}")
        if digest == first["frozen_digest"]:
            rep["frozen"] = f"public base, {what}: recomputed, matches"
        else:
            rep["frozen"] = f"public base claimed: DOES NOT match {what}"
            if digest is not None:
                fail("base_mismatch", w_first, f"the frozen base is not {what} (the recomputed commitment differs)"
                     + ("" if base is not None else "; a published base is checked with --base MODEL.npz"))
    elif first is not None and first.get("frozen_digest"):
        rep["frozen"] = "hiding commitment"
        if base is not None:
            fail("base_mismatch", w_first, "--base given, but the claim's frozen base is a hiding commitment "
                 "(prove with --public-base to make it checkable)")
    public_data = all(st is not None and st["dataset_public"] for st in sts)
    if m.get("dataset_public") is True and not public_data:
        fail("manifest_field", "manifest.json dataset_public",
             "the manifest claims public data, but not every proof commits the dataset deterministically")
    if public_data:
        rep["dataset"] = "deterministic commitment (public data): check it with --data"
    if data_spec is not None and cfg is None:
        fail("data_mismatch", f"--data {data_spec}", "cannot check the data: the manifest's config is not valid")
    if data_spec is not None and cfg is not None:
        where = f"--data {data_spec}"
        if not public_data:
            rep["dataset"] = "hiding commitment: cannot be checked against a data file"
            fail("data_not_public", where, "the claim's dataset commitment is hiding (not proven with "
                 "--public-data): it cannot be checked against a data file")
        else:
            try:
                digest = A.dataset_digest(cfg, data)
            except A.AnchorError as exc:
                digest = None
                fail("data_mismatch", where, f"the data file does not fit the claim: {exc}")
            matches = digest is not None
            for i, st in enumerate(sts):   # every proof, not only the first
                at = f"{where} / proofs[{i}] {rows[i]['file']}"
                if data.n_samples != st["n_samples"]:
                    matches = False
                    fail("data_mismatch", at, f"the data file has {data.n_samples} rows, this proof's dataset "
                         f"{st['n_samples']}")
                elif digest is not None and digest != st["dataset_digest"]:
                    matches = False
                    fail("data_mismatch", at, f"the data file commits to {digest[:16]}…, this proof's dataset is "
                         f"{st['dataset_digest'][:16]}… (not the data the model was trained on)")
            if matches:
                rep["dataset"] = f"public data: {data_spec} recomputed, matches every proof"
    if model_path is not None:
        where = f"--model {model_path}"
        if last is None or cfg is None:
            fail("model_mismatch", where, "no final weights to check against (the last proof did not verify "
                 "or the manifest's config is not valid)")
        else:
            try:
                problems = A.check_model(model_path, cfg, last["final_weights_digest"], last["steps"][1],
                                         last.get("frozen_digest"))
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


def as_float(v) -> float | None:
    """A JSON number as a finite float, or None (not a number, infinite, NaN, or an int too
    large for a float: manifest numbers are untrusted)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _close(a, b) -> bool:
    fa, fb = as_float(a), as_float(b)
    return fa is not None and fb is not None and abs(fa - fb) <= 1e-9 * max(1.0, abs(fb))
