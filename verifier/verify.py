"""The standalone verifier of aggregated training proofs (zero-knowledge or plain mode).

Pure Python: imports zkdl core pieces (field, poly, transcript, sumcheck, claims,
reductions, hyrax, curve, config, schedule), the circuit IR and the schedule compiled
from it (:mod:`zkdl.verifier.compile`), never the prover, numba, CuPy or the tracer. Every failure is a
:class:`~zkdl.errors.VerificationError` subclass with a message naming the step.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from zkdl import curve
from zkdl.circuits.builder import RANGE_STRATEGIES, STATEMENT_ROLES, build_circuit
from zkdl.circuits.ir import CircuitError
from zkdl.channel import PlainChannel, ZkChannel
from zkdl.claims import verify_point_batch
from zkdl.config import TrainConfig
from zkdl.errors import ConfigError, VerificationError, ZkdlError
from zkdl.hyrax import Commitment, EvalProof, ZkEvalProof, default_col_bits, verify_eval, verify_eval_zk
from zkdl.logup import verify_fraction_tree
from zkdl.prooffile import canonical_json, unpack
from zkdl.reductions import (verify_eq_product, verify_instance_map, verify_linear, verify_matmul,
                             verify_padding_zero, verify_select)
from zkdl.schedule import batch_indices
from zkdl.transcript import Transcript
from zkdl.verifier.compile import Public, run_circuit, statement_tensors, witness_tensors
from zkdl.verifier.limits import MAX_SAMPLES, MAX_STEPS, check_window, log2ceil

PROOF_KIND = "zkdl/training-proof/v2"
METHOD = "sgd_mlp"  # the built-in training method (header.method names the proof's)


class StatementError(VerificationError):
    """The header's statement is malformed or inconsistent with the proof body."""


class ChainError(VerificationError):
    """The proof does not start from the expected initial-weight commitment."""


ProofReader = curve.Reader  # strict reader with point decoding (one reader class in zkdl)


@dataclass(frozen=True)
class Statement:
    """What a verified proof establishes."""

    config: TrainConfig
    t0: int
    T: int
    n_samples: int
    zk: bool
    dataset_digest: str
    initial_weights_digest: str
    final_weights_digest: str
    initial_weights_range_checked: bool
    dataset_range_checked: bool
    circuit_digest: str
    dataset_public: bool = False
    initial_weights_public: bool = False
    losses: tuple[int, ...] | None = None
    method: str = METHOD
    method_params: dict | None = None
    frozen_digest: str | None = None     # the frozen statement tensors (a base model), if the method has any
    frozen_public: bool = False
    outputs: dict | None = None          # the method's other public outputs, statement field -> values

    def to_dict(self) -> dict:
        """JSON form (``zkdl verify --json``, audit reports)."""
        return {
            "steps": [self.t0, self.t0 + self.T], "zk": self.zk, "method": self.method,
            "method_params": dict(self.method_params or {}),
            "config": self.config.to_dict(),
            "config_digest": self.config.digest(), "n_samples": self.n_samples,
            "dataset_digest": self.dataset_digest, "initial_weights_digest": self.initial_weights_digest,
            "final_weights_digest": self.final_weights_digest,
            "initial_weights_range_checked": self.initial_weights_range_checked,
            "dataset_range_checked": self.dataset_range_checked, "circuit_digest": self.circuit_digest,
            "dataset_public": self.dataset_public, "initial_weights_public": self.initial_weights_public,
            "losses": None if self.losses is None else list(self.losses), "loss_values": self.loss_values(),
            **({} if self.frozen_digest is None else {"frozen_digest": self.frozen_digest,
                                                      "frozen_public": self.frozen_public}),
            **({"outputs": {k: list(v) for k, v in self.outputs.items()}} if self.outputs else {}),
        }

    def loss_values(self) -> list[float] | None:
        """The proven per-step losses as the tracer reports them: 0.5 * sum(G_Z_L^2) / (B 2^(2R))."""
        if self.losses is None:
            return None
        scale = 2.0 * self.config.batch_size * float(1 << (2 * self.config.R))
        return [v / scale for v in self.losses]

    def describe(self) -> str:
        mode = "zero-knowledge" if self.zk else "PLAIN (not zero-knowledge)"
        pre = ("initial weights range-checked in this proof" if self.initial_weights_range_checked
               else "initial-weight bound inherited from a previous proof (precondition)")
        pre += ("; dataset range-checked (targets one-hot) in this proof" if self.dataset_range_checked
                else "; dataset bound inherited from a previous proof (precondition)")
        if self.dataset_public:
            pre += "; dataset commitment deterministic (public data: recompute it from the data file)"
        if self.initial_weights_public:
            pre += f"; the step-{self.t0} state commitment is deterministic (public initialization from init_seed)"
        if self.frozen_digest is not None:
            pre += (f"; frozen base {self.frozen_digest[:16]}…"
                    + (" (deterministic commitment: a public base)" if self.frozen_public else ""))
        if self.losses is not None:
            pre += "; proven loss per step: " + ", ".join(f"{v:.6g}" for v in self.loss_values())
        if self.outputs:
            from zkdl.circuits.builder import method_class
            what = getattr(method_class(self.method), "describe_outputs", None)   # the method's reading of them
            pre += "; " + (what(self) if what is not None else "; ".join(
                f"proven output {name}: {', '.join(str(v) for v in values)}" for name, values in self.outputs.items()))
        return (f"steps {self.t0}..{self.t0 + self.T - 1} of training method {self.method} on a "
                f"{len(self.config.dims()) - 1}-layer network {list(self.config.dims())}, batch {self.config.batch_size}, lr {self.config.lr_num}/2^"
                f"{self.config.lr_shift}, R={self.config.R}, Q={self.config.Q}; dataset {self.dataset_digest[:16]}…, "
                f"state at step {self.t0} {self.initial_weights_digest[:16]}… -> at step {self.t0 + self.T} "
                f"{self.final_weights_digest[:16]}…; {pre}; mode: {mode}")


