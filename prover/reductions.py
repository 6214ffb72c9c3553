"""Claim reductions, prover side: writes the messages zkdl.reductions reads.

Each function mirrors its verifier counterpart message for message and returns
the same claims the verifier will derive (so the prover can continue with them).
Tensors are FrVec or int64 numpy arrays (flat, row-major, zero-padded stacks).
"""

from __future__ import annotations

import numpy as np

from zkdl.encoding import Writer
from zkdl.field import P, inv
from zkdl.field.vector import FrVec
from zkdl.poly import eq_table as eq_table_ints
from zkdl.prover.mle import eq_table, partial_evaluate
from zkdl.prover.sumcheck import prove_sumcheck


def as_frvec(t, threads=None) -> FrVec:
    return t if isinstance(t, FrVec) else FrVec.from_int64(np.asarray(t, dtype=np.int64).reshape(-1), threads)


def _write_values(writer: Writer, transcript, label: bytes, vals) -> None:
    vals = [v % P for v in vals]
    writer.scalars(vals)
    transcript.absorb_scalars(label, vals)


def prove_eq_product(transcript, writer: Writer, label: bytes, point, claim: int, factors, tensors,
                     threads=None):
    """Reduction 1. ``tensors`` (FrVec/int64) indexed by the factors' tensor index."""
    transcript.absorb_bytes(b"reduce/eq-product", label)
    vecs = [as_frvec(t, threads) for t in tensors]
    tables = []
    for c0, c1, idx in factors:
        tab = vecs[idx] if c1 % P == 1 else vecs[idx].scale(c1 % P, threads)
        tables.append(tab.add_scalar(c0 % P, threads) if c0 % P else tab)
    res = prove_sumcheck(transcript, tables, eq_point=list(point), claim=claim % P, threads=threads,
                         check_claim=False)
    writer.raw(res.proof.to_bytes())
    vals = [None] * len(vecs)
    for (c0, c1, idx), f in zip(factors, res.table_evals):
        if vals[idx] is None:
            vals[idx] = (f - c0) * inv(c1) % P
    _write_values(writer, transcript, label + b"/values", vals)
    return res.point, vals


def repeat_each(v: FrVec, times: int) -> FrVec:
    """[v_0]*times + [v_1]*times + ... (an instance-only table broadcast over k)."""
    return FrVec(np.ascontiguousarray(np.repeat(v.limbs, times, axis=1)))


def prove_matmul(transcript, writer: Writer, label: bytes, rho, k_vars: int, claim: int,
                 left: FrVec, right: FrVec, threads=None):
    """Reduction 2. ``left``/``right`` are the (i, k) tables Left_i~(r_m, k), Right_i~(k, r_n)."""
    transcript.absorb_bytes(b"reduce/matmul", label)
    tables = [left, right]
    if rho:
        tables.append(repeat_each(eq_table(list(rho), threads), 1 << k_vars))
    res = prove_sumcheck(transcript, tables, claim=claim % P, threads=threads,
                         check_claim=False)
    writer.raw(res.proof.to_bytes())
    lv, rv = res.table_evals[0], res.table_evals[1]
    _write_values(writer, transcript, label + b"/operands", [lv, rv])
    n = len(rho)
    return tuple(res.point[:n]), tuple(res.point[n:]), lv, rv


def evaluate_tensor(t, point, threads=None) -> int:
    if isinstance(t, FrVec):
        from zkdl.prover.mle import evaluate
        return evaluate(t, list(point), threads)
    arr = np.asarray(t, dtype=np.int64).reshape(-1)
    out, _ = partial_evaluate(arr, (arr.size,), {0: list(point)}, threads)
    return out.to_ints()[0]


