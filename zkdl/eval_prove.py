"""``zkdl prove-eval`` / :func:`zkdl.prove_eval`: prove the test accuracy of a proven run's
final model (prover side; the circuit is :mod:`zkdl.methods.eval_accuracy`, the check
against a claim :mod:`zkdl.eval_claim`).

The final model W[T] of a ``zkdl train`` / ``zkdl prove`` output directory is committed by
its last proof; its secrets hold that commitment's blinds. The evaluation proof commits
W[T] with the very same blinds (so its weight commitments are the claim's, byte for byte)
and the test set (fresh blinds, or zero blinds with ``public_data``), and proves that W[T]
classifies k of the n test rows right. It is written atomically into the run's claim
directory, ``claim/eval/<name>.zkdl``, with a description ``<name>.json`` beside it.
"""

from __future__ import annotations

import json
import os
import re
import time
from builtins import range as _irange     # (prove_eval's parameter ``range`` is the range strategy)

from zkdl.errors import ZkdlError

__all__ = ["prove_eval", "EvalError", "SUPPORTED"]

SUPPORTED = "sgd_mlp, sgd_bias, subset_momentum, muon, eggroll"


class EvalError(ZkdlError):
    """prove-eval cannot run on these inputs (the message says why)."""


def _final_model(run_out: str):
    """(last proof with secrets, its config, {(state, layer): (array, blinds)}) of the run's
    final model, the opening checked against the proof's final-state commitments."""
    from zkdl.anchors import AnchorError, final_opening, last_proof, proof_config
    from zkdl.circuits.builder import method_class
    try:
        proof, run, step, _ = last_proof(run_out)
        cfg = proof_config(proof)
        method = proof.header["method"]
        cls = method_class(method)
        if getattr(cls, "effective_weights", None) is not None:
            raise EvalError(f"training method {method!r}: its model is a function of its committed state, not "
                            f"committed weights; prove-eval supports {SUPPORTED}")
        opened = final_opening(proof, cfg, run.state(step))
    except AnchorError as exc:
        raise EvalError(str(exc)) from None
    model = {(cls.state_of.get(base, base), layer): (arr, bl) for base, layer, arr, bl in opened}
    if any(("W", l) not in model for l in range(1, cfg.layers + 1)):
        raise EvalError(f"training method {method!r}: its final state commits no weights W; prove-eval "
                        f"supports {SUPPORTED}")
    return proof, run, cfg, model


def _name(spec, name: str | None) -> str:
    if name is None:
        base = os.path.basename(str(spec).rstrip("/")) if isinstance(spec, (str, os.PathLike)) else "test"
        name = re.sub(r"\.(npz|csv)$", "", base.split(":")[0]) or "test"
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))[:64].strip(".") or "test"
    return name


