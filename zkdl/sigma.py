"""Sigma protocols over Pedersen commitments (verifier side): proof of dot product.

Proof of dot product (Hyrax, Wahby et al., IEEE S&P 2018, section 5 "proof of
dot-product", the linear-size variant; Spartan uses the same protocol). Public:
generators G_0..G_{n-1}, H, G_s; a vector a in F^n; commitments

    xi  = <x, G> + r_xi H          (a committed vector x)
    tau = y G_s + r_tau H          (a committed scalar y)

Claim: the prover knows x, r_xi, y, r_tau with y = <x, a>. Non-interactively
(Fiat-Shamir on the caller's transcript):

    prover:   d <- F^n, r_delta, r_beta <- F (fresh, uniform)
              delta = <d, G> + r_delta H,   beta = <a, d> G_s + r_beta H
    both:     absorb xi, tau, delta, beta; c = challenge
    prover:   z = c x + d,  z_delta = c r_xi + r_delta,  z_beta = c r_tau + r_beta
    verifier: c xi + delta  == <z, G> + z_delta H
              c tau + beta  == <z, a> G_s + z_beta H

Completeness is immediate; special soundness: two accepting transcripts with the
same (delta, beta) and challenges c != c' give x = (z - z') / (c - c') and
y = <x, a> (see :func:`extract_dot_product`); honest-verifier zero knowledge: z is
uniform given c (masked by d), delta/beta are uniform commitments.

Wire format (:meth:`DotProductProof.to_bytes`): delta (48) || beta (48) ||
z (n x 32) || z_delta (32) || z_beta (32); n is fixed by the statement.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkdl import curve
from zkdl.curve import POINT_BYTES, G1Point, Reader
from zkdl.errors import EncodingError, SigmaProofError
from zkdl.field import BYTES, P, encode_many, inv, is_canonical

__all__ = ["DotProductProof", "verify_dot_product", "extract_dot_product", "dot_product_challenge"]


@dataclass(frozen=True)
class DotProductProof:
    delta: G1Point
    beta: G1Point
    z: tuple[int, ...]
    z_delta: int
    z_beta: int

    def __post_init__(self):
        object.__setattr__(self, "z", tuple(self.z))
        if not all(isinstance(p, G1Point) for p in (self.delta, self.beta)):
            raise EncodingError("delta and beta must be G1 points")
        if not all(is_canonical(s) for s in (*self.z, self.z_delta, self.z_beta)):
            raise EncodingError("proof-of-dot-product responses must be canonical field elements")

    @staticmethod
    def size(n: int) -> int:
        return 2 * POINT_BYTES + (n + 2) * BYTES

    def to_bytes(self) -> bytes:
        return (self.delta.to_compressed_bytes() + self.beta.to_compressed_bytes()
                + encode_many(self.z) + encode_many([self.z_delta, self.z_beta]))

    @classmethod
    def read(cls, reader: Reader, n: int) -> "DotProductProof":
        delta = reader.point("dot-product delta")
        beta = reader.point("dot-product beta")
        z = reader.scalars(n, "dot-product z")
        z_delta, z_beta = reader.scalars(2, "dot-product z_delta, z_beta")
        return cls(delta, beta, z, z_delta, z_beta)

    @classmethod
    def from_bytes(cls, data: bytes, n: int) -> "DotProductProof":
        reader = Reader(data)
        proof = cls.read(reader, n)
        reader.finish()
        return proof


def dot_product_challenge(transcript, xi: G1Point, tau: G1Point, delta: G1Point, beta: G1Point) -> int:
    """Absorb the statement and first message, return the challenge c (prover and verifier)."""
    transcript.absorb_points(b"dotprod/statement", [xi, tau])
    transcript.absorb_points(b"dotprod/commit", [delta, beta])
    return transcript.challenge_scalar(b"dotprod/c")


def absorb_response(transcript, proof: DotProductProof) -> None:
    transcript.absorb_scalars(b"dotprod/response", [*proof.z, proof.z_delta, proof.z_beta])


def verify_dot_product(transcript, gens, xi: G1Point, tau: G1Point, a, proof: DotProductProof,
                       backend=None) -> None:
    """Check a proof that the vector in ``xi`` has dot product with ``a`` equal to the scalar
    in ``tau``. ``gens`` are the vector generators (len(a) of them); raises
    :class:`SigmaProofError` (or :class:`EncodingError` for malformed inputs)."""
    a = list(a)
    n = len(a)
    if not isinstance(proof, DotProductProof):
        raise EncodingError("expected a DotProductProof")
    if len(proof.z) != n or len(gens) < n:
        raise EncodingError(f"proof of dot product over {len(proof.z)} entries, statement has {n}")
    if not all(is_canonical(x) for x in a):
        raise EncodingError("dot-product vector a must hold canonical field elements")
    c = dot_product_challenge(transcript, xi, tau, proof.delta, proof.beta)
    absorb_response(transcript, proof)
    H, Gs = curve.blinding_generator(), curve.scalar_generator()
    # c xi + delta - <z, G> - z_delta H == 0, as one MSM
    check1 = curve.msm_parallel(list(gens[:n]) + [H, xi, proof.delta],
                                [(-z) % P for z in proof.z] + [(-proof.z_delta) % P, c, 1], backend)
    if check1 != curve.identity():
        raise SigmaProofError("proof of dot product: c*xi + delta != <z, G> + z_delta*H")
    za = sum(z * x for z, x in zip(proof.z, a)) % P
    lhs2 = curve.msm([tau, proof.beta], [c, 1], backend)
    rhs2 = curve.msm([Gs, H], [za, proof.z_beta], backend)
    if lhs2 != rhs2:
        raise SigmaProofError("proof of dot product: c*tau + beta != <z, a>*G_s + z_beta*H")


def extract_dot_product(c1: int, proof1: DotProductProof, c2: int, proof2: DotProductProof):
    """Special-soundness extractor: from two accepting transcripts with the same first
    message and distinct challenges, return (x, r_xi, r_tau) (and y = <x, a>)."""
    if proof1.delta != proof2.delta or proof1.beta != proof2.beta:
        raise ValueError("the transcripts must share the first message (delta, beta)")
    if (c1 - c2) % P == 0:
        raise ValueError("the challenges must differ")
    k = inv(c1 - c2)
    x = [(z1 - z2) * k % P for z1, z2 in zip(proof1.z, proof2.z)]
    r_xi = (proof1.z_delta - proof2.z_delta) * k % P
    r_tau = (proof1.z_beta - proof2.z_beta) * k % P
    return x, r_xi, r_tau