def commitments_digest(coms) -> str:
    h = hashlib.sha256(b"zkdl/commitments/v1")
    for c in coms:
        h.update(c.to_bytes())
    return h.hexdigest()


def circuit_for(config: TrainConfig, T: int, n_samples: int, check_initial_weights: bool = True,
                check_dataset: bool = True, prove_loss: bool = False, method: str = METHOD,
                method_params: dict | None = None, range_strategy: str = "bits", t0: int | None = None):
    """The circuit (zkdl.circuits IR) a proof of T steps under ``config`` proves; its
    digest is in the header and the transcript, and it alone drives the proof's messages
    (:func:`zkdl.verifier.compile.run_circuit`)."""
    return build_circuit(config, steps=T, check_initial_weights=check_initial_weights,
                         check_dataset=check_dataset, n_samples=n_samples, prove_loss=prove_loss, method=method,
                         method_params=method_params, range_strategy=range_strategy, t0=t0)


def output_bound(circuit, field: str) -> int:
    """The largest value the circuit admits for the public output stated as ``field``."""
    bases = [b for b, f in circuit.options["statement"]["outputs"].items() if f == field]
    return max(t.hi for t in circuit.tensors if t.base in bases)


def statement_layout(circuit) -> dict:
    """The statement's per-instance commitments by role (``dataset``, ``initial``,
    ``final``, as the method declares them in ``circuit.options["statement"]``): lists of
    (base, layer, num_vars) in body order."""
    spec = circuit.options["statement"]
    stmt = statement_tensors(circuit)
    out = {}
    for role in STATEMENT_ROLES:
        out[role] = [(t.base, layer, t.num_vars - log2ceil(t.stack))
                     for base in spec.get(role, []) for t in stmt if t.base == base for _, layer in t.instances]
    return out


def stack_statement(circuit, parts: dict) -> dict:
    """Commitments of the circuit's statement stacks: each stacks the per-instance
    commitments of its instances (``parts[(base, layer)]``), padded with identity rows
    (the commitment of zero) to the stack's power of two."""
    out = {}
    for t in statement_tensors(circuit):
        coms = [parts[(t.base, layer)] for _, layer in t.instances]
        first = coms[0]
        coms += [Commitment(tuple([curve.identity()] * first.num_rows), first.num_vars, first.col_bits)
                 for _ in range(t.stack - len(coms))]
        out[t.name] = Commitment.stack(coms)
    return out


