"""Witness checker ("mock prover"): evaluate every relation family on an integer trace.

:func:`witness` assembles, from a tracer :class:`~zkdl.tracer.Run`, the zero-padded
stacked array of every tensor of a circuit (the honest prover's witness: committed bits
generated from the values, derived tensors read from the trace). :func:`check_witness`
evaluates every relation family over its FULL padded stacked domain (padded instances and
padded entries included, so it also checks that zero padding satisfies every relation)
in exact integer arithmetic -- int64 where a bound proves it exact, float64 BLAS where
every partial sum stays below 2^53, Python ints (object arrays) otherwise; nothing wraps --
and returns every failure as a :class:`Failure` (relation, step, layer, index, expected,
got). An honest run gives an empty list.

Derived tensors (A, Z', G_Z, W, ...) are taken from the trace and compared with their
definitions, so a corrupted trace entry is reported by the relation that pins it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zkdl.circuits.gadgets import selection_indices
from zkdl.circuits.ir import Circuit, CircuitError, Relation, Tensor
from zkdl.circuits.lookup import limb_widths, lookup_blocks

__all__ = ["Failure", "check_witness", "witness"]

_I64_SAFE = 1 << 62
_F64_EXACT = 1 << 53


@dataclass(frozen=True)
class Failure:
    """One failing entry: ``relation`` family name and ``kind``, absolute ``step`` and
    ``layer`` (None in a padded instance), ``index`` inside the instance (padded
    coordinates), ``expected`` (what the relation implies) and ``got`` (the witness),
    ``instance``: the index in the family's stack."""

    relation: str
    kind: str
    step: int | None
    layer: int | None
    index: tuple
    expected: object
    got: object
    instance: int

    def __str__(self) -> str:
        where = "padding instance" if self.step is None else f"step {self.step}, layer {self.layer}"
        return (f"{self.relation} ({self.kind}) at {where}, index {self.index}: "
                f"expected {self.expected}, got {self.got}")


# ----------------------------------------------------------------------------- exact ops
def _absmax(x: np.ndarray) -> int:
    if x.size == 0:
        return 0
    if x.dtype == object:
        return max(abs(int(v)) for v in x.flat)
    return int(np.abs(x).max())


def _lin(pairs) -> np.ndarray:
    """sum c * X exactly (int64 when the bound allows, Python ints otherwise)."""
    pairs = [(int(c), X) for c, X in pairs if c != 0]
    shape = pairs[0][1].shape
    bound = sum(abs(c) * _absmax(X) for c, X in pairs)
    if bound < _I64_SAFE and all(X.dtype != object and abs(c) < _I64_SAFE for c, X in pairs):
        out = np.zeros(shape, dtype=np.int64)
        for c, X in pairs:
            out += np.int64(c) * X.astype(np.int64) if c != 1 else X.astype(np.int64)
        return out
    out = np.zeros(shape, dtype=object)
    for c, X in pairs:
        out = out + X.astype(object) * c
    return out


