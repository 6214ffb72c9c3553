"""Fr scalars and FrVec kernels against Python-int arithmetic and galois.GF(p)."""

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkdl import field
from zkdl.errors import EncodingError, NonCanonicalError
from zkdl.field import P
from zkdl.field.vector import PARALLEL_MIN, FrVec, vecmat_small

EDGES = [0, 1, 2, P - 1, P - 2, P // 2, P // 2 + 1]
EDGES += [(1 << k) + d for k in (32, 64, 96, 128, 160, 192, 224, 254) for d in (-1, 0, 1)]


def gf():
    """galois.GF(P) without its (minutes-long) primitive-element search: 7 generates Fr*."""
    galois = pytest.importorskip("galois")
    return galois.GF(P, primitive_element=7, verify=False)


def rand_elems(rng, n):
    return [rng.randrange(P) for _ in range(n)]


@pytest.fixture
def elems():
    rng = random.Random(1234)
    xs = EDGES + rand_elems(rng, 200)
    ys = list(reversed(EDGES)) + rand_elems(rng, 200)
    return xs, ys


def test_scalar_ops_match_galois():
    GF = gf()
    rng = random.Random(7)
    xs = EDGES + rand_elems(rng, 20)
    ys = rand_elems(rng, len(xs))
    for x, y in zip(xs, ys):
        gx, gy = GF(x), GF(y)
        assert field.add(x, y) == int(gx + gy)
        assert field.sub(x, y) == int(gx - gy)
        assert field.mul(x, y) == int(gx * gy)
        assert field.neg(x) == int(-gx)
        if x:
            assert field.inv(x) == int(gx ** -1)


def test_scalar_inverse_of_zero_raises():
    with pytest.raises(ZeroDivisionError):
        field.inv(0)


def test_scalar_encoding_roundtrip_and_rejections():
    for x in EDGES:
        assert field.decode(field.encode(x)) == x
    with pytest.raises(NonCanonicalError):
        field.decode(P.to_bytes(32, "little"))
    with pytest.raises(NonCanonicalError):
        field.decode(b"\xff" * 32)
    with pytest.raises(EncodingError):
        field.decode(b"\x00" * 31)
    with pytest.raises(EncodingError):
        field.decode_many(b"\x00" * 65, 2)
    with pytest.raises(ValueError):
        field.encode(P)
    with pytest.raises(ValueError):
        field.encode(-1)
    assert field.to_signed(P - 5) == -5 and field.to_signed(5) == 5


def test_vector_binary_ops(elems):
    xs, ys = elems
    a, b = FrVec.from_ints(xs), FrVec.from_ints(ys)
    assert a.to_ints() == xs
    assert a.add(b).to_ints() == [(x + y) % P for x, y in zip(xs, ys)]
    assert a.sub(b).to_ints() == [(x - y) % P for x, y in zip(xs, ys)]
    assert a.mul(b).to_ints() == [x * y % P for x, y in zip(xs, ys)]
    assert a.neg().to_ints() == [(-x) % P for x in xs]
    for s in (0, 1, P - 1, 1 << 200):
        assert a.scale(s).to_ints() == [s * x % P for x in xs]
        assert a.add_scalar(s).to_ints() == [(s + x) % P for x in xs]
    assert a.sum() == sum(xs) % P
    assert a.dot(b) == sum(x * y for x, y in zip(xs, ys)) % P


def test_vector_ops_match_galois(elems):
    GF = gf()
    xs, ys = elems
    ga, gb = GF(xs), GF(ys)
    a, b = FrVec.from_ints(xs), FrVec.from_ints(ys)
    assert a.mul(b).to_ints() == [int(v) for v in ga * gb]
    assert a.sub(b).to_ints() == [int(v) for v in ga - gb]
    assert a.dot(b) == int(np.sum(ga * gb))


def test_threaded_equals_single_threaded():
    rng = np.random.default_rng(5)
    n = PARALLEL_MIN * 2 + 17
    a = FrVec.from_int64(rng.integers(-(1 << 62), 1 << 62, n), threads=1)
    b = FrVec.from_int64(rng.integers(-(1 << 62), 1 << 62, n), threads=2)
    assert a.mul(b, threads=1) == a.mul(b, threads=2)
    assert a.dot(b, threads=1) == a.dot(b, threads=2)
    assert a.sum(threads=1) == a.sum(threads=2)
    assert a.inverse(threads=1) == a.inverse(threads=2)
    sample = a[:50].to_ints()
    assert sample == [int(v) % P for v in a[:50].to_ints()]


def test_from_int64_signed_edges():
    vals = np.array([0, 1, -1, 2**31, -(2**31), 2**32 + 5, -(2**40), 2**63 - 1, -(2**63), -(2**63) + 1],
                    dtype=np.int64)
    assert FrVec.from_int64(vals).to_ints() == [int(v) % P for v in vals]


def test_bytes_roundtrip_and_noncanonical():
    rng = random.Random(3)
    xs = EDGES + rand_elems(rng, 50)
    v = FrVec.from_ints(xs)
    data = v.to_bytes()
    assert data == field.encode_many(xs)
    assert FrVec.from_bytes(data) == v
    bad = bytearray(data)
    bad[32 * 5:32 * 6] = P.to_bytes(32, "little")
    with pytest.raises(NonCanonicalError, match="element 5"):
        FrVec.from_bytes(bytes(bad))
    with pytest.raises(EncodingError):
        FrVec.from_bytes(data[:-1])


def test_batch_inverse():
    rng = random.Random(9)
    xs = [x for x in EDGES if x] + rand_elems(rng, 100)
    inv = FrVec.from_ints(xs).inverse().to_ints()
    assert inv == [pow(x, P - 2, P) for x in xs]
    with pytest.raises(ZeroDivisionError):
        FrVec.from_ints([3, 0, 5]).inverse()


@pytest.mark.parametrize("rows,cols,bound", [(1, 1, 5), (7, 13, 1 << 15), (64, 32, (1 << 31) - 1)])
def test_vecmat_small_matches_naive(rows, cols, bound):
    rng = np.random.default_rng(rows * cols)
    m = rng.integers(-bound, bound + 1, size=(rows, cols))
    m[0, 0] = -bound
    prng = random.Random(rows)
    v = [prng.randrange(P) for _ in range(rows)]
    v[0] = P - 1
    got = vecmat_small(FrVec.from_ints(v), m).to_ints()
    want = [sum(v[i] * int(m[i, j]) for i in range(rows)) % P for j in range(cols)]
    assert got == want


def test_vecmat_small_many_rows_crosses_accumulator_flush():
    rows = (1 << 16) + 3
    rng = np.random.default_rng(11)
    m = rng.integers(-(1 << 30), 1 << 30, size=(rows, 2))
    vv = FrVec.from_int64(rng.integers(-(1 << 62), 1 << 62, rows))
    v = vv.to_ints()
    got = vecmat_small(vv, m).to_ints()
    want = [sum(v[i] * int(m[i, j]) for i in range(rows)) % P for j in range(2)]
    assert got == want


def test_vecmat_small_rejects_wide_entries():
    with pytest.raises(ValueError):
        vecmat_small(FrVec.from_ints([1]), np.array([[1 << 31]]))
    with pytest.raises(ValueError):
        vecmat_small(FrVec.from_ints([1, 2]), np.array([[1]]))


def test_generated_arithmetic_is_current():
    from zkdl.field import gen_arith
    assert gen_arith.TARGET.read_text() == gen_arith.generate()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=P - 1), min_size=1, max_size=40),
       st.integers(min_value=0, max_value=P - 1))
def test_property_field_laws(xs, s):
    v = FrVec.from_ints(xs)
    # distributivity and (a - b) + b = a
    assert v.scale(s).sum() == s * sum(xs) % P
    w = FrVec.from_ints([(x * 7 + 3) % P for x in xs])
    assert v.sub(w).add(w) == v
    assert v.mul(w).sum() == v.dot(w)
