"""Claim reductions (verifier side): the sub-protocols FAC4DNN proofs are made of.

A *claim* says the multilinear extension of a (stacked, zero-padded) tensor takes a
value at a point. Each reduction consumes claims on derived tensors or relation
outputs and produces claims on other tensors, until only claims on committed
tensors remain; those are batched (:mod:`zkdl.claims`) and opened (:mod:`zkdl.hyrax`).
Every function works through a channel (:mod:`zkdl.channel`): in plain mode claim
values are field elements and relations are checked by arithmetic; in ZK mode they
are Pedersen commitments, combined homomorphically, with Sigma proofs for equalities
and products and zero-knowledge sumchecks. The prover side
(:mod:`zkdl.prover.reductions`) writes the same messages in the same order.

1. eq-product (Hadamard products, booleanity zero-checks):
       claim = sum_x eq(p, x) prod_j (c0_j + c1_j T_{idx_j}(x))     (1 or 2 factors)
   Sumcheck of degree (#factors + 1); the prover sends T_i(p') for each distinct
   tensor; a product (or equality) check closes it. -> claims T_i(p').
2. matmul (FAC4DNN stacking over instances i, contraction over k):
       claim = sum_{i,k} eq(rho, i) Left'(i, k) Right'(i, k)
   with Left'(i, k) = Left_i~(r_m, k), Right'(i, k) = Right_i~(k, r_n) (the caller fixes
   the other coordinates). Degree-3 sumcheck over (i, k); the prover sends both
   operand values; a product check closes it. (zkDL; Thaler's matmul sumcheck.)
3. linear: claim = const + sum_t coeff_t V_t(p), a term being a tensor (one value) or
   a bit-decomposed value V = sum_k 2^k Bits[..., k] (bit axis last, 2^kb planes;
   one value per plane). Equality check, then kappa compresses the planes to
   Bits(p || kappa) = sum_k eq(kappa, k) v_k.
4. instance map: M[i] = sum_j w_ij Src[j]: the prover sends u_j = Src~(j, q) for all
   source instances; equality check of sum_i eq(rho, i) sum_j w_ij u_j; kappa
   compresses to Src~(kappa || q).
5. data selection: D[r] = Data[idx[r]] with a public schedule, a degree-2 sumcheck
   over the dataset rows against the public selection matrix.
6. padding: a stack is zero outside its logical extent (zero-check with a public mask).
"""

from __future__ import annotations

from zkdl.channel import ReductionError, _name
from zkdl.field import P, inv
from zkdl.poly import eq_eval, eq_table, prefix_mle

__all__ = ["ReductionError", "verify_eq_product", "verify_matmul", "verify_linear", "verify_instance_map",
           "verify_select", "verify_padding_zero", "selection_eval", "padding_mask_eval", "close_product"]


def _inverse(x: int, label: bytes) -> int:
    if x % P == 0:
        raise ReductionError(f"{_name(label)}: degenerate challenge (eq weight 0)")
    return inv(x)


def close_product(ch, label: bytes, weight: int, final, factors) -> None:
    """Check final = weight * prod(factors) for 1 or 2 channel-valued factors."""
    target = ch.lin([(_inverse(weight, label), final)])
    if len(factors) == 1:
        ch.equal(label, factors[0], target)
    elif len(factors) == 2:
        ch.product(label, factors[0], factors[1], target)
    else:
        raise ReductionError(f"{_name(label)}: at most two committed factors are supported")


def verify_eq_product(ch, label: bytes, point, claim, factors, n_tensors: int):
    """Reduction 1. ``factors`` = [(c0, c1, tensor_index)]; returns (p', [T_i(p')])."""
    ch.t.absorb_bytes(b"reduce/eq-product", label)
    p2, final = ch.sumcheck(claim, len(point), len(factors) + 1)
    vals = ch.recv(label + b"/values", n_tensors)
    fs = [ch.lin([(c1, vals[idx])], c0) for c0, c1, idx in factors]
    close_product(ch, label, eq_eval(point, p2), final, fs)
    return p2, vals


