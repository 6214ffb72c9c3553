"""BLS12-381 G1 for the Hyrax commitments: point encoding, generators, MSM backends.

Points are :class:`py_arkworks_bls12381.G1Point` objects everywhere in zkdl (prover
and verifier); this module is pure Python on top of that library (no numpy/numba),
so the standalone verifier can import it.

Encoding
--------
A point is its 48-byte compressed encoding (ZCash / IETF format: x big-endian with
the three flag bits in the top of byte 0). :func:`decode_point` accepts an encoding
only if it decompresses to a point on the curve (:class:`InvalidPointError`), the
point lies in the prime-order subgroup (:class:`SubgroupError`; arkworks'
``from_compressed_bytes_unchecked`` only checks the curve equation, so the subgroup
check is explicit) and re-encoding gives the same bytes (:class:`NonCanonicalError`;
arkworks accepts e.g. infinity with stray bits).

Generators
----------
G_0, G_1, ... (one per matrix column), H (blinds) and G_s (committed scalars) are
``hash_to_curve(msg, DST)`` with the RFC 9380 suite BLS12381G1_XMD:SHA-256_SSWU_RO_
(arkworks' implementation; tests cross-check it against py_ecc's), the versioned tag
``DST`` and msg = b"G" || u32be(j), b"H", b"S". Nobody knows a discrete-log relation
between them. Every process derives the ones it uses and keeps them in memory only
(no file is ever read, see :class:`_GeneratorCache`); ~0.3 ms per point.

MSM backends
------------
``arkworks`` (default; ``G1Point.multiexp_unchecked``, which releases the GIL) and
``pyecc`` (py_ecc, pure Python, the slow reference; a test extra). Both implement
:class:`MSMBackend`: ``msm(points, scalars)`` with Python-int scalars (reduced mod
the group order) and ``msm_many(points, rows)`` for many MSMs over the same bases.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

from py_arkworks_bls12381 import G1Point, Scalar

from zkdl.errors import EncodingError, InvalidPointError, NonCanonicalError, SigmaProofError, SubgroupError
from zkdl.encoding import Reader as _BaseReader
from zkdl.field import P

__all__ = [
    "DST", "ORDER", "POINT_BYTES", "G1Point", "Scalar", "MSMBackend", "ArkworksBackend",
    "PyEccBackend", "BACKENDS", "get_backend", "msm", "msm_many", "encode_point",
    "encode_points", "decode_point", "decode_points", "generators", "blinding_generator",
    "scalar_generator", "derive_generator", "to_scalar", "small_scalar_table", "identity",
    "Reader", "thread_pool", "msm_parallel", "FixedBase", "FIXED_H", "FIXED_GS", "commit_scalar",
    "DeferredChecks",
]

ORDER = P
"""Order of the G1 subgroup (= the scalar field modulus)."""

POINT_BYTES = 48
_CPUS = os.cpu_count() or 1  # read once (a system call)

DST = b"zkdl/hyrax/v1/BLS12381G1_XMD:SHA-256_SSWU_RO_"
"""Versioned domain-separation tag of every zkdl generator (change => new generators)."""

SMALL_BITS = 16
"""Scalars below 2^SMALL_BITS come from a prebuilt table of Scalar objects."""


# ------------------------------------------------------------------ encoding
def identity() -> G1Point:
    return G1Point.identity()


def encode_point(point: G1Point) -> bytes:
    return point.to_compressed_bytes()


def encode_points(points) -> bytes:
    return b"".join(p.to_compressed_bytes() for p in points)


def decode_point(data: bytes) -> G1Point:
    """Strictly decode a 48-byte compressed G1 point (on curve, in subgroup, canonical)."""
    if not isinstance(data, (bytes, bytearray)):
        raise EncodingError("a point encoding must be bytes")
    if len(data) != POINT_BYTES:
        raise EncodingError(f"a point encoding is {POINT_BYTES} bytes, got {len(data)}")
    data = bytes(data)
    try:
        point = G1Point.from_compressed_bytes_unchecked(data)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidPointError(f"bytes do not encode a point on BLS12-381 G1 ({exc})") from None
    if not point.is_in_subgroup():
        raise SubgroupError("point is on the curve but not in the prime-order subgroup")
    if point.to_compressed_bytes() != data:
        raise NonCanonicalError("point encoding is not the canonical compressed form")
    return point


def decode_points(data: bytes, count: int) -> list[G1Point]:
    """Decode exactly ``count`` concatenated points (length must match exactly)."""
    if len(data) != count * POINT_BYTES:
        raise EncodingError(f"expected {count} points ({count * POINT_BYTES} bytes), got {len(data)} bytes")
    return [decode_point(data[i:i + POINT_BYTES]) for i in range(0, len(data), POINT_BYTES)]


# ------------------------------------------------------------------ scalars
_small_table: list | None = None
_table_lock = threading.Lock()


def small_scalar_table() -> list:
    """[Scalar(0), ..., Scalar(2^16 - 1)], built once (~0.1 s)."""
    global _small_table
    if _small_table is None:
        with _table_lock:
            if _small_table is None:
                _small_table = [Scalar(i) for i in range(1 << SMALL_BITS)]
    return _small_table


def to_scalar(x: int) -> Scalar:
    """An arkworks Scalar for any Python int (reduced mod the group order)."""
    if 0 <= x < (1 << SMALL_BITS):
        return small_scalar_table()[x]
    # from_le_bytes is ~20x faster than Scalar(int) for full-width values
    return Scalar.from_le_bytes((x % ORDER).to_bytes(32, "little"))


# ------------------------------------------------------------------ generators
def derive_generator(msg: bytes) -> G1Point:
    """hash_to_curve(msg, DST): the RFC 9380 random-oracle map into the subgroup."""
    return G1Point.hash_to_curve(msg, DST)


def _column_msg(j: int) -> bytes:
    return b"G" + struct.pack(">I", j)


class _GeneratorCache:
    """Column generators G_0..G_{m-1}, derived by this process and kept in its memory.

    Nothing is read from or written to disk: the verifier trusts no file it did not
    derive itself, and a generator file can plant a relation (e.g. G_1234 = G_0 + G_1)
    that makes every commitment non-binding, which no digest, curve or subgroup check
    detects; only a full re-derivation does, and that costs more than deriving
    (benchmarks/generators.py). Derivation is ~0.3 ms per point (``hash_to_curve``
    holds the GIL, so threads do not help); ``zkdl verify`` of a default proof needs
    2^11 of them (~0.6 s, once per process). Prover and verifier share this cache.
    """

    def __init__(self):
        self.points: list[G1Point] = []
        self.lock = threading.Lock()

    def get(self, m: int) -> list[G1Point]:
        points = self.points  # replaced, never mutated: safe to read without the lock
        if len(points) >= m:
            return points[:m]
        with self.lock:
            have = len(self.points)
            if have < m:
                self.points = self.points + [derive_generator(_column_msg(j)) for j in range(have, m)]
            return self.points[:m]


_GENS = _GeneratorCache()
_special: dict[bytes, G1Point] = {}


def generators(m: int) -> list[G1Point]:
    """The column generators G_0..G_{m-1}: derived by this process (never read from a
    file), kept in memory; the cache grows to the widest row requested."""
    if not isinstance(m, int) or m < 0:
        raise ValueError(f"generator count must be a non-negative int, got {m!r}")
    return _GENS.get(m)


def _special_gen(msg: bytes) -> G1Point:
    point = _special.get(msg)
    if point is None:
        point = _special[msg] = derive_generator(msg)
    return point


def blinding_generator() -> G1Point:
    """H: the generator that multiplies every blind."""
    return _special_gen(b"H")


def scalar_generator() -> G1Point:
    """G_s: the generator of committed scalars, Com(y) = y G_s + r H."""
    return _special_gen(b"S")


# ------------------------------------------------------------------ MSM backends
class FixedBase:
    """k B for one fixed point B by a comb: table[w][d] = d 2^(8w) B, so k B is at most
    32 table look-ups and 31 additions (~40-100 us, against ~300-400 us for a 2-point
    arkworks MSM). Tables (8,192 points) are built on first use."""

    BITS = 8

    def __init__(self, make_base):
        self._make_base = make_base
        self._table = None
        self._lock = threading.Lock()

    def table(self):
        if self._table is None:
            with self._lock:
                if self._table is None:
                    base = self._make_base()
                    table = []
                    for _ in range(256 // self.BITS):
                        row = [identity(), base]
                        for _ in range(2, 1 << self.BITS):
                            row.append(row[-1] + base)
                        table.append(row)
                        base = row[-1] + base
                    self._table = table
        return self._table

    def mul(self, k: int) -> G1Point:
        table = self.table()
        k %= ORDER
        mask = (1 << self.BITS) - 1
        acc = table[0][k & mask]
        for w in range(1, len(table)):
            k >>= self.BITS
            if not k:
                break
            acc = acc + table[w][k & mask]
        return acc


FIXED_H = FixedBase(lambda: blinding_generator())
FIXED_GS = FixedBase(lambda: scalar_generator())


def commit_scalar(value: int, blind: int) -> G1Point:
    """value G_s + blind H (the Pedersen commitment to one scalar), by the two combs."""
    return FIXED_GS.mul(value) + FIXED_H.mul(blind)


class DeferredChecks:
    """Batch verification of group equations sum_i s_i P_i = O.

    Sigma-protocol verifiers add their equations here instead of checking each with a
    small MSM (~0.1-0.5 ms per py-arkworks call); :meth:`verify` checks one random
    linear combination, sum_k w_k (sum_i s_ik P_ik) = O, with 128-bit weights derived
    from ``seed`` (the caller's transcript after every equation's data was absorbed,
    so the prover cannot adapt to the weights). A false equation survives with
    probability <= 2^-128. Points shared between equations (generators, G_s, H) are
    merged, so the combination is one MSM. On failure each equation is re-checked
    alone so the error names the first failing one."""

    def __init__(self):
        self._checks: list = []

    def __len__(self) -> int:
        return len(self._checks)

    def add(self, points, scalars, error) -> None:
        """``error``: the exception (instance) to raise if this equation fails."""
        points, scalars = list(points), [x % ORDER for x in scalars]
        _check_lengths(points, scalars)
        self._checks.append((points, scalars, error))

    def verify(self, seed: bytes) -> None:
        if not self._checks:
            return
        merged: dict[int, list] = {}
        for k, (points, scalars, _) in enumerate(self._checks):
            w = int.from_bytes(hashlib.blake2b(seed + k.to_bytes(8, "little"), digest_size=16).digest(), "little")
            for p, x in zip(points, scalars):
                slot = merged.get(id(p))
                if slot is None:
                    merged[id(p)] = [p, w * x % ORDER]
                else:
                    slot[1] = (slot[1] + w * x) % ORDER
        pts = [v[0] for v in merged.values()]
        scs = [v[1] for v in merged.values()]
        checks, self._checks = self._checks, []
        if msm_parallel(pts, scs) == identity():
            return
        for points, scalars, error in checks:
            if msm(points, scalars) != identity():
                raise error
        raise SigmaProofError("batched group check failed")


class MSMBackend:
    """Interface: multi-scalar multiplication over G1 with Python-int scalars."""

    name = "abstract"

    def msm(self, points, scalars) -> G1Point:
        raise NotImplementedError

    def msm_many(self, points, rows, threads: int | None = None) -> list[G1Point]:
        """[msm(points[:len(row)], row) for row in rows]."""
        return [self.msm(points, row) for row in rows]


def _check_lengths(points, scalars) -> None:
    if len(scalars) > len(points):
        raise ValueError(f"MSM with {len(scalars)} scalars but only {len(points)} points")


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def thread_pool() -> ThreadPoolExecutor:
    """A process-wide pool for GIL-releasing MSMs (one worker per core)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=_CPUS,
                                           thread_name_prefix="zkdl-msm")
    return _pool


