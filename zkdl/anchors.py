"""Public anchors: things an auditor holds and checks a claim's commitments against.

A proof's statement commits to the dataset, W[t0] and W[t0+T] (Hyrax row commitments,
each row blinded: ``C_i = sum_j M_ij G_j + r_i H``). Three ways to tie those
commitments to objects outside the proofs:

* **public data** -- the prover commits the dataset with all blinds zero
  (``zkdl train --public-data``; the statement says ``dataset_public``). The
  commitment is then a function of the data alone: whoever holds the data file
  recomputes it (:func:`dataset_digest`) and compares digests.
* **public initialization** -- W[0] is the deterministic initialization of the
  config's ``init_seed`` (:func:`zkdl.tracer.init_weights`), committed with zero
  blinds (``--public-init``; ``initial_weights_public``); :func:`initial_weights_digest`
  recomputes it from the config alone.
* **released model** -- :func:`export_model` writes the final weights with the blinds
  of their commitment (its *opening*); :func:`check_model` recomputes the commitment
  and compares it with the last proof's final-weights digest, so the released weights
  are exactly the trained ones. Releasing the opening reveals those weights, nothing else.

Recomputation uses :func:`zkdl.hyrax.commit_from_opening`, independent of the
prover's committer.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from zkdl.errors import ZkdlError
from zkdl.field import is_canonical
from zkdl.hyrax import commit_from_opening

MODEL_FORMAT = "zkdl-model/v1"


class AnchorError(ZkdlError):
    """A data file, model file or run directory cannot serve as an anchor (message says why)."""


class ModelFormatError(AnchorError):
    """The file cannot be read as a zkdl model file at all (not an .npz, no or wrong meta):
    raised by :func:`load_model` before it looks at the weights."""


def _pad2(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())


def padded_commitment(arr: np.ndarray, blinds=None):
    """The commitment of ``arr`` zero-padded to powers of two per axis (the statement's
    layout), with the given row blinds (default zero)."""
    arr = np.asarray(arr, dtype=np.int64)
    shape = tuple(_pad2(s) for s in arr.shape)
    full = np.zeros(shape, dtype=np.int64)
    full[tuple(slice(0, s) for s in arr.shape)] = arr
    n = sum(s.bit_length() - 1 for s in shape)
    return commit_from_opening(full.reshape(-1).tolist(), n, blinds)


def _digest(coms) -> str:
    from zkdl.verifier.verify import commitments_digest
    return commitments_digest(coms)


def dataset_arrays(config, data) -> tuple[np.ndarray, np.ndarray]:
    """(X, Y) as committed: quantized features and one-hot targets times 2^R (the
    statement commits them zero-padded to N_p x D_0 and N_p x D_L)."""
    X = np.asarray(data.X, dtype=np.int64)
    Y = np.zeros((X.shape[0], int(data.n_classes)), dtype=np.int64)
    Y[np.arange(X.shape[0]), np.asarray(data.y, dtype=np.int64)] = 1 << config.R
    return X, Y


def dataset_digest(config, data) -> str:
    """The statement's dataset digest of a public-data proof of ``data`` under ``config``."""
    if data.n_features != config.n_features or data.n_classes != config.n_classes:
        raise AnchorError(f"the data has {data.n_features} features and {data.n_classes} classes; the claim's "
                          f"config has {config.n_features} and {config.n_classes}")
    X, Y = dataset_arrays(config, data)
    return _digest([padded_commitment(X), padded_commitment(Y)])


def statement_arrays(config, state: dict, role: str, method: str = "sgd_mlp", params: dict | None = None) -> list:
    """The arrays that statement ``role`` ("initial", "final", "frozen") of training
    ``method`` commits, in proof-body order, taken from a state dict (the method's
    ``state_of`` names the state list of each statement tensor)."""
    from zkdl.circuits.builder import build_circuit, method_class
    from zkdl.verifier.verify import statement_layout
    cls = method_class(method)
    c = build_circuit(config, 1, method=cls(params), n_samples=config.batch_size)
    try:
        return [state[cls.state_of[base]][layer - 1] for base, layer, _ in statement_layout(c)[role]]
    except (KeyError, IndexError) as exc:
        raise AnchorError(f"training method {method!r}: the state has no {exc} for its statement") from None


