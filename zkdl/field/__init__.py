"""The scalar field F = Fr of BLS12-381, for scalars held as Python ints.

This module is pure Python (no numpy, no numba) so that the standalone verifier can
use it. Fast vectors of field elements for the prover live in
:mod:`zkdl.field.vector` (numba kernels over limb arrays).

Encoding: a field element is 32 bytes, little-endian, canonical (value < P).
A signed integer v is encoded in the field as v mod P; :func:`to_signed` maps back
to the representative in (-P/2, P/2].
"""

from __future__ import annotations

from zkdl.errors import EncodingError, NonCanonicalError

P = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
"""The BLS12-381 scalar field modulus (a 255-bit prime)."""

BYTES = 32
"""Length of a canonical field-element encoding."""

HALF = P // 2


def fr(x: int) -> int:
    """Reduce any Python int (negative ones too) into [0, P)."""
    return x % P


def add(a: int, b: int) -> int:
    return (a + b) % P


def sub(a: int, b: int) -> int:
    return (a - b) % P


def neg(a: int) -> int:
    return (-a) % P


def mul(a: int, b: int) -> int:
    return (a * b) % P


def inv(a: int) -> int:
    """Multiplicative inverse; raises ZeroDivisionError for 0."""
    a %= P
    if a == 0:
        raise ZeroDivisionError("0 has no inverse in Fr")
    return pow(a, P - 2, P)


def to_signed(a: int) -> int:
    """The representative of a in (-P/2, P/2]."""
    a %= P
    return a - P if a > HALF else a


def is_canonical(a: object) -> bool:
    """True for a Python int in [0, P) (bools are rejected)."""
    return type(a) is int and 0 <= a < P


def encode(a: int) -> bytes:
    """Canonical 32-byte little-endian encoding of a field element in [0, P)."""
    if not is_canonical(a):
        raise ValueError(f"not a canonical field element: {a!r}")
    return a.to_bytes(BYTES, "little")


def decode(data: bytes) -> int:
    """Decode exactly 32 bytes; reject wrong lengths and values >= P."""
    if len(data) != BYTES:
        raise EncodingError(f"field element must be {BYTES} bytes, got {len(data)}")
    v = int.from_bytes(data, "little")
    if v >= P:
        raise NonCanonicalError("field element encoding is not canonical (value >= modulus)")
    return v


def encode_many(values) -> bytes:
    return b"".join(encode(v) for v in values)


def decode_many(data: bytes, count: int) -> list[int]:
    """Decode exactly ``count`` elements; any other length is an EncodingError."""
    if count < 0 or len(data) != count * BYTES:
        raise EncodingError(
            f"expected {count} field elements ({count * BYTES} bytes), got {len(data)} bytes")
    return [decode(data[i * BYTES:(i + 1) * BYTES]) for i in range(count)]