def public_inputs(circuit, t0: int, T: int, n_samples: int, statement: dict) -> Public:
    """The verifier's public data of a window: batch rows per step (the public schedule)
    and the public outputs the statement states (fields named by the method)."""
    cfg = circuit.config
    rows = [batch_indices(cfg.batch_seed, n_samples, cfg.batch_size, t0 + t) for t in range(T)]
    outputs = {base: list(statement[field]) for base, field in circuit.options["statement"]["outputs"].items()
               if statement.get(field) is not None}
    return Public(rows=rows, outputs=outputs)


def absorbed_header(header: dict) -> bytes:
    """The header bytes bound into the transcript: everything but ``sizes``, which holds the
    body's length (known only after the transcript) and is instead checked to be exactly the
    proof's (:func:`expected_sizes`, in :func:`parse_header`), so it admits one value."""
    return canonical_json({k: v for k, v in header.items() if k != "sizes"})


class VerifierContext:
    def __init__(self, circuit, transcript, reader: ProofReader, commitments: dict, zk: bool):
        self.circuit = circuit
        self.t = transcript
        self.r = reader
        self.coms = commitments
        self.deferred = curve.DeferredChecks()
        self.ch = ZkChannel(transcript, reader, self.deferred) if zk else PlainChannel(transcript, reader)

    def _vars(self, name) -> int:
        return self.circuit.tensor(name).num_vars

    def commit(self, name):
        n = self._vars(name)
        com = Commitment.read(self.r, n, default_col_bits(n))
        self.coms[name] = com
        self.t.absorb_bytes(b"commit/" + name.encode(), com.to_bytes())

    def challenge(self, label, n):
        return self.t.challenge_scalars(label.encode(), n)

    def send(self, label, names, point):
        return self.ch.recv(label.encode(), len(names))

    def lin(self, terms, const=0):
        return self.ch.lin(terms, const)

    def const(self, v):
        return self.ch.const(v)

    def matmul(self, label, rho, kvars, claim, left, right):
        return verify_matmul(self.ch, label.encode(), rho, kvars, claim)

    def batch(self, name, claims):
        point, value = verify_point_batch(self.ch, b"batch/" + name.encode(), self._vars(name), claims)
        return list(point), value

    def instance_map(self, label, rho, q, claim, const_weights, sources):
        return verify_instance_map(self.ch, label.encode(), rho, q, claim, const_weights,
                                   [(bits, weights) for bits, weights, _ in sources])

    def eq_product(self, label, point, claim, factors, names):
        p2, vals = verify_eq_product(self.ch, label.encode(), point, claim, factors, len(names))
        return list(p2), vals

    def select(self, label, rows_point, col_point, claim, rows, data_name, n_vars):
        return verify_select(self.ch, label.encode(), rows_point, col_point, claim, rows, n_vars)

    def padding_zero(self, label, name, tau, inst_bits, a_bits, extents):
        return verify_padding_zero(self.ch, label.encode(), tau, inst_bits, a_bits, extents)

    def equal(self, label, a, b):
        self.ch.equal(label.encode(), a, b)

    def fraction_tree(self, label, alpha, table_bits, parts, n_vars, mult, send_root):
        return verify_fraction_tree(self.ch, label.encode(), n_vars, send_root)

    def root_tree(self, label, roots, n_vars):
        return verify_fraction_tree(self.ch, label.encode(), n_vars)[:3]

    def linear(self, label, point, claim, const, terms):
        return verify_linear(self.ch, label.encode(), point, claim, const, [t[:-1] for t in terms])

    def open(self, name, point, value):
        com = self.coms[name]
        if self.ch.zk:
            proof = ZkEvalProof.read(self.r, com.col_bits)
            verify_eval_zk(self.t, [com], list(point), [value], proof)
        else:
            proof = EvalProof.read(self.r, com.col_bits)
            verify_eval(self.t, [com], list(point), [value], proof)


