"""Claim batching in plain and ZK mode: honest reduction, false or tampered input rejected."""

import random

import pytest

from channels import Pair
from zkdl import poly
from zkdl.claims import verify_point_batch
from zkdl.errors import EncodingError, VerificationError
from zkdl.field import P
from zkdl.field.vector import FrVec
from zkdl.prover.claims import prove_point_batch

N = 5
MODES = [False, True]


@pytest.fixture
def instance():
    rng = random.Random(42)
    table = [rng.randrange(P) for _ in range(1 << N)]
    points = [tuple(rng.randrange(P) for _ in range(N)) for _ in range(3)]
    return table, [(p, poly.evaluate(table, list(p))) for p in points]


def run(zk, table, claims, shift=0):
    pair = Pair(zk)
    pv = [pair.claim(v) for _, v in claims]
    pclaims = [(p, v[0]) for (p, _), v in zip(claims, pv)]
    vclaims = [(p, v[1]) for (p, _), v in zip(claims, pv)]
    point, value = prove_point_batch(pair.p, b"T", FrVec.from_ints(table), pclaims)
    if shift:  # the verifier is told a different value for the first claim
        vclaims[0] = (vclaims[0][0], pair.claim(claims[0][1] + shift)[1])
    return pair, point, value, vclaims


@pytest.mark.parametrize("zk", MODES, ids=["plain", "zk"])
def test_honest_batch_reduces_to_a_true_claim(instance, zk):
    table, claims = instance
    pair, point, value, vclaims = run(zk, table, claims)
    ch = pair.verifier()
    vpoint, vvalue = verify_point_batch(ch, b"T", N, vclaims)
    ch.r.finish()
    assert vpoint == point and vvalue == pair.public(value)
    assert Pair.clear(value) == poly.evaluate(table, list(vpoint))


@pytest.mark.parametrize("zk", MODES, ids=["plain", "zk"])
def test_single_claim_passes_through(instance, zk):
    table, claims = instance
    pair, point, value, vclaims = run(zk, table, claims[:1])
    assert pair.w.getvalue() == b""
    assert verify_point_batch(pair.verifier(), b"T", N, vclaims) == vclaims[0]


@pytest.mark.parametrize("zk", MODES, ids=["plain", "zk"])
def test_false_claim_rejected(instance, zk):
    table, claims = instance
    pair, _, _, vclaims = run(zk, table, claims, shift=1)
    with pytest.raises(VerificationError):
        verify_point_batch(pair.verifier(), b"T", N, vclaims)


@pytest.mark.parametrize("zk", MODES, ids=["plain", "zk"])
def test_tampered_messages_rejected(instance, zk):
    table, claims = instance
    pair, _, _, vclaims = run(zk, table, claims)
    data = pair.w.getvalue()
    for off in (3, len(data) // 2, len(data) - 2):
        bad = bytearray(data)
        bad[off] ^= 2
        with pytest.raises(VerificationError):
            verify_point_batch(pair.verifier(bytes(bad)), b"T", N, vclaims)
    with pytest.raises(VerificationError):
        verify_point_batch(pair.verifier(data[:-1]), b"T", N, vclaims)


def test_wrong_point_length(instance):
    table, claims = instance
    pair, _, _, vclaims = run(False, table, claims)
    with pytest.raises(VerificationError):
        verify_point_batch(pair.verifier(), b"T", N + 1, vclaims)
    with pytest.raises(EncodingError):
        verify_point_batch(pair.verifier(), b"T", N, [((P,) * N, 0)] + vclaims[1:])
