"""The proof schedule compiled from a circuit, walked once by prover and verifier.

What a proof proves is exactly the circuit IR (:mod:`zkdl.circuits.ir`) whose digest it
carries. :func:`run_circuit` derives the order of every message from the IR, GKR style,
and plays it against a *context*: the prover's (:mod:`zkdl.prover.aggregate`) computes
and writes each message, the verifier's (:mod:`zkdl.verifier.verify`) reads and checks
it. Both return the same claims, so the two sides cannot drift apart.

Schedule (docs/PROTOCOL.md describes each rule):

1. **commit** every witness stack (committed tensors that are not statement inputs or
   outputs: bit decompositions, sign bits; under ``logup`` the range-checked values, their
   upper limbs and the tables' multiplicities), in IR order; then, under ``logup``, the
   **lookups**: one challenge alpha and one tree of fractions per table width
   (:func:`zkdl.verifier.lookups.run_lookups`), ending in claims on the looked-up tensors;
2. **roots**, in IR order: relations that constrain rather than define -- ``matmul``
   (random point on the outputs, their values, a stacked matmul sumcheck), ``linear`` /
   ``chain`` whose output is committed (e.g. W_final = W[t0] - sum dW), ``sum_squares``
   (a public output such as the proven loss), ``padding`` and ``row_sum``;
3. **derived tensors**, each after every tensor whose definition reads it (reverse
   topological order of the definition graph): its claims reduced through the one
   relation that defines it -- each claim on its own for ``linear``/``chain`` (by
   linearity, or an instance map built from the operands' ``src`` tables: a few values,
   cheaper than batching), batched to one point first for ``hadamard`` (eq-product
   sumcheck), ``data`` (selection sumcheck), ``range`` (recomposition from the bits) and
   ``matmul`` (a remainder under ``logup``: the matmul sumcheck at the claims' point);
4. **range checks of committed values** (e.g. W[t0], the dataset features): claims
   batched, then recomposed from the bits; **booleanity** of every bit and sign stack,
   merged with its claims;
5. **openings**: per committed stack, its claims batched to one point and one Hyrax
   evaluation proof.

Transcript labels are the IR's relation and tensor names. One rule per relation kind
(:data:`ROOT_RULES`, :data:`DEFINING_RULES`); each is written once against the context.

Padding: committed bit stacks hold the bits of ``value + offset`` over the full padded
domain (so padded values are 0 in an honest witness); booleanity and recomposition hold
everywhere. Zero padding of the statement tensors is proven (``padding``); that of derived
values follows from the relations (see docs/PROTOCOL.md, "Padding").
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from zkdl.circuits.ir import Circuit, Relation, Tensor, log2
from zkdl.errors import ZkdlError
from zkdl.field import P, inv
from zkdl.poly import eq_table, prefix_mle

__all__ = ["ProtocolBug", "Claims", "Public", "run_circuit", "stack_shape", "witness_tensors",
           "statement_tensors", "committed_tensors", "derived_order"]

HALF = inv(2)


class ProtocolBug(ZkdlError):
    """A circuit the compiler cannot schedule, or an internal inconsistency (never caused
    by a proof's bytes: circuits come from the config, never from the proof)."""


@dataclass
class Public:
    """What the verifier knows besides the commitments: the batch rows of every window
    step (``rows[t]``) and the values of public outputs by base name (``outputs["loss"]``,
    one per instance)."""

    rows: list
    outputs: dict = field(default_factory=dict)


class Claims:
    """Pending evaluation claims per stack name, in insertion order."""

    def __init__(self):
        self._claims: dict[str, list] = {}

    def add(self, name: str, point, value) -> None:
        self._claims.setdefault(name, []).append((tuple(point), value))

    def pop(self, name: str) -> list:
        return self._claims.pop(name, [])

    def names(self) -> list[str]:
        return list(self._claims)


# ----------------------------------------------------------------------------- shapes
def stack_shape(t: Tensor) -> tuple[int, ...]:
    """Padded stacked shape (stack, *padded) of a tensor of a circuit with known sizes."""
    if any(p is None for p in t.padded):
        raise ProtocolBug(f"tensor {t.name} has an unknown size (build the circuit with n_samples)")
    return (t.stack, *t.padded)


def _inst_bits(t: Tensor) -> int:
    return log2(t.stack)


def statement_tensors(c: Circuit) -> list[Tensor]:
    """Committed tensors the statement gives (initial weights, dataset, final weights)."""
    return [t for t in c.tensors if t.kind == "committed" and t.scope == "statement" and t.bit_of is None]


def witness_tensors(c: Circuit) -> list[Tensor]:
    """Committed tensors the proof commits itself, in commitment order."""
    stmt = {t.name for t in statement_tensors(c)}
    return [t for t in c.tensors if t.kind == "committed" and t.name not in stmt]


def committed_tensors(c: Circuit) -> list[Tensor]:
    """Every committed tensor in opening order: witness first, then the statement's."""
    return witness_tensors(c) + statement_tensors(c)


def _is_identity(r: Relation, op, t: Tensor, like: Tensor | None = None) -> bool:
    """Operand ``op`` (tensor t) maps relation instance i to instance i of t (and, with
    ``like``, t has like's stacked padded shape, so element-wise reads are the same point)."""
    return (len(op.src) == len(t.instances) == len(r.instances)
            and all(s == (i,) for i, s in enumerate(op.src))
            and (like is None or stack_shape(t) == stack_shape(like)))


def _identity(c: Circuit, r: Relation, role: str, like: Tensor | None = None):
    """The operand(s) with ``role``, which must map relation instance i to instance i
    (and, with ``like``, have like's stacked padded shape: element-wise operands)."""
    ops = r.operands_with(role)
    for op in ops:
        if not _is_identity(r, op, c.tensor(op.tensor), like):
            raise ProtocolBug(f"relation {r.name}: operand {role} ({op.tensor}) must be read instance by "
                              f"instance{' in the layout of ' + like.name if like else ''} (gather it first)")
    return ops


def _defining(c: Circuit, t: Tensor) -> Relation:
    if len(t.defined_by) != 1:
        raise ProtocolBug(f"derived tensor {t.name} must be defined by exactly one relation family, "
                          f"not {list(t.defined_by)}")
    return c.relation(t.defined_by[0])


def derived_order(c: Circuit) -> list[str]:
    """Derived tensors, each before every tensor its definition reads (so that all of its
    claims exist when it is reduced); ties in IR order."""
    derived = [t.name for t in c.tensors if t.kind in ("derived_linear", "derived_product")]
    is_derived = set(derived)
    reads = {n: [o.tensor for o in _defining(c, c.tensor(n)).operands
                 if o.tensor != n and o.tensor in is_derived] for n in derived}
    users = {n: 0 for n in derived}
    for n in derived:
        for m in set(reads[n]):
            users[m] += 1
    pos = {n: i for i, n in enumerate(derived)}
    order, ready = [], [n for n in derived if users[n] == 0]
    while ready:
        n = ready.pop(0)
        order.append(n)
        for m in dict.fromkeys(reads[n]):
            users[m] -= 1
            if users[m] == 0:
                ready.append(m)
        ready.sort(key=pos.__getitem__)
    if len(order) != len(derived):
        raise ProtocolBug("the definitions of derived tensors form a cycle")
    return order


# ----------------------------------------------------------------------------- rules
def _fresh_claim(ctx, label: str, t: Tensor):
    """A random point on tensor ``t`` and its value there (sent by the prover)."""
    rho = ctx.challenge(f"{label}/rho", _inst_bits(t))
    q = ctx.challenge(f"{label}/q", t.num_vars - _inst_bits(t))
    point = list(rho) + list(q)
    (v,) = ctx.send(f"{label}/value", [t.name], point)
    return point, v


def _defines(c: Circuit, r: Relation) -> bool:
    """Relation r defines a derived tensor (it is reduced with the derived tensors)."""
    return any(r.name in c.tensor(o.tensor).defined_by for o in r.operands)


def _matmul(ctx, c: Circuit, r: Relation, claims: Claims, public) -> None:
    """coef op(left) @ op(right) = sum_i c_i out_i, batched over the instances, every
    output committed or defined elsewhere: a random point (rho, rows, cols) on the
    outputs, then :func:`_matmul_at`. (A matmul that defines its remainder, under the
    ``logup`` strategy, is reduced with the derived tensors instead.)"""
    if _defines(c, r):
        return
    ot = c.tensor(_identity(c, r, "out")[0].tensor)
    ib = _inst_bits(ot)
    rows, cols = (log2(p) for p in ot.padded)
    rho = list(ctx.challenge(f"{r.name}/rho", ib))
    rr = list(ctx.challenge(f"{r.name}/rows", rows))
    rc = list(ctx.challenge(f"{r.name}/cols", cols))
    _matmul_at(ctx, c, r, rho + rr + rc, {}, claims)


def _define_matmul(ctx, c, r, name, point, value, claims, public) -> None:
    """A matmul defining its output ``name`` (a remainder under ``logup``): its claims,
    batched to one point, are the outputs' point of :func:`_matmul_at`."""
    _matmul_at(ctx, c, r, point, {name: value}, claims)


def _matmul_at(ctx, c: Circuit, r: Relation, point, known: dict, claims: Claims) -> None:
    """The outputs' values at point = (rho, rows, cols) (those not ``known`` sent by the
    prover), then one sumcheck over (instance, contraction) of
    eq(rho, i) Left'(i, k) Right'(i, k) for sum_i c_i out_i(point) / coef."""
    (left,), (right,) = _identity(c, r, "left"), _identity(c, r, "right")
    outs = _identity(c, r, "out")
    ot = c.tensor(outs[0].tensor)
    if any(stack_shape(c.tensor(o.tensor)) != stack_shape(ot) for o in outs):
        raise ProtocolBug(f"relation {r.name}: the outputs must share one layout")
    ib = _inst_bits(ot)
    rows = log2(ot.padded[0])
    rho, rr, rc = list(point[:ib]), list(point[ib:ib + rows]), list(point[ib + rows:])
    sent = [o.tensor for o in outs if o.tensor not in known]
    vals = dict(zip(sent, ctx.send(f"{r.name}/out", sent, point) if sent else []))
    for name in sent:
        claims.add(name, point, vals[name])
    vals.update(known)
    a_inv = inv(left.coef % P)
    claim = ctx.lin([(o.coef * a_inv % P, vals[o.tensor]) for o in outs])
    lt = c.tensor(left.tensor)
    kdim = lt.padded[0] if left.transpose else lt.padded[1]
    lspec = (left.tensor, {2: rr} if left.transpose else {1: rr})
    rspec = (right.tensor, {1: rc} if right.transpose else {2: rc})
    r2, k2, lv, rv = ctx.matmul(r.name, rho, log2(kdim), claim, lspec, rspec)
    r2, k2 = list(r2), list(k2)
    claims.add(left.tensor, r2 + k2 + rr if left.transpose else r2 + rr + k2, lv)
    claims.add(right.tensor, r2 + rc + k2 if right.transpose else r2 + k2 + rc, rv)


def _reduce_linear(ctx, c: Circuit, r: Relation, point, value, claims: Claims, label: str | None = None) -> None:
    """out = sum_i c_i term_i. Terms read instance by instance: one value each at the
    claim's point (a single term c term: the claim itself, divided by c, no message). Otherwise (gathers, the weight chain) an instance map: out[i] =
    sum_terms c sum_{j in src[i]} term[j], one value per source instance."""
    label = label or r.name
    out = _identity(c, r, "out")[0]
    terms = r.operands_with("term")
    ot = c.tensor(out.tensor)
    const = r.params.get("const", 0) % P
    table = r.params.get("table")
    if all(_is_identity(r, o, c.tensor(o.tensor), ot) for o in terms):
        if len(terms) == 1 and not const and table is None:   # out = c term, same layout: no message
            o = terms[0]
            claims.add(o.tensor, point, value if o.coef == 1 else ctx.lin([(inv(o.coef % P), value)]))
            return
        box = const * box_indicator(ot, point) % P if const else 0
        if table is not None:
            box = (box + table_mle(ot, table, point)) % P
        res = ctx.linear(label, point, value, box, [("tensor", o.coef % P, o.tensor) for o in terms])
        for o, (pt, v) in zip(terms, res):
            claims.add(o.tensor, pt, v)
        return
    if const or table is not None:
        raise ProtocolBug(f"relation {r.name}: a constant needs terms read instance by instance")
    ib = _inst_bits(ot)
    sources = []
    for o in terms:
        weights: dict = {}
        for i, src in enumerate(o.src):
            for j in src:
                weights[(i, j)] = (weights.get((i, j), 0) + o.coef) % P
        sources.append((_inst_bits(c.tensor(o.tensor)), weights, o.tensor))
    res = ctx.instance_map(label, list(point[:ib]), list(point[ib:]), value, {}, sources)
    for (pt, v), (_, _, name) in zip(res, sources):
        claims.add(name, pt, v)


def box_indicator(t: Tensor, point) -> int:
    """The multilinear extension, at ``point`` (instance bits, then each axis's bits), of
    the indicator of t's logical box over its real instances: the public term of a
    linear relation's ``const`` and of a ``broadcast``."""
    ib = _inst_bits(t)
    return sum(eq_table(list(point[:ib]))[:len(t.instances)]) * _entry_box(t, point[ib:]) % P


def table_mle(t: Tensor, table, point) -> int:
    """The multilinear extension, at ``point``, of a public per-instance ``table`` (one int
    per entry of t's logical box, row-major) on every real instance of t, 0 in the
    padding: sum_i eq(rho, i) * sum_e eq(q, e) table[e]. O(padded entries of one instance);
    the builder bounds the table (``MAX_TABLE``)."""
    ib = _inst_bits(t)
    inst = sum(eq_table(list(point[:ib]))[:len(t.instances)]) % P
    if any(s is None for s in t.shape):
        raise ProtocolBug(f"tensor {t.name}: a table on a box of unknown size")
    weights = eq_table(list(point[ib:]))
    strides, acc = [], 1
    for pad in reversed(t.padded):
        strides.append(acc)
        acc *= pad
    strides.reverse()
    total = 0
    for v, e in zip(table, itertools.product(*(range(s) for s in t.shape))):   # the box, row-major
        if v:
            total += v * weights[sum(i * s for i, s in zip(e, strides))]
    return inst * (total % P) % P


def _entry_box(t: Tensor, q) -> int:
    """The indicator of t's logical box within one instance, extended at q (axis bits)."""
    v, at = 1, 0
    for s, pad in zip(t.shape, t.padded):
        if s is None:
            raise ProtocolBug(f"tensor {t.name}: a box of unknown size")
        v = v * prefix_mle(s, q[at:at + log2(pad)]) % P
        at += log2(pad)
    return v


def _committed_linear(ctx, c: Circuit, r: Relation, claims: Claims, public) -> None:
    """A linear relation whose output is committed (a statement output): a random point
    on the output, its value, then the reduction of :func:`_reduce_linear`."""
    ot = c.tensor(_identity(c, r, "out")[0].tensor)
    if ot.kind != "committed" and not r.params.get("check"):
        return   # a definition: reduced with the derived tensors
    point, v = _fresh_claim(ctx, r.name, ot)
    claims.add(ot.name, point, v)
    _reduce_linear(ctx, c, r, point, v, claims)


def _sum_squares(ctx, c: Circuit, r: Relation, claims: Claims, public) -> None:
    """Public out[i] = sum over instance i's entries of x^2. With rho random over the
    instance bits and every other coordinate 1/2 (eq(1/2, x) = 2^-n on {0,1}^n):

        sum_{i,x} eq((rho, 1/2..), (i, x)) x(i, x)^2 = 2^-n sum_i eq(rho, i) out[i],

    one degree-3 eq-product sumcheck for all instances (Schwartz-Zippel over rho; padded
    instances of x are zero). It ends in one claim on x."""
    (xo,) = _identity(c, r, "x")
    out = c.tensor(r.operand("out").tensor)
    xt = c.tensor(xo.tensor)
    ib = _inst_bits(xt)
    nx = xt.num_vars - ib
    rho = ctx.challenge(f"{r.name}/rho", ib)
    if out.kind == "public":
        values = public.outputs.get(out.base)
        if values is None or len(values) != len(r.instances):
            raise ProtocolBug(f"relation {r.name} needs {len(r.instances)} public values of {out.base}")
        total = ctx.const(sum(e * (v % P) for e, v in zip(eq_table(rho), values)) % P)
    else:   # a committed sum (e.g. a squared norm): its value at rho is sent, a claim to open
        _identity(c, r, "out")
        (total,) = ctx.send(f"{r.name}/out", [out.name], list(rho))
        claims.add(out.name, list(rho), total)
    claim = ctx.lin([(pow(HALF, nx, P), total)])
    p2, (g,) = ctx.eq_product(r.name, list(rho) + [HALF] * nx, claim, [(0, 1, 0), (0, 1, 0)], [xt.name])
    claims.add(xt.name, p2, g)


def _extents(t: Tensor) -> list:
    if len(t.shape) != 2:
        raise ProtocolBug(f"tensor {t.name}: padding and row sums need 2-d instances")
    return [tuple(t.shape)] * len(t.instances)


def _padding(ctx, c: Circuit, r: Relation, claims: Claims, public) -> None:
    """(1 - Ind_x) x = 0: a zero-check against the public padding mask."""
    (xo,) = _identity(c, r, "x")
    t = c.tensor(xo.tensor)
    tau = ctx.challenge(f"{r.name}/tau", t.num_vars)
    pt, v = ctx.padding_zero(r.name, t.name, tau, _inst_bits(t), log2(t.padded[0]), _extents(t))
    claims.add(t.name, pt, v)


def _row_sum(ctx, c: Circuit, r: Relation, claims: Claims, public) -> None:
    """Every logical row of x sums to ``value``, every padded row to 0. With tau random
    over the instance and row bits and every column coordinate 1/2:

        x~(tau, 1/2, ..., 1/2) = 2^-c sum_{i,n} eq(tau, (i, n)) rowsum(i, n),

    so the public claim 2^-c value sum_i eq(tau_i, i) prefix_rows(tau_n) says the
    multilinear polynomial sum eq(tau, .) (rowsum - value Ind_rows) vanishes at a random
    point, hence is zero (Schwartz-Zippel). No sumcheck: the claim joins x's others."""
    (xo,) = _identity(c, r, "x")
    t = c.tensor(xo.tensor)
    ib, rbits, cbits = _inst_bits(t), log2(t.padded[0]), log2(t.padded[1])
    tau = list(ctx.challenge(f"{r.name}/tau", ib + rbits))
    rows = t.shape[0]
    w = eq_table(tau[:ib])
    total = sum(w[i] for i in range(len(t.instances))) % P * prefix_mle(rows, tau[ib:]) % P
    value = r.params["value"] % P * total % P * pow(HALF, cbits, P) % P
    claims.add(t.name, tau + [HALF] * cbits, ctx.const(value))


def _define_hadamard(ctx, c, r, name, point, value, claims, public) -> None:
    """out = (c0 + c1 mask) * x: eq-product sumcheck, claims on mask and x."""
    ot = c.tensor(name)
    _identity(c, r, "out")
    (mo,), (xo,) = _identity(c, r, "mask", ot), _identity(c, r, "x", ot)
    c0, c1 = r.params["c0"] % P, r.params["c1"] % P
    p2, (m, x) = ctx.eq_product(r.name, point, value, [(c0, c1, 0), (0, 1, 1)], [mo.tensor, xo.tensor])
    claims.add(mo.tensor, p2, m)
    claims.add(xo.tensor, p2, x)


def _define_broadcast(ctx, c, r, name, point, value, claims, public) -> None:
    """out[i, e] = x[i] on out's logical box (0 in the padding): out~(rho, q) =
    x~(rho) Ind_box(q), so the claim moves to x at rho, divided by the public
    Ind_box(q) (nonzero except with negligible probability over q; then rejected)."""
    ot = c.tensor(name)
    (xo,) = _identity(c, r, "x")
    ib = _inst_bits(ot)
    ind = _entry_box(ot, list(point[ib:]))
    if ind % P == 0:
        raise ProtocolBug(f"relation {r.name}: the box indicator vanishes at the claim's point")
    claims.add(xo.tensor, list(point[:ib]), ctx.lin([(inv(ind), value)]))


def _define_data(ctx, c, r, name, point, value, claims, public) -> None:
    """out = coef Sel table with the public batch selection: row (i, b) of out is dataset
    row rows[step(i)][b]; one degree-2 sumcheck over the dataset rows."""
    (out,), sel, table = _identity(c, r, "out"), r.operand("select"), r.operand("table")
    ot, st, tt = c.tensor(out.tensor), c.tensor(sel.tensor), c.tensor(table.tensor)
    if tt.stack != 1 or any(s != (0,) for s in table.src):
        raise ProtocolBug(f"relation {r.name}: the data table must be one instance")
    bp = ot.padded[0]
    rows = [None] * (ot.stack * bp)
    for i, src in enumerate(sel.src):
        step = st.instances[src[0]][0]
        for b, n in enumerate(public.rows[step]):
            rows[i * bp + b] = n
    nr = _inst_bits(ot) + log2(bp)
    claim = value if r.params["coef"] == 1 else ctx.lin([(inv(r.params["coef"] % P), value)])
    pt, v = ctx.select(r.name, point[:nr], point[nr:], claim, rows, tt.name, log2(tt.padded[0]))
    claims.add(tt.name, pt, v)


def _define_entries(ctx, c, r, name, point, value, claims, public) -> None:
    """out = a public sparse 0/1 map of table (``scatter``: table row k -> out entry
    pos_k; ``gather``: table entry pos_k -> out row k), per instance with the support of
    its layer: one degree-2 selection sumcheck over the table's stack, like ``data``."""
    from zkdl.support import SUPPORT_VERSION, support_positions
    (out,), table = _identity(c, r, "out"), r.operand("table")
    ot, tt = c.tensor(out.tensor), c.tensor(table.tensor)
    if r.params.get("support") != SUPPORT_VERSION or any(len(s) != 1 for s in table.src):
        raise ProtocolBug(f"relation {r.name}: an entries map reads one table instance per instance ({SUPPORT_VERSION})")
    scatter = r.params["direction"] == "scatter"
    dense, sparse = (ot, tt) if scatter else (tt, ot)
    d0, d1 = dense.padded
    s0 = sparse.padded[0]
    rows = {}   # out row -> table row, the support's entries only (zkdl.reductions.selection_eval)
    for i, (_, layer) in enumerate(r.instances):
        nr, nc, count = r.params["layers"][str(layer)]
        j = table.src[i][0]
        for k, pos in enumerate(support_positions(r.params["seed"], layer, nr, nc, count)):
            at = (pos // nc) * d1 + pos % nc
            if scatter:
                rows[i * d0 * d1 + at] = j * s0 + k
            else:
                rows[i * s0 + k] = j * d0 * d1 + at
    pt, v = ctx.select(r.name, point, [], value, rows, tt.name, tt.num_vars)
    claims.add(tt.name, pt, v)


def _recompose(ctx, c: Circuit, r: Relation, point, value, claims: Claims) -> None:
    """value = sum_k 2^k bits[..., k] - offset (strategy ``bits``; all positions)."""
    if r.params["strategy"] != "bits":
        raise ProtocolBug(f"relation {r.name}: a {r.params['strategy']} range relation defines nothing")
    (vo,), (bo,) = _identity(c, r, "value"), _identity(c, r, "bits")
    bt = c.tensor(bo.tensor)
    if stack_shape(bt)[:-1] != stack_shape(c.tensor(vo.tensor)):
        raise ProtocolBug(f"relation {r.name}: the bits of {vo.tensor} must have its layout plus a bit axis")
    term = ("bits", 1, log2(bt.padded[-1]), bt.nbits, bt.name)
    (res,) = ctx.linear(r.name, point, value, -r.params["offset"] % P, [term])
    claims.add(bt.name, *res)


def _define_range(ctx, c, r, name, point, value, claims, public) -> None:
    _recompose(ctx, c, r, point, value, claims)


def _batched(ctx, claims: Claims, t: Tensor, label: str):
    """All claims on t batched to one (a fresh point and value if there are none)."""
    pending = claims.pop(t.name)
    if pending:
        return ctx.batch(t.name, pending)
    return _fresh_claim(ctx, label, t)


def _range_committed(ctx, c: Circuit, r: Relation, claims: Claims) -> None:
    """A committed value (e.g. W[t0]) range-checked by its bits: its claims batched to
    one, kept for its opening, and recomposed from the bits."""
    vt = c.tensor(r.operand("value").tensor)
    point, value = _batched(ctx, claims, vt, r.name)
    claims.add(vt.name, point, value)
    _recompose(ctx, c, r, point, value, claims)


def _booleanity(ctx, c: Circuit, r: Relation, claims: Claims) -> None:
    """Every entry of b is 0 or ``one``, checked together with b's claims: after
    batching them to (p, v), a random lambda and one degree-3 sumcheck show
    sum_x eq(p, x) b(x) (1 + lambda one - lambda b(x)) = v, i.e. b(p) + lambda
    sum_x eq(p, x) b(x) (one - b(x)) = v: the claim plus the zero-check of b (one - b) at
    the random point p. It ends in one claim on b."""
    (bo,) = _identity(c, r, "bits")
    t = c.tensor(bo.tensor)
    one = r.params.get("one", 1) % P
    point, value = _batched(ctx, claims, t, r.name)
    (lam,) = ctx.challenge(f"{r.name}/lambda", 1)
    p2, (v,) = ctx.eq_product(r.name, point, value, [(0, 1, 0), ((1 + lam * one) % P, P - lam, 0)], [t.name])
    claims.add(t.name, p2, v)


ROOT_RULES = {"matmul": _matmul, "linear": _committed_linear, "chain": _committed_linear,
              "sum_squares": _sum_squares, "padding": _padding, "row_sum": _row_sum}
DEFINING_RULES = {"hadamard": _define_hadamard, "data": _define_data, "range": _define_range,
                  "matmul": _define_matmul, "entries": _define_entries,
                  "broadcast": _define_broadcast}


def run_circuit(ctx, c: Circuit, public: Public) -> None:
    """Walk the whole proof of circuit ``c``; raises (verifier side) on the first failed
    check. The statement's commitments are already in the context."""
    from zkdl.verifier.lookups import run_lookups   # (it uses this module's helpers)
    claims = Claims()
    for t in witness_tensors(c):                                      # 1
        ctx.commit(t.name)
    run_lookups(ctx, c, claims)
    for r in c.relations:                                             # 2
        rule = ROOT_RULES.get(r.kind)
        if rule is not None:
            rule(ctx, c, r, claims, public)
    for name in derived_order(c):                                     # 3
        pending = claims.pop(name)
        if not pending:
            continue
        r = _defining(c, c.tensor(name))
        if r.kind in ("linear", "chain"):
            # a linear definition moves each claim to the terms for a few values, cheaper
            # than a batching sumcheck over the stack (the terms batch them later)
            for k, (point, value) in enumerate(pending):
                _reduce_linear(ctx, c, r, list(point), value, claims, r.name if k == 0 else f"{r.name}#{k}")
            continue
        point, value = ctx.batch(name, pending)
        DEFINING_RULES[r.kind](ctx, c, r, name, list(point), value, claims, public)
    for r in c.relations_of("range"):                                 # 4
        if r.params["strategy"] == "bits" and c.tensor(r.operand("value").tensor).kind == "committed":
            _range_committed(ctx, c, r, claims)
    for r in c.relations_of("booleanity"):
        _booleanity(ctx, c, r, claims)
    committed = [t.name for t in committed_tensors(c)]                # 5
    leftover = set(claims.names()) - set(committed)
    if leftover:
        raise ProtocolBug(f"unreduced claims on {sorted(leftover)}")
    for name in committed:
        pending = claims.pop(name)
        if pending:
            point, value = ctx.batch(name, pending)
            ctx.open(name, point, value)
