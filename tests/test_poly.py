"""Multilinear reference (zkdl.poly) against brute-force definitions, and the fast
prover versions (zkdl.prover.mle) against the reference."""

import itertools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkdl import poly
from zkdl.field import P
from zkdl.field.vector import FrVec
from zkdl.prover import mle


def bits_msb_first(i, n):
    return [(i >> (n - 1 - k)) & 1 for k in range(n)]


def brute_eval(table, point):
    n = len(point)
    return sum(table[i] * poly.eq_eval(point, bits_msb_first(i, n)) for i in range(1 << n)) % P


def rnd(rng, n):
    return [rng.randrange(P) for _ in range(n)]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
def test_eq_table_matches_definition_and_index_convention(n):
    rng = random.Random(n)
    r = rnd(rng, n)
    table = poly.eq_table(r)
    assert table == [poly.eq_eval(r, bits_msb_first(i, n)) for i in range(1 << n)]
    assert sum(table) % P == 1
    # on boolean points eq is the indicator: variable 1 is the most significant bit
    for i in range(1 << n):
        t = poly.eq_table(bits_msb_first(i, n))
        assert t == [1 if j == i else 0 for j in range(1 << n)]


@pytest.mark.parametrize("n", [1, 2, 4])
def test_evaluate_and_fold(n):
    rng = random.Random(10 + n)
    table, point = rnd(rng, 1 << n), rnd(rng, n)
    assert poly.evaluate(table, point) == brute_eval(table, point)
    folded = poly.fold(table, point[0])
    assert poly.evaluate(folded, point[1:]) == brute_eval(table, point)
    # fixing the leading variable to 0 / 1 selects the first / second half
    assert poly.fold(table, 0) == table[: len(table) // 2]
    assert poly.fold(table, 1) == table[len(table) // 2:]
    # on boolean points the extension agrees with the table
    for i in range(1 << n):
        assert poly.evaluate(table, bits_msb_first(i, n)) == table[i]


def test_partial_evaluate_against_full_evaluation():
    rng = random.Random(3)
    shape = (4, 2, 8)
    tensor = rnd(rng, 64)
    pts = {0: rnd(rng, 2), 1: rnd(rng, 1), 2: rnd(rng, 3)}
    full = poly.evaluate(tensor, pts[0] + pts[1] + pts[2])
    for axes in itertools.chain.from_iterable(itertools.combinations(range(3), k) for k in range(1, 4)):
        sub = {a: pts[a] for a in axes}
        rest, rest_shape = poly.partial_evaluate(tensor, shape, sub)
        assert rest_shape == tuple(s for a, s in enumerate(shape) if a not in axes)
        remaining = sum((pts[a] for a in range(3) if a not in axes), [])
        assert poly.evaluate(rest, remaining) == full


def test_partial_evaluate_rejects_bad_shapes():
    with pytest.raises(ValueError):
        poly.partial_evaluate([1, 2, 3], (3,), {0: [1]})
    with pytest.raises(ValueError):
        poly.partial_evaluate([1, 2, 3, 4], (4,), {0: [1]})
    with pytest.raises(ValueError):
        poly.evaluate([1, 2, 3], [1])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, P - 1), min_size=1, max_size=6))
def test_interpolate_roundtrip(evals):
    coeffs = poly.interpolate(evals)
    assert len(coeffs) == len(evals)
    assert [poly.poly_eval(coeffs, x) for x in range(len(evals))] == evals


# ---------------------------------------------------------- fast prover versions

@pytest.mark.parametrize("n", [0, 1, 4, 9])
def test_fast_eq_table(n):
    rng = random.Random(50 + n)
    r = rnd(rng, n)
    assert mle.eq_table(r).to_ints() == poly.eq_table(r)


def test_fast_fold_and_evaluate():
    rng = random.Random(8)
    table, point = rnd(rng, 64), rnd(rng, 6)
    v = FrVec.from_ints(table)
    assert mle.fold(v, point[0]).to_ints() == poly.fold(table, point[0])
    assert mle.evaluate(v, point) == poly.evaluate(table, point)


@pytest.mark.parametrize("as_int64", [False, True])
def test_fast_partial_evaluate(as_int64):
    rng = random.Random(21)
    shape = (2, 4, 8)
    ints = np.array([rng.randrange(-(1 << 20), 1 << 20) for _ in range(64)], dtype=np.int64)
    ref_tensor = [int(x) % P for x in ints]
    tensor = ints if as_int64 else FrVec.from_int64(ints)
    pts = {0: rnd(rng, 1), 1: rnd(rng, 2), 2: rnd(rng, 3)}
    for axes in [(0,), (1,), (2,), (0, 2), (1, 2), (0, 1, 2)]:
        sub = {a: pts[a] for a in axes}
        got, got_shape = mle.partial_evaluate(tensor, shape, sub)
        want, want_shape = poly.partial_evaluate(ref_tensor, shape, sub)
        assert got_shape == want_shape
        assert got.to_ints() == want


def test_fast_partial_evaluate_wide_int64_values():
    vals = np.array([1 << 40, -(1 << 45), 3, -7], dtype=np.int64)
    got, _ = mle.partial_evaluate(vals, (4,), {0: [5, 9]})
    assert got.to_ints() == [poly.evaluate([int(v) % P for v in vals], [5, 9])]