def bit_plane_values(bits, point, kbits: int, threads=None) -> list[int]:
    """Bits~(point, k) for every plane k (bit axis last, 2^kbits planes)."""
    planes = 1 << kbits
    if isinstance(bits, FrVec):
        n = len(bits) // planes
        out, _ = partial_evaluate(bits, (n, planes), {0: list(point)}, threads)
    else:
        arr = np.asarray(bits, dtype=np.int64).reshape(-1, planes)
        out, _ = partial_evaluate(arr, arr.shape, {0: list(point)}, threads)
    return out.to_ints()


def prove_linear(transcript, writer: Writer, label: bytes, point, terms, threads=None):
    """Reduction 3. ``terms`` = [("tensor", coeff, T)] or [("bits", coeff, kbits, nbits, Bits)]."""
    transcript.absorb_bytes(b"reduce/linear", label)
    sent = []
    for t, term in enumerate(terms):
        lab = label + b"/term" + str(t).encode()
        if term[0] == "tensor":
            v = evaluate_tensor(term[2], point, threads)
            _write_values(writer, transcript, lab, [v])
            sent.append(v)
        else:
            vals = bit_plane_values(term[4], point, term[2], threads)
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


def prove_instance_map(transcript, writer: Writer, label: bytes, q, sources, threads=None):
    """Reduction 4. ``sources`` = [(src_vars, Src stack)] (FrVec/int64, 2^src_vars instances)."""
    transcript.absorb_bytes(b"reduce/instance-map", label)
    sent = []
    for s, (src_vars, src) in enumerate(sources):
        n_inst = 1 << src_vars
        size = len(src) if isinstance(src, FrVec) else int(np.asarray(src).size)
        inner = size // n_inst
        if src_vars == 0 and inner == size:
            u = [evaluate_tensor(src, q, threads)]
        else:
            data = src if isinstance(src, FrVec) else np.asarray(src, dtype=np.int64).reshape(-1)
            out, _ = partial_evaluate(data, (n_inst, inner), {1: list(q)}, threads)
            u = out.to_ints()
        _write_values(writer, transcript, label + b"/src" + str(s).encode(), u)
        sent.append(u)
    out = []
    for s, (src_vars, _) in enumerate(sources):
        kappa = transcript.challenge_scalars(label + b"/kappa" + str(s).encode(), src_vars)
        val = sum(e * v for e, v in zip(eq_table_ints(kappa), sent[s])) % P
        out.append((tuple(kappa) + tuple(q), val))
    return out


def prove_select(transcript, writer: Writer, label: bytes, rows_point, col_point, claim: int,
                 rows, data, n_vars: int, threads=None):
    """Reduction 5 (data selection), prover side. ``data`` is the (2^n_vars, cols) dataset."""
    transcript.absorb_bytes(b"reduce/select", label)
    weights = eq_table_ints(list(rows_point))
    sel = [0] * (1 << n_vars)
    for r, n in enumerate(rows):
        if n is not None:
            sel[n] = (sel[n] + weights[r]) % P
    arr = data if isinstance(data, FrVec) else np.asarray(data, dtype=np.int64).reshape(1 << n_vars, -1)
    cols = (len(arr) >> n_vars) if isinstance(arr, FrVec) else arr.shape[1]
    dtab, _ = partial_evaluate(arr if isinstance(arr, FrVec) else arr.reshape(-1),
                               (1 << n_vars, cols), {1: list(col_point)}, threads)
    res = prove_sumcheck(transcript, [FrVec.from_ints(sel), dtab], claim=claim % P, threads=threads,
                         check_claim=False)
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
                       tensor, threads=None):
    """Reduction 6, prover side."""
    transcript.absorb_bytes(b"reduce/padding", label)
    b_bits = len(tau) - inst_bits - a_bits
    mask = FrVec.from_int64(padding_mask_table(inst_bits, a_bits, b_bits, extents), threads)
    res = prove_sumcheck(transcript, [mask, as_frvec(tensor, threads)], eq_point=list(tau), claim=0,
                         threads=threads, check_claim=False)
    writer.raw(res.proof.to_bytes())
    tv = res.table_evals[1]
    _write_values(writer, transcript, label + b"/value", [tv])
    return tuple(res.point), tv
