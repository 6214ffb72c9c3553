"""Claim reductions (verifier side): the sub-protocols FAC4DNN proofs are made of.

A *claim* says the multilinear extension of a (stacked, zero-padded) tensor takes a
value at a point. Each reduction below consumes claims on derived tensors or
relation outputs and produces claims on other tensors, until only claims on
committed tensors remain; those are batched (:mod:`zkdl.claims`) and opened
(:mod:`zkdl.hyrax`). Prover messages are read in order from a :class:`Reader` over
the proof body and absorbed into the transcript before any challenge that depends
on them (the prover side, :mod:`zkdl.prover.reductions`, writes the same messages).

1. eq-product (Hadamard products, booleanity zero-checks):
       claim = sum_x eq(p, x) prod_j (c0_j + c1_j T_{idx_j}(x))
   Sumcheck of degree (#factors + 1), then the prover sends T_i(p') for each distinct
   tensor; the verifier checks the reduced value. -> claims T_i(p').
2. matmul (FAC4DNN stacking over instances i, contraction over k):
       claim = sum_{i,k} eq(rho, i) Left'(i, k) Right'(i, k)
   where Left'(i, k) = Left_i~(r_m, k), Right'(i, k) = Right_i~(k, r_n) (the caller
   fixes the row/column points and operand orientation). Sumcheck of degree 3 over
   (i, k); the prover sends Left'(rho', k') and Right'(rho', k'). (zkDL / Thaler's
   matrix-multiplication sumcheck, stacked as in FAC4DNN.)
3. linear: claim = const + sum_t coeff_t V_t(p), where a term is either a tensor
   (the prover sends V_t(p)) or a bit-decomposed value V = sum_k 2^k Bits[..., k]
   (bit axis last, 2^kb planes): the prover sends Bits(p, k) for every plane k; the
   verifier checks the sum, draws kappa and keeps Bits(p || kappa) = sum_k eq(kappa, k) v_k.
4. instance map: claim on a stack M with M[i] = sum_j w_ij Src[j] (plus constants):
   the prover sends u_j = Src~(j, q) for every source instance j; the verifier checks
   sum_i eq(rho, i) sum_j w_ij u_j, draws kappa and keeps Src~(kappa || q).
"""

from __future__ import annotations

from zkdl.encoding import Reader
from zkdl.errors import VerificationError
from zkdl.field import P
from zkdl.poly import eq_eval, eq_table
from zkdl.sumcheck import SumcheckProof, verify_sumcheck


class ReductionError(VerificationError):
    """A claim reduction step failed (the message names the step)."""


def _name(label: bytes) -> str:
    return label.decode("ascii", errors="replace")


def _read_values(reader: Reader, transcript, label: bytes, count: int) -> list[int]:
    vals = reader.scalars(count)
    transcript.absorb_scalars(label, vals)
    return vals


def _read_sumcheck(reader: Reader, transcript, claim: int, num_vars: int, degree: int):
    proof = SumcheckProof.read(reader)
    return verify_sumcheck(transcript, claim, num_vars, degree, proof)


def verify_eq_product(transcript, reader: Reader, label: bytes, point, claim: int,
                      factors, n_tensors: int):
    """Reduction 1. ``factors`` = [(c0, c1, tensor_index)]; returns (p', [T_i(p')])."""
    transcript.absorb_bytes(b"reduce/eq-product", label)
    red = _read_sumcheck(reader, transcript, claim, len(point), len(factors) + 1)
    vals = _read_values(reader, transcript, label + b"/values", n_tensors)
    expect = eq_eval(point, red.point)
    for c0, c1, idx in factors:
        expect = expect * ((c0 + c1 * vals[idx]) % P) % P
    if expect != red.value:
        raise ReductionError(f"{_name(label)}: product relation does not hold at the sumcheck point")
    return red.point, vals


def verify_matmul(transcript, reader: Reader, label: bytes, rho, k_vars: int, claim: int):
    """Reduction 2. Returns (rho', k', left_value, right_value)."""
    transcript.absorb_bytes(b"reduce/matmul", label)
    n_inst = len(rho)
    degree = 3 if n_inst else 2
    red = _read_sumcheck(reader, transcript, claim, n_inst + k_vars, degree)
    left, right = _read_values(reader, transcript, label + b"/operands", 2)
    rho2, k2 = red.point[:n_inst], red.point[n_inst:]
    expect = left * right % P
    if n_inst:
        expect = expect * eq_eval(rho, rho2) % P
    if expect != red.value:
        raise ReductionError(f"{_name(label)}: matrix product does not match the claimed operands")
    return tuple(rho2), tuple(k2), left, right


