"""Exact integer kernels of the quantized tracer.

* :func:`exact_matmul` -- exact int64 matrix product. float64 BLAS is exact while every
  partial sum (and every operand) has magnitude < 2^53; :func:`matmul_bound` gives a
  sound bound on all partial sums, ``min(max_i sum_k |a_ik| * max|b|,
  max|a| * max_j sum_k |b_kj|)``. Above 2^53 the product is computed with int64
  ``np.matmul`` (exact while the bound is < 2^63); above that, the larger operand is split
  into high and low halves (``x = (x >> s) * 2^s + (x & (2^s - 1))``), the halves are
  multiplied recursively and recombined with Python integers. A result that does not fit
  int64 raises :class:`OverflowError`.
* :func:`round_shift` -- round half up by 2^s with remainder (numpy reference).
* numba kernels fusing rescale + remainder + ReLU / mask / update + bound counting, used
  by :mod:`zkdl.tracer`. Round half up is computed as ``(v >> s) + ((v >> (s-1)) & 1)``,
  which equals ``(v + 2^(s-1)) >> s`` without the risk of overflowing the addition.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["exact_matmul", "matmul_bound", "abs_max", "round_shift", "FLOAT_EXACT",
           "rescale_relu", "rescale_output", "rescale_mask", "sgd_update"]

FLOAT_EXACT = 1 << 53
_INT64_LIMIT = 1 << 63


def abs_max(x: np.ndarray) -> int:
    """max |x| as a Python int (no int64 overflow at -2^63)."""
    if x.size == 0:
        return 0
    return max(-int(x.min()), int(x.max()))


def _row_abs_sum_max(a: np.ndarray) -> int:
    """max_i sum_k |a_ik| (an upper bound when computed in floats)."""
    if a.size == 0:
        return 0
    if abs_max(a) * a.shape[1] < _INT64_LIMIT:
        return int(np.abs(a).sum(axis=1).max())
    s = float(np.abs(a.astype(np.float64)).sum(axis=1).max())
    return int(s * (1 + 2.0 ** -20)) + 1


def matmul_bound(a: np.ndarray, b: np.ndarray) -> int:
    """Sound upper bound on |every partial sum| of a @ b (and on every |operand| term)."""
    if a.size == 0 or b.size == 0:
        return 0
    ma, mb = abs_max(a), abs_max(b)
    k = a.shape[1]
    cheap = ma * mb * k
    if cheap < FLOAT_EXACT:
        return cheap
    return min(_row_abs_sum_max(a) * mb, ma * _row_abs_sum_max(b.T), cheap)


def _exact(a: np.ndarray, b: np.ndarray, method: str):
    bound = matmul_bound(a, b)
    if method == "float" or (method == "auto" and bound < FLOAT_EXACT):
        if bound >= FLOAT_EXACT:
            raise ValueError("float path requested but partial sums may reach 2^53")
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    if method == "int64" or (method == "auto" and bound < _INT64_LIMIT):
        if bound >= _INT64_LIMIT:
            raise ValueError("int64 path requested but partial sums may reach 2^63")
        return np.matmul(a, b)
    # split the operand with the larger entries into high and low halves
    sub = "auto"
    if abs_max(a) >= abs_max(b):
        s = max(1, (abs_max(a).bit_length() + 1) // 2)
        hi, lo = a >> s, a & ((1 << s) - 1)
        ph, pl = _exact(hi, b, sub), _exact(lo, b, sub)
    else:
        s = max(1, (abs_max(b).bit_length() + 1) // 2)
        hi, lo = b >> s, b & ((1 << s) - 1)
        ph, pl = _exact(a, hi, sub), _exact(a, lo, sub)
    return ph.astype(object) * (1 << s) + pl.astype(object)


def exact_matmul(a: np.ndarray, b: np.ndarray, method: str = "auto") -> np.ndarray:
    """Exact product of int64 matrices as int64.

    ``method``: "auto" (float64 BLAS when :func:`matmul_bound` < 2^53, else int64 when
    < 2^63, else split), or force "float" / "int64" (ValueError when unsound) / "split".
    Raises OverflowError when the exact result does not fit int64."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype != np.int64 or b.dtype != np.int64:
        raise TypeError("exact_matmul takes int64 arrays")
    if method not in ("auto", "float", "int64", "split"):
        raise ValueError(f"unknown method {method!r}")
    if method == "split":
        if abs_max(a) >= abs_max(b):
            s = max(1, (abs_max(a).bit_length() + 1) // 2)
            r = (_exact(a >> s, b, "auto").astype(object) * (1 << s)
                 + _exact(a & ((1 << s) - 1), b, "auto").astype(object))
        else:
            s = max(1, (abs_max(b).bit_length() + 1) // 2)
            r = (_exact(a, b >> s, "auto").astype(object) * (1 << s)
                 + _exact(a, b & ((1 << s) - 1), "auto").astype(object))
    else:
        r = _exact(a, b, method)
    if r.dtype == object:
        if r.size and (max(r.flat) >= _INT64_LIMIT or min(r.flat) < -_INT64_LIMIT):
            raise OverflowError("exact matrix product does not fit int64")
        r = r.astype(np.int64)
    return r


def round_shift(x: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """(q, rem) with q = round_half_up(x / 2^s) = (x + 2^(s-1)) >> s and rem = x - 2^s q."""
    x = np.asarray(x, dtype=np.int64)
    q = (x >> s) + ((x >> (s - 1)) & 1)
    return q, x - (q << s)


# ----------------------------------------------------------------------------- numba
@njit(inline="always", cache=True)
def _round_half_up(v, s):
    """round(v / 2^s), half up, for an int64 v and s >= 1: (v >> s) + bit s-1 of v."""
    return (v >> s) + ((v >> (s - 1)) & 1)


@njit(cache=True)
def rescale_relu(Z, s, lo, hi, Zp, rem, S, A, Af):
    """Zp = round(Z/2^s), rem, S = [Zp < 0], A = (1-S) Zp (+ float copy).
    Returns the number of Zp entries outside [lo, hi]."""
    n, m = Z.shape
    bad = 0
    for i in range(n):
        for j in range(m):
            v = np.int64(Z[i, j])
            q = _round_half_up(v, s)
            Zp[i, j] = q
            rem[i, j] = v - (q << s)
            if q < lo or q > hi:
                bad += 1
            if q < 0:
                S[i, j] = 1
                A[i, j] = 0
                Af[i, j] = 0.0
            else:
                S[i, j] = 0
                A[i, j] = q
                Af[i, j] = np.float64(q)
    return bad


@njit(cache=True)
def rescale_output(Z, s, labels, one, lo, hi, Zp, rem, GZ, GZf):
    """Last layer: Zp = round(Z/2^s), rem, G_Z = Zp - Y with Y[i, labels[i]] = one.
    Returns (#Zp out of [lo, hi], #G_Z out of [lo, hi])."""
    n, m = Z.shape
    bad_z = 0
    bad_g = 0
    for i in range(n):
        for j in range(m):
            v = np.int64(Z[i, j])
            q = _round_half_up(v, s)
            Zp[i, j] = q
            rem[i, j] = v - (q << s)
            if q < lo or q > hi:
                bad_z += 1
            g = q - one if labels[i] == j else q
            GZ[i, j] = g
            GZf[i, j] = np.float64(g)
            if g < lo or g > hi:
                bad_g += 1
    return bad_z, bad_g


@njit(cache=True)
def rescale_mask(GA, s, S, lo, hi, GAp, rem, GZ, GZf):
    """G_A' = round(G_A/2^s), rem, G_Z = (1-S) G_A' (+ float copy).
    Returns the number of G_A' entries outside [lo, hi]."""
    n, m = GA.shape
    bad = 0
    for i in range(n):
        for j in range(m):
            v = np.int64(GA[i, j])
            q = _round_half_up(v, s)
            GAp[i, j] = q
            rem[i, j] = v - (q << s)
            if q < lo or q > hi:
                bad += 1
            if S[i, j] != 0:
                GZ[i, j] = 0
                GZf[i, j] = 0.0
            else:
                GZ[i, j] = q
                GZf[i, j] = np.float64(q)
    return bad


@njit(cache=True)
def sgd_update(W, GW, a, s, glim, dlo, dhi, lo, hi, dW, remW, Wn, Wnf, stats):
    """dW = round(a G_W / 2^s), remW = a G_W - 2^s dW, Wn = W - dW (+ float copy).

    Entries with |G_W| > glim (a*G_W could overflow) are counted and left with dW = 0.
    stats[i] = (#G_W too large, #dW out of [dlo, dhi], #Wn out of [lo, hi], max |Wn|)
    per row i."""
    n, m = W.shape
    for i in range(n):
        nb_g = 0
        nb_d = 0
        nb_w = 0
        mx = 0
        for j in range(m):
            g = np.int64(GW[i, j])
            if g > glim or g < -glim:
                nb_g += 1
                g = 0
            x = a * g
            q = (x >> s) + ((x >> (s - 1)) & 1)
            dW[i, j] = q
            remW[i, j] = x - (q << s)
            if q < dlo or q > dhi:
                nb_d += 1
            w = W[i, j] - q
            Wn[i, j] = w
            Wnf[i, j] = np.float64(w)
            if w < lo or w > hi:
                nb_w += 1
            aw = w if w >= 0 else -w
            if aw > mx:
                mx = aw
        stats[i, 0] = nb_g
        stats[i, 1] = nb_d
        stats[i, 2] = nb_w
        stats[i, 3] = mx
