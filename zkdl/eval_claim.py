"""Proven test accuracy of a training claim: checking an evaluation proof against the
claim (verifier side: imports only the verifier and core pieces, never the prover).

An evaluation proof (method ``eval_accuracy``, :mod:`zkdl.methods.eval_accuracy`; made by
``zkdl prove-eval`` / :func:`zkdl.prove_eval`) lies in the claim directory as
``eval/<name>.zkdl``, beside ``eval/<name>.json`` (the test set's name, size and the
training scaling it was encoded with: a description, never trusted). It counts for the
claim when (:func:`check_evaluation`):

1. it verifies (:func:`zkdl.verifier.verify.verify`) and is of method ``eval_accuracy``;
2. its config is the claim's, with ``batch_size`` = the test set's rows and one step;
3. its weight commitments (and bias commitments, for a model with biases) are, layer by
   layer and byte for byte, the final-state commitments of the claim's last proof: the
   evaluated model is the trained one (the commitments are binding).

The proven result is then k of n test rows classified right (first argmax, lowest class
index on ties). With a public test set (``--public-data``: zero blinds) anyone holding
the data recomputes its commitment (``zkdl audit --test-data``).
"""

from __future__ import annotations

import json
import os

from zkdl.errors import VerificationError, ZkdlError

__all__ = ["EVAL_DIR", "EVAL_FORMAT", "EvalLinkError", "check_evaluation", "check_link", "statement_commitments",
           "evaluation_files", "read_description", "audit_evaluations"]

EVAL_DIR = "eval"
EVAL_FORMAT = "zkdl-eval/v1"


class EvalLinkError(ZkdlError):
    """A valid evaluation proof that is not about the claim's trained model."""


def statement_commitments(proof: bytes, role: str) -> tuple[dict, object]:
    """({(state name, layer): commitment bytes} of statement ``role`` ("initial", "final"),
    the proof's circuit) read from the proof's header and body (the proof is checked
    separately; this only parses)."""
    from zkdl.circuits.builder import method_class
    from zkdl.prooffile import unpack
    from zkdl.verifier.verify import ProofReader, parse_header, read_statement_commitments
    header, body = unpack(proof)
    _, circuit, _ = parse_header(header, len(body))
    coms = read_statement_commitments(ProofReader(body, "proof body"), circuit)
    state_of = method_class(circuit.method).state_of
    return {(state_of.get(base, base), layer): c.to_bytes() for base, layer, c in coms[role]}, circuit


def check_evaluation(proof: bytes, claim_last: bytes) -> dict:
    """Verify evaluation proof bytes ``proof`` against ``claim_last``, the bytes of the
    claim's last proof (already verified by the caller). Returns {correct, n_samples,
    accuracy, zk, dataset_digest, dataset_public, biases}; raises VerificationError (the
    proof is invalid) or EvalLinkError (valid, but not about the claim's final model)."""
    from zkdl.methods.eval_accuracy import EVAL_METHOD, correct_count
    from zkdl.verifier.verify import verify
    st = verify(proof)
    if st.method != EVAL_METHOD:
        raise EvalLinkError(f"a proof of method {st.method!r}, not an evaluation proof ({EVAL_METHOD})")
    has_b = check_link(proof, claim_last, st.config, st.n_samples)
    k = correct_count(st.outputs["correct"][0], st.config.R)
    if k is None or k > st.n_samples:
        raise VerificationError("the stated count is not k 2^(2R) for a k of at most the test set's rows")
    return {"correct": k, "n_samples": st.n_samples, "accuracy": k / st.n_samples, "zk": st.zk,
            "dataset_digest": st.dataset_digest, "dataset_public": st.dataset_public, "biases": has_b}


def check_link(proof: bytes, claim_last: bytes, config, n_samples: int) -> bool:
    """EvalLinkError unless the evaluation proof (of ``config`` on ``n_samples`` test rows)
    is about the final model of the claim's last proof ``claim_last``: config the claim's
    but for batch_size = n_samples and one step, and its weight (and bias) commitments the
    claim's final ones, layer by layer. Returns whether the model has biases. Only parses:
    neither proof is verified here."""
    final, claim_circuit = statement_commitments(claim_last, "final")
    initial, _ = statement_commitments(proof, "initial")
    want = claim_circuit.config.replace(batch_size=n_samples, steps=1)
    if config.digest() != want.digest():
        diff = sorted(k for k, v in want.to_dict().items() if config.to_dict().get(k) != v)
        raise EvalLinkError(f"the evaluation proof's config differs from the claim's in {', '.join(diff)}")
    has_b = any(name == "b" for name, _ in final)
    if has_b != any(name == "b" for name, _ in initial):
        raise EvalLinkError("the claim's model has biases and the evaluation proof does not evaluate them"
                            if has_b else "the evaluation proof states biases the claim's model does not have")
    for key, com in initial.items():
        if final.get(key) != com:
            raise EvalLinkError(f"the evaluation proof's {key[0]} of layer {key[1]} is not the claim's final "
                                f"{key[0]} (another model's weights)")
    return has_b


