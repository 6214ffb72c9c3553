"""Claim batching: honest reduction, and each false or tampered input rejected."""

import random

import pytest

from zkdl import poly
from zkdl.claims import ClaimBatchError, PointBatchProof, verify_point_batch
from zkdl.encoding import Reader, Writer
from zkdl.errors import SumcheckConsistencyError, VerificationError
from zkdl.field import P
from zkdl.field.vector import FrVec
from zkdl.prover.claims import prove_point_batch
from zkdl.transcript import Transcript

N = 5


@pytest.fixture
def instance():
    rng = random.Random(42)
    table = [rng.randrange(P) for _ in range(1 << N)]
    points = [tuple(rng.randrange(P) for _ in range(N)) for _ in range(3)]
    claims = [(p, poly.evaluate(table, list(p))) for p in points]
    return table, claims


def run(table, claims):
    proof, point, value = prove_point_batch(Transcript(b"b"), b"T", FrVec.from_ints(table), claims)
    return proof, point, value


def test_honest_batch_reduces_to_a_true_claim(instance):
    table, claims = instance
    proof, point, value = run(table, claims)
    vpoint, vvalue = verify_point_batch(Transcript(b"b"), b"T", N, claims, proof)
    assert (vpoint, vvalue) == (point, value)
    assert vvalue == poly.evaluate(table, list(vpoint))
    w = Writer()
    proof.write(w)
    r = Reader(w.getvalue())
    assert PointBatchProof.read(r) == proof
    r.finish()


def test_single_claim_passes_through(instance):
    table, claims = instance
    proof, point, value = run(table, claims[:1])
    assert proof is None and (point, value) == claims[0]
    assert verify_point_batch(Transcript(b"b"), b"T", N, claims[:1], None) == claims[0]
    with pytest.raises(ClaimBatchError):
        verify_point_batch(Transcript(b"b"), b"T", N, claims[:1], PointBatchProof(None, 0))


@pytest.mark.parametrize("which", range(3))
def test_false_claim_rejected(instance, which):
    table, claims = instance
    proof, _, _ = run(table, claims)
    bad = list(claims)
    bad[which] = (bad[which][0], (bad[which][1] + 1) % P)
    with pytest.raises(VerificationError):
        verify_point_batch(Transcript(b"b"), b"T", N, bad, proof)


def test_tampered_final_value_and_rounds(instance):
    table, claims = instance
    proof, _, _ = run(table, claims)
    with pytest.raises(ClaimBatchError):
        verify_point_batch(Transcript(b"b"), b"T", N, claims,
                           PointBatchProof(proof.sumcheck, (proof.final_value + 1) % P))
    rounds = list(proof.sumcheck.rounds)
    rounds[2] = (rounds[2][0], (rounds[2][1] + 1) % P, rounds[2][2])
    from zkdl.sumcheck import SumcheckProof
    with pytest.raises(SumcheckConsistencyError):
        verify_point_batch(Transcript(b"b"), b"T", N, claims,
                           PointBatchProof(SumcheckProof(tuple(rounds)), proof.final_value))


def test_wrong_point_length(instance):
    table, claims = instance
    proof, _, _ = run(table, claims)
    with pytest.raises(ClaimBatchError):
        verify_point_batch(Transcript(b"b"), b"T", N + 1, claims, proof)
