"""numba kernels for multilinear tables and sumcheck rounds (prover only).

Arrays follow :mod:`zkdl.field.kernels`: limb arrays (8, n) uint32 in Montgomery
form; a *stack* of k tables is (k, 8, n). Kernels work on an index range so
callers can split them over threads; they release the GIL and read no globals.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from zkdl.field._arith import ZERO, add_mod, mont_mul, sub_mod
from zkdl.field.kernels import BLK, flush, load, load_scalar, store

U = np.uint64


@njit(nogil=True, cache=True)
def k_eq_expand(t, r, out, lo, hi):
    """One eq-table step: out[2i] = t[i] (1 - r), out[2i+1] = t[i] r (new variable
    is the least significant index bit)."""
    rv = load_scalar(r)
    buf = np.empty((8, 2 * BLK), np.uint32)
    for st in range(lo, hi, BLK):
        m = min(BLK, hi - st)
        for i in range(m):
            x = load(t, st + i)
            y = mont_mul(x, rv)
            store(buf, 2 * i, sub_mod(x, y))
            store(buf, 2 * i + 1, y)
        flush(buf, out, 2 * st, 2 * m)


@njit(nogil=True, cache=True)
def k_fold_stack(tabs, s, out, lo, hi):
    """Fix the leading variable of every table in the stack to s:
    out[j, :, i] = lo_i + s (hi_i - lo_i) with lo_i = tabs[j, :, i], hi_i = tabs[j, :, i + h]."""
    sv = load_scalar(s)
    h = tabs.shape[2] // 2
    buf = np.empty((8, BLK), np.uint32)
    for j in range(tabs.shape[0]):
        t = tabs[j]
        o = out[j]
        for st in range(lo, hi, BLK):
            m = min(BLK, hi - st)
            for i in range(m):
                x = load(t, st + i)
                store(buf, i, add_mod(x, mont_mul(sub_mod(load(t, st + i + h), x), sv)))
            flush(buf, o, st, m)


@njit(nogil=True, cache=True)
def k_round_evals_terms(tabs, deg, idx, lens, with1, lo, hi):
    """Per-limb lazy sums, for t = 0, 2, 3, ..., deg, of sum_u prod_{j in term u}
    (lo_j + t (hi_j - lo_j)) over pairs i in [lo, hi), one row per term u (the tables
    ``idx[u, :lens[u]]``; a plain product sumcheck is one term of every table). Returns
    uint64 (terms, deg + 1, 8); row 1 of each term is left zero unless ``with1`` (then the
    caller has no running claim to derive g(1) = claim - g(0) from) and is reduced mod P
    by the caller."""
    k = tabs.shape[0]
    h = tabs.shape[2] // 2
    nt = idx.shape[0]
    acc = np.zeros((nt, deg + 1, 8), np.uint64)
    cur = np.empty((k, 8, BLK), np.uint32)
    dif = np.empty((k, 8, BLK), np.uint32)
    prod = np.empty((8, BLK), np.uint32)
    for st in range(lo, hi, BLK):
        m = min(BLK, hi - st)
        for j in range(k):
            t = tabs[j]
            c = cur[j]
            d = dif[j]
            for i in range(m):
                x = load(t, st + i)
                store(c, i, x)
                store(d, i, sub_mod(load(t, st + i + h), x))
        for tt in range(deg + 1):
            if tt > 0:
                for j in range(k):
                    c = cur[j]
                    d = dif[j]
                    for i in range(m):
                        store(c, i, add_mod(load(c, i), load(d, i)))
            if tt == 1 and not with1:
                continue
            for u in range(nt):
                c0 = cur[idx[u, 0]]
                for i in range(m):
                    store(prod, i, load(c0, i))
                for q in range(1, lens[u]):
                    c = cur[idx[u, q]]
                    for i in range(m):
                        store(prod, i, mont_mul(load(prod, i), load(c, i)))
                for limb in range(8):
                    s = ZERO
                    for i in range(m):
                        s += U(prod[limb, i])
                    acc[u, tt, limb] += s
    return acc
