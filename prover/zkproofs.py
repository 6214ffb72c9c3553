"""Sigma protocols on scalar commitments, prover side (see zkdl.zkproofs).

:class:`Hidden` is a committed scalar the prover knows: value v and blind r, with
commitment v G_s + r H; linear combinations of Hidden values combine values and
blinds alike, matching the verifier's homomorphic combination of commitments.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkdl import curve
from zkdl.field import P
from zkdl.prover.sigma import random_scalar
from zkdl.zkproofs import ProductProof, ZeroProof, product_challenge, zero_challenge


@dataclass(frozen=True)
class Hidden:
    v: int
    r: int

    def com(self):
        return curve.commit_scalar(self.v, self.r)


def hidden(v: int, rng=None) -> Hidden:
    """Commit to v with a fresh blind (from ``secrets``)."""
    return Hidden(v % P, random_scalar(rng))


def lin(terms, const: int = 0) -> Hidden:
    """sum coeff * h + const (the constant with blind 0, i.e. const G_s)."""
    v, r = const, 0
    for c, h in terms:
        v += c * h.v
        r += c * h.r
    return Hidden(v % P, r % P)


def prove_zero(transcript, label: bytes, h: Hidden, C=None, rng=None) -> ZeroProof:
    """h must hold 0: prove C = r H."""
    if h.v % P:
        raise ValueError(f"prover bug: {label!r} is not zero")
    C = C if C is not None else h.com()
    k = random_scalar(rng)
    A = curve.FIXED_H.mul(k)
    c = zero_challenge(transcript, label, C, A)
    z = (k + c * h.r) % P
    transcript.absorb_scalar(b"zero/z", z)
    return ZeroProof(A, z)


def prove_product(transcript, label: bytes, x: Hidden, y: Hidden, z: Hidden, coms=None, rng=None) -> ProductProof:
    """z = x y for committed x, y, z (coms: their public commitments, if already computed)."""
    Cx, Cy, Cz = coms if coms is not None else (x.com(), y.com(), z.com())
    b = [random_scalar(rng) for _ in range(5)]
    alpha = curve.commit_scalar(b[0], b[1])
    beta = curve.commit_scalar(b[2], b[3])
    delta = curve.msm([Cy], [b[0]]) + curve.FIXED_H.mul(b[4])
    c = product_challenge(transcript, label, Cx, Cy, Cz, alpha, beta, delta)
    zs = ((b[0] + c * x.v) % P, (b[1] + c * x.r) % P, (b[2] + c * y.v) % P, (b[3] + c * y.r) % P,
          (b[4] + c * (z.r - x.v * y.r)) % P)
    transcript.absorb_scalars(b"product/z", list(zs))
    return ProductProof(alpha, beta, delta, zs)
