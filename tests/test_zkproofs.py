"""Zero and product Sigma proofs: completeness, each tampered element rejected,
special soundness (two challenges extract the witness)."""

import random
from dataclasses import replace

import pytest

from zkdl import curve
from zkdl.errors import SigmaProofError, VerificationError
from zkdl.field import P
from zkdl.prover.zkproofs import Hidden, hidden, lin, prove_product, prove_zero
from zkdl.transcript import Transcript
from zkdl.zkproofs import ProductProof, ZeroProof, extract_product, verify_product, verify_zero


@pytest.fixture
def rng():
    return random.Random(99)


def test_zero_proof(rng):
    a, b = hidden(5, rng), hidden(5, rng)
    diff = lin([(1, a), (-1, b)])
    C = curve.msm([a.com(), b.com()], [1, P - 1])
    assert C == diff.com()
    proof = prove_zero(Transcript(b"z"), b"eq", diff, C, rng)
    verify_zero(Transcript(b"z"), b"eq", C, proof)
    with pytest.raises(SigmaProofError):
        verify_zero(Transcript(b"z"), b"eq", C, replace(proof, z=(proof.z + 1) % P))
    with pytest.raises(SigmaProofError):
        verify_zero(Transcript(b"z"), b"eq", C, replace(proof, A=proof.A + curve.scalar_generator()))
    # a commitment to a nonzero value cannot be proven zero (the prover refuses; a forged
    # response for it fails)
    c1 = hidden(1, rng)
    with pytest.raises(ValueError):
        prove_zero(Transcript(b"z"), b"eq", c1)
    forged = prove_zero(Transcript(b"z"), b"eq", Hidden(0, c1.r), c1.com(), rng)
    with pytest.raises(SigmaProofError):
        verify_zero(Transcript(b"z"), b"eq", c1.com(), forged)


def test_product_proof_and_tampering(rng):
    x, y = hidden(7, rng), hidden(11, rng)
    z = hidden(77, rng)
    proof = prove_product(Transcript(b"p"), b"m", x, y, z, rng=rng)
    verify_product(Transcript(b"p"), b"m", x.com(), y.com(), z.com(), proof)
    for k in range(5):
        zs = list(proof.z)
        zs[k] = (zs[k] + 1) % P
        with pytest.raises(SigmaProofError):
            verify_product(Transcript(b"p"), b"m", x.com(), y.com(), z.com(), replace(proof, z=tuple(zs)))
    for field in ("alpha", "beta", "delta"):
        bad = replace(proof, **{field: getattr(proof, field) + curve.scalar_generator()})
        with pytest.raises(SigmaProofError):
            verify_product(Transcript(b"p"), b"m", x.com(), y.com(), z.com(), bad)
    # a false product (z != x y) is rejected
    w = hidden(78, rng)
    bad = prove_product(Transcript(b"p"), b"m", x, y, w, rng=rng)
    with pytest.raises(SigmaProofError):
        verify_product(Transcript(b"p"), b"m", x.com(), y.com(), w.com(), bad)


def test_product_special_soundness(rng):
    """Same first message, two challenges: the extractor recovers x, r_x, y, r_y."""
    x, y = hidden(3, rng), hidden(9, rng)
    z = hidden(27, rng)
    b = [rng.randrange(P) for _ in range(5)]
    G, H = curve.scalar_generator(), curve.blinding_generator()
    alpha, beta = curve.msm([G, H], b[:2]), curve.msm([G, H], b[2:4])
    delta = curve.msm([y.com(), H], [b[0], b[4]])

    def respond(c):
        return ProductProof(alpha, beta, delta, ((b[0] + c * x.v) % P, (b[1] + c * x.r) % P, (b[2] + c * y.v) % P,
                                                 (b[3] + c * y.r) % P, (b[4] + c * (z.r - x.v * y.r)) % P))
    assert extract_product(5, respond(5), 8, respond(8)) == (x.v, x.r, y.v, y.r)


def test_serialization_round_trip(rng):
    from zkdl.verifier.verify import ProofReader
    x, y = hidden(2, rng), hidden(4, rng)
    pp = prove_product(Transcript(b"p"), b"m", x, y, hidden(8, rng), rng=rng)
    zp = prove_zero(Transcript(b"z"), b"e", hidden(0, rng), rng=rng)
    r = ProofReader(pp.to_bytes() + zp.to_bytes())
    assert ProductProof.read(r) == pp and ZeroProof.read(r) == zp
    r.finish()
    with pytest.raises(VerificationError):
        ProductProof.read(ProofReader(pp.to_bytes()[:-1]))


def test_zero_proof_special_soundness(rng):
    """Same first message A = kH, two challenges: the blind r of C = rH is extracted."""
    h = hidden(0, rng)
    C = h.com()
    k = rng.randrange(P)
    A = curve.FIXED_H.mul(k)
    c1, c2 = 11, 29
    z1, z2 = (k + c1 * h.r) % P, (k + c2 * h.r) % P
    for c, z in ((c1, z1), (c2, z2)):
        assert curve.FIXED_H.mul(z) == A + curve.msm([C], [c])
    assert (z1 - z2) * pow(c1 - c2, P - 2, P) % P == h.r


def test_deferred_batch_verification(rng):
    """Queued equations pass together; one false equation among many is found and its
    own error raised."""
    from zkdl.curve import DeferredChecks
    G, H = curve.scalar_generator(), curve.blinding_generator()
    d = DeferredChecks()
    for _ in range(5):
        a, b = rng.randrange(P), rng.randrange(P)
        C = curve.commit_scalar(a, b)
        d.add([G, H, C], [a, b, P - 1], SigmaProofError("never"))
    d.verify(b"seed")
    assert len(d) == 0
    for k in range(3):
        a, b = rng.randrange(P), rng.randrange(P)
        C = curve.commit_scalar(a, b)
        d.add([G, H, C], [a, b + (k == 1), P - 1], SigmaProofError(f"equation {k}"))
    with pytest.raises(SigmaProofError, match="equation 1"):
        d.verify(b"seed")
    x, y = hidden(7, rng), hidden(11, rng)
    z = hidden(78, rng)  # false product
    d = DeferredChecks()
    verify_product(Transcript(b"p"), b"m", x.com(), y.com(), z.com(),
                   prove_product(Transcript(b"p"), b"m", x, y, z, rng=rng), d)
    with pytest.raises(SigmaProofError):
        d.verify(b"s")
