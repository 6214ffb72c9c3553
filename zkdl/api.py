"""The Python API: prove a window of a training run, save and load proofs, verify.

    run = zkdl.train(zkdl.TrainConfig(), steps=4)
    proof = zkdl.prove(run, steps=(0, 1))          # one zero-knowledge proof per batch: T = 1
    proof.save("step0.zkdl")
    statement = zkdl.verify("step0.zkdl")          # raises zkdl.VerificationError

``Proof.secrets`` holds the prover's commitment blinds (dataset, initial and final
weights). They are never written into a proof file; keep them (``save_secrets``) to
chain the next window onto this one (``prove(..., chain=previous_proof)``).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

from zkdl.errors import ZkdlError
from zkdl.prooffile import unpack


def atomic_write(path, data: bytes, mode: int = 0o644) -> None:
    """Write to a temporary file in the same folder, then rename (never half-written)."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@dataclass
class Proof:
    """A proof file's bytes, plus (prover side only) the blinds needed to chain."""

    data: bytes
    secrets: dict | None = field(default=None, repr=False)

    @property
    def header(self) -> dict:
        return unpack(self.data)[0]

    @property
    def steps(self) -> tuple[int, int]:
        first, end = self.header["statement"]["steps"]
        return first, end - first

    def to_bytes(self) -> bytes:
        return self.data

    def save(self, path) -> None:
        atomic_write(path, self.data)

    def save_secrets(self, path) -> None:
        """The blinds as JSON, readable by the owner only (0600)."""
        if self.secrets is None:
            raise ZkdlError("this proof object carries no secrets (it was loaded from a file)")
        atomic_write(path, json.dumps(self.secrets).encode(), 0o600)

    @classmethod
    def load(cls, path, secrets_path=None) -> "Proof":
        from zkdl.prooffile import read_proof_file
        data = read_proof_file(path)  # a regular file within the format's size limit
        secrets = None
        if secrets_path is not None:
            with open(secrets_path) as fh:
                secrets = json.load(fh)
        return cls(data, secrets)


BACKENDS = ("cpu", "cuda", "reference")


def resolve_backend(backend: str, warn=None) -> str:
    """``backend`` if it can run here; "cpu" instead of an unavailable "cuda", reported
    through ``warn(message)`` (default: a RuntimeWarning)."""
    if backend not in BACKENDS:
        raise ZkdlError(f"unknown prover backend {backend!r} (available: {', '.join(BACKENDS)})")
    if backend == "cuda":
        from zkdl.errors import BackendUnavailable
        from zkdl.prover.backend import get_backend
        try:
            get_backend("cuda")
        except BackendUnavailable as exc:
            msg = f"{exc}; falling back to the cpu backend (same proofs, slower)"
            if warn is None:
                import warnings
                warnings.warn(msg, RuntimeWarning, stacklevel=3)
            else:
                warn(msg)
            return "cpu"
    return backend


def _window(run, steps) -> tuple[int, int]:
    if steps is None:
        return 0, run.n_steps
    if isinstance(steps, range):
        if steps.step != 1 or len(steps) == 0:
            raise ZkdlError("steps must be a contiguous, non-empty range")
        return steps.start, len(steps)
    if isinstance(steps, int):
        return steps, 1
    t0, T = steps
    return int(t0), int(T)