MAX_STEPS_PER_PROOF = MAX_STEPS  # T = statement.steps[1] - steps[0]
MAX_STEP = 1 << 63  # statement.steps[1] <= 2^63: every step number is below 2^63 (as TrainConfig.steps)


def _commitment_bytes(n_vars: int) -> int:
    return Commitment.size(n_vars, default_col_bits(n_vars))


def statement_commitment_bytes(circuit) -> int:
    """Bytes of the statement commitments (FORMAT.md 3.2): O(instances of the statement)."""
    return sum(_commitment_bytes(n) for role in statement_layout(circuit).values() for _, _, n in role)


def witness_commitment_bytes(circuit, T: int | None = None) -> int:
    """Bytes of the witness commitments (FORMAT.md 3.3 item 1). With ``T``: of the same
    circuit built for T steps, from ``circuit`` built for one (every step has the same
    stacks, so a step stack of k instances per step has k T), in O(layers): a bound the
    verifier checks before it builds the T-step circuit."""
    total = 0
    for t in witness_tensors(circuit):
        n = t.num_vars
        if T is not None and t.scope == "step":
            n += log2ceil(len(t.instances) * T) - log2ceil(t.stack)
        total += _commitment_bytes(n)
    return total


def committed_values(circuit) -> int:
    """Number of committed witness values, padding included (header ``sizes.committed_values``)."""
    return sum(t.padded_size for t in witness_tensors(circuit))


def expected_sizes(circuit, body_len: int) -> dict:
    """The header's ``sizes`` object of a proof of this circuit and body length (checked exactly)."""
    return {"body_bytes": body_len, "committed_values": committed_values(circuit)}


