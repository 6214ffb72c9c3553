"""Sigma protocols over Pedersen commitments (verifier side): proofs of dot product.

Two variants: the linear-size Sigma protocol below (:class:`DotProductProof`) and a
log-size one (:class:`DotProductLogProof`, further down), both honest-verifier zero
knowledge and made non-interactive on the caller's transcript.

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

__all__ = ["DotProductProof", "verify_dot_product", "extract_dot_product", "dot_product_challenge",
           "DotProductLogProof", "verify_dot_product_log", "log_weights"]


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
                       backend=None, deferred=None) -> None:
    """Check a proof that the vector in ``xi`` has dot product with ``a`` equal to the scalar
    in ``tau``. ``gens`` are the vector generators (len(a) of them); raises
    :class:`SigmaProofError` (or :class:`EncodingError` for malformed inputs).
    With ``deferred`` (a :class:`zkdl.curve.DeferredChecks`) the two group equations are
    queued for batch verification instead of checked now."""
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
    H = curve.blinding_generator()
    # c xi + delta - <z, G> - z_delta H == 0, as one MSM
    pts1 = list(gens[:n]) + [H, xi, proof.delta]
    sc1 = [(-z) % P for z in proof.z] + [(-proof.z_delta) % P, c, 1]
    za = sum(z * x for z, x in zip(proof.z, a)) % P
    if deferred is not None:
        deferred.add(pts1, sc1, SigmaProofError("proof of dot product: c*xi + delta != <z, G> + z_delta*H"))
        deferred.add([tau, proof.beta, curve.scalar_generator(), H], [c, 1, (-za) % P, (-proof.z_beta) % P],
                     SigmaProofError("proof of dot product: c*tau + beta != <z, a>*G_s + z_beta*H"))
        return
    check1 = curve.msm_parallel(pts1, sc1, backend)
    if check1 != curve.identity():
        raise SigmaProofError("proof of dot product: c*xi + delta != <z, G> + z_delta*H")
    lhs2 = curve.msm([tau], [c], backend) + proof.beta
    rhs2 = curve.commit_scalar(za, proof.z_beta)
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


# ---------------------------------------------------------------------------------------
# Log-size proof of dot product (Bulletproofs inner-product reduction with blinding, as in
# Hyrax's appendix and Spartan's DotProductProofLog; the final step here is a Schnorr
# proof of an opening of Gamma_hat against the base g_hat + a_hat Q).
#
# Statement as above (xi = <x, G> + r_xi H, tau = y G_s + r_tau H, y = <x, a>, n = 2^k),
# where xi must already be bound to the transcript by the caller (Hyrax: it is a function
# of the absorbed commitments, point and batch weights).
#
#   both:   absorb tau; w = challenge; Q = w G_s; Gamma = xi + w tau
#           (w makes any G_s component hidden in xi useless: it would have to equal
#           w (<x, a> - y) for a w drawn after xi and tau were fixed)
#   round j = 0..k-1 (vectors of length m = n / 2^j, halves L/R of size h = m/2):
#     prover: L_j = <x_L, G_R> + <x_L, a_R> Q + rL_j H,  R_j = <x_R, G_L> + <x_R, a_L> Q + rR_j H
#     both:   absorb L_j, R_j; u_j = challenge (nonzero)
#             x <- u x_L + u^-1 x_R,  a <- u^-1 a_L + u a_R,  G <- u^-1 G_L + u G_R
#             Gamma <- u^2 L_j + Gamma + u^-2 R_j
#   end:    Gamma_hat = x_hat (g_hat + a_hat Q) + r_hat H with g_hat = <s, G>, a_hat = <s, a>,
#           s_i = prod_j u_j^(+-1) (+ when bit j of i, counted from the top, is 1)
#     prover: T = d B + e H for B = g_hat + a_hat Q; c = challenge; z1 = d + c x_hat, z2 = e + c r_hat
#     verifier (one MSM): z1 <s, G> + z1 a_hat Q + z2 H - T - c (xi + w tau + sum_j u_j^2 L_j + u_j^-2 R_j) == 0
#
# Wire format: k (u8) || L_0 R_0 ... L_{k-1} R_{k-1} (48 each) || T (48) || z1 || z2 (32 each).
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DotProductLogProof:
    lr: tuple[G1Point, ...]  # L_0, R_0, L_1, R_1, ...
    t: G1Point
    z1: int
    z2: int

    def __post_init__(self):
        object.__setattr__(self, "lr", tuple(self.lr))
        if len(self.lr) % 2 or not all(isinstance(p, G1Point) for p in (*self.lr, self.t)):
            raise EncodingError("log dot-product proof needs pairs of G1 points and a point T")
        if not (is_canonical(self.z1) and is_canonical(self.z2)):
            raise EncodingError("log dot-product responses must be canonical field elements")

    @property
    def rounds(self) -> int:
        return len(self.lr) // 2

    @staticmethod
    def size(n: int) -> int:
        k = n.bit_length() - 1
        return 1 + (2 * k + 1) * POINT_BYTES + 2 * BYTES

    def to_bytes(self) -> bytes:
        return (bytes([self.rounds]) + curve.encode_points(self.lr) + self.t.to_compressed_bytes()
                + encode_many([self.z1, self.z2]))

    @classmethod
    def read(cls, reader: Reader, n: int) -> "DotProductLogProof":
        k = n.bit_length() - 1
        got = reader.u8("log dot-product rounds")
        if got != k or n != 1 << k:
            raise EncodingError(f"log dot-product proof has {got} rounds, the statement needs {k}")
        lr = reader.points(2 * k, "log dot-product L/R")
        t = reader.point("log dot-product T")
        z1, z2 = reader.scalars(2, "log dot-product z1, z2")
        return cls(lr, t, z1, z2)

    @classmethod
    def from_bytes(cls, data: bytes, n: int) -> "DotProductLogProof":
        reader = Reader(data)
        proof = cls.read(reader, n)
        reader.finish()
        return proof


def log_weights(us) -> list[int]:
    """s_i = prod_j (u_j if bit j of i (from the top) is 1 else u_j^-1), i < 2^len(us)."""
    s = [1]
    for u in us:
        ui = inv(u)
        s = [v * f % P for v in s for f in (ui, u)]
    return s


def dot_log_start(transcript, tau: G1Point) -> int:
    transcript.absorb_point(b"dotlog/statement", tau)
    return transcript.challenge_scalar(b"dotlog/w")


def dot_log_round(transcript, left: G1Point, right: G1Point) -> int:
    transcript.absorb_points(b"dotlog/lr", [left, right])
    u = transcript.challenge_scalar(b"dotlog/u")
    if u == 0:  # probability 2^-254; neither side can continue
        raise SigmaProofError("log proof of dot product: zero round challenge")
    return u


def dot_log_finish(transcript, t: G1Point) -> int:
    transcript.absorb_point(b"dotlog/t", t)
    return transcript.challenge_scalar(b"dotlog/c")


def verify_dot_product_log(transcript, gens, xi_points, xi_scalars, tau: G1Point, a,
                           proof: DotProductLogProof, backend=None) -> None:
    """Check a log-size proof that the vector committed in xi = MSM(xi_points, xi_scalars)
    has dot product ``a`` with the scalar committed in ``tau``."""
    a = list(a)
    n = len(a)
    if not isinstance(proof, DotProductLogProof):
        raise EncodingError("expected a DotProductLogProof")
    if n == 0 or n & (n - 1) or proof.rounds != n.bit_length() - 1 or len(gens) < n:
        raise EncodingError(f"log proof of dot product with {proof.rounds} rounds for {n} entries")
    if not all(is_canonical(x) for x in a) or len(xi_points) != len(xi_scalars):
        raise EncodingError("malformed log dot-product statement")
    w = dot_log_start(transcript, tau)
    us = [dot_log_round(transcript, proof.lr[2 * j], proof.lr[2 * j + 1]) for j in range(proof.rounds)]
    c = dot_log_finish(transcript, proof.t)
    transcript.absorb_scalars(b"dotlog/response", [proof.z1, proof.z2])
    s = log_weights(us)
    a_hat = sum(si * ai for si, ai in zip(s, a)) % P
    neg_c = (-c) % P
    points = list(gens[:n]) + [curve.scalar_generator(), curve.blinding_generator(), proof.t, tau]
    scalars = ([proof.z1 * si % P for si in s]
               + [proof.z1 * a_hat % P * w % P, proof.z2, P - 1, neg_c * w % P])
    for u, (left, right) in zip(us, zip(proof.lr[0::2], proof.lr[1::2])):
        u2 = u * u % P
        points += [left, right]
        scalars += [neg_c * u2 % P, neg_c * inv(u2) % P]
    points += list(xi_points)
    scalars += [neg_c * x % P for x in xi_scalars]
    if curve.msm_parallel(points, scalars, backend) != curve.identity():
        raise SigmaProofError("log proof of dot product: final check failed")