def verify_matmul(ch, label: bytes, rho, k_vars: int, claim):
    """Reduction 2. Returns (rho', k', left_value, right_value)."""
    ch.t.absorb_bytes(b"reduce/matmul", label)
    n_inst = len(rho)
    point, final = ch.sumcheck(claim, n_inst + k_vars, 3 if n_inst else 2)
    left, right = ch.recv(label + b"/operands", 2)
    rho2, k2 = point[:n_inst], point[n_inst:]
    close_product(ch, label, eq_eval(rho, rho2) if n_inst else 1, final, [left, right])
    return tuple(rho2), tuple(k2), left, right


def verify_linear(ch, label: bytes, point, claim, const: int, terms):
    """Reduction 3. ``terms`` = [("tensor", coeff)] or [("bits", coeff, kbits, nbits)].
    Returns one (point, value) per term (point || kappa for bit terms)."""
    ch.t.absorb_bytes(b"reduce/linear", label)
    lin_terms, received = [], []
    for t, term in enumerate(terms):
        lab = label + b"/term" + str(t).encode()
        if term[0] == "tensor":
            (v,) = ch.recv(lab, 1)
            lin_terms.append((term[1], v))
            received.append(v)
        elif term[0] == "bits":
            _, coeff, kbits, nbits = term
            if not 0 < nbits <= 1 << kbits:
                raise ReductionError(f"{_name(label)}: {nbits} bits do not fit {kbits} bit-axis variables")
            vals = ch.recv(lab, 1 << kbits)
            lin_terms.extend(bit_terms(coeff, nbits, vals))
            received.append(vals)
        else:
            raise ReductionError(f"{_name(label)}: unknown term kind {term[0]!r}")
    return finish_linear(ch, label, point, claim, const, terms, lin_terms, received)


def bit_terms(coeff: int, nbits: int, vals):
    """The linear terms sum_k coeff 2^k v_k of a bit-decomposed value (planes < nbits)."""
    return [(coeff * (1 << k), v) for k, v in enumerate(vals[:nbits])]


def finish_linear(ch, label: bytes, point, claim, const: int, terms, lin_terms, received):
    """Shared tail of reduction 3 (both sides): the equality check, then one random
    point kappa per bit term compressing its planes. ``terms[t][0]`` is the kind and,
    for bit terms, ``terms[t][2]`` the number of bit-axis variables."""
    ch.equal(label, ch.lin(lin_terms, const), claim)
    result = []
    for t, term in enumerate(terms):
        if term[0] == "tensor":
            result.append((tuple(point), received[t]))
        else:
            kappa = ch.t.challenge_scalars(label + b"/kappa" + str(t).encode(), term[2])
            result.append((tuple(point) + tuple(kappa), ch.lin(list(zip(eq_table(kappa), received[t])))))
    return result


def instance_terms(eq_rho, weights: dict, u):
    """Linear terms sum_j (sum_i eq(rho, i) w_ij) u_j of an instance map's source."""
    coeff = {}
    for (i, j), w in weights.items():
        coeff[j] = (coeff.get(j, 0) + eq_rho[i] * w) % P
    return [(c, u[j]) for j, c in sorted(coeff.items())]


def finish_instance_map(ch, label: bytes, q, claim, const: int, src_vars, lin_terms, received):
    """Shared tail of reduction 4 (both sides): the equality check, then a random point
    kappa per source compressing its instance values."""
    ch.equal(label, ch.lin(lin_terms, const), claim)
    out = []
    for s, bits in enumerate(src_vars):
        kappa = ch.t.challenge_scalars(label + b"/kappa" + str(s).encode(), bits)
        out.append((tuple(kappa) + tuple(q), ch.lin(list(zip(eq_table(kappa), received[s])))))
    return out