class ArkworksBackend(MSMBackend):
    """py-arkworks-bls12381 Pippenger MSM (Rust; releases the GIL)."""

    name = "arkworks"

    def msm(self, points, scalars) -> G1Point:
        _check_lengths(points, scalars)
        if not scalars:
            return G1Point.identity()
        points = points if len(points) == len(scalars) else points[:len(scalars)]
        return G1Point.multiexp_unchecked(list(points), [to_scalar(s) for s in scalars])

    def msm_scalars(self, points, scalars) -> G1Point:
        """MSM with prebuilt Scalar objects (the prover's fast path)."""
        if not scalars:
            return G1Point.identity()
        return G1Point.multiexp_unchecked(points, scalars)

    def msm_many(self, points, rows, threads: int | None = None) -> list[G1Point]:
        rows = list(rows)
        threads = threads or _CPUS
        if threads <= 1 or len(rows) <= 1:
            return [self.msm(points, r) for r in rows]
        return list(thread_pool().map(lambda r: self.msm(points, r), rows))


class PyEccBackend(MSMBackend):
    """py_ecc reference: naive sum of double-and-add multiples (slow; tiny inputs only)."""

    name = "pyecc"

    def __init__(self):
        from py_ecc.bls.point_compression import compress_G1, decompress_G1
        from py_ecc.optimized_bls12_381 import Z1, add, multiply
        self._compress, self._decompress = compress_G1, decompress_G1
        self._add, self._mul, self._zero = add, multiply, Z1

    def msm(self, points, scalars) -> G1Point:
        _check_lengths(points, scalars)
        acc = self._zero
        for point, s in zip(points, scalars):
            s %= ORDER
            if s:
                pt = self._decompress(int.from_bytes(point.to_compressed_bytes(), "big"))
                acc = self._add(acc, self._mul(pt, s))
        return decode_point(int(self._compress(acc)).to_bytes(POINT_BYTES, "big"))


