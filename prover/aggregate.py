"""The aggregated prover: one proof for a window of T training steps (ZK or plain).

:class:`ProverContext` implements the messages of the schedule compiled from the circuit
(:func:`zkdl.verifier.compile.run_circuit`) by computing each one from the witness tables
(:func:`zkdl.circuits.check.witness`: the same mapping from trace to stacks the witness
checker uses), writing it to the proof body and absorbing it; the verifier context reads
the same messages in the same order.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np

from zkdl.blinds import derive as derive_blinds
from zkdl.encoding import Writer
from zkdl.hyrax import Commitment, default_col_bits
from zkdl.prover import hyrax
from zkdl.prover import reductions as PR
from zkdl.prover.claims import prove_point_batch
from zkdl.prover.logup import prove_fraction_tree
from zkdl.prover.backend import get_backend
from zkdl.prover.channel import PlainProverChannel, ZkProverChannel
from zkdl.verifier.compile import stack_shape


_TIMED = frozenset(["commit", "send", "matmul", "batch", "instance_map", "eq_product", "select",
                    "padding_zero", "linear", "open", "fraction_tree", "root_tree"])


class ProverContext:
    def __init__(self, circuit, transcript, writer: Writer, tables: dict, openings: dict,
                 threads=None, rng=None, progress=None, be=None, zk: bool = True):
        self.circuit = circuit
        self.t = transcript
        self.w = writer
        self.tables = tables
        self.openings = openings  # statement stacks' openings given; witness ones added by commit
        self.threads = threads
        self.be = be if be is not None else get_backend("cpu", threads)
        self.rng = rng
        self.ch = (ZkProverChannel if zk else PlainProverChannel)(transcript, writer, self.be, rng)
        self.progress = progress or (lambda *_: None)
        self._vecs: dict = {}
        self.timings: dict[str, float] = defaultdict(float)  # seconds per message kind

    def __getattribute__(self, name):
        # time every protocol step (commit, matmul, batch, ...) for the benchmark breakdown
        attr = object.__getattribute__(self, name)
        if name in _TIMED:
            timings = object.__getattribute__(self, "timings")

            def timed(*args, **kwargs):
                t = time.perf_counter()
                try:
                    return attr(*args, **kwargs)
                finally:
                    timings[name] += time.perf_counter() - t
            return timed
        return attr

    # --------------------------------------------------------------- helpers
    def vec(self, name: str):
        """The stack as a backend vector (converted once)."""
        if name not in self._vecs:
            self._vecs[name] = self.be.vec(self.tables[name].reshape(-1))
        return self._vecs[name]

    def flat(self, name: str):
        return self.tables[name].reshape(-1)

    def _operand(self, spec):
        name, fixed = spec
        out, _ = self.be.partial_evaluate(self.flat(name), stack_shape(self.circuit.tensor(name)), fixed)
        return out

    # ------------------------------------------------------------- messages
    def commit(self, name):
        self.progress("commit", name)
        n = self.circuit.tensor(name).num_vars
        com, opening = hyrax.commit(self.flat(name), default_col_bits(n), rng=self.rng, threads=self.threads,
                                    backend=getattr(self.be, "msm_backend", None))
        self.openings[name] = opening
        raw = com.to_bytes()
        self.w.raw(raw)
        self.t.absorb_bytes(b"commit/" + name.encode(), raw)

    def challenge(self, label, n):
        return self.t.challenge_scalars(label.encode(), n)

    def send(self, label, names, point):
        return self.ch.send(label.encode(), [self.be.evaluate(self.flat(n), point) for n in names])

    def lin(self, terms, const=0):
        return self.ch.lin(terms, const)

    def const(self, v):
        return self.ch.const(v)

    def matmul(self, label, rho, kvars, claim, left, right):
        self.progress("matmul", label)
        return PR.prove_matmul(self.ch, label.encode(), rho, kvars, claim, self._operand(left), self._operand(right))

    def batch(self, name, claims):
        table = self.vec(name) if len(claims) > 1 else self.flat(name)   # one claim: nothing to compute
        point, value = prove_point_batch(self.ch, b"batch/" + name.encode(), table, claims)
        return list(point), value

    def instance_map(self, label, rho, q, claim, const_weights, sources):
        return PR.prove_instance_map(self.ch, label.encode(), rho, q, claim, const_weights,
                                     [(bits, weights, self.flat(name)) for bits, weights, name in sources])

    def eq_product(self, label, point, claim, factors, names):
        self.progress("product", label)
        p2, vals = PR.prove_eq_product(self.ch, label.encode(), point, claim, factors, [self.vec(n) for n in names])
        return list(p2), vals

    def select(self, label, rows_point, col_point, claim, rows, data_name, n_vars):
        return PR.prove_select(self.ch, label.encode(), rows_point, col_point, claim, rows,
                               self.flat(data_name), n_vars)

    def padding_zero(self, label, name, tau, inst_bits, a_bits, extents):
        return PR.prove_padding_zero(self.ch, label.encode(), tau, inst_bits, a_bits, extents, self.vec(name))

    def equal(self, label, a, b):
        self.ch.equal(label.encode(), a, b)

    def fraction_tree(self, label, alpha, table_bits, parts, n_vars, mult, send_root):
        """One tree's leaves (zkdl.logup): (1, alpha - v) for each looked-up value v of
        every block in ``parts``, (-m_j, alpha - j) for the table, (0, 1) for filler; then
        its GKR layers (the root sent first with ``send_root``)."""
        self.progress("lookup", label)
        size = 1 << n_vars
        vals = np.zeros(size, dtype=np.int64)   # leaf values (alpha - value is the denominator)
        live = np.zeros(size, dtype=np.int64)   # 1 on lookup and table leaves
        nums = np.zeros(size, dtype=np.int64)   # numerators
        for blk, bits, off in parts:
            end = off + (1 << bits)
            if blk is None:
                vals[off:end] = np.arange(1 << bits, dtype=np.int64)
                nums[off:end] = -self.flat(mult).astype(np.int64)
            else:
                x = vals[off:end]
                x += blk.const
                for coef, name in blk.terms:
                    x += np.int64(coef) * self.flat(name).astype(np.int64)
                nums[off:end] = 1
            live[off:end] = 1
        be = self.be
        q = be.add(be.vec(1 - live - vals), be.scale(be.vec(live), alpha))
        del vals, live
        return prove_fraction_tree(self.ch, label.encode(), be.vec(nums), q, send_root)

    def root_tree(self, label, roots, n_vars):
        """The tree over the trees' roots (P_k, Q_k), filler (0, 1)."""
        size = 1 << n_vars
        p = [self.ch.value(rp) for rp, _ in roots] + [0] * (size - len(roots))
        q = [self.ch.value(rq) for _, rq in roots] + [1] * (size - len(roots))
        return prove_fraction_tree(self.ch, label.encode(), self.be.from_ints(p), self.be.from_ints(q))[:3]

    def linear(self, label, point, claim, const, terms):
        pterms = []
        for term in terms:
            if term[0] == "tensor":
                pterms.append(("tensor", term[1], self.flat(term[2])))
            else:
                _, coeff, kbits, nbits, name = term
                pterms.append(("bits", coeff, kbits, nbits, self.flat(name)))
        return PR.prove_linear(self.ch, label.encode(), point, claim, const, pterms)

    def open(self, name, point, value):
        self.progress("open", name)
        if self.ch.zk:
            # the linear-size proof of dot product: ~5x faster to prove than the log-size
            # one and no larger than the plain opening (2^c scalars)
            res = hyrax.prove_eval_zk(self.t, [self.openings[name]], list(point), value_blinds=[value.r],
                                      compact=False, rng=self.rng)
            self.w.raw(res.proof.to_bytes())
        else:
            values, proof = hyrax.prove_eval(self.t, [self.openings[name]], list(point))
            self.w.raw(proof.to_bytes())


