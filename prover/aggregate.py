"""The aggregated prover: one proof for a window of T training steps (ZK or plain).

:class:`ProverContext` implements the message steps of :func:`zkdl.verifier.flow.run_protocol`
by computing each message from the integer tables of :mod:`zkdl.prover.witness`,
writing it to the proof body and absorbing it; the verifier context reads the
same messages in the same order.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np

from zkdl.encoding import Writer
from zkdl.hyrax import Commitment, default_col_bits
from zkdl.prover import hyrax
from zkdl.prover import reductions as PR
from zkdl.prover.claims import prove_point_batch
from zkdl.prover.backend import get_backend
from zkdl.prover.channel import PlainProverChannel, ZkProverChannel
from zkdl.verifier.flow import num_vars, stack_shape


_TIMED = frozenset(["commit", "send", "matmul", "batch", "instance_map", "eq_product", "select",
                    "padding_zero", "linear", "open"])


class ProverContext:
    def __init__(self, plan, transcript, writer: Writer, tables: dict, openings: dict,
                 threads=None, rng=None, progress=None, be=None, zk: bool = True):
        self.plan = plan
        self.t = transcript
        self.w = writer
        self.tables = tables
        self.openings = openings  # statement openings (W0/F, Wf/F, X, Y) given; witness ones added
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
        out, _ = self.be.partial_evaluate(self.flat(name), stack_shape(self.plan, name), fixed)
        return out

    # ------------------------------------------------------------- messages
    def commit(self, name, shape):
        self.progress("commit", name)
        n = num_vars(self.plan, name)
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
        point, value = prove_point_batch(self.ch, b"batch/" + name.encode(), self.vec(name), claims)
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


def stacked_opening(parts, plan_lp: int) -> hyrax.Opening:
    """The opening of per-layer commitments stacked on a leading axis of plan_lp slots
    (missing slots are zero matrices with zero blinds: identity rows)."""
    first = parts[0]
    rows, cols = first.matrix.shape
    n, c = first.commitment.num_vars, first.commitment.col_bits
    mats, blinds, coms = [], [], []
    for k in range(plan_lp):
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
def _commit_padded(arr: np.ndarray, shape, blinds, rng, threads, public: bool = False, msm=None):
    """Commit ``arr`` zero-padded to ``shape`` (with given blinds, for reproducible
    statement commitments across chained proofs; ``public`` and no blinds given: all
    blinds zero, a deterministic commitment)."""
    from zkdl.hyrax import default_col_bits as dcb
    full = np.zeros(shape, dtype=np.int64)
    full[tuple(slice(0, s) for s in arr.shape)] = arr
    n = sum(s.bit_length() - 1 for s in shape)
    if public and blinds is None:
        blinds = [0] * (1 << (n - dcb(n)))
    return hyrax.commit(full.reshape(-1), dcb(n), blinds=blinds, rng=rng, threads=threads, backend=msm)


class WitnessError(ValueError):
    """The run's trace does not satisfy the circuit (the prover refuses to prove it)."""

    def __init__(self, failures):
        self.failures = failures
        shown = "\n  ".join(str(f) for f in failures[:5])
        more = f"\n  ... and {len(failures) - 5} more" if len(failures) > 5 else ""
        super().__init__(f"the trace violates {len(failures)} circuit relation entries:\n  {shown}{more}")