def parse_header(header: dict, body_len: int | None = None):
    """Check the header; return (config, circuit, statement). ``body_len``: the length of the
    proof body; when given (``verify`` always gives it), every size the header states is
    bounded by it *before* any work proportional to that size (the body must hold at least
    the statement and witness commitments the config implies), and ``sizes`` must be
    exactly the proof's."""
    if header.get("kind") != PROOF_KIND:
        raise StatementError(f"not a zkdl training proof of this version (kind {header.get('kind')!r}, "
                             f"expected {PROOF_KIND!r})")
    method = header.get("method")
    if not (isinstance(method, str) and 0 < len(method) <= 64 and method.isascii() and method.isprintable()):
        raise StatementError("header.method must name a training method (a short ASCII string)")
    params = header.get("method_params")
    if not (isinstance(params, dict) and len(params) <= 64 and all(isinstance(k, str) and len(k) <= 64
                                                                   for k in params)):
        raise StatementError("header.method_params must be an object of at most 64 named parameters")
    if type(header.get("zk")) is not bool:
        raise StatementError("header.zk must be true or false")
    range_strategy = header.get("range")
    if range_strategy not in RANGE_STRATEGIES:
        raise StatementError(f"header.range must be one of {', '.join(RANGE_STRATEGIES)}")
    st = header.get("statement")
    if not isinstance(st, dict):
        raise StatementError("header has no statement object")
    try:
        config = TrainConfig.from_dict(header.get("config"))  # bounds layers and every dimension
        steps = st.get("steps")
        if not (isinstance(steps, list) and len(steps) == 2 and all(type(x) is int for x in steps)):
            raise StatementError("statement.steps must be [first, end]")
        if not (0 <= steps[0] < steps[1] <= MAX_STEP and steps[1] - steps[0] <= MAX_STEPS_PER_PROOF):
            raise StatementError(f"statement.steps must be [t0, t0 + T] with t0 >= 0, 1 <= T <= "
                                 f"{MAX_STEPS_PER_PROOF} and t0 + T <= 2^63")
        t0, T = steps[0], steps[1] - steps[0]
        n_samples = st.get("n_samples")
        if type(n_samples) is not int or not 1 <= n_samples <= MAX_SAMPLES:
            raise StatementError(f"statement.n_samples must be an int in [1, {MAX_SAMPLES}]")
        check = st.get("initial_weights_range_checked")
        check_data = st.get("dataset_range_checked")
        flags = [check, check_data] + [st.get(k) for k in ("dataset_public", "initial_weights_public")]
        if any(type(f) is not bool for f in flags):
            raise StatementError("statement.initial_weights_range_checked / dataset_range_checked / "
                                 "dataset_public / initial_weights_public must be booleans")
        losses = st.get("losses")
        if losses is not None and not (isinstance(losses, list) and all(type(v) is int for v in losses)):
            raise StatementError("statement.losses must be a list of integers")
        check_window(config, t0, T, n_samples)  # O(1): bounds the circuit's size
        if losses is not None and len(losses) != T:
            raise StatementError(f"statement.losses has {len(losses)} values for {T} steps")
        if body_len is not None:  # the one-step circuit, O(layers), bounds the body first
            one = circuit_for(config, 1, n_samples, check, check_data, losses is not None, method, params,
                              range_strategy)
            need = statement_commitment_bytes(one)
            if need > body_len:
                raise StatementError(f"the proof body ({body_len} bytes) is shorter than the statement commitments "
                                     f"its config and n_samples imply ({need} bytes)")
            need += witness_commitment_bytes(one, T)
            if need > body_len:
                raise StatementError(f"the proof body ({body_len} bytes) is shorter than the statement and witness "
                                     f"commitments its circuit implies ({need} bytes)")
        circuit = one if body_len is not None and T == 1 and "t0" not in one.options else \
            circuit_for(config, T, n_samples, check, check_data, losses is not None, method, params,
                        range_strategy, t0)  # O(L T^2)
        if body_len is not None:
            sizes = header.get("sizes")
            want = expected_sizes(circuit, body_len)
            if not (isinstance(sizes, dict) and sizes.keys() == want.keys()
                    and all(type(sizes[k]) is int and sizes[k] == v for k, v in want.items())):
                raise StatementError(f"header.sizes must be exactly {canonical_json(want).decode()} "
                                     f"(body length and committed values of this proof)")
        digest = circuit.digest()
        if losses is not None:
            top = output_bound(circuit, "losses")
            if any(v < 0 or v > top for v in losses):
                raise StatementError(f"statement.losses: a value outside [0, {top}]")
    except (ConfigError, CircuitError, TypeError, ValueError, AttributeError) as exc:
        raise StatementError(f"invalid config or statement in the header: {exc}") from None
    if circuit.options["method_params"] != params:
        raise StatementError("header.method_params is not in the canonical form of the method's parameters "
                             "(every parameter, sorted, defaults included)")
    if header.get("circuit_digest") != digest:
        raise StatementError("circuit digest mismatch: the header's circuit is not the one its config defines")
    _check_outputs(circuit, st)
    frozen = bool(statement_layout(circuit)["frozen"])
    if frozen != ("frozen_digest" in st) or frozen != ("frozen_public" in st):
        raise StatementError("statement.frozen_digest / frozen_public must be present exactly when the method "
                             "has frozen statement tensors")
    if frozen and type(st["frozen_public"]) is not bool:
        raise StatementError("statement.frozen_public must be a boolean")
    for key in ("dataset_digest", "initial_weights_digest", "final_weights_digest") + (("frozen_digest",) if frozen else ()):
        v = st.get(key)
        if not (isinstance(v, str) and len(v) == 64):
            raise StatementError(f"statement.{key} must be a SHA-256 hex digest")
    return config, circuit, st


def method_outputs(circuit) -> dict:
    """The method's public outputs besides the proven losses: statement field -> number of
    values (one per instance of the output tensor), for the outputs this circuit has."""
    out = {}
    for base, field in circuit.options["statement"]["outputs"].items():
        n = sum(len(t.instances) for t in circuit.tensors if t.base == base and t.is_public_output)
        if field != "losses" and n:
            out[field] = n
    return out


def _check_outputs(circuit, st: dict) -> None:
    """Every public output of the circuit (besides ``losses``) is stated: a list of one
    int per instance, each within the circuit's bound; no other output field is."""
    have = method_outputs(circuit)
    for field in set(circuit.options["statement"]["outputs"].values()) - {"losses"}:
        v = st.get(field)
        if field not in have:
            if field in st:
                raise StatementError(f"statement.{field} is not an output of this circuit")
            continue
        if not (isinstance(v, list) and len(v) == have[field] and all(type(x) is int for x in v)):
            raise StatementError(f"statement.{field} must be a list of {have[field]} integers")
        top = output_bound(circuit, field)
        if any(x < 0 or x > top for x in v):
            raise StatementError(f"statement.{field}: a value outside [0, {top}]")


