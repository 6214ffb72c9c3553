"""numba kernels over Fr limb arrays (prover side; the verifier never imports this).

A limb array is a C-contiguous uint32 array of shape (8, n): limb k of element e is
``a[k, e]`` (structure-of-arrays, little-endian limbs), in Montgomery form with
R = 2^256. Every kernel works on the element range [lo, hi) so that
:mod:`zkdl.field.vector` can split work over threads (kernels release the GIL);
no kernel reads numba's global thread settings.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from zkdl.field._arith import (MASK, ONE, P0, P1, P2, P3, P4, P5, P6, P7, PINV, SH, ZERO,
                               add_mod, mont_mul, reduce_once, sub_mod)

U = np.uint64

# Element-wise kernels compute BLK results into a local scratch block and then copy
# it out. LLVM cannot prove the output limb rows disjoint from the input rows (they
# are separate pointers into caller arrays), and with 24 such pointers it will not
# vectorize a loop that stores straight to the output (measured 9-13 M mults/s per
# core); the private scratch block has no such aliasing and the loop vectorizes
# (about 37 M/s per core on AVX-512).
BLK = 32


@njit(inline="always", cache=True)
def load(a, e):
    return (U(a[0, e]), U(a[1, e]), U(a[2, e]), U(a[3, e]),
            U(a[4, e]), U(a[5, e]), U(a[6, e]), U(a[7, e]))


@njit(inline="always", cache=True)
def load_scalar(s):
    return (U(s[0]), U(s[1]), U(s[2]), U(s[3]), U(s[4]), U(s[5]), U(s[6]), U(s[7]))


@njit(inline="always", cache=True)
def store(out, e, r):
    out[0, e] = np.uint32(r[0])
    out[1, e] = np.uint32(r[1])
    out[2, e] = np.uint32(r[2])
    out[3, e] = np.uint32(r[3])
    out[4, e] = np.uint32(r[4])
    out[5, e] = np.uint32(r[5])
    out[6, e] = np.uint32(r[6])
    out[7, e] = np.uint32(r[7])


@njit(inline="always", cache=True)
def flush(buf, out, start, count):
    for k in range(8):
        for i in range(count):
            out[k, start + i] = buf[k, i]


@njit(nogil=True, cache=True)
def k_mul(a, b, out, lo, hi):
    buf = np.empty((8, BLK), np.uint32)
    for st in range(lo, hi, BLK):
        m = min(BLK, hi - st)
        for i in range(m):
            store(buf, i, mont_mul(load(a, st + i), load(b, st + i)))
        flush(buf, out, st, m)


@njit(nogil=True, cache=True)
def k_add(a, b, out, lo, hi):
    buf = np.empty((8, BLK), np.uint32)
    for st in range(lo, hi, BLK):
        m = min(BLK, hi - st)
        for i in range(m):
            store(buf, i, add_mod(load(a, st + i), load(b, st + i)))
        flush(buf, out, st, m)


@njit(nogil=True, cache=True)
def k_sub(a, b, out, lo, hi):
    buf = np.empty((8, BLK), np.uint32)
    for st in range(lo, hi, BLK):
        m = min(BLK, hi - st)
        for i in range(m):
            store(buf, i, sub_mod(load(a, st + i), load(b, st + i)))
        flush(buf, out, st, m)


@njit(nogil=True, cache=True)
def k_scale(a, s, out, lo, hi):
    """out = s * a for one Montgomery scalar s (shape (8,))."""
    sv = load_scalar(s)
    buf = np.empty((8, BLK), np.uint32)
    for st in range(lo, hi, BLK):
        m = min(BLK, hi - st)
        for i in range(m):
            store(buf, i, mont_mul(load(a, st + i), sv))
        flush(buf, out, st, m)


@njit(nogil=True, cache=True)
def k_add_scalar(a, s, out, lo, hi):
    """out = a + s for one Montgomery scalar s."""
    sv = load_scalar(s)
    buf = np.empty((8, BLK), np.uint32)
    for st in range(lo, hi, BLK):
        m = min(BLK, hi - st)
        for i in range(m):
            store(buf, i, add_mod(load(a, st + i), sv))
        flush(buf, out, st, m)


@njit(nogil=True, cache=True)
def k_axpy(a, s, b, out, lo, hi):
    """out = a + s * (b - a): the multilinear fold / line evaluation."""
    sv = load_scalar(s)
    buf = np.empty((8, BLK), np.uint32)
    for st in range(lo, hi, BLK):
        m = min(BLK, hi - st)
        for i in range(m):
            x = load(a, st + i)
            store(buf, i, add_mod(x, mont_mul(sub_mod(load(b, st + i), x), sv)))
        flush(buf, out, st, m)


@njit(nogil=True, cache=True)
def k_limb_sums(a, lo, hi):
    """Per-limb uint64 sums (exact for < 2^32 elements); the caller reduces mod P."""
    acc = np.zeros(8, np.uint64)
    for k in range(8):
        s = ZERO
        for e in range(lo, hi):
            s += U(a[k, e])
        acc[k] = s
    return acc


@njit(nogil=True, cache=True)
def k_inner_limb_sums(a, b, lo, hi):
    """Per-limb sums of the Montgomery products a[e]*b[e]/R."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = ZERO
    for e in range(lo, hi):
        r = mont_mul(load(a, e), load(b, e))
        s0 += r[0]
        s1 += r[1]
        s2 += r[2]
        s3 += r[3]
        s4 += r[4]
        s5 += r[5]
        s6 += r[6]
        s7 += r[7]
    acc = np.empty(8, np.uint64)
    acc[0], acc[1], acc[2], acc[3] = s0, s1, s2, s3
    acc[4], acc[5], acc[6], acc[7] = s4, s5, s6, s7
    return acc


