"""Sigma protocols on scalar Pedersen commitments (verifier side): zero and product.

Commitments are C = v G_s + r H (G_s, H from :mod:`zkdl.curve`). Both protocols are
honest-verifier zero-knowledge Sigma protocols, made non-interactive on the
caller's transcript (Hyrax, Wahby et al., IEEE S&P 2018, section 5; Spartan,
Setty, CRYPTO 2020, "proof of product"):

* zero proof: C commits to 0, i.e. C = r H. Prover: A = k H; c = challenge;
  z = k + c r. Verifier: z H == A + c C. (Schnorr on H.) Equalities C1 = C2 and
  linear relations between committed values are zero proofs of a difference.
* product proof: C_x, C_y, C_z commit to x, y, z = x y. Prover: alpha = b1 G_s + b2 H,
  beta = b3 G_s + b4 H, delta = b1 C_y + b5 H; c = challenge;
  z1 = b1 + c x, z2 = b2 + c r_x, z3 = b3 + c y, z4 = b4 + c r_y, z5 = b5 + c (r_z - x r_y).
  Verifier: z1 G_s + z2 H == alpha + c C_x, z3 G_s + z4 H == beta + c C_y,
  z1 C_y + z5 H == delta + c C_z (the last holds as C_z = x C_y + (r_z - x r_y) H).

Wire formats: zero proof A (48) || z (32); product proof alpha || beta || delta
(3 x 48) || z1..z5 (5 x 32).
"""

from __future__ import annotations

from dataclasses import dataclass

from zkdl import curve
from zkdl.curve import G1Point
from zkdl.errors import EncodingError, SigmaProofError
from zkdl.field import P, is_canonical


@dataclass(frozen=True)
class ZeroProof:
    A: G1Point
    z: int

    def to_bytes(self) -> bytes:
        return curve.encode_point(self.A) + self.z.to_bytes(32, "little")

    @classmethod
    def read(cls, reader) -> "ZeroProof":
        return cls(reader.point("zero-proof commitment"), reader.scalar("zero-proof response"))


@dataclass(frozen=True)
class ProductProof:
    alpha: G1Point
    beta: G1Point
    delta: G1Point
    z: tuple[int, int, int, int, int]

    def to_bytes(self) -> bytes:
        return (curve.encode_points([self.alpha, self.beta, self.delta])
                + b"".join(v.to_bytes(32, "little") for v in self.z))

    @classmethod
    def read(cls, reader) -> "ProductProof":
        pts = reader.points(3, "product-proof commitments")
        return cls(pts[0], pts[1], pts[2], tuple(reader.scalars(5, "product-proof responses")))


def zero_challenge(transcript, label: bytes, C: G1Point, A: G1Point) -> int:
    transcript.absorb_points(b"zero/" + label, [C, A])
    return transcript.challenge_scalar(b"zero/c")


def verify_zero(transcript, label: bytes, C: G1Point, proof: ZeroProof, deferred=None) -> None:
    """Accept iff the proof shows C = r H (C commits to zero). With ``deferred``
    (zkdl.curve.DeferredChecks) the group equation is queued for batch verification."""
    if not isinstance(proof, ZeroProof) or not is_canonical(proof.z):
        raise EncodingError("malformed zero proof")
    c = zero_challenge(transcript, label, C, proof.A)
    transcript.absorb_scalar(b"zero/z", proof.z)
    error = SigmaProofError(f"{label.decode(errors='replace')}: committed values are not equal")
    if deferred is not None:
        deferred.add([curve.blinding_generator(), proof.A, C], [proof.z, P - 1, (P - c) % P], error)
        return
    if curve.FIXED_H.mul(proof.z) != proof.A + curve.msm([C], [c]):
        raise error


def product_challenge(transcript, label: bytes, Cx, Cy, Cz, alpha, beta, delta) -> int:
    transcript.absorb_points(b"product/" + label, [Cx, Cy, Cz])
    transcript.absorb_points(b"product/commit", [alpha, beta, delta])
    return transcript.challenge_scalar(b"product/c")


def verify_product(transcript, label: bytes, Cx: G1Point, Cy: G1Point, Cz: G1Point, proof: ProductProof,
                   deferred=None) -> None:
    """Accept iff the proof shows the values in Cx, Cy, Cz satisfy z = x y. With
    ``deferred`` the three group equations are queued for batch verification."""
    if not isinstance(proof, ProductProof) or len(proof.z) != 5 or not all(is_canonical(v) for v in proof.z):
        raise EncodingError("malformed product proof")
    c = product_challenge(transcript, label, Cx, Cy, Cz, proof.alpha, proof.beta, proof.delta)
    transcript.absorb_scalars(b"product/z", list(proof.z))
    z1, z2, z3, z4, z5 = proof.z
    if deferred is not None:
        G, H, mc = curve.scalar_generator(), curve.blinding_generator(), (P - c) % P
        error = SigmaProofError(f"{label.decode(errors='replace')}: product relation of committed values fails")
        deferred.add([G, H, proof.alpha, Cx], [z1, z2, P - 1, mc], error)
        deferred.add([G, H, proof.beta, Cy], [z3, z4, P - 1, mc], error)
        deferred.add([Cy, H, proof.delta, Cz], [z1, z5, P - 1, mc], error)
        return
    if (curve.commit_scalar(z1, z2) != proof.alpha + curve.msm([Cx], [c])
            or curve.commit_scalar(z3, z4) != proof.beta + curve.msm([Cy], [c])
            or curve.msm([Cy, Cz], [z1, (P - c) % P]) + curve.FIXED_H.mul(z5) != proof.delta):
        raise SigmaProofError(f"{label.decode(errors='replace')}: product relation of committed values fails")


def extract_product(c1: int, p1: ProductProof, c2: int, p2: ProductProof):
    """Special soundness: two accepting transcripts with the same first message and
    different challenges give (x, r_x, y, r_y)."""
    d = pow((c1 - c2) % P, P - 2, P)
    x = (p1.z[0] - p2.z[0]) * d % P
    r_x = (p1.z[1] - p2.z[1]) * d % P
    y = (p1.z[2] - p2.z[2]) * d % P
    r_y = (p1.z[3] - p2.z[3]) * d % P
    return x, r_x, y, r_y