def stacked_opening(parts, slots: int) -> hyrax.Opening:
    """The opening of per-instance commitments stacked on a leading axis of ``slots``
    (missing slots are zero matrices with zero blinds: identity rows)."""
    first = parts[0]
    rows, cols = first.matrix.shape
    n, c = first.commitment.num_vars, first.commitment.col_bits
    mats, blinds, coms = [], [], []
    for k in range(slots):
        if k < len(parts):
            mats.append(parts[k].matrix)
            blinds.extend(parts[k].blinds)
            coms.append(parts[k].commitment)
        else:
            mats.append(np.zeros((rows, cols), dtype=np.int64))
            blinds.extend([0] * rows)
            coms.append(Commitment(tuple(identity_rows(rows)), n, c))
    com = Commitment.stack(coms)
    return hyrax.Opening(com, np.concatenate(mats, axis=0), blinds)


def identity_rows(count: int):
    from zkdl import curve
    return [curve.identity()] * count


# ------------------------------------------------------------------- top level
class WitnessError(ValueError):
    """The run's trace does not satisfy the circuit (the prover refuses to prove it)."""

    def __init__(self, failures):
        self.failures = failures
        shown = "\n  ".join(str(f) for f in failures[:5])
        more = f"\n  ... and {len(failures) - 5} more" if len(failures) > 5 else ""
        super().__init__(f"the trace violates {len(failures)} circuit relation entries:\n  {shown}{more}")


