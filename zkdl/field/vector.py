"""Vectors of Fr for the prover: :class:`FrVec` over numba limb arrays.

An FrVec wraps a C-contiguous uint32 array ``limbs`` of shape (8, n) in Montgomery
form (see :mod:`zkdl.field.kernels`). Operations split long vectors into one chunk
per thread; the thread count is an argument (default: all cores) and the kernels
release the GIL, so a small thread pool runs them in parallel.

Conversions: Python ints (canonical, any size list), signed int64 arrays (the
tracer's quantized tensors, v -> v mod P), and canonical 32-byte little-endian
encodings (non-canonical values are rejected with NonCanonicalError).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from zkdl.errors import EncodingError, NonCanonicalError
from zkdl.field import BYTES, P
from zkdl.field import kernels as K

NLIMBS = 8
R_MONT = (1 << 256) % P
R2 = R_MONT * R_MONT % P
R_INV = pow(R_MONT, P - 2, P)
PARALLEL_MIN = 1 << 14  # below this, threads cost more than they save
MAX_VECMAT_ROWS = 1 << 16  # rows per lazy-accumulation pass of vecmat_small

_pool: ThreadPoolExecutor | None = None


_CPUS = os.cpu_count() or 1  # read once: os.cpu_count() is a system call (~10 us)


def default_threads() -> int:
    return _CPUS


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=max(2, default_threads()), thread_name_prefix="zkdl-fr")
    return _pool


def chunks(n: int, threads: int | None) -> list[tuple[int, int]]:
    """Split range(n) into at most ``threads`` contiguous pieces."""
    t = default_threads() if threads is None else int(threads)
    if t < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if n < PARALLEL_MIN or t == 1:
        return [(0, n)]
    step = -(-n // t)
    return [(i, min(n, i + step)) for i in range(0, n, step)]


def run_chunks(kernel, n: int, threads: int | None, *args) -> list:
    """kernel(*args, lo, hi) for each chunk of range(n); returns the results in order."""
    parts = chunks(n, threads)
    if len(parts) == 1:
        return [kernel(*args, 0, n)]
    futures = [_executor().submit(kernel, *args, lo, hi) for lo, hi in parts]
    return [f.result() for f in futures]


def scalar_limbs(x: int) -> np.ndarray:
    """The Montgomery limbs (shape (8,), uint32) of the field element x."""
    m = (x % P) * R_MONT % P
    return np.frombuffer(m.to_bytes(32, "little"), dtype="<u4").astype(np.uint32)


def limb_sums_to_int(acc) -> int:
    """Combine per-limb uint64 sums of Montgomery values into a canonical int."""
    total = 0
    for k, a in enumerate(acc):
        total += int(a) << (32 * k)
    return total % P * R_INV % P


class FrVec:
    """A vector of Fr elements (Montgomery limbs, structure of arrays)."""

    __slots__ = ("limbs",)

    def __init__(self, limbs: np.ndarray):
        if not (isinstance(limbs, np.ndarray) and limbs.dtype == np.uint32 and limbs.ndim == 2
                and limbs.shape[0] == NLIMBS and limbs.flags.c_contiguous):
            raise TypeError("FrVec needs a C-contiguous uint32 array of shape (8, n)")
        self.limbs = limbs

    # ------------------------------------------------------------ creation
    @classmethod
    def zeros(cls, n: int) -> "FrVec":
        return cls(np.zeros((NLIMBS, n), np.uint32))

    @classmethod
    def empty(cls, n: int) -> "FrVec":
        return cls(np.empty((NLIMBS, n), np.uint32))

    @classmethod
    def from_ints(cls, values) -> "FrVec":
        """From Python ints (any sign/size; reduced mod P)."""
        values = list(values)
        buf = b"".join(((v % P) * R_MONT % P).to_bytes(32, "little") for v in values)
        arr = np.frombuffer(buf, dtype="<u4").reshape(len(values), NLIMBS)
        return cls(np.ascontiguousarray(arr.T, dtype=np.uint32))

    @classmethod
    def from_int64(cls, values, threads: int | None = None) -> "FrVec":
        """From a signed int64 array (flattened row-major): v -> v mod P."""
        v = np.ascontiguousarray(np.asarray(values, dtype=np.int64).reshape(-1))
        out = cls.empty(v.size)
        run_chunks(K.k_from_int64, v.size, threads, v, scalar_limbs(1) * 0 + _R2_LIMBS, out.limbs)
        return out

    @classmethod
    def from_bytes(cls, data: bytes, threads: int | None = None) -> "FrVec":
        """From concatenated canonical 32-byte little-endian encodings."""
        if len(data) % BYTES:
            raise EncodingError(f"field vector encoding must be a multiple of {BYTES} bytes, got {len(data)}")
        n = len(data) // BYTES
        canon = np.ascontiguousarray(np.frombuffer(data, dtype="<u4").reshape(n, NLIMBS).T, dtype=np.uint32)
        out = cls.empty(n)
        bad = [b for b in run_chunks(K.k_from_canonical, n, threads, canon, _R2_LIMBS, out.limbs) if b >= 0]
        if bad:
            raise NonCanonicalError(f"field element {bad[0]} of the vector is not canonical (>= modulus)")
        return out

    @classmethod
    def concat(cls, parts) -> "FrVec":
        return cls(np.ascontiguousarray(np.concatenate([p.limbs for p in parts], axis=1)))

    # --------------------------------------------------------- conversions
    def canonical_limbs(self, threads: int | None = None) -> np.ndarray:
        out = np.empty_like(self.limbs)
        run_chunks(K.k_to_canonical, len(self), threads, self.limbs, out)
        return out

    def to_bytes(self, threads: int | None = None) -> bytes:
        return np.ascontiguousarray(self.canonical_limbs(threads).T).astype("<u4").tobytes()

    def to_ints(self) -> list[int]:
        data = self.to_bytes()
        return [int.from_bytes(data[i:i + BYTES], "little") for i in range(0, len(data), BYTES)]

    def copy(self) -> "FrVec":
        return FrVec(self.limbs.copy())

    def __len__(self) -> int:
        return self.limbs.shape[1]

    def __getitem__(self, idx) -> "FrVec":
        """A contiguous copy of a slice (slices only)."""
        if not isinstance(idx, slice):
            raise TypeError("FrVec supports slicing only; use to_ints() for elements")
        return FrVec(np.ascontiguousarray(self.limbs[:, idx]))

    def __eq__(self, other) -> bool:
        return isinstance(other, FrVec) and np.array_equal(self.limbs, other.limbs)

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        return f"FrVec(n={len(self)})"

    # ---------------------------------------------------------- arithmetic
    def _binary(self, kernel, other: "FrVec", threads) -> "FrVec":
        if not isinstance(other, FrVec) or len(other) != len(self):
            raise ValueError("field vectors must have the same length")
        out = FrVec.empty(len(self))
        run_chunks(kernel, len(self), threads, self.limbs, other.limbs, out.limbs)
        return out

    def add(self, other: "FrVec", threads: int | None = None) -> "FrVec":
        return self._binary(K.k_add, other, threads)

    def sub(self, other: "FrVec", threads: int | None = None) -> "FrVec":
        return self._binary(K.k_sub, other, threads)

    def mul(self, other: "FrVec", threads: int | None = None) -> "FrVec":
        """Element-wise (Hadamard) product."""
        return self._binary(K.k_mul, other, threads)

    def neg(self, threads: int | None = None) -> "FrVec":
        return FrVec.zeros(len(self)).sub(self, threads)

    def scale(self, s: int, threads: int | None = None) -> "FrVec":
        out = FrVec.empty(len(self))
        run_chunks(K.k_scale, len(self), threads, self.limbs, scalar_limbs(s), out.limbs)
        return out

    def add_scalar(self, s: int, threads: int | None = None) -> "FrVec":
        out = FrVec.empty(len(self))
        run_chunks(K.k_add_scalar, len(self), threads, self.limbs, scalar_limbs(s), out.limbs)
        return out

    def __add__(self, other):
        return self.add(other)

    def __sub__(self, other):
        return self.sub(other)

    def __neg__(self):
        return self.neg()

    def __mul__(self, other):
        return self.scale(other) if isinstance(other, int) else self.mul(other)

    def sum(self, threads: int | None = None) -> int:
        accs = run_chunks(K.k_limb_sums, len(self), threads, self.limbs)
        return limb_sums_to_int(np.sum(np.stack(accs), axis=0, dtype=object))

    def dot(self, other: "FrVec", threads: int | None = None) -> int:
        """Inner product sum_e self[e] * other[e]."""
        if not isinstance(other, FrVec) or len(other) != len(self):
            raise ValueError("field vectors must have the same length")
        accs = run_chunks(K.k_inner_limb_sums, len(self), threads, self.limbs, other.limbs)
        return limb_sums_to_int(np.sum(np.stack(accs), axis=0, dtype=object))

    def inverse(self, threads: int | None = None) -> "FrVec":
        """Element-wise inverse (Montgomery's batch trick, one inversion per chunk).
        Raises ZeroDivisionError if any element is zero."""
        n = len(self)
        prefix = FrVec.empty(n)
        out = FrVec.empty(n)
        parts = chunks(n, threads)
        zeros = [K.k_batch_inverse_prefix(self.limbs, prefix.limbs, lo, hi, _ONE_LIMBS) if len(parts) == 1
                 else None for lo, hi in parts]
        if len(parts) > 1:
            futs = [_executor().submit(K.k_batch_inverse_prefix, self.limbs, prefix.limbs, lo, hi, _ONE_LIMBS)
                    for lo, hi in parts]
            zeros = [f.result() for f in futs]
        if any(zeros):
            raise ZeroDivisionError("cannot invert a vector containing 0")
        invs = []
        for lo, hi in parts:
            total = limb_sums_to_int(prefix.limbs[:, hi - 1].astype(np.uint64)) if hi > lo else 1
            invs.append(scalar_limbs(pow(total, P - 2, P)))
        futs = [_executor().submit(K.k_batch_inverse_back, self.limbs, prefix.limbs, inv, out.limbs, lo, hi)
                for (lo, hi), inv in zip(parts, invs)]
        for f in futs:
            f.result()
        return out


_R2_LIMBS = scalar_limbs(R2 * R_INV % P)  # raw limbs of R^2 mod P (mont_mul(x, R^2) = x R)
_ONE_LIMBS = scalar_limbs(1)
_K320_LIMBS = scalar_limbs((1 << 320) % P * R_INV % P)  # raw limbs of 2^320 mod P


def vecmat_small(v: FrVec, m: np.ndarray, threads: int | None = None) -> FrVec:
    """sum_i v[i] * m[i, :] for a field vector v and a small signed int64 matrix m.

    This is the product eq(r)^T M that matmul sumchecks and Hyrax row combinations
    need. Entries must satisfy |m| < 2^31. Cost: 16 word products per entry, no
    modular reduction until the end (see kernels.k_vecmat_small_acc)."""
    m = np.asarray(m)
    if m.ndim != 2 or m.shape[0] != len(v):
        raise ValueError(f"vecmat_small: vector of {len(v)} against matrix of shape {m.shape}")
    m = np.ascontiguousarray(m, dtype=np.int64)
    if m.size and int(np.abs(m).max()) >= 1 << 31:
        raise ValueError("vecmat_small needs |entries| < 2^31")
    rows, cols = m.shape
    offset = 1 << 31
    result = None
    for r0 in range(0, max(rows, 1), MAX_VECMAT_ROWS):
        r1 = min(rows, r0 + MAX_VECMAT_ROWS)
        vpart = v[r0:r1]
        acc_lo = np.zeros((NLIMBS, cols), np.uint64)
        acc_hi = np.zeros((NLIMBS, cols), np.uint64)
        out = FrVec.empty(cols)
        mpart = m[r0:r1]

        def work(lo, hi, vpart=vpart, mpart=mpart, acc_lo=acc_lo, acc_hi=acc_hi, out=out):
            K.k_vecmat_small_acc(vpart.limbs, mpart, offset, acc_lo, acc_hi, lo, hi)
            K.k_vecmat_small_finish(acc_lo, acc_hi, _K320_LIMBS, out.limbs, lo, hi)

        parts = chunks(cols, threads) if (r1 - r0) * cols >= PARALLEL_MIN else [(0, cols)]
        if len(parts) == 1:
            work(0, cols)
        else:
            for f in [_executor().submit(work, lo, hi) for lo, hi in parts]:
                f.result()
        # remove the offset: subtract offset * sum_i v[i] from every column
        out = out.add_scalar((-offset * vpart.sum(threads)) % P, threads)
        result = out if result is None else result.add(out, threads)
    return result