def _matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Batched A @ B exactly."""
    K = A.shape[-1]
    bound = K * _absmax(A) * _absmax(B)
    if A.dtype != object and B.dtype != object:
        if bound < _F64_EXACT:
            return np.rint(np.matmul(A.astype(np.float64), B.astype(np.float64))).astype(np.int64)
        if bound < _I64_SAFE:
            return np.matmul(A.astype(np.int64), B.astype(np.int64))
    return np.matmul(A.astype(object), B.astype(object))


# ----------------------------------------------------------------------------- witness
class _Assignment:
    def __init__(self, circuit: Circuit, run, t0: int, materialize_bits: bool, traces=None):
        c = circuit
        cfg = run.config
        if tuple(cfg.dims()) != c.dims or cfg.batch_size != c.options["batch_size"]:
            raise CircuitError(f"the run's architecture (dims {list(cfg.dims())}, batch {cfg.batch_size}) "
                               f"differs from the circuit's (dims {list(c.dims)}, batch {c.options['batch_size']})")
        if not isinstance(t0, int) or t0 < 0 or t0 + c.steps > run.n_steps:
            raise CircuitError(f"window t0={t0}, T={c.steps} is outside the run's steps 0..{run.n_steps - 1}")
        self.c, self.run, self.t0 = c, run, t0
        self.traces = run.window(t0, c.steps) if traces is None else traces
        self.materialize_bits = materialize_bits
        self.n_samples = run.data.n_samples
        self.rows = selection_indices(c, self.n_samples, t0)
        self._cache: dict[str, np.ndarray] = {}

    def _shape(self, t: Tensor) -> tuple:
        shp = tuple(self.n_samples if s is None else s for s in t.shape)
        pad = tuple(1 << (s - 1).bit_length() for s in shp)
        return shp, pad

    def indicator(self, name: str, table=None) -> np.ndarray:
        """1 (or the entries of a public ``table``, row-major) on the logical box of every
        real instance of tensor ``name``, 0 in the padding."""
        t = self.c.tensor(name)
        shp, pad = self._shape(t)
        ind = np.zeros((t.stack, *pad), dtype=np.int64)
        fill = 1 if table is None else np.asarray(table, dtype=np.int64).reshape(shp)
        ind[(slice(0, len(t.instances)),) + tuple(slice(0, s) for s in shp)] = fill
        return ind

    def get(self, name: str) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = self._build(self.c.tensor(name))
        return self._cache[name]

    def _build(self, t: Tensor) -> np.ndarray:
        shp, pad = self._shape(t)
        if t.is_public_output and t.source != "output.loss":   # a sum of squares of another tensor
            return self._sum_squares_output(t)
        if t.source == "output.loss":        # public output: sum of squared output errors
            out = np.zeros((t.stack, *pad), dtype=object)
            for i, (tr, l) in enumerate(t.instances):
                g = np.asarray(self.traces[tr].tensors[f"G_Z_{l}"], dtype=object)
                out[i, 0] = int(np.sum(g * g))
            return out
        out = np.zeros((t.stack, *pad), dtype=np.int64)
        box = tuple(slice(0, s) for s in shp)
        if t.source == "lookup.multiplicity":
            return self._multiplicities(t)[None]
        if isinstance(t.source, str) and t.source.startswith("limb."):   # limb k of value + offset
            k = int(t.source.split(".")[1])
            params = self._range_of(t.bit_of).params
            lb = params["limb_bits"]
            u = self._shifted(t.bit_of) >> (lb * k)
            top = k == len(limb_widths(params["n"], lb)) - 1
            return np.asarray(u if top else u & ((1 << lb) - 1), dtype=np.int64)
        if t.bit_of is not None:             # bits of value + offset, padding included (int8)
            u = self._shifted(t.bit_of)
            bits = np.zeros((t.stack, *pad), dtype=np.int8)
            for k in range(t.nbits):
                bits[..., k] = np.asarray((u >> k) & 1, dtype=np.int8)
            return bits
        for i, (tr, l) in enumerate(t.instances):
            out[(i,) + box] = self._source(t, tr, l, shp)
        return out

    def _sum_squares_output(self, t: Tensor) -> np.ndarray:
        """A public output out[i] = sum of x[i]^2 (its ``sum_squares`` relation), exact."""
        for r in self.c.relations_of("sum_squares"):
            if r.operand("out").tensor == t.name:
                x = np.asarray(self.get(r.operand("x").tensor), dtype=object)
                out = np.zeros((t.stack, *self._shape(t)[1]), dtype=object)
                for i in range(len(t.instances)):
                    out[i, 0] = int(np.sum(x[i] * x[i]))
                return out
        raise CircuitError(f"public output {t.name} is the output of no sum_squares relation")

    def _shifted(self, value_name: str) -> np.ndarray:
        """value + offset at every position (the padding holds the offset)."""
        v = self.get(value_name)
        o = self._offset_of(value_name)
        return _lin([(1, v), (o, np.ones_like(v))]) if o else v

    def block_values(self, blk) -> np.ndarray:
        """The looked-up values of a lookup block over its whole padded stack."""
        return _lin([(c, self.get(name)) for c, name in blk.terms] +
                    [(blk.const, np.ones_like(self.get(blk.layout)))])

    def _multiplicities(self, t: Tensor) -> np.ndarray:
        """How often each entry of the table [0, 2^w) is looked up (values outside the
        table are not counted: the lookup then fails)."""
        w = (t.shape[0] - 1).bit_length()
        m = np.zeros(1 << w, dtype=np.int64)
        for blk in lookup_blocks(self.c.relations).get(w, []):
            v = np.asarray(self.block_values(blk), dtype=np.int64).reshape(-1)
            v = v[(v >= 0) & (v < (1 << w))]
            m += np.bincount(v, minlength=1 << w)
        return m

    def _range_of(self, value_name: str) -> Relation:
        for r in self.c.relations_of("range"):
            if r.operand("value").tensor == value_name:
                return r
        raise CircuitError(f"no range relation for {value_name}")

    def _offset_of(self, value_name: str) -> int:
        return self._range_of(value_name).params["offset"]

    def _source(self, t: Tensor, tr: int, l: int, shp: tuple) -> np.ndarray:
        src = t.source
        data = self.run.data
        if src == "dataset.X":
            a = np.asarray(data.X, dtype=np.int64)
        elif src == "dataset.targets":
            a = np.zeros((data.n_samples, data.n_classes), dtype=np.int64)
            a[np.arange(data.n_samples), np.asarray(data.y)] = 1 << self.c.config.R
        elif src == "schedule":
            a = np.zeros(shp, dtype=np.int64)
            a[np.arange(len(self.rows[tr])), self.rows[tr]] = 1
        elif isinstance(src, tuple):
            st = self.traces[tr]
            a = _lin([(c, np.asarray(st.tensors[name.format(l=l, prev=l - 1, next=l + 1)], dtype=np.int64))
                      for c, name in src])
        else:
            raise CircuitError(f"tensor {t.name}: no witness source")
        if len(a.shape) != len(shp) or any(x > y for x, y in zip(a.shape, shp)):
            raise CircuitError(f"tensor {t.name} instance (t={tr}, l={l}): trace shape {a.shape} "
                               f"does not fit the circuit's {shp}")
        if tuple(a.shape) != shp:       # an instance smaller than its stack's box: zero-padded
            full = np.zeros(shp, dtype=a.dtype)
            full[tuple(slice(0, x) for x in a.shape)] = a
            a = full
        return a


def witness(circuit: Circuit, run, t0: int = 0, *, bits: bool = True, names=None, traces=None) -> dict:
    """Stacked arrays ``name -> X[inst, *padded]`` of the tensors of ``circuit`` for steps
    t0..t0+T-1 of ``run``: values zero-padded (int64; Python ints for public outputs),
    bit tensors (int8, when ``bits``) the bits of ``value + offset`` at every position,
    padding included (there the value is 0, so the bits are the offset's). ``names``: only
    these tensors; ``traces``: the window's step traces in place of ``run.window``.
    This is the honest prover's witness (:mod:`zkdl.prover.aggregate` proves it)."""
    a = _Assignment(circuit, run, t0, bits, traces)
    wanted = [t for t in circuit.tensors if (bits or t.bit_of is None) and (names is None or t.name in names)]
    return {t.name: a.get(t.name) for t in wanted}


# ----------------------------------------------------------------------------- checker
def _gather(a: _Assignment, r: Relation, role_operand, arr: np.ndarray | None = None) -> np.ndarray:
    X = a.get(role_operand.tensor) if arr is None else arr
    n = len(a.c.tensor(role_operand.tensor).instances)
    if n == len(role_operand.src) and all(s == (i,) for i, s in enumerate(role_operand.src)):
        out = X.copy()          # identity map: the relation runs over the whole stack, padding included
    else:
        out = np.zeros((r.stack, *X.shape[1:]), dtype=X.dtype)
        for i, s in enumerate(role_operand.src):
            for j in s:
                out[i] = out[i] + X[j]
    if role_operand.transpose:
        out = np.swapaxes(out, 1, 2)
    return out


def _failures(r: Relation, t0: int, bad: np.ndarray, expected, got, limit) -> list:
    res = []
    for idx in np.argwhere(bad):
        k = int(idx[0])
        if k < len(r.instances):
            tr, l = r.instances[k]
            step, layer = t0 + tr, l
        else:
            step = layer = None
        ix = tuple(int(v) for v in idx)
        e = expected(ix) if callable(expected) else int(expected[ix])
        res.append(Failure(relation=r.name, kind=r.kind, step=step, layer=layer, index=ix[1:],
                           expected=e, got=int(got[ix]), instance=k))
        if limit is not None and len(res) >= limit:
            break
    return res


def _entries(a: _Assignment, r: Relation) -> np.ndarray:
    """What an ``entries`` relation implies for its out: the table's values moved by the
    public support of each instance's layer (zero elsewhere)."""
    from zkdl.support import support_positions
    out, table = r.operand("out"), r.operand("table")
    tab = _gather(a, r, table)
    exp = np.zeros((r.stack, *a.get(out.tensor).shape[1:]), dtype=tab.dtype)
    for i, (_, layer) in enumerate(r.instances):
        nr, nc, count = r.params["layers"][str(layer)]
        pos = np.asarray(support_positions(r.params["seed"], layer, nr, nc, count), dtype=np.int64)
        if r.params["direction"] == "scatter":
            exp[i][pos // nc, pos % nc] = tab[i][:count, 0]
        else:
            exp[i][:count, 0] = tab[i][pos // nc, pos % nc]
    return exp


def _check(a: _Assignment, r: Relation, limit) -> list:
    k = r.kind
    t0 = a.t0
    if k == "matmul":
        L, Rm = r.operand("left"), r.operand("right")
        exp = _matmul(_gather(a, r, L), _gather(a, r, Rm))
        exp = _lin([(L.coef, exp)])
        got = _lin([(o.coef, _gather(a, r, o)) for o in r.operands_with("out")])
    elif k in ("linear", "chain"):
        out = r.operand("out")
        const, table = r.params.get("const", 0), r.params.get("table")
        box = [(const, _gather(a, r, out, a.indicator(out.tensor)))] if const else []
        if table is not None:
            box.append((1, _gather(a, r, out, a.indicator(out.tensor, table))))
        exp = _lin([(o.coef, _gather(a, r, o)) for o in r.operands_with("term")] + box)
        got = _gather(a, r, out)
    elif k == "broadcast":
        out = r.operand("out")
        got = _gather(a, r, out)
        x = _gather(a, r, r.operand("x"))
        ind = _gather(a, r, out, a.indicator(out.tensor))
        exp = ind * x.reshape((x.shape[0],) + (1,) * (ind.ndim - 1))
    elif k == "hadamard":
        m = _gather(a, r, r.operand("mask"))
        x = _gather(a, r, r.operand("x"))
        f = _lin([(r.params["c0"], np.ones_like(m)), (r.params["c1"], m)])
        exp = f * x if f.dtype != object and _absmax(f) * _absmax(x) < _I64_SAFE else f.astype(object) * x
        got = _gather(a, r, r.operand("out"))
    elif k == "booleanity":
        o = r.operand("bits")
        if a.c.tensor(o.tensor).bit_of is not None and not a.materialize_bits:
            return []          # generated from in-range values: binary by construction
        b = _gather(a, r, o).astype(np.int64)
        one = r.params.get("one", 1)
        v = b.astype(object) * (one - b) if _absmax(b) > (1 << 30) else b * (one - b)
        bad = v != 0
        return _failures(r, t0, bad, lambda ix: f"0 or {one}", b, limit)
    elif k == "range":
        o = r.operand("value")
        v = _gather(a, r, o)
        ind = _gather(a, r, o, a.indicator(o.tensor))
        n, off = r.params["n"], r.params["offset"]
        u = _lin([(1, v), (off, ind)])
        inside = ind != 0
        bad = np.where(inside, (u < 0) | (u >= (1 << n)), v != 0)
        bad = np.asarray(bad, dtype=bool)
        out = _failures(r, t0, bad, lambda ix: (f"[{-off}, {(1 << n) - off})" if ind[ix] else 0), v, limit)
        for w, blocks in lookup_blocks([r]).items():     # logup: every limb in its table
            for blk in blocks:
                x = a.block_values(blk)
                bad = np.asarray((x < 0) | (x >= (1 << w)), dtype=bool)
                out += _failures(r, t0, bad, lambda ix, w=w, k=blk.limb: f"limb {k} in [0, 2^{w})", x, limit)
        return out
    elif k == "lookup":
        return []              # multiplicities are counted from the looked-up limbs (nothing to compare)
    elif k == "padding":
        o = r.operand("x")
        v = _gather(a, r, o)
        ind = _gather(a, r, o, a.indicator(o.tensor))
        bad = np.asarray((ind == 0) & (v != 0), dtype=bool)
        return _failures(r, t0, bad, lambda ix: 0, v, limit)
    elif k == "row_sum":
        o = r.operand("x")
        v = _gather(a, r, o).astype(object)
        rows = _gather(a, r, o, a.indicator(o.tensor)).max(axis=-1)
        got = v.sum(axis=-1)
        exp = rows * r.params["value"]
        bad = np.asarray(got != exp, dtype=bool)
        return _failures(r, t0, bad, exp, got, limit)
    elif k == "sum_squares":
        x = _gather(a, r, r.operand("x")).astype(object)
        got = _gather(a, r, r.operand("out"))
        exp = np.zeros_like(got)
        exp[:, 0] = (x * x).reshape(x.shape[0], -1).sum(axis=1)
    elif k == "entries":
        got, exp = _gather(a, r, r.operand("out")), _entries(a, r)
    elif k == "data":
        out = r.operand("out")
        sel, table = r.operand("select"), r.operand("table")
        got = _gather(a, r, out)
        tab = a.get(table.tensor)
        exp = np.zeros_like(got)
        sel_t = a.c.tensor(sel.tensor)
        B = len(a.rows[0]) if a.rows else 0
        for i, (s_sel, s_tab) in enumerate(zip(sel.src, table.src)):
            for js, jt in zip(s_sel, s_tab):
                tr = sel_t.instances[js][0]
                exp[i, :B, :tab.shape[2]] += tab[jt][a.rows[tr]]
        exp = _lin([(r.params["coef"], exp)])
    else:
        raise CircuitError(f"relation {r.name}: unknown kind {k!r}")
    bad = np.asarray(_lin([(1, exp), (-1, got)]) != 0, dtype=bool)
    return _failures(r, t0, bad, exp, got, limit)


def check_witness(circuit: Circuit, run, steps=None, *, bits: bool = False, limit: int | None = None) -> list:
    """Evaluate every relation family of ``circuit`` on steps ``(t0, T)`` of ``run``
    (default ``(0, circuit.steps)``; T must equal the circuit's) and return every failure
    (at most ``limit`` per family if given). ``bits``: also materialize the bit tensors and
    check their booleanity (they are generated from the values, so this checks padding
    and generation; the range relations already check every value)."""
    if steps is None:
        t0, T = 0, circuit.steps
    elif isinstance(steps, int):
        t0, T = steps, circuit.steps
    else:
        t0, T = steps
    if T != circuit.steps:
        raise CircuitError(f"the circuit covers {circuit.steps} steps, not {T}")
    n = circuit.options.get("n_samples")
    if n is not None and n != run.data.n_samples:
        raise CircuitError(f"the circuit was built for {n} dataset rows, the run has {run.data.n_samples}")
    a = _Assignment(circuit, run, t0, bits)
    out = []
    for r in circuit.relations:
        out.extend(_check(a, r, limit))
    return out