@njit(nogil=True, cache=True)
def k_from_int64(v, r2, out, lo, hi):
    """out[e] = Montgomery form of the signed integer v[e] (|v| < 2^63)."""
    r2v = load_scalar(r2)
    zero = (ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO)
    buf = np.empty((8, BLK), np.uint32)
    for st in range(lo, hi, BLK):
        m = min(BLK, hi - st)
        for i in range(m):
            x = v[st + i]
            u = U(-x) if x < 0 else U(x)
            t = mont_mul((u & MASK, u >> SH, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO), r2v)
            if x < 0:
                t = sub_mod(zero, t)
            store(buf, i, t)
        flush(buf, out, st, m)


@njit(nogil=True, cache=True)
def k_from_canonical(a, r2, out, lo, hi):
    """Canonical limbs -> Montgomery form. Returns the first index whose value is
    >= P (non-canonical), or -1 when all are canonical."""
    r2v = load_scalar(r2)
    bad = -1
    buf = np.empty((8, BLK), np.uint32)
    for st in range(lo, hi, BLK):
        m = min(BLK, hi - st)
        for i in range(m):
            x = load(a, st + i)
            store(buf, i, mont_mul(x, r2v))
        flush(buf, out, st, m)
    for e in range(lo, hi):
        if reduce_once(load(a, e)) != load(a, e):
            return e
    return bad


@njit(nogil=True, cache=True)
def k_to_canonical(a, out, lo, hi):
    one = (ONE, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO)
    buf = np.empty((8, BLK), np.uint32)
    for st in range(lo, hi, BLK):
        m = min(BLK, hi - st)
        for i in range(m):
            store(buf, i, mont_mul(load(a, st + i), one))
        flush(buf, out, st, m)


@njit(nogil=True, cache=True)
def k_batch_inverse_prefix(a, prefix, lo, hi, one):
    """prefix[e] = prod a[lo..e]; returns 1 if some a[e] is zero, else 0."""
    acc = load_scalar(one)
    zero_seen = 0
    for e in range(lo, hi):
        x = load(a, e)
        if x == (ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO):
            zero_seen = 1
        acc = mont_mul(acc, x)
        store(prefix, e, acc)
    return zero_seen


@njit(nogil=True, cache=True)
def k_batch_inverse_back(a, prefix, inv_total, out, lo, hi):
    """Given inv_total = (prod a[lo..hi))^-1, writes out[e] = a[e]^-1 (Montgomery trick).
    ``out`` may alias ``a`` only if ``prefix`` does not."""
    inv = load_scalar(inv_total)
    for e in range(hi - 1, lo - 1, -1):
        x = load(a, e)
        if e > lo:
            store(out, e, mont_mul(inv, load(prefix, e - 1)))
        else:
            store(out, e, inv)
        inv = mont_mul(inv, x)


@njit(nogil=True, cache=True)
def k_vecmat_small_acc(v, m, offset, acc_lo, acc_hi, c0, c1):
    """Accumulate sum_i v[i] * (m[i, j] + offset) for columns j in [c0, c1).

    m is a small-int matrix (int64, |m| < 2^31, offset = 2^31 keeps entries
    non-negative); each shifted entry u < 2^32 is split into 16-bit digits, and
    limb products (< 2^48) are summed lazily into uint64 accumulators
    acc_lo/acc_hi of shape (8, ncols): exact for up to 2^16 rows per call.
    """
    rows = m.shape[0]
    lo16 = U(0xFFFF)
    s16 = U(16)
    for i in range(rows):
        x = load(v, i)
        for j in range(c0, c1):
            u = U(m[i, j] + offset)
            d0 = u & lo16
            d1 = u >> s16
            for k in range(8):
                acc_lo[k, j] += x[k] * d0
                acc_hi[k, j] += x[k] * d1


@njit(nogil=True, cache=True)
def k_vecmat_small_finish(acc_lo, acc_hi, k320, out, c0, c1):
    """Reduce the lazy accumulators X = acc_lo + 2^16 acc_hi (per column) mod P.

    X < 2^306 is normalised to ten 32-bit words, divided by 2^64 with a two-word
    Montgomery reduction (Y = (X + mP) / 2^64 < 2^256) and multiplied back by
    2^64 via mont_mul(Y, 2^320 mod P)."""
    k320v = load_scalar(k320)
    pl = (P0, P1, P2, P3, P4, P5, P6, P7)
    w = np.zeros(11, np.uint64)
    for j in range(c0, c1):
        for q in range(11):
            w[q] = ZERO
        for k in range(8):
            a = acc_lo[k, j]
            h = acc_hi[k, j]
            w[k] += a & MASK
            w[k + 1] += a >> SH
            hl = (h & U(0xFFFF)) << U(16)
            hh = h >> U(16)
            w[k] += hl
            w[k + 1] += hh & MASK
            w[k + 2] += hh >> SH
        c = ZERO
        for q in range(11):
            s = w[q] + c
            w[q] = s & MASK
            c = s >> SH
        # two-word REDC: make the two low words zero by adding m * P * 2^(32 i)
        for i in range(2):
            mm = (w[i] * PINV) & MASK
            c = ZERO
            for k in range(8):
                s = w[i + k] + mm * pl[k] + c
                w[i + k] = s & MASK
                c = s >> SH
            q = i + 8
            while c != ZERO and q < 11:
                s = w[q] + c
                w[q] = s & MASK
                c = s >> SH
                q += 1
        y = (w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9])
        y = reduce_once(reduce_once(y))
        store(out, j, mont_mul(y, k320v))