def frozen_digest(config, method: str, params: dict | None = None, base: list | None = None) -> str:
    """The statement's frozen-base digest of a ``--public-base`` proof under ``config``
    and training ``method`` (the frozen tensors of its initial state, or the weights
    ``base`` of a published base model, zero blinds)."""
    from zkdl.circuits.builder import method_class
    from zkdl.tracer import initial_state
    state = initial_state(config, method, params)
    if base is not None:
        names = getattr(method_class(method), "constant_state", ())
        if not names:
            raise AnchorError(f"training method {method!r} has no frozen base")
        dims = config.dims()
        if [np.shape(w) for w in base] != [(dims[l - 1], dims[l]) for l in range(1, len(dims))]:
            raise AnchorError("the base model's layer shapes are not the claim's")
        state = {**state, names[0]: [np.asarray(w, dtype=np.int64) for w in base]}
    return _digest([padded_commitment(w) for w in statement_arrays(config, state, "frozen", method, params)])


def initial_weights_digest(config, method: str = "sgd_mlp", params: dict | None = None) -> str:
    """The statement's W[0] digest of a public-initialization proof under ``config`` and
    training ``method`` (its initial state)."""
    from zkdl.tracer import initial_state
    state = initial_state(config, method, params)
    return _digest([padded_commitment(w) for w in statement_arrays(config, state, "initial", method, params)])


# ------------------------------------------------------------------ released model
def _blind_bytes(blinds) -> np.ndarray:
    return np.frombuffer(b"".join(int(b).to_bytes(32, "little") for b in blinds), dtype=np.uint8).reshape(-1, 32)


def model_bytes(config, weights, blinds, step: int, digest: str, source: str, opened=None, method_meta=None) -> bytes:
    """The ``.npz`` bytes of a released model (see :func:`export_model`). ``opened``: for a
    method whose statement commits a state other than the weights, the
    ``(role, base, layer, array, blinds)`` of every final (and frozen) commitment; the
    weights then carry no blinds of their own."""
    R = config.R
    meta = {"format": MODEL_FORMAT, "config": config.to_dict(), "step": int(step), "final_weights_digest": digest,
            "proof": source, "R": R, "layers": len(weights),
            "float": "W{l}_float = W{l} / 2^R exactly (float64)",
            "opening": "blinds{l}: one 32-byte little-endian blind per commitment row of W{l} "
                       "zero-padded to powers of two"}
    arrays = {}
    if opened is not None:
        meta.update(method_meta or {})
        meta["opening"] = ("{role}.{base}.{layer} and {role}.{base}.{layer}.blinds: each statement commitment's "
                           "array and row blinds; W{l} = the method's effective weights of that state")
        meta["opened"] = [[role, base, layer] for role, base, layer, _, _ in opened]
        for role, base, layer, arr, bl in opened:
            arrays[f"{role}.{base}.{layer}"] = np.asarray(arr, dtype=np.int64)
            arrays[f"{role}.{base}.{layer}.blinds"] = _blind_bytes(bl)
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    for layer, w in enumerate(weights, start=1):
        w = np.asarray(w, dtype=np.int64)
        arrays[f"W{layer}"] = w
        arrays[f"W{layer}_float"] = w.astype(np.float64) / float(1 << R)
        if opened is None:
            arrays[f"blinds{layer}"] = _blind_bytes(blinds[layer - 1])
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _opened_state(proof, config, state, roles=("frozen", "final")) -> list:
    """(role, base, layer, array, blinds) of the final and frozen statement commitments of
    ``proof`` (a method with a state other than its weights), checked against its digests."""
    from zkdl.circuits.builder import build_circuit
    from zkdl.verifier.verify import statement_layout
    h, st = proof.header, proof.header["statement"]
    method, params = h["method"], h["method_params"]
    layout = statement_layout(build_circuit(config, 1, method=method, method_params=params,
                                            n_samples=config.batch_size))
    out = []
    for role, key in (("frozen", "frozen_digest"), ("final", "final_weights_digest")):
        if not layout[role] or role not in roles:
            continue
        arrays = statement_arrays(config, state, role, method, params)
        blinds = proof.secrets.get(role) if isinstance(proof.secrets, dict) else None
        if not isinstance(blinds, list) or len(blinds) != len(arrays):
            raise AnchorError(f"the secrets hold no {role} blinds for the {len(arrays)} {role} commitments")
        if _digest([padded_commitment(a, b) for a, b in zip(arrays, blinds)]) != st.get(key):
            raise AnchorError(f"the run's state and the secrets do not open the last proof's {role} commitment")
        out += [(role, base, layer, a, b) for (base, layer, _), a, b in zip(layout[role], arrays, blinds)]
    return out