def read_statement_commitments(reader: ProofReader, circuit) -> dict:
    """The statement's commitments by role, read from the start of the body."""
    return {role: [(base, layer, Commitment.read(reader, n, default_col_bits(n))) for base, layer, n in entries]
            for role, entries in statement_layout(circuit).items()}


def verify(proof, expect_initial: str | None = None) -> Statement:
    """Verify proof bytes (or a path); return the proven Statement or raise VerificationError.

    ``expect_initial``: the initial-weights digest a chained proof must start from."""
    if isinstance(proof, (str,)) or hasattr(proof, "__fspath__"):
        from zkdl.errors import EncodingError
        from zkdl.prooffile import read_proof_file
        try:
            proof = read_proof_file(proof)  # a regular file within the format's size limit
        except OSError as exc:
            raise VerificationError(f"cannot read proof file {proof}: {exc.strerror or exc}") from None
        except EncodingError as exc:
            raise EncodingError(f"proof file {proof}: {exc}") from None
    try:
        return _verify_bytes(proof, expect_initial)
    except VerificationError:
        raise
    except (ZkdlError, ValueError, ArithmeticError, KeyError, IndexError, TypeError, RecursionError) as exc:
        # Anything else a malformed input can provoke is still a rejection, never a crash.
        raise VerificationError(f"malformed proof: {type(exc).__name__}: {exc}") from None


def _verify_bytes(data, expect_initial) -> Statement:
    header, body = unpack(data)
    config, circuit, st = parse_header(header, len(body))  # every stated size bounded by the body first
    t0, T, n_samples = st["steps"][0], st["steps"][1] - st["steps"][0], st["n_samples"]
    reader = ProofReader(body, "proof body")
    stmt = read_statement_commitments(reader, circuit)
    coms_of = {role: [c for _, _, c in entries] for role, entries in stmt.items()}
    for role, key, what in (("dataset", "dataset_digest", "dataset"),
                            ("frozen", "frozen_digest", "frozen state"),
                            ("initial", "initial_weights_digest", "initial state (weight)"),
                            ("final", "final_weights_digest", "final state (weight)")):
        if (coms_of[role] or key in st) and commitments_digest(coms_of[role]) != st.get(key):
            raise StatementError(f"{what} commitments do not match statement.{key}")
    if expect_initial is not None and expect_initial != st["initial_weights_digest"]:
        raise ChainError("the proof does not start from the expected initial weights")
    transcript = Transcript(PROOF_KIND.encode())
    transcript.absorb_bytes(b"header", absorbed_header(header))
    for role in STATEMENT_ROLES:
        for c in coms_of[role]:
            transcript.absorb_bytes(b"statement/commitment", c.to_bytes())
    coms = stack_statement(circuit, {(b, l): c for entries in stmt.values() for b, l, c in entries})
    ctx = VerifierContext(circuit, transcript, reader, coms, header["zk"])
    run_circuit(ctx, circuit, public_inputs(circuit, t0, T, n_samples, st))
    reader.finish()
    # batch verification of every queued Sigma-proof equation (ZK mode), with weights
    # from the transcript after the whole proof was absorbed
    ctx.deferred.verify(transcript.challenge_scalar(b"batch-verify").to_bytes(32, "little"))
    return Statement(config, t0, T, n_samples, header["zk"], st["dataset_digest"],
                     st["initial_weights_digest"], st["final_weights_digest"], st["initial_weights_range_checked"],
                     st["dataset_range_checked"], header["circuit_digest"], st["dataset_public"],
                     st["initial_weights_public"], None if st.get("losses") is None else tuple(st["losses"]),
                     circuit.method, dict(circuit.options["method_params"]), st.get("frozen_digest"),
                     st.get("frozen_public", False),
                     {f: tuple(st[f]) for f in method_outputs(circuit)} or None)