def evaluation_files(claim_dir: str) -> list[str]:
    """The evaluation proofs of a claim directory (``eval/*.zkdl``), sorted."""
    d = os.path.join(claim_dir, EVAL_DIR)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".zkdl"))


def read_description(proof_path: str) -> dict:
    """The JSON description beside an evaluation proof ({} where there is none or it is not
    readable): the test set's name and the scaling it was encoded with; never trusted."""
    from zkdl.prooffile import check_json_depth
    path = proof_path[:-len(".zkdl")] + ".json"
    try:
        with open(path, "rb") as fh:
            raw = fh.read(1 << 20)
        check_json_depth(raw, path)
        d = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, ZkdlError):
        return {}
    return d if isinstance(d, dict) and d.get("format") == EVAL_FORMAT else {}


def audit_evaluations(claim_dir: str, last_proof_path: str | None, fail, notes: list, test_data=None,
                      label_column: str = "label") -> list[dict]:
    """Check every evaluation proof of ``claim_dir`` against the claim's last proof (its path,
    None when it did not verify); ``fail(code, where, message)`` records a finding.
    ``test_data``: a test set (spec) to recompute the commitment of public-data evaluation
    proofs from. Returns one entry per evaluation proof (its proven accuracy when it holds)."""
    from zkdl.prooffile import read_proof_file
    out, recomputed = [], []
    files = evaluation_files(claim_dir)
    last = None
    if files and last_proof_path is not None:
        try:
            last = read_proof_file(last_proof_path)
        except (OSError, ZkdlError):
            last = None
    for path in files:
        rel = f"{EVAL_DIR}/{os.path.basename(path)}"
        desc = read_description(path)
        entry = {"file": rel, "data": desc.get("data") if isinstance(desc.get("data"), str) else None,
                 "ok": False, "correct": None, "n_samples": None, "accuracy": None, "test_data": None}
        out.append(entry)
        try:
            res = check_evaluation(read_proof_file(path), last) if last is not None else None
        except OSError as exc:
            fail("eval_invalid", rel, f"cannot read the evaluation proof: {exc.strerror or exc}")
            continue
        except EvalLinkError as exc:
            fail("eval_link", rel, f"not an evaluation of the claim's final model: {exc}")
            continue
        except ZkdlError as exc:      # VerificationError, EncodingError: the proof does not hold
            fail("eval_invalid", rel, f"evaluation proof rejected: {exc}")
            continue
        if res is None:
            fail("eval_unlinked", rel, "the claim's last proof does not verify: the evaluation cannot be linked")
            continue
        entry.update(res, ok=True)
        if test_data is not None:
            entry["test_data"] = _recompute(res, desc, last, test_data, label_column)
            if entry["test_data"] == "recomputed, matches":
                recomputed.append(rel)
    if test_data is not None and not recomputed:
        fail("test_data_mismatch", "--test-data", f"no public-data evaluation proof of the claim commits the test "
             f"set {test_data!r}" + ("" if out else " (the claim has no evaluation proof)"))
    if any(e["ok"] for e in out):
        notes.append("a test accuracy marked PROVEN is proven for the claim's final model by its evaluation proof "
                     "(first argmax, ties to the lowest class index); the test set's name is the prover's description")
    return out


def _recompute(res: dict, desc: dict, last: bytes, spec, label_column: str) -> str:
    """Recompute a public test set's commitment (encoded as the description says: a stored
    set as it is, a data spec with the recorded training scaling) and compare it."""
    if not res["dataset_public"]:
        return "not public (a hiding commitment): cannot be recomputed"
    from zkdl.anchors import AnchorError, dataset_digest
    from zkdl.data import Scaling
    from zkdl.evaluate import encoded_dataset
    _, circuit = statement_commitments(last, "final")
    cfg = circuit.config
    try:
        scaling = Scaling.from_dict(desc["scaling"], "the evaluation's scaling") if "scaling" in desc else None
        ds, _ = encoded_dataset(spec, scaling, cfg.R, cfg.n_features, cfg.n_classes, label_column)
        got = dataset_digest(cfg.replace(batch_size=ds.n_samples), ds)
    except (AnchorError, ZkdlError, KeyError, TypeError) as exc:
        return f"cannot be recomputed: {exc}"
    return "recomputed, matches" if got == res["dataset_digest"] else "recomputed, DIFFERS"