def prove_eval(run_out, data, *, public_data: bool = False, zk: bool = True, range: str | None = None,
               backend: str = "cpu", threads=None, progress=None, label_column: str = "label",
               name: str | None = None, force: bool = False) -> dict:
    """Prove that the final weights of the proven run in ``run_out`` classify ``data`` (a
    data spec as for ``--data``, a stored encoded set such as ``run/eval.npz``, or a
    Dataset) with k of its n rows right; ``data`` is encoded with the run's training
    scaling. Writes ``run_out/claim/eval/<name>.zkdl`` (and ``.json``) atomically and
    returns {correct, n_samples, accuracy, proof, seconds, bytes, ...}. ``public_data``:
    commit the test set with zero blinds (anyone holding it recomputes the commitment:
    ``zkdl audit --test-data``); only then does the description name the test set and
    record the training scaling (a zero-knowledge claim publishes nothing about private
    data). EvalError (a ZkdlError) with a message for every unusable input."""
    from zkdl.api import atomic_write, resolve_backend
    from zkdl.circuits.builder import DEFAULT_RANGE, RANGE_STRATEGIES
    from zkdl.eval_claim import EVAL_DIR, EVAL_FORMAT, check_link
    from zkdl.evaluate import EvaluationError, encoded_dataset
    from zkdl.methods.eval_accuracy import EVAL_METHOD, EvalAccuracyMethod, correct_count
    from zkdl.prooffile import unpack
    from zkdl.prover.aggregate import prove_window
    from zkdl.tracer import Run
    from zkdl.verifier.verify import circuit_for, statement_layout
    range = DEFAULT_RANGE if range is None else range
    if range not in RANGE_STRATEGIES:
        raise EvalError(f"range must be one of {', '.join(RANGE_STRATEGIES)}, got {range!r}")
    run_out = os.fspath(run_out)
    claim = os.path.join(run_out, "claim")
    if not os.path.isfile(os.path.join(claim, "manifest.json")):
        raise EvalError(f"{run_out}: no claim/manifest.json (a proven `zkdl train` output directory has one; "
                        f"else run `zkdl claim {run_out}` first)")
    name = _name(data, name)
    ppath = os.path.join(claim, EVAL_DIR, name + ".zkdl")
    if os.path.exists(ppath) and not force:
        raise EvalError(f"{ppath} exists (use --force to replace it, or --name for another test set)")
    proof, run, cfg, model = _final_model(run_out)
    try:
        ds, how = encoded_dataset(data, run.data.scaling, cfg.R, cfg.n_features, cfg.n_classes, label_column)
    except (EvaluationError, ZkdlError) as exc:
        raise EvalError(f"test data: {exc}") from None
    biases = int(any(k[0] == "b" for k in model))
    state = {"W": [model[("W", l)][0] for l in _irange(1, cfg.layers + 1)]}
    if biases:
        state["b"] = [model[("b", l)][0] for l in _irange(1, cfg.layers + 1)]
    ecfg = cfg.replace(batch_size=ds.n_samples, steps=1)
    erun = Run(ecfg, ds, state, method=EVAL_METHOD, method_params={"biases": biases}, keep_in_memory=True)
    erun.resume(1)
    circuit = circuit_for(ecfg, 1, ds.n_samples, True, True, False, EVAL_METHOD, erun.method_params, range)
    init = [model[(EvalAccuracyMethod.state_of[b], layer)][1] for b, layer, _ in statement_layout(circuit)["initial"]]
    started = time.monotonic()
    data_bytes, _ = prove_window(erun, 0, 1, secrets={"initial": init}, check_initial_weights=True,
                                 check_dataset=True, zk=zk, public_data=public_data, range_strategy=range,
                                 backend=resolve_backend(backend), threads=threads, progress=progress)
    seconds = time.monotonic() - started
    check_link(data_bytes, proof.data, ecfg, ds.n_samples)   # (the witness was checked; no second verification)
    st = unpack(data_bytes)[0]["statement"]
    k = correct_count(st["correct"][0], cfg.R)
    result = {"correct": k, "n_samples": int(ds.n_samples), "accuracy": k / ds.n_samples, "zk": bool(zk),
              "dataset_digest": st["dataset_digest"], "dataset_public": st["dataset_public"], "biases": bool(biases)}
    desc = {"format": EVAL_FORMAT, "proof": name + ".zkdl", "n_samples": int(ds.n_samples), "encoding": how,
            "public_data": bool(public_data)}
    if public_data:     # the test set's name and the training scaling are published only with the test set
        desc["data"] = ds.name
        if ds.scaling is not None:
            desc["scaling"] = ds.scaling.to_dict()
    os.makedirs(os.path.dirname(ppath), exist_ok=True)
    atomic_write(ppath, data_bytes)
    atomic_write(ppath[:-len(".zkdl")] + ".json", (json.dumps(desc, indent=1, sort_keys=True) + "\n").encode())
    return {**result, "proof": ppath, "seconds": round(seconds, 3), "bytes": len(data_bytes), "data": ds.name,
            "encoding": how}
