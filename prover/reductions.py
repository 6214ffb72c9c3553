"""Claim reductions, prover side: writes the messages zkdl.reductions reads.

Each function mirrors its verifier counterpart message for message and returns the
same claims the verifier derives. Arithmetic on tables goes through a backend
(:mod:`zkdl.prover.backend`: ``cpu`` or the ``reference`` oracle); messages and
closing checks go through a channel (:mod:`zkdl.prover.channel`: plain or
zero-knowledge). Tensors are backend vectors or int64 numpy arrays (flat, row-major,
zero-padded stacks); claim values are channel values.
"""

from __future__ import annotations

import numpy as np

from zkdl.field import P, inv
from zkdl.poly import eq_eval, eq_table as eq_table_ints
from zkdl.reductions import bit_terms, close_product, finish_instance_map, finish_linear, instance_terms


def prove_eq_product(ch, label: bytes, point, claim, factors, tensors):
    """Reduction 1. ``tensors`` indexed by the factors' tensor index."""
    be = ch.be
    ch.t.absorb_bytes(b"reduce/eq-product", label)
    vecs = [be.vec(t) for t in tensors]
    tables = []
    for c0, c1, idx in factors:
        tab = vecs[idx] if c1 % P == 1 else be.scale(vecs[idx], c1)
        tables.append(be.add_scalar(tab, c0) if c0 % P else tab)
    res, final = ch.sumcheck(tables, claim, eq_point=list(point))
    vals = [None] * len(vecs)
    for (c0, c1, idx), f in zip(factors, res.table_evals):
        if vals[idx] is None:
            vals[idx] = (f - c0) * inv(c1 % P) % P
    sent = ch.send(label + b"/values", vals)
    fs = [ch.lin([(c1, sent[idx])], c0) for c0, c1, idx in factors]
    close_product(ch, label, eq_eval(point, res.point), final, fs)
    return res.point, sent


def prove_matmul(ch, label: bytes, rho, k_vars: int, claim, left, right):
    """Reduction 2. ``left``/``right`` are the (i, k) tables Left_i~(r_m, k), Right_i~(k, r_n)."""
    be = ch.be
    ch.t.absorb_bytes(b"reduce/matmul", label)
    tables = [left, right]
    if rho:
        # eq(rho, i) broadcast over k: [e_0]*K + [e_1]*K + ...
        tables.append(be.repeat_each(be.eq_table(rho), 1 << k_vars))
    res, final = ch.sumcheck(tables, claim)
    lv, rv = ch.send(label + b"/operands", res.table_evals[:2])
    n = len(rho)
    close_product(ch, label, eq_eval(rho, res.point[:n]) if n else 1, final, [lv, rv])
    return tuple(res.point[:n]), tuple(res.point[n:]), lv, rv


def bit_plane_values(bits, point, kbits: int, be) -> list[int]:
    """Bits~(point, k) for every plane k (bit axis last, 2^kbits planes)."""
    planes = 1 << kbits
    out, _ = be.partial_evaluate(bits, (be.length(bits) // planes, planes), {0: list(point)})
    return be.to_ints(out)


def prove_linear(ch, label: bytes, point, claim, const: int, terms):
    """Reduction 3. ``terms`` = [("tensor", coeff, T)] or [("bits", coeff, kbits, nbits, Bits)]."""
    be = ch.be
    ch.t.absorb_bytes(b"reduce/linear", label)
    lin_terms, received = [], []
    for t, term in enumerate(terms):
        lab = label + b"/term" + str(t).encode()
        if term[0] == "tensor":
            (v,) = ch.send(lab, [be.evaluate(term[2], point)])
            lin_terms.append((term[1], v))
            received.append(v)
        else:
            _, coeff, kbits, nbits, bits = term
            vals = ch.send(lab, bit_plane_values(bits, point, kbits, be))
            lin_terms.extend(bit_terms(coeff, nbits, vals))
            received.append(vals)
    return finish_linear(ch, label, point, claim, const, terms, lin_terms, received)


def prove_instance_map(ch, label: bytes, rho, q, claim, const_weights, sources):
    """Reduction 4. ``sources`` = [(src_vars, {(i, j): w}, Src stack)]."""
    be = ch.be
    ch.t.absorb_bytes(b"reduce/instance-map", label)
    eq_rho = eq_table_ints(list(rho))
    const = sum(eq_rho[i] * c for i, c in const_weights.items()) % P
    lin_terms, received = [], []
    for s, (src_vars, weights, src) in enumerate(sources):
        n_inst = 1 << src_vars
        out, _ = be.partial_evaluate(src, (n_inst, be.length(src) // n_inst), {1: list(q)})
        u = ch.send(label + b"/src" + str(s).encode(), be.to_ints(out))
        lin_terms.extend(instance_terms(eq_rho, weights, u))
        received.append(u)
    return finish_instance_map(ch, label, q, claim, const, [b for b, _, _ in sources], lin_terms, received)


def prove_select(ch, label: bytes, rows_point, col_point, claim, rows, data, n_vars: int):
    """Reduction 5 (data selection). ``data`` is the (2^n_vars, cols) dataset, flattened."""
    from zkdl.reductions import selection_eval
    be = ch.be
    ch.t.absorb_bytes(b"reduce/select", label)
    weights = eq_table_ints(list(rows_point))
    sel = [0] * (1 << n_vars)
    for r, n in (rows.items() if isinstance(rows, dict) else enumerate(rows)):
        if n is not None:
            sel[n] = (sel[n] + weights[r]) % P
    dtab, _ = be.partial_evaluate(data, (1 << n_vars, be.length(data) >> n_vars), {1: list(col_point)})
    res, final = ch.sumcheck([be.from_ints(sel), dtab], claim)
    (dv,) = ch.send(label + b"/data", [res.table_evals[1]])
    close_product(ch, label, selection_eval(rows_point, rows, res.point), final, [dv])
    return tuple(res.point) + tuple(col_point), dv


def padding_mask_table(inst_bits: int, a_bits: int, b_bits: int, extents) -> np.ndarray:
    m = np.ones((1 << inst_bits, 1 << a_bits, 1 << b_bits), dtype=np.int64)
    for i, (a, b) in enumerate(extents):
        m[i, :a, :b] = 0
    return m.reshape(-1)


def prove_padding_zero(ch, label: bytes, tau, inst_bits: int, a_bits: int, extents, tensor):
    """Reduction 6, prover side."""
    from zkdl.reductions import padding_mask_eval
    be = ch.be
    ch.t.absorb_bytes(b"reduce/padding", label)
    b_bits = len(tau) - inst_bits - a_bits
    mask = be.vec(padding_mask_table(inst_bits, a_bits, b_bits, extents))
    res, final = ch.sumcheck([mask, tensor], ch.const(0), eq_point=list(tau))
    (tv,) = ch.send(label + b"/value", [res.table_evals[1]])
    close_product(ch, label, eq_eval(tau, res.point) * padding_mask_eval(res.point, inst_bits, a_bits, extents),
           final, [tv])
    return tuple(res.point), tv
