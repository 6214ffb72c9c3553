"""Claim reductions: each honest reduction yields true claims on its inputs, and each
false claim or tampered message is rejected."""

import random

import numpy as np
import pytest

from zkdl import poly
from zkdl.encoding import Reader, Writer
from zkdl.errors import EncodingError, VerificationError
from zkdl.field import P
from zkdl.prover import reductions as PR
from zkdl.reductions import (ReductionError, verify_eq_product, verify_instance_map, verify_linear,
                             verify_matmul)
from zkdl.transcript import Transcript


def rints(rng, n, lo=-1000, hi=1000):
    return np.array([rng.randrange(lo, hi) for _ in range(n)], dtype=np.int64)


def ev(arr, point):
    return poly.evaluate([int(x) % P for x in np.asarray(arr).reshape(-1)], list(point))


def tamper(data: bytes, offset: int) -> bytes:
    b = bytearray(data)
    b[offset] ^= 1
    return bytes(b)


# ------------------------------------------------------------------ eq-product

def eqprod_case(rng, n=4):
    s = np.array([rng.randrange(2) for _ in range(1 << n)], dtype=np.int64)
    z = rints(rng, 1 << n)
    a = (1 - s) * z
    p = [rng.randrange(P) for _ in range(n)]
    return s, z, a, p


def test_eq_product_hadamard_honest_and_false():
    rng = random.Random(1)
    s, z, a, p = eqprod_case(rng)
    factors = [(1, -1, 0), (0, 1, 1)]  # (1 - S) * Z
    claim = ev(a, p)
    w = Writer()
    p2, vals = PR.prove_eq_product(Transcript(b"t"), w, b"relu", p, claim, factors, [s, z])
    r = Reader(w.getvalue())
    vp, vvals = verify_eq_product(Transcript(b"t"), r, b"relu", p, claim, factors, 2)
    r.finish()
    assert (vp, vvals) == (p2, vals)
    assert vvals == [ev(s, vp), ev(z, vp)]
    # a false claim on A is rejected
    with pytest.raises(VerificationError):
        verify_eq_product(Transcript(b"t"), Reader(w.getvalue()), b"relu", p, (claim + 1) % P, factors, 2)
    # tampering with the sent tensor values is rejected
    data = w.getvalue()
    with pytest.raises(ReductionError):
        verify_eq_product(Transcript(b"t"), Reader(tamper(data, len(data) - 40)), b"relu", p, claim, factors, 2)


def test_booleanity_zero_check_detects_non_bit():
    rng = random.Random(2)
    n = 4
    bits = np.array([rng.randrange(2) for _ in range(1 << n)], dtype=np.int64)
    tau = [rng.randrange(P) for _ in range(n)]
    factors = [(0, 1, 0), (1, -1, 0)]  # b (1 - b)
    w = Writer()
    PR.prove_eq_product(Transcript(b"t"), w, b"bool", tau, 0, factors, [bits])
    vp, (v,) = verify_eq_product(Transcript(b"t"), Reader(w.getvalue()), b"bool", tau, 0, factors, 1)
    assert v == ev(bits, vp)
    bad = bits.copy()
    bad[3] = 2
    w = Writer()  # the prover does not re-check claims: the verifier must reject
    PR.prove_eq_product(Transcript(b"t"), w, b"bool", tau, 0, factors, [bad])
    with pytest.raises(ReductionError):
        verify_eq_product(Transcript(b"t"), Reader(w.getvalue()), b"bool", tau, 0, factors, 1)


# ---------------------------------------------------------------------- matmul

