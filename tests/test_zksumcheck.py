"""Zero-knowledge sumcheck: completeness, tampering rejected, nothing in the clear."""

import random

import pytest

from zkdl import poly
from zkdl.encoding import Writer
from zkdl.errors import VerificationError
from zkdl.field import P, encode
from zkdl.prover.backend import CpuBackend, ReferenceBackend
from zkdl.prover.zkproofs import hidden
from zkdl.prover.zksumcheck import ZkMessenger
from zkdl.transcript import Transcript
from zkdl.verifier.verify import ProofReader
from zkdl.zksumcheck import verify_zk_sumcheck


def instance(seed, n=4):
    rng = random.Random(seed)
    tabs = [[rng.randrange(P) for _ in range(1 << n)] for _ in range(2)]
    r_eq = [rng.randrange(P) for _ in range(n)]
    claim = sum(a * b * e for a, b, e in zip(tabs[0], tabs[1], poly.eq_table(r_eq))) % P
    return rng, tabs, r_eq, claim


@pytest.mark.parametrize("be", [CpuBackend(), ReferenceBackend()], ids=["cpu", "reference"])
def test_zk_sumcheck_completeness(be):
    rng, tabs, r_eq, claim = instance(1)
    h = hidden(claim, rng)
    w = Writer()
    msg = ZkMessenger(Transcript(b"z"), w, h, rng=rng)
    res = be.sumcheck(msg.t, [be.from_ints(t) for t in tabs], eq_point=r_eq, claim=claim, messenger=msg)
    point, final_com = verify_zk_sumcheck(Transcript(b"z"), ProofReader(w.getvalue()), h.com(), 4, 3)
    assert point == res.point
    expect = poly.evaluate(tabs[0], list(point)) * poly.evaluate(tabs[1], list(point)) * poly.eq_eval(r_eq, point) % P
    assert msg.cur.v == expect and final_com == msg.cur.com()
    # no round coefficient or claim appears in the clear
    data = w.getvalue()
    for coeffs in res.proof.rounds:
        for c in coeffs:
            if c > 1:
                assert encode(c) not in data
    assert encode(claim) not in data


def test_zk_sumcheck_tampering_and_false_claim():
    rng, tabs, r_eq, claim = instance(2)
    h = hidden(claim, rng)
    w = Writer()
    msg = ZkMessenger(Transcript(b"z"), w, h, rng=rng)
    be = CpuBackend()
    be.sumcheck(msg.t, [be.from_ints(t) for t in tabs], eq_point=r_eq, claim=claim, messenger=msg)
    data = w.getvalue()
    step = len(data) // 4
    for off in (5, 60, 100, step + 7, len(data) - 3):
        bad = bytearray(data)
        bad[off] ^= 4
        with pytest.raises(VerificationError):
            verify_zk_sumcheck(Transcript(b"z"), ProofReader(bytes(bad)), h.com(), 4, 3)
    # the same proof against another claim commitment
    with pytest.raises(VerificationError):
        verify_zk_sumcheck(Transcript(b"z"), ProofReader(data), hidden(claim, rng).com(), 4, 3)
    # a false claim: the honest prover's rounds cannot be made consistent
    false = hidden(claim + 1, rng)
    w2 = Writer()
    msg2 = ZkMessenger(Transcript(b"z"), w2, false, rng=rng)
    be.sumcheck(msg2.t, [be.from_ints(t) for t in tabs], eq_point=r_eq, claim=(claim + 1) % P, messenger=msg2)
    point, final_com = verify_zk_sumcheck(Transcript(b"z"), ProofReader(w2.getvalue()), false.com(), 4, 3)
    expect = poly.evaluate(tabs[0], list(point)) * poly.evaluate(tabs[1], list(point)) * poly.eq_eval(r_eq, point) % P
    assert msg2.cur.v != expect  # the closing product proof will fail for the verifier