_COMMITTED: dict = {}      # (values digest, col bits, blinds digest) -> Opening, newest last
_COMMITTED_MAX = 64


def _cached_commit(values, col_bits: int, blinds, rng, threads, msm) -> hyrax.Opening:
    """hyrax.commit of a statement tensor, remembered for this process: a chained proof's
    initial commitment is its predecessor's final one (same values, same blinds), so
    `zkdl train` and `zkdl prove` commit each state once. Fresh blinds are drawn as usual;
    the result is then stored under them."""
    import hashlib
    data = np.ascontiguousarray(values, dtype=np.int64)
    digest = hashlib.sha256(data.tobytes()).digest()

    def key_of(bl):
        return digest, col_bits, hashlib.sha256(b"".join(int(b).to_bytes(32, "little") for b in bl)).digest()
    if blinds is not None and key_of(blinds) in _COMMITTED:
        return _COMMITTED[key_of(blinds)]
    _, op = hyrax.commit(data, col_bits, blinds=blinds, rng=rng, threads=threads, backend=msm)
    _COMMITTED[key_of(op.blinds)] = op
    while len(_COMMITTED) > _COMMITTED_MAX:
        _COMMITTED.pop(next(iter(_COMMITTED)))
    return op


def _statement_openings(circuit, tables, secrets, rng, threads, msm, public: dict, seed: bytes | None = None,
                        window: tuple[int, int] = (0, 1)) -> dict:
    """Per-instance openings of the statement tensors by role (``dataset``, ``initial``,
    ``final``: lists of ((base, layer), opening) in body order), committed from the
    witness tables, so the statement commits exactly what the proof reads. Given blinds
    (``secrets[role]``: one list per commitment, as a chain passes them on) are reused; a
    role with ``public[role]`` and no blinds gets all-zero blinds (a deterministic
    commitment: public data, a public initialization); any other role gets blinds derived
    from the run ``seed`` for ``window`` (t0, T) (:mod:`zkdl.blinds`), or fresh random
    ones without a seed."""
    from zkdl.verifier.compile import statement_tensors
    from zkdl.verifier.verify import statement_layout
    index = {(t.base, layer): (t, i) for t in statement_tensors(circuit) for i, (_, layer) in enumerate(t.instances)}
    out = {}
    for role, entries in statement_layout(circuit).items():
        given = secrets.get(role)
        if given is not None and len(given) != len(entries):
            raise ValueError(f"secrets[{role!r}] has {len(given)} blinds lists, the statement {len(entries)} commitments")
        ops = []
        for k, (base, layer, n) in enumerate(entries):
            t, i = index[(base, layer)]
            rows = 1 << (n - default_col_bits(n))
            if given is not None:
                blinds = given[k]
            elif public.get(role):
                blinds = [0] * rows
            elif seed is not None:
                blinds = derive_blinds(seed, role, window[0], window[1], k, rows)
            else:
                blinds = None
            op = _cached_commit(tables[t.name][i].reshape(-1), default_col_bits(n), blinds, rng, threads, msm)
            ops.append(((base, layer), op))
        out[role] = ops
    return out


def _stacked_openings(circuit, parts) -> dict:
    from zkdl.verifier.compile import statement_tensors
    return {t.name: stacked_opening([parts[(t.base, layer)] for _, layer in t.instances], t.stack)
            for t in statement_tensors(circuit)}