@pytest.mark.parametrize("n_inst_vars", [0, 2])
def test_matmul_reduction(n_inst_vars):
    rng = random.Random(3 + n_inst_vars)
    I, M, K, N = 1 << n_inst_vars, 4, 8, 2
    A = rints(rng, I * M * K).reshape(I, M, K)
    W = rints(rng, I * K * N).reshape(I, K, N)
    Z = np.einsum("imk,ikn->imn", A, W)
    rho = [rng.randrange(P) for _ in range(n_inst_vars)]
    r_m = [rng.randrange(P) for _ in range(2)]
    r_n = [rng.randrange(P) for _ in range(1)]
    claim = ev(Z, rho + r_m + r_n)
    from zkdl.prover.mle import partial_evaluate
    left, _ = partial_evaluate(A.reshape(-1), (I, M, K), {1: r_m})
    right, _ = partial_evaluate(W.reshape(-1), (I, K, N), {2: r_n})
    w = Writer()
    out = PR.prove_matmul(Transcript(b"t"), w, b"fwd", rho, 3, claim, left, right)
    rho2, k2, lv, rv = verify_matmul(Transcript(b"t"), Reader(w.getvalue()), b"fwd", rho, 3, claim)
    assert (rho2, k2, lv, rv) == out
    assert lv == ev(A, list(rho2) + r_m + list(k2))
    assert rv == ev(W, list(rho2) + list(k2) + r_n)
    with pytest.raises(VerificationError):
        verify_matmul(Transcript(b"t"), Reader(w.getvalue()), b"fwd", rho, 3, (claim + 1) % P)
    data = w.getvalue()
    with pytest.raises(ReductionError):
        verify_matmul(Transcript(b"t"), Reader(tamper(data, len(data) - 1)), b"fwd", rho, 3, claim)


# ---------------------------------------------------------------------- linear

def test_linear_with_bits_and_sign():
    """Z' = sum_k 2^k U_k - 2^(Q-1) S with U = Z' + 2^(Q-1) S (zkReLU recomposition)."""
    rng = random.Random(4)
    Q, kbits = 6, 3  # 5 value bits, padded to 8 planes
    n = 16
    zp = rints(rng, n, -(1 << (Q - 1)), 1 << (Q - 1))
    s = (zp < 0).astype(np.int64)
    u = zp + (1 << (Q - 1)) * s
    bits = np.zeros((n, 1 << kbits), dtype=np.int64)
    for k in range(Q - 1):
        bits[:, k] = (u >> k) & 1
    p = [rng.randrange(P) for _ in range(4)]
    claim = ev(zp, p)
    terms_p = [("bits", 1, kbits, Q - 1, bits), ("tensor", -(1 << (Q - 1)), s)]
    terms_v = [("bits", 1, kbits, Q - 1), ("tensor", -(1 << (Q - 1)))]
    w = Writer()
    got_p = PR.prove_linear(Transcript(b"t"), w, b"zp", p, terms_p)
    got_v = verify_linear(Transcript(b"t"), Reader(w.getvalue()), b"zp", p, claim, 0, terms_v)
    assert got_p == got_v
    (bp, bv), (sp, sv) = got_v
    assert bv == ev(bits, bp) and sv == ev(s, sp)
    with pytest.raises(ReductionError):
        verify_linear(Transcript(b"t"), Reader(w.getvalue()), b"zp", p, (claim + 1) % P, 0, terms_v)
    with pytest.raises(ReductionError):
        verify_linear(Transcript(b"t"), Reader(tamper(w.getvalue(), 5)), b"zp", p, claim, 0, terms_v)
    with pytest.raises(EncodingError):
        verify_linear(Transcript(b"t"), Reader(w.getvalue()[:-1]), b"zp", p, claim, 0, terms_v)


# ---------------------------------------------------------------- instance map