def last_proof(run_out: str):
    """(the last proof of ``run_out`` with its secrets, the recorded Run, the step it ends
    at, its path) of a ``zkdl train`` / ``zkdl prove`` output directory."""
    from zkdl.api import Proof
    from zkdl.audit import read_summary
    from zkdl.tracer import Run
    summary = read_summary(run_out)
    try:
        entries = [e for e in summary["proofs"] if isinstance(e, dict)]
        last = max(entries, key=lambda e: e["steps"][1])
        ppath, secpath = os.path.join(run_out, last["file"]), os.path.join(run_out, last["secrets"])
        rdir = os.path.join(run_out, summary.get("run") or "run")
    except (ValueError, KeyError, TypeError, IndexError):
        raise AnchorError(f"{run_out}: not a proven run directory (summary.json with a proof list)") from None
    try:
        proof = Proof.load(ppath, secpath)
    except (OSError, ValueError) as exc:
        raise AnchorError(f"cannot read the last proof or its secrets ({exc})") from None
    step = proof.header["statement"]["steps"][1]
    run = Run.load(rdir)
    if step > run.n_steps:
        raise AnchorError(f"the last proof ends at step {step}, the run records {run.n_steps} steps")
    return proof, run, step, ppath


def proof_config(proof):
    from zkdl.config import TrainConfig
    return TrainConfig.from_dict(proof.header["config"])


def final_opening(proof, config, state) -> list:
    """(base, layer, array, blinds) of every final-state commitment of ``proof`` (its
    secrets loaded), checked against the proof's final-state digest."""
    return [(b, layer, a, bl) for role, b, layer, a, bl in _opened_state(proof, config, state, ("final",))]


def export_model(run_out: str, path: str) -> dict:
    """Write the final weights of the last proof in ``run_out`` (a ``zkdl train`` /
    ``zkdl prove`` output directory: summary.json, run/, proofs/, secrets/) to ``path``
    (``.npz``): per layer ``W{l}`` (int64, quantized at scale 2^R), ``W{l}_float``
    (float64 = W / 2^R) and ``blinds{l}`` (the opening of the commitment), and ``meta``
    (JSON: config, step, the final-weights digest they open). For a training method
    whose statement commits another state (``lora``: the adapters, and the frozen base),
    the file holds that state's arrays with their blinds (``{role}.{base}.{layer}``) and
    ``W{l}`` are the method's effective weights of it. Checks the opening against the
    proof before writing; the file is written atomically. Returns the meta dict."""
    from zkdl.api import atomic_write
    proof, run, step, ppath = last_proof(run_out)
    st = proof.header["statement"]
    weights = [np.asarray(w, dtype=np.int64) for w in run.weights(step)]
    config = proof_config(proof)
    if set(run.state(step)) != {"W"}:
        opened = _opened_state(proof, config, run.state(step))
        meta = {"method": proof.header["method"], "method_params": proof.header["method_params"]}
        data = model_bytes(config, weights, None, step, st["final_weights_digest"], os.path.basename(ppath),
                           opened, meta)
        atomic_write(path, data)
        return json.loads(np.load(io.BytesIO(data))["meta"].tobytes())
    blinds = proof.secrets.get("final") if isinstance(proof.secrets, dict) else None
    if not isinstance(blinds, list) or len(blinds) != len(weights):
        raise AnchorError(f"{secpath}: no final-weight blinds for {len(weights)} layers")
    digest = _digest([padded_commitment(w, b) for w, b in zip(weights, blinds)])
    if digest != st["final_weights_digest"]:
        raise AnchorError("the run's weights and the secrets do not open the last proof's final-weight commitment")
    data = model_bytes(config, weights, blinds, step, digest, os.path.basename(ppath))
    atomic_write(path, data)
    return json.loads(np.load(io.BytesIO(data))["meta"].tobytes())