def verify_linear(transcript, reader: Reader, label: bytes, point, claim: int, const: int, terms):
    """Reduction 3. ``terms`` = [("tensor", coeff)] or [("bits", coeff, kbits, nbits)].

    Returns one (point, value) per term: for a bits term the point is point || kappa
    on the bit tensor."""
    transcript.absorb_bytes(b"reduce/linear", label)
    total = const % P
    out = []
    for t, term in enumerate(terms):
        lab = label + b"/term" + str(t).encode()
        if term[0] == "tensor":
            (v,) = _read_values(reader, transcript, lab, 1)
            total += term[1] * v
            out.append((tuple(point), v))
        elif term[0] == "bits":
            _, coeff, kbits, nbits = term
            if not 0 < nbits <= 1 << kbits:
                raise ReductionError(f"{_name(label)}: {nbits} bits do not fit {kbits} bit-axis variables")
            vals = _read_values(reader, transcript, lab, 1 << kbits)
            total += coeff * sum(v << k for k, v in enumerate(vals[:nbits]))
            out.append(vals)
        else:
            raise ReductionError(f"{_name(label)}: unknown term kind {term[0]!r}")
    if total % P != claim:
        raise ReductionError(f"{_name(label)}: linear relation does not hold")
    result = []
    for t, term in enumerate(terms):
        if term[0] == "tensor":
            result.append(out[t])
        else:
            kappa = transcript.challenge_scalars(label + b"/kappa" + str(t).encode(), term[2])
            val = sum(e * v for e, v in zip(eq_table(kappa), out[t])) % P
            result.append((tuple(point) + tuple(kappa), val))
    return result


def verify_instance_map(transcript, reader: Reader, label: bytes, rho, q, claim: int,
                        const_weights, sources):
    """Reduction 4. The mapped stack M (instance point ``rho``, in-instance point ``q``)
    satisfies M[i] = c_i * ONE + sum_s sum_j w^s_ij Src_s[j], where ``const_weights``
    {i: c_i} multiplies the all-ones tensor (used for public offsets; usually empty)
    and ``sources`` = [(src_inst_vars, {(i, j): w})]. Returns per source
    (kappa || q, value)."""
    transcript.absorb_bytes(b"reduce/instance-map", label)
    eq_rho = eq_table(rho)
    total = sum(eq_rho[i] * c for i, c in const_weights.items()) % P
    received = []
    for s, (src_vars, weights) in enumerate(sources):
        u = _read_values(reader, transcript, label + b"/src" + str(s).encode(), 1 << src_vars)
        for (i, j), w in weights.items():
            total += eq_rho[i] * w * u[j]
        received.append(u)
    if total % P != claim:
        raise ReductionError(f"{_name(label)}: instance-mapped values do not match the claim")
    out = []
    for s, (src_vars, _) in enumerate(sources):
        kappa = transcript.challenge_scalars(label + b"/kappa" + str(s).encode(), src_vars)
        val = sum(e * v for e, v in zip(eq_table(kappa), received[s])) % P
        out.append((tuple(kappa) + tuple(q), val))
    return out


def selection_eval(rows_point, rows, sel_point) -> int:
    """MLE at (rows_point, sel_point) of the public 0/1 matrix Sel[r, n] = [idx[r] == n]:
    sum_r eq(rows_point, r) eq(sel_point, idx[r]) (rows: list of dataset indices, in
    the stacked (t, b) order, padded rows omitted)."""
    nb = len(sel_point)
    weights = eq_table(rows_point)
    total = 0
    for r, n in enumerate(rows):
        if n is None:
            continue
        bits = [(n >> (nb - 1 - k)) & 1 for k in range(nb)]
        total += weights[r] * eq_eval(sel_point, bits)
    return total % P


def verify_select(transcript, reader: Reader, label: bytes, rows_point, col_point, claim: int,
                  rows, n_vars: int):
    """Reduction 5 (data selection). The stack D[r, j] = Data[idx[r], j] (r = (t, b),
    a public schedule) satisfies D~(rows_point, col_point) = sum_n Sel~(rows_point, n)
    Data~(n, col_point): a degree-2 sumcheck over the n_vars dataset-row variables;
    the prover sends Data~(n', col_point). Returns (n' || col_point, value)."""
    transcript.absorb_bytes(b"reduce/select", label)
    red = _read_sumcheck(reader, transcript, claim, n_vars, 2)
    (dv,) = _read_values(reader, transcript, label + b"/data", 1)
    if selection_eval(rows_point, rows, red.point) * dv % P != red.value:
        raise ReductionError(f"{_name(label)}: selected rows do not match the committed dataset")
    return tuple(red.point) + tuple(col_point), dv


def padding_mask_eval(point, inst_bits: int, a_bits: int, extents) -> int:
    """MLE at ``point`` of the padding indicator of a stack (2^inst_bits, 2^a_bits, B):
    1 - sum_i eq(rho, i) [a < a_len_i] [b < b_len_i] over the real instances
    ``extents`` = [(a_len, b_len)]."""
    from zkdl.poly import prefix_mle
    rho, xa, xb = point[:inst_bits], point[inst_bits:inst_bits + a_bits], point[inst_bits + a_bits:]
    w = eq_table(rho)
    valid = sum(w[i] * prefix_mle(a, xa) * prefix_mle(b, xb) for i, (a, b) in enumerate(extents))
    return (1 - valid) % P


def verify_padding_zero(transcript, reader: Reader, label: bytes, tau, inst_bits: int, a_bits: int, extents):
    """Reduction 6: a committed stack is zero outside each instance's logical extent:
    0 = sum_x eq(tau, x) pad(x) T(x). Returns the claim (p', T(p'))."""
    transcript.absorb_bytes(b"reduce/padding", label)
    red = _read_sumcheck(reader, transcript, 0, len(tau), 3)
    (tv,) = _read_values(reader, transcript, label + b"/value", 1)
    pad = padding_mask_eval(red.point, inst_bits, a_bits, extents)
    if eq_eval(tau, red.point) * pad % P * tv % P != red.value:
        raise ReductionError(f"{_name(label)}: padding entries are not zero")
    return tuple(red.point), tv