def test_instance_map_weight_chain():
    """W[t] = W0 - sum_{s<t} dW[s] for t < 4: claims on the W stack reduce to W0 and dW."""
    rng = random.Random(5)
    T, size = 4, 8
    W0 = rints(rng, size)
    dW = rints(rng, T * size, -10, 10).reshape(T, size)
    Wst = np.stack([W0 - dW[:t].sum(axis=0) for t in range(T)])
    rho = [rng.randrange(P) for _ in range(2)]
    q = [rng.randrange(P) for _ in range(3)]
    claim = ev(Wst, rho + q)
    src_w0 = {(t, 0): 1 for t in range(T)}
    src_dw = {(t, s): P - 1 for t in range(T) for s in range(t)}
    w = Writer()
    got_p = PR.prove_instance_map(Transcript(b"t"), w, b"chain", q, [(0, W0), (2, dW)])
    got_v = verify_instance_map(Transcript(b"t"), Reader(w.getvalue()), b"chain", rho, q, claim, {},
                                [(0, src_w0), (2, src_dw)])
    assert got_p == got_v
    (p0, v0), (p1, v1) = got_v
    assert v0 == ev(W0, p0) and v1 == ev(dW, p1)
    with pytest.raises(ReductionError):
        verify_instance_map(Transcript(b"t"), Reader(w.getvalue()), b"chain", rho, q, (claim + 1) % P, {},
                            [(0, src_w0), (2, src_dw)])


# -------------------------------------------------------------- data selection

def test_data_selection():
    from zkdl.prover.reductions import prove_select
    from zkdl.reductions import verify_select
    rng = random.Random(6)
    N, C = 16, 4
    X = rints(rng, N * C).reshape(N, C)
    rows = [3, 7, 0, 7, None, None, None, None]  # 2 steps x batch 2, padded to 8 rows
    D = np.zeros((8, C), dtype=np.int64)
    for r, n in enumerate(rows):
        if n is not None:
            D[r] = X[n]
    rp = [rng.randrange(P) for _ in range(3)]
    cp = [rng.randrange(P) for _ in range(2)]
    claim = ev(D, rp + cp)
    w = Writer()
    got_p = prove_select(Transcript(b"t"), w, b"A0", rp, cp, claim, rows, X, 4)
    got_v = verify_select(Transcript(b"t"), Reader(w.getvalue()), b"A0", rp, cp, claim, rows, 4)
    assert got_p == got_v
    assert got_v[1] == ev(X, got_v[0])
    other = [3, 7, 1, 7, None, None, None, None]  # a batch from the wrong rows
    with pytest.raises(VerificationError):
        verify_select(Transcript(b"t"), Reader(w.getvalue()), b"A0", rp, cp, claim, other, 4)


# ------------------------------------------------------------ padding zero-check

def test_padding_zero_check():
    from zkdl.prover.reductions import prove_padding_zero
    from zkdl.reductions import verify_padding_zero
    rng = random.Random(8)
    # 2 instances of 4 x 4, logical extents (3, 4) and (4, 2)
    ext = [(3, 4), (4, 2)]
    T = np.zeros((2, 4, 4), dtype=np.int64)
    T[0, :3, :4] = rints(rng, 12).reshape(3, 4)
    T[1, :4, :2] = rints(rng, 8).reshape(4, 2)
    tau = [rng.randrange(P) for _ in range(5)]
    w = Writer()
    got = prove_padding_zero(Transcript(b"t"), w, b"pad", tau, 1, 2, ext, T.reshape(-1))
    pt, v = verify_padding_zero(Transcript(b"t"), Reader(w.getvalue()), b"pad", tau, 1, 2, ext)
    assert (pt, v) == got and v == ev(T, pt)
    bad = T.copy()
    bad[1, 0, 3] = 5  # a nonzero entry in the padding
    w = Writer()
    prove_padding_zero(Transcript(b"t"), w, b"pad", tau, 1, 2, ext, bad.reshape(-1))
    with pytest.raises(ReductionError, match="padding"):
        verify_padding_zero(Transcript(b"t"), Reader(w.getvalue()), b"pad", tau, 1, 2, ext)


def test_prefix_mle():
    rng = random.Random(9)
    x = [rng.randrange(P) for _ in range(4)]
    for d in range(0, 17):
        assert poly.prefix_mle(d, x) == poly.evaluate([1 if i < d else 0 for i in range(16)], x)