def _blinds_of(path: str, name: str, b) -> list:
    if b is None or b.dtype != np.uint8 or b.ndim != 2 or b.shape[1] != 32:
        raise AnchorError(f"{path}: {name} must be an (rows, 32) uint8 array")
    blinds = [int.from_bytes(row.tobytes(), "little") for row in b]
    if not all(is_canonical(x) for x in blinds):
        raise AnchorError(f"{path}: {name} holds a value outside the field")
    return blinds


def load_model(path: str) -> tuple[dict, list, list, list]:
    """(meta, int weights, float weights, blinds) of a released-model file, checked for
    shape and type consistency (raises AnchorError with the reason; ModelFormatError, an
    AnchorError, when the file is no zkdl model file at all: unreadable, not an .npz, no
    meta or another format). For a method with another state (``meta.opened``) the
    blinds list is empty and ``meta["arrays"]`` holds ``(role, base, layer, array,
    blinds)`` per opened commitment."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ModelFormatError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if magic != b"PK\x03\x04":  # an .npz is a zip archive; np.load would try a .npy or a pickle
        raise ModelFormatError(f"{path}: not a zkdl model file (.npz)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        raise ModelFormatError(f"{path}: not a zkdl model file (.npz): the archive or an array in it cannot be "
                               f"read") from None
    if "meta" not in arrays or arrays["meta"].dtype != np.uint8:
        raise ModelFormatError(f"{path}: not a zkdl model file (no meta)")
    try:
        meta = json.loads(arrays["meta"].tobytes())
    except ValueError:
        raise ModelFormatError(f"{path}: meta is not JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ModelFormatError(f"{path}: not a zkdl model file (format {found!r}, expected {MODEL_FORMAT!r})")
    L = meta.get("layers")
    if type(L) is not int or not 1 <= L <= 1024:
        raise AnchorError(f"{path}: meta.layers must be a layer count")
    opened = meta.get("opened")
    if opened is not None and not (isinstance(opened, list) and len(opened) <= 4 * 1024 and all(
            isinstance(e, list) and len(e) == 3 and e[0] in ("final", "frozen") and isinstance(e[1], str)
            and len(e[1]) <= 64 and type(e[2]) is int for e in opened)):
        raise AnchorError(f"{path}: meta.opened must list [role, tensor, layer] entries")
    ws, fs, bs = [], [], []
    expected = {"meta"}
    for layer in range(1, L + 1):
        w, f = arrays.get(f"W{layer}"), arrays.get(f"W{layer}_float")
        expected |= {f"W{layer}", f"W{layer}_float"}
        if w is None or f is None:
            raise AnchorError(f"{path}: layer {layer} lacks W{layer} or W{layer}_float")
        if w.dtype != np.int64 or w.ndim != 2 or f.dtype != np.float64 or f.shape != w.shape:
            raise AnchorError(f"{path}: W{layer} must be a 2-D int64 array and W{layer}_float float64 of its shape")
        ws.append(w)
        fs.append(f)
        if opened is None:
            expected.add(f"blinds{layer}")
            bs.append(_blinds_of(path, f"blinds{layer}", arrays.get(f"blinds{layer}")))
    if opened is not None:
        meta["arrays"] = []
        for role, base, layer in opened:
            key = f"{role}.{base}.{layer}"
            a = arrays.get(key)
            if a is None or a.dtype != np.int64 or a.ndim not in (1, 2):
                raise AnchorError(f"{path}: {key} must be a 1- or 2-D int64 array")
            meta["arrays"].append((role, base, layer, a, _blinds_of(path, key + ".blinds", arrays.get(key + ".blinds"))))
            expected |= {key, key + ".blinds"}
    extra = set(arrays) - expected
    if extra:
        raise AnchorError(f"{path}: unexpected arrays {sorted(extra)}")
    return meta, ws, fs, bs


def check_model(path: str, config, final_digest: str, step: int, frozen_digest: str | None = None) -> list[str]:
    """Reasons why the model file is NOT the opening of ``final_digest`` (the claim's
    last final-weights digest, after ``step`` steps; and of ``frozen_digest``, the
    claim's frozen base, for a method that has one) under ``config``; [] if it is."""
    meta, ws, fs, bs = load_model(path)
    if meta.get("opened") is not None:
        return _check_state_model(meta, ws, fs, config, final_digest, step, frozen_digest)
    problems = []
    dims = config.dims()
    if len(ws) != len(dims) - 1:
        return [f"{len(ws)} layers, the claim's model has {len(dims) - 1}"]
    for layer, w in enumerate(ws, start=1):
        if w.shape != (dims[layer - 1], dims[layer]):
            problems.append(f"W{layer} has shape {w.shape}, the claim's layer {layer} is "
                            f"{(dims[layer - 1], dims[layer])}")
    if problems:
        return problems
    R = config.R
    for layer, (w, f) in enumerate(zip(ws, fs), start=1):
        if not np.array_equal(f, w.astype(np.float64) / float(1 << R)):
            problems.append(f"W{layer}_float is not W{layer} / 2^{R} (the float weights differ from the quantized)")
    if meta.get("step") != step:
        problems.append(f"the file says it holds W[{meta.get('step')}], the claim ends at W[{step}]")
    try:
        digest = _digest([padded_commitment(w, b) for w, b in zip(ws, bs)])
    except ZkdlError as exc:
        return problems + [f"cannot recompute the commitment: {exc}"]
    if digest != final_digest:
        problems.append(f"the weights and blinds commit to {digest[:16]}…, the claim's final weights are "
                        f"{final_digest[:16]}… (not the trained model)")
    return problems


def _check_state_model(meta, ws, fs, config, final_digest, step, frozen_digest) -> list[str]:
    """check_model of a file holding a method's state (``meta.opened``): its arrays open the
    claim's final (and frozen) commitments, and W{l} are the effective weights of them."""
    from zkdl.tracer import effective_weights
    problems = []
    if meta.get("step") != step:
        problems.append(f"the file says it holds W[{meta.get('step')}], the claim ends at W[{step}]")
    method, params = meta.get("method"), meta.get("method_params")
    if not isinstance(method, str) or not isinstance(params, dict):
        return problems + ["meta.method / method_params missing"]
    try:
        for role, digest in (("final", final_digest), ("frozen", frozen_digest)):
            got = [(base, layer, a, b) for r, base, layer, a, b in meta["arrays"] if r == role]
            if digest is None and not got:
                continue
            want = [(b, l) for b, l, _ in _layout(config, method, params)[role]]
            if [(b, l) for b, l, _, _ in got] != want:
                problems.append(f"the file's {role} tensors are not the claim's ({len(want)} commitments)")
                continue
            if _digest([padded_commitment(a, b) for _, _, a, b in got]) != digest:
                problems.append(f"the {role} arrays and blinds do not open the claim's {role} commitment "
                                f"(not the trained model)")
        state = {}
        cls_state = _state_names(method)
        for role, base, layer, a, _ in meta["arrays"]:
            state.setdefault(cls_state[base], {})[layer] = a
        state = {k: [v[l] for l in sorted(v)] for k, v in state.items()}
        eff = effective_weights(config, state, method, params)
    except (ZkdlError, KeyError, ValueError, TypeError) as exc:
        return problems + [f"cannot recompute the commitments: {exc}"]
    if len(eff) != len(ws) or any(not np.array_equal(a, b) for a, b in zip(eff, ws)):
        problems.append(f"W{{l}} are not the {method} effective weights of the opened state")
    for layer, (w, f) in enumerate(zip(ws, fs), start=1):
        if not np.array_equal(f, w.astype(np.float64) / float(1 << config.R)):
            problems.append(f"W{layer}_float is not W{layer} / 2^{config.R}")
    return problems


def _layout(config, method, params):
    from zkdl.circuits.builder import build_circuit
    from zkdl.verifier.verify import statement_layout
    return statement_layout(build_circuit(config, 1, method=method, method_params=params, n_samples=config.batch_size))


def _state_names(method: str) -> dict:
    from zkdl.circuits.builder import method_class
    return method_class(method).state_of
