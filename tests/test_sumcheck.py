"""Sumcheck: completeness for every supported shape, and rejection of each kind of
tampering with its specific error."""

import random

import pytest

from zkdl import poly
from zkdl.errors import (EncodingError, NonCanonicalError, SumcheckConsistencyError,
                         SumcheckDegreeError, SumcheckRoundCountError, TrailingDataError)
from zkdl.field import P
from zkdl.field.vector import FrVec
from zkdl.prover.sumcheck import prove_sumcheck
from zkdl.sumcheck import SumcheckProof, verify_sumcheck
from zkdl.transcript import Transcript

SHAPES = [(k, e, n) for k in (1, 2, 3) for e in (False, True) for n in (0, 1, 3, 6)]


def make_instance(k, with_eq, n, seed):
    rng = random.Random(seed)
    tables = [[rng.randrange(P) for _ in range(1 << n)] for _ in range(k)]
    r_eq = [rng.randrange(P) for _ in range(n)] if with_eq else None
    return tables, r_eq


def expected_final(tables, r_eq, point):
    value = 1
    for t in tables:
        value = value * poly.evaluate(t, list(point)) % P
    if r_eq is not None:
        value = value * poly.eq_eval(r_eq, point) % P
    return value


def brute_claim(tables, r_eq):
    n = len(tables[0]).bit_length() - 1
    eq = poly.eq_table(r_eq) if r_eq is not None else [1] * (1 << n)
    total = 0
    for i in range(1 << n):
        v = eq[i]
        for t in tables:
            v = v * t[i] % P
        total += v
    return total % P


def prove(tables, r_eq, claim=None, label=b"sc"):
    return prove_sumcheck(Transcript(label), [FrVec.from_ints(t) for t in tables], eq_point=r_eq, claim=claim)


@pytest.mark.parametrize("k,with_eq,n", SHAPES)
def test_honest_proofs_verify(k, with_eq, n):
    tables, r_eq = make_instance(k, with_eq, n, seed=k * 100 + n + with_eq)
    res = prove(tables, r_eq)
    assert res.claim == brute_claim(tables, r_eq)
    degree = k + (1 if with_eq else 0)
    red = verify_sumcheck(Transcript(b"sc"), res.claim, n, degree, res.proof)
    assert red.point == res.point
    assert red.value == expected_final(tables, r_eq, red.point)
    assert res.table_evals == [poly.evaluate(t, list(red.point)) for t in tables]
    # the encoding round-trips exactly
    assert SumcheckProof.from_bytes(res.proof.to_bytes()) == res.proof


def test_small_integer_tables_like_matmul():
    """Inner product of two signed small-int vectors, as the matmul relation uses."""
    import numpy as np
    rng = np.random.default_rng(4)
    a, b = rng.integers(-(1 << 15), 1 << 15, 256), rng.integers(-(1 << 15), 1 << 15, 256)
    res = prove_sumcheck(Transcript(b"ip"), [FrVec.from_int64(a), FrVec.from_int64(b)])
    assert res.claim == int(np.dot(a.astype(object), b.astype(object))) % P
    red = verify_sumcheck(Transcript(b"ip"), res.claim, 8, 2, res.proof)
    assert red.value == res.table_evals[0] * res.table_evals[1] % P


@pytest.fixture
def honest():
    tables, r_eq = make_instance(2, True, 4, seed=77)
    res = prove(tables, r_eq)
    return tables, r_eq, res


def replace_round(proof, i, coeffs):
    rounds = list(proof.rounds)
    rounds[i] = tuple(coeffs)
    return SumcheckProof(tuple(rounds))


@pytest.mark.parametrize("rnd", range(4))
@pytest.mark.parametrize("coeff", range(4))
def test_each_tampered_coefficient_is_rejected(honest, rnd, coeff):
    tables, r_eq, res = honest
    coeffs = list(res.proof.rounds[rnd])
    coeffs[coeff] = (coeffs[coeff] + 1) % P
    with pytest.raises(SumcheckConsistencyError) as err:
        verify_sumcheck(Transcript(b"sc"), res.claim, 4, 3, replace_round(res.proof, rnd, coeffs))
    assert err.value.round == rnd
    assert f"round {rnd}" in str(err.value)