BACKENDS = {"arkworks": ArkworksBackend, "pyecc": PyEccBackend}
_instances: dict[str, MSMBackend] = {}


def get_backend(backend: str | MSMBackend | None = None) -> MSMBackend:
    """A backend by name (None: $ZKDL_MSM_BACKEND or 'arkworks'), or pass one through."""
    if isinstance(backend, MSMBackend):
        return backend
    name = backend or os.environ.get("ZKDL_MSM_BACKEND", "arkworks")
    if name not in BACKENDS:
        raise ValueError(f"unknown MSM backend {name!r}; choose from {sorted(BACKENDS)}")
    if name not in _instances:
        _instances[name] = BACKENDS[name]()
    return _instances[name]


def msm(points, scalars, backend: str | MSMBackend | None = None) -> G1Point:
    """sum_i scalars[i] * points[i] (Python-int scalars, any size, reduced mod ORDER)."""
    return get_backend(backend).msm(points, scalars)


_split_pool: ThreadPoolExecutor | None = None
SPLIT_MIN = 512  # below this many lanes one MSM call is cheaper than splitting


def msm_parallel(points, scalars, backend: str | MSMBackend | None = None,
                 threads: int | None = None) -> G1Point:
    """One large MSM split over the cores (arkworks; the verifier's big checks).

    Uses its own pool, and runs serially when called from a worker of that pool, so
    nesting cannot deadlock."""
    global _split_pool
    be = get_backend(backend)
    n = len(scalars)
    # ZKDL_MSM_THREADS: set by process pools that already use every core (zkdl audit's workers)
    threads = threads or int(os.environ.get("ZKDL_MSM_THREADS") or 0) or _CPUS
    in_worker = threading.current_thread().name.startswith("zkdl-msm-split")
    if not isinstance(be, ArkworksBackend) or threads <= 1 or n < SPLIT_MIN or in_worker:
        return be.msm(points, scalars)
    _check_lengths(points, scalars)
    if _split_pool is None:
        with _pool_lock:
            if _split_pool is None:
                _split_pool = ThreadPoolExecutor(max_workers=_CPUS,
                                                 thread_name_prefix="zkdl-msm-split")
    step = -(-n // threads)
    parts = [(lo, min(n, lo + step)) for lo in range(0, n, step)]
    results = list(_split_pool.map(lambda ab: be.msm(points[ab[0]:ab[1]], scalars[ab[0]:ab[1]]), parts))
    acc = results[0]
    for r in results[1:]:
        acc = acc + r
    return acc


def msm_many(points, rows, backend: str | MSMBackend | None = None,
             threads: int | None = None) -> list[G1Point]:
    return get_backend(backend).msm_many(points, rows, threads)


# ------------------------------------------------------------------ strict reading
class Reader(_BaseReader):
    """The strict byte reader of :mod:`zkdl.encoding` plus G1 points (48-byte compressed,
    decoded with curve, subgroup and canonical-encoding checks)."""

    def __init__(self, data: bytes, what: str = "message"):
        super().__init__(data, what)

    def point(self, what: str = "point") -> G1Point:
        return decode_point(self.take(POINT_BYTES, what))

    def points(self, count: int, what: str = "points") -> list[G1Point]:
        if count < 0 or count * POINT_BYTES > self.remaining():
            raise EncodingError(f"{self.what}: truncated {what} ({count} points needed, "
                                f"{self.remaining()} bytes left)")
        return decode_points(self.take(count * POINT_BYTES, what), count)
