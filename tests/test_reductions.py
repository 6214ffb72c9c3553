"""Claim reductions in plain and ZK mode: each honest reduction yields true claims on
its inputs, and each false claim or tampered message is rejected."""

import random

import numpy as np
import pytest

from channels import Pair
from zkdl import poly
from zkdl.errors import VerificationError
from zkdl.field import P
from zkdl.prover import reductions as PR
from zkdl.prover.mle import partial_evaluate
from zkdl.reductions import (verify_eq_product, verify_instance_map, verify_linear, verify_matmul,
                             verify_padding_zero, verify_select)

MODES = pytest.mark.parametrize("zk", [False, True], ids=["plain", "zk"])


def rints(rng, n, lo=-1000, hi=1000):
    return np.array([rng.randrange(lo, hi) for _ in range(n)], dtype=np.int64)


def ev(arr, point):
    return poly.evaluate([int(x) % P for x in np.asarray(arr).reshape(-1)], list(point))


def flips(data: bytes):
    """A few single-bit corruptions spread over the message."""
    for off in sorted({0, len(data) // 3, len(data) // 2, len(data) - 1}):
        b = bytearray(data)
        b[off] ^= 1
        yield bytes(b)


def check_rejections(pair, verify_with, false_claim):
    """The honest messages fail for a false claim and when truncated; a flipped bit is
    rejected or changes the output claims (which later openings check)."""
    with pytest.raises(VerificationError):
        verify_with(pair.verifier(), false_claim)
    honest = verify_with(pair.verifier(), None)
    for bad in flips(pair.w.getvalue()):
        try:
            out = verify_with(pair.verifier(bad), None)
        except VerificationError:
            continue
        assert out != honest
    with pytest.raises(VerificationError):
        verify_with(pair.verifier(pair.w.getvalue()[:-1]), None)


# ------------------------------------------------------------------ eq-product

@MODES
def test_hadamard(zk):
    rng = random.Random(1)
    n = 4
    s = np.array([rng.randrange(2) for _ in range(1 << n)], dtype=np.int64)
    z = rints(rng, 1 << n)
    p = [rng.randrange(P) for _ in range(n)]
    factors = [(1, P - 1, 0), (0, 1, 1)]  # (1 - S) * Z
    pair = Pair(zk)
    pc, vc = pair.claim(ev((1 - s) * z, p))
    p2, vals = PR.prove_eq_product(pair.p, b"relu", p, pc, factors, [s, z])
    ch = pair.verifier()
    vp, vvals = verify_eq_product(ch, b"relu", p, vc, factors, 2)
    ch.r.finish()
    assert vp == p2 and vvals == [pair.public(v) for v in vals]
    assert [Pair.clear(v) for v in vals] == [ev(s, vp), ev(z, vp)]

    def again(ch, claim):
        return verify_eq_product(ch, b"relu", p, claim if claim is not None else vc, factors, 2)
    check_rejections(pair, again, pair.claim(ev((1 - s) * z, p) + 1)[1])


@MODES
def test_booleanity_detects_non_bit(zk):
    rng = random.Random(2)
    n = 4
    bits = np.array([rng.randrange(2) for _ in range(1 << n)], dtype=np.int64)
    tau = [rng.randrange(P) for _ in range(n)]
    factors = [(0, 1, 0), (1, P - 1, 0)]  # b (1 - b)
    pair = Pair(zk)
    PR.prove_eq_product(pair.p, b"bool", tau, pair.p.const(0), factors, [bits])
    vp, (v,) = verify_eq_product(pair.verifier(), b"bool", tau, pair.verifier().const(0), factors, 1)
    bad = bits.copy()
    bad[3] = 2
    pair = Pair(zk)  # the prover does not refuse: the verifier must
    PR.prove_eq_product(pair.p, b"bool", tau, pair.p.const(0), factors, [bad])
    with pytest.raises(VerificationError):
        verify_eq_product(pair.verifier(), b"bool", tau, pair.verifier().const(0), factors, 1)


# ---------------------------------------------------------------------- matmul

@MODES
@pytest.mark.parametrize("n_inst_vars", [0, 2])
def test_matmul(zk, n_inst_vars):
    rng = random.Random(3 + n_inst_vars)
    I, M, K, N = 1 << n_inst_vars, 4, 8, 2
    A = rints(rng, I * M * K).reshape(I, M, K)
    W = rints(rng, I * K * N).reshape(I, K, N)
    Z = np.einsum("imk,ikn->imn", A, W)
    rho = [rng.randrange(P) for _ in range(n_inst_vars)]
    r_m, r_n = [rng.randrange(P) for _ in range(2)], [rng.randrange(P)]
    left, _ = partial_evaluate(A.reshape(-1), (I, M, K), {1: r_m})
    right, _ = partial_evaluate(W.reshape(-1), (I, K, N), {2: r_n})
    pair = Pair(zk)
    pc, vc = pair.claim(ev(Z, rho + r_m + r_n))
    out = PR.prove_matmul(pair.p, b"fwd", rho, 3, pc, left, right)
    rho2, k2, lv, rv = verify_matmul(pair.verifier(), b"fwd", rho, 3, vc)
    assert (rho2, k2) == out[:2] and (lv, rv) == (pair.public(out[2]), pair.public(out[3]))
    assert Pair.clear(out[2]) == ev(A, list(rho2) + r_m + list(k2))
    assert Pair.clear(out[3]) == ev(W, list(rho2) + list(k2) + r_n)

    def again(ch, claim):
        return verify_matmul(ch, b"fwd", rho, 3, claim if claim is not None else vc)
    check_rejections(pair, again, pair.claim(ev(Z, rho + r_m + r_n) + 1)[1])


# ---------------------------------------------------------------------- linear

@MODES
def test_linear_with_bits_and_sign(zk):
    """Z' = sum_k 2^k U_k - 2^(Q-1) S with U = Z' + 2^(Q-1) S (zkReLU recomposition)."""
    rng = random.Random(4)
    Q, kbits, n = 6, 3, 16
    zp = rints(rng, n, -(1 << (Q - 1)), 1 << (Q - 1))
    s = (zp < 0).astype(np.int64)
    u = zp + (1 << (Q - 1)) * s
    bits = np.zeros((n, 1 << kbits), dtype=np.int64)
    for k in range(Q - 1):
        bits[:, k] = (u >> k) & 1
    p = [rng.randrange(P) for _ in range(4)]
    pair = Pair(zk)
    pc, vc = pair.claim(ev(zp, p))
    got_p = PR.prove_linear(pair.p, b"zp", p, pc, 0, [("bits", 1, kbits, Q - 1, bits), ("tensor", -(1 << (Q - 1)), s)])
    vterms = [("bits", 1, kbits, Q - 1), ("tensor", -(1 << (Q - 1)))]
    got_v = verify_linear(pair.verifier(), b"zp", p, vc, 0, vterms)
    assert [(pt, pair.public(v)) for pt, v in got_p] == got_v
    (bp, bv), (sp, sv) = got_p
    assert Pair.clear(bv) == ev(bits, bp) and Pair.clear(sv) == ev(s, sp)

    def again(ch, claim):
        return verify_linear(ch, b"zp", p, claim if claim is not None else vc, 0, vterms)
    check_rejections(pair, again, pair.claim(ev(zp, p) + 1)[1])


# ---------------------------------------------------------------- instance map

@MODES
def test_instance_map_weight_chain(zk):
    """W[t] = W0 - sum_{s<t} dW[s] for t < 4: claims on the W stack reduce to W0 and dW."""
    rng = random.Random(5)
    T, size = 4, 8
    W0 = rints(rng, size)
    dW = rints(rng, T * size, -10, 10).reshape(T, size)
    Wst = np.stack([W0 - dW[:t].sum(axis=0) for t in range(T)])
    rho = [rng.randrange(P) for _ in range(2)]
    q = [rng.randrange(P) for _ in range(3)]
    src_w0 = {(t, 0): 1 for t in range(T)}
    src_dw = {(t, s): P - 1 for t in range(T) for s in range(t)}
    pair = Pair(zk)
    pc, vc = pair.claim(ev(Wst, rho + q))
    got_p = PR.prove_instance_map(pair.p, b"chain", rho, q, pc, {}, [(0, src_w0, W0), (2, src_dw, dW.reshape(-1))])
    got_v = verify_instance_map(pair.verifier(), b"chain", rho, q, vc, {}, [(0, src_w0), (2, src_dw)])
    assert [(pt, pair.public(v)) for pt, v in got_p] == got_v
    (p0, v0), (p1, v1) = got_p
    assert Pair.clear(v0) == ev(W0, p0) and Pair.clear(v1) == ev(dW, p1)

    def again(ch, claim):
        return verify_instance_map(ch, b"chain", rho, q, claim if claim is not None else vc, {}, [(0, src_w0), (2, src_dw)])
    check_rejections(pair, again, pair.claim(ev(Wst, rho + q) + 1)[1])


# -------------------------------------------------------------- data selection

@MODES
def test_data_selection(zk):
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
    pair = Pair(zk)
    pc, vc = pair.claim(ev(D, rp + cp))
    got_p = PR.prove_select(pair.p, b"A0", rp, cp, pc, rows, X.reshape(-1), 4)
    got_v = verify_select(pair.verifier(), b"A0", rp, cp, vc, rows, 4)
    assert (got_p[0], pair.public(got_p[1])) == got_v
    assert Pair.clear(got_p[1]) == ev(X, got_v[0])
    other = [3, 7, 1, 7, None, None, None, None]  # a batch from the wrong rows
    with pytest.raises(VerificationError):
        verify_select(pair.verifier(), b"A0", rp, cp, vc, other, 4)


# ------------------------------------------------------------ padding zero-check

@MODES
def test_padding_zero_check(zk):
    rng = random.Random(8)
    ext = [(3, 4), (4, 2)]  # 2 instances of 4 x 4
    T = np.zeros((2, 4, 4), dtype=np.int64)
    T[0, :3, :4] = rints(rng, 12).reshape(3, 4)
    T[1, :4, :2] = rints(rng, 8).reshape(4, 2)
    tau = [rng.randrange(P) for _ in range(5)]
    pair = Pair(zk)
    got = PR.prove_padding_zero(pair.p, b"pad", tau, 1, 2, ext, T.reshape(-1))
    pt, v = verify_padding_zero(pair.verifier(), b"pad", tau, 1, 2, ext)
    assert (pt, v) == (got[0], pair.public(got[1])) and Pair.clear(got[1]) == ev(T, pt)
    bad = T.copy()
    bad[1, 0, 3] = 5  # a nonzero entry in the padding
    pair = Pair(zk)
    PR.prove_padding_zero(pair.p, b"pad", tau, 1, 2, ext, bad.reshape(-1))
    with pytest.raises(VerificationError):
        verify_padding_zero(pair.verifier(), b"pad", tau, 1, 2, ext)


def test_prefix_mle():
    rng = random.Random(9)
    x = [rng.randrange(P) for _ in range(4)]
    for d in range(0, 17):
        assert poly.prefix_mle(d, x) == poly.evaluate([1 if i < d else 0 for i in range(16)], x)


def test_sparse_selection_eval_equals_the_dense_one():
    """selection_eval of a dict {r: n} (the `entries` relation's sparse maps) is the MLE
    of the same 0/1 matrix as the list form, at random points; and it can fail."""
    from zkdl.reductions import selection_eval
    rnd = random.Random(11)
    for nr, nb in ((1, 1), (5, 3), (6, 7)):
        dense = [rnd.randrange(1 << nb) if rnd.random() < 0.3 else None for _ in range(1 << nr)]
        dense[0] = 0
        sparse = {r: n for r, n in enumerate(dense) if n is not None}
        p, q = [rnd.randrange(P) for _ in range(nr)], [rnd.randrange(P) for _ in range(nb)]
        assert selection_eval(p, sparse, q) == selection_eval(p, dense, q)
        moved = {**sparse, 0: 1}                     # one entry selects another table row
        assert selection_eval(p, moved, q) != selection_eval(p, dense, q)
