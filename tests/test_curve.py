"""zkdl.curve: strict point decoding, hash-to-curve generators and their cache, MSM backends."""

from __future__ import annotations

import hashlib
import random

import pytest

from zkdl import curve
from zkdl.curve import G1Point, Reader
from zkdl.errors import (EncodingError, InvalidPointError, NonCanonicalError, SubgroupError,
                         TrailingDataError)
from zkdl.field import P

py_ecc = pytest.importorskip("py_ecc")
from py_ecc.bls.hash_to_curve import hash_to_G1  # noqa: E402
from py_ecc.bls.point_compression import compress_G1  # noqa: E402
from py_ecc.fields import optimized_bls12_381_FQ as FQ  # noqa: E402
from py_ecc.optimized_bls12_381 import field_modulus as Q  # noqa: E402


def _compressed(x: int, y: int) -> bytes:
    b = bytearray(x.to_bytes(48, "big"))
    b[0] |= 0x80 | (0x20 if y > (Q - 1) // 2 else 0)
    return bytes(b)


def _curve_point_outside_subgroup() -> bytes:
    """A point of E(Fq): y^2 = x^3 + 4 that is not in the order-r subgroup (cofactor not cleared)."""
    x = 1
    while True:
        rhs = FQ(x ** 3 + 4)
        y = rhs ** ((Q + 1) // 4)
        if y * y == rhs:
            return _compressed(x, int(y))
        x += 1


def _x_not_on_curve() -> bytes:
    x = 1
    while True:
        rhs = FQ(x ** 3 + 4)
        y = rhs ** ((Q + 1) // 4)
        if y * y != rhs:
            return _compressed(x, 0)
        x += 1


# ------------------------------------------------------------------ encoding
def test_roundtrip_generators_and_identity():
    pts = curve.generators(8) + [curve.blinding_generator(), curve.scalar_generator(), curve.identity()]
    for p in pts:
        b = curve.encode_point(p)
        assert len(b) == curve.POINT_BYTES
        assert curve.decode_point(b) == p
    assert curve.decode_points(curve.encode_points(pts), len(pts)) == pts


def test_point_outside_subgroup_rejected():
    data = _curve_point_outside_subgroup()
    p = G1Point.from_compressed_bytes_unchecked(data)  # on the curve ...
    assert not p.is_in_subgroup()  # ... but not in the subgroup
    with pytest.raises(SubgroupError):
        curve.decode_point(data)
    with pytest.raises(SubgroupError):
        Reader(data).point()


def test_point_not_on_curve_rejected():
    with pytest.raises(InvalidPointError):
        curve.decode_point(_x_not_on_curve())


@pytest.mark.parametrize("mutate", ["no_compression_flag", "x_ge_q", "all_ones"])
def test_malformed_points_rejected(mutate):
    g = bytearray(curve.encode_point(curve.generators(1)[0]))
    if mutate == "no_compression_flag":
        g[0] &= 0x7F
    elif mutate == "x_ge_q":
        g = bytearray(_compressed(Q + 4, 0))
    else:
        g = bytearray(b"\xff" * 48)
    with pytest.raises(EncodingError):
        curve.decode_point(bytes(g))


@pytest.mark.parametrize("mutate", [lambda b: b.__setitem__(47, 1), lambda b: b.__setitem__(0, 0xE0)])
def test_noncanonical_infinity_rejected(mutate):
    b = bytearray(curve.encode_point(curve.identity()))
    mutate(b)
    with pytest.raises(NonCanonicalError):
        curve.decode_point(bytes(b))


def test_wrong_lengths_rejected():
    g = curve.encode_point(curve.generators(1)[0])
    for bad in (g[:47], g + b"\x00", b"", "not bytes"):
        with pytest.raises(EncodingError):
            curve.decode_point(bad)
    with pytest.raises(EncodingError):
        curve.decode_points(g * 2, 3)


def test_reader_strict():
    g = curve.encode_point(curve.generators(1)[0])
    r = Reader(g + (5).to_bytes(32, "little") + b"\x07")
    assert r.point() == curve.generators(1)[0]
    assert r.scalar() == 5
    with pytest.raises(TrailingDataError):
        r.finish()
    assert r.u8() == 7
    r.finish()
    with pytest.raises(EncodingError):
        Reader(b"\x00" * 10).scalar()
    with pytest.raises(NonCanonicalError):
        Reader(P.to_bytes(32, "little")).scalar()


# ------------------------------------------------------------------ generators
def test_generators_match_rfc9380_reference():
    """arkworks hash_to_curve equals py_ecc's BLS12381G1_XMD:SHA-256_SSWU_RO_."""
    for msg, point in [(b"G\x00\x00\x00\x00", curve.generators(1)[0]),
                       (b"G\x00\x00\x00\x03", curve.generators(4)[3]),
                       (b"H", curve.blinding_generator()), (b"S", curve.scalar_generator())]:
        ref = hash_to_G1(msg, curve.DST, hashlib.sha256)
        assert int(compress_G1(ref)).to_bytes(48, "big") == curve.encode_point(point)


def test_generators_distinct_in_subgroup_deterministic():
    gens = curve.generators(64)
    special = [curve.blinding_generator(), curve.scalar_generator()]
    allp = gens + special
    assert len({curve.encode_point(p) for p in allp}) == len(allp)
    assert all(p.is_in_subgroup() and p != curve.identity() for p in allp)
    assert curve.generators(3) == gens[:3]
    assert curve.derive_generator(b"G\x00\x00\x00\x05") == gens[5]
    assert curve.generators(300)[:64] == gens  # growing keeps the prefix
    with pytest.raises(ValueError):
        curve.generators(-1)


# ------------------------------------------------------------------ MSM backends
def test_msm_backends_agree():
    rng = random.Random(5)
    pts = curve.generators(6) + [curve.blinding_generator()]
    for scalars in ([], [0] * 7, [1, 2, 3], [rng.randrange(P) for _ in range(7)],
                    [-1, -5, 2 ** 16, 2 ** 16 - 1, P - 1, P + 3, 0]):
        ark = curve.msm(pts, scalars, "arkworks")
        ref = curve.msm(pts, scalars, "pyecc")
        naive = curve.identity()
        for p, s in zip(pts, scalars):
            naive = naive + p * curve.to_scalar(s)
        assert ark == ref == naive
    rows = [[rng.randrange(-9, 9) for _ in range(3)] for _ in range(4)]
    assert curve.msm_many(pts, rows, "arkworks", threads=2) == curve.msm_many(pts, rows, "pyecc")
    with pytest.raises(ValueError):
        curve.msm(pts[:1], [1, 2])
    with pytest.raises(ValueError):
        curve.get_backend("nope")


def test_to_scalar():
    for x in (0, 1, 2 ** 16 - 1, 2 ** 16, P - 1, P, -1, 3 * P + 7):
        assert int(curve.to_scalar(x)) == x % P
    assert curve.small_scalar_table()[12345] == curve.to_scalar(12345)


def test_msm_parallel_matches_serial():
    rng = random.Random(6)
    pts = curve.generators(700)
    scalars = [rng.randrange(P) for _ in range(700)]
    assert curve.msm_parallel(pts, scalars, threads=2) == curve.msm(pts, scalars)
    assert curve.msm_parallel(pts[:5], scalars[:5], threads=2) == curve.msm(pts[:5], scalars[:5])