@pytest.mark.parametrize("rnd", range(4))
def test_sum_preserving_tamper_fails_final_check(honest, rnd):
    """Changing g so that g(0)+g(1) still matches passes the rounds but the reduced
    claim no longer equals the tables' product at the point: the caller rejects."""
    tables, r_eq, res = honest
    c = list(res.proof.rounds[rnd])
    c[0] = (c[0] - 1) % P
    c[1] = (c[1] + 2) % P
    tampered = replace_round(res.proof, rnd, c)
    try:
        red = verify_sumcheck(Transcript(b"sc"), res.claim, 4, 3, tampered)
    except SumcheckConsistencyError:
        return  # a later round already noticed
    assert red.value != expected_final(tables, r_eq, red.point)


def test_wrong_claimed_sum(honest):
    _, _, res = honest
    with pytest.raises(SumcheckConsistencyError) as err:
        verify_sumcheck(Transcript(b"sc"), (res.claim + 1) % P, 4, 3, res.proof)
    assert err.value.round == 0


def test_wrong_round_count(honest):
    _, _, res = honest
    with pytest.raises(SumcheckRoundCountError):
        verify_sumcheck(Transcript(b"sc"), res.claim, 4, 3, SumcheckProof(res.proof.rounds[:-1]))
    with pytest.raises(SumcheckRoundCountError):
        verify_sumcheck(Transcript(b"sc"), res.claim, 4, 3,
                        SumcheckProof(res.proof.rounds + (res.proof.rounds[-1],)))
    with pytest.raises(SumcheckRoundCountError):
        verify_sumcheck(Transcript(b"sc"), res.claim, 5, 3, res.proof)


def test_too_high_and_too_low_degree(honest):
    _, _, res = honest
    with pytest.raises(SumcheckDegreeError) as err:
        verify_sumcheck(Transcript(b"sc"), res.claim, 4, 3, replace_round(res.proof, 2, res.proof.rounds[2] + (0,)))
    assert err.value.round == 2
    with pytest.raises(SumcheckDegreeError):
        verify_sumcheck(Transcript(b"sc"), res.claim, 4, 3, replace_round(res.proof, 0, res.proof.rounds[0][:3]))
    # claiming a higher degree than the statement allows is rejected too
    with pytest.raises(SumcheckDegreeError):
        verify_sumcheck(Transcript(b"sc"), res.claim, 4, 2, res.proof)


def test_non_canonical_values_rejected(honest):
    _, _, res = honest
    c = list(res.proof.rounds[1])
    c[1] = c[1] + P
    with pytest.raises(EncodingError):
        verify_sumcheck(Transcript(b"sc"), res.claim, 4, 3, replace_round(res.proof, 1, c))
    with pytest.raises(EncodingError):
        verify_sumcheck(Transcript(b"sc"), res.claim + P, 4, 3, res.proof)
    data = bytearray(res.proof.to_bytes())
    data[3:35] = P.to_bytes(32, "little")
    with pytest.raises(NonCanonicalError):
        SumcheckProof.from_bytes(bytes(data))


def test_trailing_and_truncated_bytes(honest):
    _, _, res = honest
    data = res.proof.to_bytes()
    with pytest.raises(TrailingDataError):
        SumcheckProof.from_bytes(data + b"\x00")
    for cut in (1, 32, len(data) - 1):
        with pytest.raises(EncodingError):
            SumcheckProof.from_bytes(data[:cut])


def test_proof_is_bound_to_the_transcript(honest):
    """A verifier whose transcript differs (another statement absorbed first) draws
    other challenges; round 0 still sums correctly, round 1 no longer does."""
    _, _, res = honest
    t = Transcript(b"sc")
    t.absorb_bytes(b"extra", b"x")
    with pytest.raises(SumcheckConsistencyError) as err:
        verify_sumcheck(t, res.claim, 4, 3, res.proof)
    assert err.value.round == 1


def test_false_claim_proof_fails_the_final_check():
    """A prover that skips its own check still cannot make a false claim verify: every
    round is self-consistent, but the reduced claim differs from the tables' product."""
    tables, r_eq = make_instance(2, True, 4, seed=6)
    false_claim = (brute_claim(tables, r_eq) + 1) % P
    res = prove_sumcheck(Transcript(b"sc"), [FrVec.from_ints(t) for t in tables], eq_point=r_eq,
                         claim=false_claim, check_claim=False)
    red = verify_sumcheck(Transcript(b"sc"), false_claim, 4, 3, res.proof)
    assert red.value != expected_final(tables, r_eq, red.point)


def test_prover_refuses_false_claim():
    tables, r_eq = make_instance(2, False, 3, seed=5)
    with pytest.raises(ValueError):
        prove(tables, r_eq, claim=(brute_claim(tables, r_eq) + 1) % P)
