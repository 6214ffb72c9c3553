"""Claim reductions, prover side: writes the messages zkdl.reductions reads.

Each function mirrors its verifier counterpart message for message and returns
the same claims the verifier will derive (so the prover can continue with them).
All arithmetic goes through a backend (:mod:`zkdl.prover.backend`: ``cpu`` or the
``reference`` oracle); tensors are the backend's vectors or int64 numpy arrays
(flat, row-major, zero-padded stacks).
"""

from __future__ import annotations

import numpy as np

from zkdl.encoding import Writer
from zkdl.field import P, inv
from zkdl.poly import eq_table as eq_table_ints
from zkdl.prover.backend import CpuBackend


def _be(be):
    return be if be is not None else CpuBackend()


def _write_values(writer: Writer, transcript, label: bytes, vals) -> None:
    vals = [v % P for v in vals]
    writer.scalars(vals)
    transcript.absorb_scalars(label, vals)


def prove_eq_product(transcript, writer: Writer, label: bytes, point, claim: int, factors, tensors, be=None):
    """Reduction 1. ``tensors`` indexed by the factors' tensor index."""
    be = _be(be)
    transcript.absorb_bytes(b"reduce/eq-product", label)
    vecs = [be.vec(t) for t in tensors]
    tables = []
    for c0, c1, idx in factors:
        tab = vecs[idx] if c1 % P == 1 else be.scale(vecs[idx], c1)
        tables.append(be.add_scalar(tab, c0) if c0 % P else tab)
    res = be.sumcheck(transcript, tables, eq_point=list(point), claim=claim % P)
    writer.raw(res.proof.to_bytes())
    vals = [None] * len(vecs)
    for (c0, c1, idx), f in zip(factors, res.table_evals):
        if vals[idx] is None:
            vals[idx] = (f - c0) * inv(c1) % P
    _write_values(writer, transcript, label + b"/values", vals)
    return res.point, vals


def prove_matmul(transcript, writer: Writer, label: bytes, rho, k_vars: int, claim: int, left, right, be=None):
    """Reduction 2. ``left``/``right`` are the (i, k) tables Left_i~(r_m, k), Right_i~(k, r_n)."""
    be = _be(be)
    transcript.absorb_bytes(b"reduce/matmul", label)
    tables = [left, right]
    if rho:
        # eq(rho, i) broadcast over k: [e_0]*K + [e_1]*K + ...
        tables.append(be.repeat_each(be.eq_table(rho), 1 << k_vars))
    res = be.sumcheck(transcript, tables, claim=claim % P)
    writer.raw(res.proof.to_bytes())
    lv, rv = res.table_evals[0], res.table_evals[1]
    _write_values(writer, transcript, label + b"/operands", [lv, rv])
    n = len(rho)
    return tuple(res.point[:n]), tuple(res.point[n:]), lv, rv


def bit_plane_values(bits, point, kbits: int, be) -> list[int]:
    """Bits~(point, k) for every plane k (bit axis last, 2^kbits planes)."""
    planes = 1 << kbits
    n = be.length(bits) // planes
    out, _ = be.partial_evaluate(bits, (n, planes), {0: list(point)})
    return be.to_ints(out)


def prove_linear(transcript, writer: Writer, label: bytes, point, terms, be=None):
    """Reduction 3. ``terms`` = [("tensor", coeff, T)] or [("bits", coeff, kbits, nbits, Bits)]."""
    be = _be(be)
    transcript.absorb_bytes(b"reduce/linear", label)
    sent = []
    for t, term in enumerate(terms):
        lab = label + b"/term" + str(t).encode()
        if term[0] == "tensor":
            v = be.evaluate(term[2], point)
            _write_values(writer, transcript, lab, [v])
            sent.append(v)
        else:
            vals = bit_plane_values(term[4], point, term[2], be)
            _write_values(writer, transcript, lab, vals)
            sent.append(vals)
    result = []
    for t, term in enumerate(terms):
        if term[0] == "tensor":
            result.append((tuple(point), sent[t]))
        else:
            kappa = transcript.challenge_scalars(label + b"/kappa" + str(t).encode(), term[2])
            val = sum(e * v for e, v in zip(eq_table_ints(kappa), sent[t])) % P
            result.append((tuple(point) + tuple(kappa), val))
    return result


def prove_instance_map(transcript, writer: Writer, label: bytes, q, sources, be=None):
    """Reduction 4. ``sources`` = [(src_vars, Src stack)] (2^src_vars instances each)."""
    be = _be(be)
    transcript.absorb_bytes(b"reduce/instance-map", label)
    sent = []
    for s, (src_vars, src) in enumerate(sources):
        n_inst = 1 << src_vars
        inner = be.length(src) // n_inst
        out, _ = be.partial_evaluate(src, (n_inst, inner), {1: list(q)})
        u = be.to_ints(out)
        _write_values(writer, transcript, label + b"/src" + str(s).encode(), u)
        sent.append(u)
    out = []
    for s, (src_vars, _) in enumerate(sources):
        kappa = transcript.challenge_scalars(label + b"/kappa" + str(s).encode(), src_vars)
        val = sum(e * v for e, v in zip(eq_table_ints(kappa), sent[s])) % P
        out.append((tuple(kappa) + tuple(q), val))
    return out


def prove_select(transcript, writer: Writer, label: bytes, rows_point, col_point, claim: int,
                 rows, data, n_vars: int, be=None):
    """Reduction 5 (data selection), prover side. ``data`` is the (2^n_vars, cols) dataset."""
    be = _be(be)
    transcript.absorb_bytes(b"reduce/select", label)
    weights = eq_table_ints(list(rows_point))
    sel = [0] * (1 << n_vars)
    for r, n in enumerate(rows):
        if n is not None:
            sel[n] = (sel[n] + weights[r]) % P
    cols = be.length(data) >> n_vars
    dtab, _ = be.partial_evaluate(data, (1 << n_vars, cols), {1: list(col_point)})
    res = be.sumcheck(transcript, [be.from_ints(sel), dtab], claim=claim % P)
    writer.raw(res.proof.to_bytes())
    dv = res.table_evals[1]
    _write_values(writer, transcript, label + b"/data", [dv])
    return tuple(res.point) + tuple(col_point), dv


def padding_mask_table(inst_bits: int, a_bits: int, b_bits: int, extents) -> np.ndarray:
    m = np.ones((1 << inst_bits, 1 << a_bits, 1 << b_bits), dtype=np.int64)
    for i, (a, b) in enumerate(extents):
        m[i, :a, :b] = 0
    return m.reshape(-1)


def prove_padding_zero(transcript, writer: Writer, label: bytes, tau, inst_bits: int, a_bits: int, extents,
                       tensor, be=None):
    """Reduction 6, prover side."""
    be = _be(be)
    transcript.absorb_bytes(b"reduce/padding", label)
    b_bits = len(tau) - inst_bits - a_bits
    mask = be.vec(padding_mask_table(inst_bits, a_bits, b_bits, extents))
    res = be.sumcheck(transcript, [mask, tensor], eq_point=list(tau), claim=0)
    writer.raw(res.proof.to_bytes())
    tv = res.table_evals[1]
    _write_values(writer, transcript, label + b"/value", [tv])
    return tuple(res.point), tv