def _public_outputs(circuit, tables) -> dict:
    """Values of the circuit's public outputs (e.g. the loss sums), one per instance."""
    return {t.base: [int(v) for v in tables[t.name][:len(t.instances), 0]]
            for t in circuit.tensors if t.is_public_output}


def prove_window(run, t0: int, T: int, *, secrets: dict | None = None, check_initial_weights: bool = True,
                 check_dataset: bool = True, check_witness: bool = True, threads=None, rng=None,
                 progress=None, config=None, tamper=None, timings: dict | None = None,
                 backend: str = "cpu", zk: bool = True, public_data: bool = False,
                 public_init: bool = False, prove_loss: bool = False,
                 range_strategy: str | None = None, public_base: bool = False,
                 blind_seed: bytes | None = None) -> tuple[bytes, dict]:
    """Prove steps t0..t0+T-1 of ``run``. Returns (proof file bytes, secrets)
    where ``secrets`` holds the blinds of the statement commitments that a chained next
    proof must reuse ({"dataset", "initial", "final"}, and "frozen" for a method with a
    frozen base: per role, one list of row blinds
    per commitment, in the statement's order); pass the previous proof's secrets with
    "initial" set to its "final" to chain.

    ``blind_seed``: the secret run seed (32 bytes, :mod:`zkdl.blinds`): the statement
    commitments not given in ``secrets`` (and not public) get blinds derived from it, so
    that the final commitments of this window equal the initial ones of the next window
    proven with the same seed, whatever the order in which they are proven; without it
    they get fresh random blinds.
    ``timings``: a dict that receives seconds spent per protocol message kind.
    ``backend``: "cpu" (numba vectors) or "reference" (Python ints; tiny sizes only).
    ``zk``: zero-knowledge proof (default); False gives the plain mode (labelled in
    the header), for debugging and speed comparisons.
    ``public_data``: commit the dataset with zero blinds (a deterministic commitment anyone
    holding the data recomputes); ``public_init``: likewise for W[0] (t0 = 0 only; the
    weights are then the public initialization from the config's init_seed);
    ``public_base``: likewise for a method's frozen tensors (a published base model; a
    chained proof reuses the given blinds). The statement flags say whether the dataset /
    W[t0] / frozen commitments have all-zero blinds.
    ``prove_loss``: state each step's loss sum (sum of squared output errors) and prove it.
    ``range_strategy``: how range checks are proven, ``"bits"`` (committed bit
    decompositions) or ``"logup"`` (LogUp-GKR lookups of 16-bit limbs); default
    :data:`zkdl.circuits.builder.DEFAULT_RANGE`; the header says which.

    Soundness-test hooks (never used by the CLI): ``config`` states a config other than
    the run's; ``tamper(stage, obj)`` may modify the step traces (stage "trace", a list),
    the witness tables by circuit tensor name (stage "tables", statement tensors included:
    their commitments are made from these tables) before anything is committed, or the
    stated public outputs (stage "outputs", e.g. ``obj["loss"]``). The prover does not
    re-check relations while proving, so a tampered witness yields a proof the verifier
    rejects."""
    from zkdl import __version__
    from zkdl.circuits.check import witness
    from zkdl.prooffile import pack
    from zkdl.transcript import Transcript
    from zkdl.verifier.compile import run_circuit
    from zkdl.verifier.limits import check_window
    from zkdl.verifier.verify import (PROOF_KIND, absorbed_header, circuit_for, commitments_digest,
                                      expected_sizes, public_inputs)

    from zkdl.circuits.builder import DEFAULT_RANGE, RANGE_STRATEGIES, STATEMENT_ROLES
    range_strategy = DEFAULT_RANGE if range_strategy is None else range_strategy
    if range_strategy not in RANGE_STRATEGIES:
        raise ValueError(f"range strategy must be one of {', '.join(RANGE_STRATEGIES)}, got {range_strategy!r}")
    be = get_backend(backend, threads)
    config = config or run.config
    if t0 < 0 or T < 1 or t0 + T > run.n_steps:
        raise ValueError(f"window {t0}..{t0 + T - 1} is outside the run's {run.n_steps} steps")
    if public_init and (t0 != 0 or (secrets and secrets.get("initial") is not None)):
        raise ValueError("a public initialization is W[0]: only a window starting at step 0 of a new chain "
                         "can commit it deterministically")
    n_samples = int(run.data.n_samples)
    check_window(config, t0, T, n_samples)
    circuit = circuit_for(config, T, n_samples, check_initial_weights, check_dataset, prove_loss,
                          getattr(run, "method", "sgd_mlp"), getattr(run, "method_params", None), range_strategy, t0)
    report = progress or (lambda *_: None)
    started = {}     # seconds of the steps outside the schedule, for ``timings``
    clock = time.perf_counter()
    if check_witness:
        from zkdl.circuits.check import check_witness as check
        report("check", f"witness of steps {t0}..{t0 + T - 1}")
        failures = check(circuit, run, steps=(t0, T))
        if failures:
            raise WitnessError(failures)
    started["witness_check"] = time.perf_counter() - clock
    secrets = dict(secrets or {})
    report("witness", f"steps {t0}..{t0 + T - 1}")
    traces = run.window(t0, T)
    if tamper:
        import copy
        traces = copy.deepcopy(traces)
        tamper("trace", traces)
    needed = {t.name for t in circuit.tensors if t.kind != "public" or t.is_public_output}
    tables = witness(circuit, run, t0, names=needed, traces=traces)
    if tamper:
        tamper("tables", tables)

    report("commit", "statement")
    msm = getattr(be, "msm_backend", None)  # the GPU's MSM for row commitments (cuda backend)
    clock = time.perf_counter()
    stmt = _statement_openings(circuit, tables, secrets, rng, threads, msm,
                               {"dataset": public_data, "initial": public_init, "frozen": public_base},
                               blind_seed, (t0, T))
    started["commit_statement"] = time.perf_counter() - clock
    ops = {role: [op for _, op in entries] for role, entries in stmt.items()}
    outputs = _public_outputs(circuit, tables)
    if tamper:
        tamper("outputs", outputs)
    fields = circuit.options["statement"]["outputs"]

    def public_blinds(role):
        return not any(b for op in ops[role] for b in op.blinds)
    header = {
        "kind": PROOF_KIND,
        "method": circuit.method,
        "method_params": circuit.options["method_params"],
        "zkdl_version": __version__,
        "zk": bool(zk),
        "range": range_strategy,
        "config": config.to_dict(),
        "circuit_digest": circuit.digest(),
        "statement": {
            "steps": [t0, t0 + T],
            "n_samples": n_samples,
            "initial_weights_range_checked": bool(check_initial_weights),
            "dataset_range_checked": bool(check_dataset),
            "dataset_public": public_blinds("dataset"),
            "initial_weights_public": public_blinds("initial"),
            "dataset_digest": commitments_digest([op.commitment for op in ops["dataset"]]),
            "initial_weights_digest": commitments_digest([op.commitment for op in ops["initial"]]),
            "final_weights_digest": commitments_digest([op.commitment for op in ops["final"]]),
        },
    }
    if ops["frozen"]:
        header["statement"]["frozen_digest"] = commitments_digest([op.commitment for op in ops["frozen"]])
        header["statement"]["frozen_public"] = public_blinds("frozen")
    elif public_base:
        raise ValueError(f"training method {circuit.method!r} has no frozen base to make public")
    for base, values in outputs.items():
        header["statement"][fields[base]] = values
    transcript = Transcript(PROOF_KIND.encode())
    transcript.absorb_bytes(b"header", absorbed_header(header))
    writer = Writer()
    for role in STATEMENT_ROLES:
        for op in ops[role]:
            raw = op.commitment.to_bytes()
            writer.raw(raw)
            transcript.absorb_bytes(b"statement/commitment", raw)
    openings = _stacked_openings(circuit, {key: op for entries in stmt.values() for key, op in entries})
    ctx = ProverContext(circuit, transcript, writer, tables, openings, threads, rng, report, be, zk)
    run_circuit(ctx, circuit, public_inputs(circuit, t0, T, n_samples, header["statement"]))
    if timings is not None:
        timings.update(ctx.timings)
        timings.update(started)
    body = writer.getvalue()
    header["sizes"] = expected_sizes(circuit, len(body))  # checked exactly by the verifier (one encoding)
    out_secrets = {role: [op.blinds for op in ops[role]] for role in STATEMENT_ROLES if ops[role] or role != "frozen"}
    return pack(header, body), out_secrets