def verify_instance_map(ch, label: bytes, rho, q, claim, const_weights, sources):
    """Reduction 4. M[i] = c_i * ONE + sum_s sum_j w^s_ij Src_s[j] (``const_weights``
    {i: c_i}, ``sources`` [(src_inst_vars, {(i, j): w})]). Returns per source
    (kappa || q, value)."""
    ch.t.absorb_bytes(b"reduce/instance-map", label)
    eq_rho = eq_table(rho)
    const = sum(eq_rho[i] * c for i, c in const_weights.items()) % P
    lin_terms, received = [], []
    for s, (src_vars, weights) in enumerate(sources):
        u = ch.recv(label + b"/src" + str(s).encode(), 1 << src_vars)
        lin_terms.extend(instance_terms(eq_rho, weights, u))
        received.append(u)
    return finish_instance_map(ch, label, q, claim, const, [b for b, _ in sources], lin_terms, received)


def eq_lookup(point):
    """x -> eq(point, x) for indices x of len(point) bits, from two tables of
    2^(n/2) entries (eq splits over the high and low halves of the bits): O(2^(n/2))
    to build, one product per lookup."""
    h = len(point) // 2
    hi, lo, low_bits = eq_table(point[:h]), eq_table(point[h:]), len(point) - h
    mask = (1 << low_bits) - 1
    return lambda x: hi[x >> low_bits] * lo[x & mask] % P


def selection_eval(rows_point, rows, sel_point) -> int:
    """MLE at (rows_point, sel_point) of the public 0/1 matrix Sel[r, n] = [idx[r] == n]:
    sum_r eq(rows_point, r) eq(sel_point, idx[r]). ``rows``: a list idx (padded rows
    None) or a dict {r: idx[r]} of the selected rows only (a sparse map: O(len(rows))
    work plus square-root tables)."""
    if isinstance(rows, dict):
        e_r, e_n = eq_lookup(rows_point), eq_lookup(sel_point)
        return sum(e_r(r) * e_n(n) for r, n in rows.items()) % P
    nb = len(sel_point)
    weights = eq_table(rows_point)
    total = 0
    for r, n in enumerate(rows):
        if n is None:
            continue
        bits = [(n >> (nb - 1 - k)) & 1 for k in range(nb)]
        total += weights[r] * eq_eval(sel_point, bits)
    return total % P


def verify_select(ch, label: bytes, rows_point, col_point, claim, rows, n_vars: int):
    """Reduction 5. D~(rows_point, col_point) = sum_n Sel~(rows_point, n) Data~(n, col_point).
    Returns (n' || col_point, Data value)."""
    ch.t.absorb_bytes(b"reduce/select", label)
    point, final = ch.sumcheck(claim, n_vars, 2)
    (dv,) = ch.recv(label + b"/data", 1)
    close_product(ch, label, selection_eval(rows_point, rows, point), final, [dv])
    return tuple(point) + tuple(col_point), dv


def padding_mask_eval(point, inst_bits: int, a_bits: int, extents) -> int:
    """MLE at ``point`` of the padding indicator of a stack (2^inst_bits, 2^a_bits, B):
    1 - sum_i eq(rho, i) [a < a_len_i] [b < b_len_i] over the real instances."""
    rho, xa, xb = point[:inst_bits], point[inst_bits:inst_bits + a_bits], point[inst_bits + a_bits:]
    w = eq_table(rho)
    valid = sum(w[i] * prefix_mle(a, xa) * prefix_mle(b, xb) for i, (a, b) in enumerate(extents))
    return (1 - valid) % P


def verify_padding_zero(ch, label: bytes, tau, inst_bits: int, a_bits: int, extents):
    """Reduction 6: 0 = sum_x eq(tau, x) pad(x) T(x). Returns the claim (p', T(p'))."""
    ch.t.absorb_bytes(b"reduce/padding", label)
    point, final = ch.sumcheck(ch.const(0), len(tau), 3)
    (tv,) = ch.recv(label + b"/value", 1)
    close_product(ch, label, eq_eval(tau, point) * padding_mask_eval(point, inst_bits, a_bits, extents),
                  final, [tv])
    return tuple(point), tv