def prove_window(run, t0: int, T: int, *, secrets: dict | None = None, check_initial_weights: bool = True,
                 check_dataset: bool = True, check_witness: bool = True, threads=None, rng=None,
                 progress=None, config=None, tamper=None, timings: dict | None = None,
                 backend: str = "cpu", zk: bool = True, public_data: bool = False,
                 public_init: bool = False, prove_loss: bool = False) -> tuple[bytes, dict]:
    """Prove steps t0..t0+T-1 of ``run``. Returns (proof file bytes, secrets)
    where ``secrets`` holds the blinds of the dataset and weight commitments that a
    chained next proof must reuse ({"X", "Y", "W0", "Wf"}); pass the previous proof's
    secrets with "W0" set to its "Wf" to chain.

    ``timings``: a dict that receives seconds spent per protocol message kind.
    ``backend``: "cpu" (numba vectors) or "reference" (Python ints; tiny sizes only).
    ``zk``: zero-knowledge proof (default); False gives the plain mode (labelled in
    the header), for debugging and speed comparisons.
    ``public_data``: commit the dataset with zero blinds (a deterministic commitment anyone
    holding the data recomputes); ``public_init``: likewise for W[0] (t0 = 0 only; the
    weights are then the public initialization from the config's init_seed). The
    statement flags say whether the dataset / W[t0] commitments have all-zero blinds.
    ``prove_loss``: state each step's loss sum (sum of squared output errors) and prove it.

    Soundness-test hooks (never used by the CLI): ``config`` states a config other than
    the run's; ``tamper(stage, obj)`` may replace the dataset arrays before they are committed
    (stage "dataset", a list [X, Y*2^R]), modify the step traces (stage "trace"), the
    tables (stage "tables") before they are committed, or the stated loss sums (stage
    "losses", a list). The prover does not re-check
    relations while proving, so a tampered witness yields a proof the verifier rejects."""
    import hashlib

    from zkdl import __version__
    from zkdl.prooffile import canonical_json, pack
    from zkdl.schedule import batch_indices
    from zkdl.transcript import Transcript
    from zkdl.verifier.flow import run_protocol
    from zkdl.verifier.plan import make_plan
    from zkdl.verifier.verify import PROOF_KIND, absorbed_header, circuit_for, commitments_digest
    from zkdl.prover.witness import build_tables

    be = get_backend(backend, threads)
    data = run.data
    config = config or run.config
    if t0 < 0 or T < 1 or t0 + T > run.n_steps:
        raise ValueError(f"window {t0}..{t0 + T - 1} is outside the run's {run.n_steps} steps")
    if public_init and (t0 != 0 or (secrets and secrets.get("W0") is not None)):
        raise ValueError("a public initialization is W[0]: only a window starting at step 0 of a new chain "
                         "can commit it deterministically")
    plan = make_plan(config, t0, T, int(data.X.shape[0]), check_initial_weights, check_dataset, prove_loss)
    circuit = circuit_for(plan, config)
    report = progress or (lambda *_: None)
    if check_witness:
        from zkdl.circuits.check import check_witness as check
        report("check", f"witness of steps {t0}..{t0 + T - 1}")
        failures = check(circuit, run, steps=(t0, T))
        if failures:
            raise WitnessError(failures)
    secrets = dict(secrets or {})
    from zkdl.anchors import dataset_arrays
    X, Yd = dataset_arrays(config, data)
    if tamper:
        dataset = [X.copy(), Yd.copy()]
        tamper("dataset", dataset)   # may replace either array, e.g. by one with extra rows
        X, Yd = dataset
    W0 = [np.asarray(w, dtype=np.int64) for w in run.weights(t0)]
    Wf = [np.asarray(w, dtype=np.int64) for w in run.weights(t0 + T)]
    report("witness", f"steps {t0}..{t0 + T - 1}")
    steps = run.window(t0, T)
    if tamper:
        import copy
        steps = copy.deepcopy(steps)
        tamper("trace", steps)
    tables = build_tables(plan, steps, X, Yd, W0, Wf)
    if tamper:
        tamper("tables", tables)

    report("commit", "statement")
    pd = plan.pdims
    npad = 1 << plan.nbits_log
    msm = getattr(be, "msm_backend", None)  # the GPU's MSM for row commitments (cuda backend)
    xcom, xop = _commit_padded(X, (npad, pd[0]), secrets.get("X"), rng, threads, public_data, msm)
    ycom, yop = _commit_padded(Yd, (npad, pd[-1]), secrets.get("Y"), rng, threads, public_data, msm)
    w0_ops, wf_ops = [], []
    for ops, ws, key in ((w0_ops, W0, "W0"), (wf_ops, Wf, "Wf")):
        given = secrets.get(key)
        for layer, w in enumerate(ws, start=1):
            _, op = _commit_padded(w, (pd[layer - 1], pd[layer]), given[layer - 1] if given else None, rng, threads,
                                   public_init and key == "W0", msm)
            ops.append(op)
    losses = None
    if prove_loss:
        g = tables[f"GZ/{plan.families[-1].index}"].astype(object)
        losses = [int(np.sum(g[t] * g[t])) for t in range(T)]
        if tamper:
            tamper("losses", losses)
    header = {
        "kind": PROOF_KIND,
        "zkdl_version": __version__,
        "zk": bool(zk),
        "config": config.to_dict(),
        "plan": plan.to_dict(),
        "circuit_digest": circuit.digest(),
        "statement": {
            "steps": [t0, t0 + T],
            "n_samples": plan.n_samples,
            "initial_weights_range_checked": bool(check_initial_weights),
            "dataset_range_checked": bool(check_dataset),
            "dataset_public": not any(xop.blinds) and not any(yop.blinds),
            "initial_weights_public": not any(b for o in w0_ops for b in o.blinds),
            "dataset_digest": commitments_digest([xcom, ycom]),
            "initial_weights_digest": commitments_digest([o.commitment for o in w0_ops]),
            "final_weights_digest": commitments_digest([o.commitment for o in wf_ops]),
        },
    }
    if losses is not None:
        header["statement"]["losses"] = losses
    transcript = Transcript(PROOF_KIND.encode())
    transcript.absorb_bytes(b"header", absorbed_header(header))
    writer = Writer()
    for op in [xop, yop, *w0_ops, *wf_ops]:
        raw = op.commitment.to_bytes()
        writer.raw(raw)
        transcript.absorb_bytes(b"statement/commitment", raw)
    openings = {"X": xop, "Y": yop}
    for fam in plan.families:
        openings[f"W0/{fam.index}"] = stacked_opening([w0_ops[l - 1] for l in fam.layers], fam.Lp)
        openings[f"Wf/{fam.index}"] = stacked_opening([wf_ops[l - 1] for l in fam.layers], fam.Lp)
    ctx = ProverContext(plan, transcript, writer, tables, openings, threads, rng, report, be, zk)

    def schedule(step):
        return batch_indices(config.batch_seed, plan.n_samples, config.batch_size, step)

    run_protocol(ctx, plan, schedule, losses)
    if timings is not None:
        timings.update(ctx.timings)
    body = writer.getvalue()
    from zkdl.verifier.verify import expected_sizes
    header["sizes"] = expected_sizes(plan, len(body))  # checked exactly by the verifier (one encoding)
    out_secrets = {"X": xop.blinds, "Y": yop.blinds, "W0": [o.blinds for o in w0_ops],
                   "Wf": [o.blinds for o in wf_ops]}
    del hashlib, canonical_json
    return pack(header, body), out_secrets