def prove(run, steps=None, *, backend: str = "cpu", zk: bool = True, chain: Proof | None = None,
          check_initial_weights=None, check_dataset=None, check_witness: bool = True, threads=None,
          progress=None, public_data: bool = False, public_init: bool = False,
          prove_loss: bool = False, range: str | None = None, public_base: bool = False,
          run_seed: bytes | None = None, inherit: dict | None = None, executor: str | None = None,
          window: int | None = None, address: str | None = None):
    """Prove a window of ``run``: ``steps`` = (t0, T), a range, an int t0 (T = 1) or None
    (all steps). ``chain``: the previous window's Proof (with secrets): the new proof
    reuses its dataset and final-weight commitments and, by default, inherits the
    initial-weight and dataset range checks from it. ``backend``: "cpu" (default),
    "cuda" (an NVIDIA GPU through CuPy; where CuPy or a GPU is missing it falls back to
    "cpu" with a RuntimeWarning saying why; the proofs are identical) or
    "reference" (pure Python ints, the oracle; tiny sizes only). ``zk``: zero-knowledge
    (default); False gives the plain mode, labelled as such in the header.
    ``public_data``: commit the dataset deterministically (zero blinds) so that anyone
    holding the data can recompute the commitment (``zkdl audit --data``); a chained
    proof inherits the dataset commitment of ``chain``. ``public_init``: likewise for
    W[0] (the initialization from the config's public init_seed; t0 = 0, no chain).
    ``public_base``: likewise for a method's frozen base (``lora``); a chained proof
    reuses ``chain``'s base commitment.
    ``prove_loss``: the header states each step's loss and the proof proves it.
    ``range``: how range checks are proven, ``"bits"`` (committed bit decompositions) or
    ``"logup"`` (LogUp-GKR lookups; docs/PROTOCOL.md); default
    :data:`zkdl.circuits.builder.DEFAULT_RANGE`. A chained proof may use either.
    ``run_seed``: the secret 32-byte run seed (:mod:`zkdl.blinds`); the statement
    commitments that ``chain`` does not give get blinds derived from it, so windows
    proven with one seed chain byte for byte in whatever order they were proven (without
    a seed, and without ``chain``, they are random). ``inherit``: statement blinds to reuse
    as ``chain`` would give them ({"initial", "dataset", "frozen"}: one list per
    commitment), for a window proven without its predecessor's proof at hand.

    ``executor``: prove ``steps`` in windows of ``window`` steps (default 1) and return
    the list of chained Proofs: ``"sequential"`` (one after the other, here) or
    ``"ray"`` (one Ray task per window, on the cluster at ``address``, default a local
    Ray instance; ``pip install 'zkdl[distributed]'``; :mod:`zkdl.distributed`). Both
    derive the boundary blinds from ``run_seed`` (default a fresh one) and give the same
    statements. Without ``executor``, one Proof of the whole of ``steps``."""
    if executor is not None:
        return _prove_windows(run, steps, executor, window=window, address=address, run_seed=run_seed,
                              backend=backend, zk=zk, chain=chain, threads=threads, public_data=public_data,
                              public_init=public_init, prove_loss=prove_loss, range=range,
                              public_base=public_base, check_witness=check_witness)
    if window is not None or address is not None:
        raise ZkdlError("window= and address= go with executor= ('sequential' or 'ray')")
    from zkdl.circuits.builder import DEFAULT_RANGE, RANGE_STRATEGIES
    range = DEFAULT_RANGE if range is None else range
    if range not in RANGE_STRATEGIES:
        raise ZkdlError(f"range must be one of {', '.join(RANGE_STRATEGIES)}, got {range!r}")
    backend = resolve_backend(backend)
    from zkdl.prover.aggregate import prove_window
    t0, T = _window(run, steps)
    secrets = dict(inherit) if inherit else None
    if chain is not None:
        if chain.secrets is None:
            raise ZkdlError("chaining needs the previous proof's secrets (Proof.load(path, secrets_path))")
        prev_t0, prev_T = chain.steps
        if prev_t0 + prev_T != t0:
            raise ZkdlError(f"the previous proof ends at step {prev_t0 + prev_T}, this window starts at {t0}")
        secrets = dict(chain.secrets, initial=chain.secrets["final"])
        secrets.pop("final")
    if check_initial_weights is None:
        check_initial_weights = chain is None
    if check_dataset is None:
        check_dataset = chain is None
    if run_seed is not None and (not isinstance(run_seed, bytes) or len(run_seed) != 32):
        raise ZkdlError("run_seed must be 32 bytes (zkdl.blinds.new_seed())")
    if public_init and (chain is not None or t0 != 0 or (secrets or {}).get("initial") is not None):
        raise ZkdlError("--public-init applies to W[0]: only the first window (step 0, no chain) commits it")
    if public_init:
        from zkdl.tracer import initial_state
        init = initial_state(run.config, getattr(run, "method", "sgd_mlp"), getattr(run, "method_params", None))
        from zkdl.circuits.builder import method_class
        have = run.state(0)
        frozen = set(getattr(method_class(getattr(run, "method", "sgd_mlp")), "constant_state", ()))
        if set(have) != set(init) or any(not np.array_equal(a, b) for k in set(init) - frozen
                                         for a, b in zip(have[k], init[k])):
            raise ZkdlError("the run's W[0] is not the public initialization of its config's init_seed")
    data, secrets_out = prove_window(run, t0, T, secrets=secrets, check_initial_weights=check_initial_weights,
                                     check_dataset=check_dataset, check_witness=check_witness,
                                     threads=threads, progress=progress, backend=backend, zk=zk,
                                     public_data=public_data, public_init=public_init, prove_loss=prove_loss,
                                     public_base=public_base and chain is None,
                                     range_strategy=range, blind_seed=run_seed)
    return Proof(data, secrets_out)


def _prove_windows(run, steps, executor: str, *, window, address, run_seed, chain, **opts) -> list[Proof]:
    """``prove(..., executor=...)``: the windows of ``steps`` as a list of chained Proofs."""
    if executor not in ("sequential", "ray"):
        raise ZkdlError(f"executor must be 'sequential' or 'ray', got {executor!r}")
    window = 1 if window is None else int(window)
    if window < 1:
        raise ZkdlError("window must be at least 1 step")
    t0, T = _window(run, steps)
    if t0 < 0 or T < 1 or t0 + T > run.n_steps:
        raise ZkdlError(f"steps {t0}..{t0 + T - 1} are outside the run's {run.n_steps} steps")
    from zkdl.blinds import new_seed
    seed = run_seed if run_seed is not None else new_seed()
    bounds = [(a, min(a + window, t0 + T)) for a in range(t0, t0 + T, window)]
    if executor == "ray":
        from zkdl.distributed import WindowJob, prove_jobs
        jobs = [WindowJob.plan(a, b, prev=chain if i == 0 else None, starts_chain=(i == 0 and chain is None),
                               base=chain, anchors=opts, zk=opts["zk"]) for i, (a, b) in enumerate(bounds)]
        done = {}
        prove_jobs(run, jobs, seed, address=address, backend=opts["backend"], threads=opts["threads"],
                   on_done=lambda job, proof, info: done.__setitem__(job.t0, proof))
        return [done[a] for a, _ in bounds]
    proofs = []
    for i, (a, b) in enumerate(bounds):
        prev = chain if i == 0 else proofs[-1]
        one = dict(opts)
        one["public_init"] = bool(one["public_init"]) and a == 0 and prev is None
        one["public_base"] = bool(one["public_base"]) and prev is None
        proofs.append(prove(run, steps=(a, b - a), chain=prev, run_seed=seed, **one))
    return proofs


def verify(proof, expect_initial: str | None = None):
    """Verify a proof (bytes, a Proof, or a path); returns the Statement or raises
    VerificationError. ``expect_initial``: required initial-weights digest (chaining)."""
    from zkdl.verifier.verify import verify as _verify
    if isinstance(proof, Proof):
        proof = proof.data
    return _verify(proof, expect_initial)
