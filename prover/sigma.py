"""Sigma protocols, prover side: proof of dot product (see :mod:`zkdl.sigma`)."""

from __future__ import annotations

import secrets

from zkdl import curve
from zkdl.field import P
from zkdl.field.vector import FrVec
from zkdl.sigma import DotProductProof, absorb_response, dot_product_challenge

__all__ = ["random_scalar", "random_vector", "prove_dot_product"]


def random_scalar(rng=None) -> int:
    """A uniform field element from ``secrets`` (or from ``rng.randrange``, tests only)."""
    return secrets.randbelow(P) if rng is None else rng.randrange(P)


def random_vector(n: int, rng=None) -> list[int]:
    return [random_scalar(rng) for _ in range(n)]


def _as_frvec(x) -> FrVec:
    return x if isinstance(x, FrVec) else FrVec.from_ints(x)


def prove_dot_product(transcript, gens, x, r_xi: int, r_tau: int, a, xi, tau, *, rng=None,
                      backend=None) -> DotProductProof:
    """Prove that xi = <x, G> + r_xi H and tau = <x, a> G_s + r_tau H (x, a: FrVec or int lists).

    ``xi`` and ``tau`` are the public commitments (absorbed, as the verifier does)."""
    x, a = _as_frvec(x), _as_frvec(a)
    n = len(x)
    if len(a) != n or len(gens) < n:
        raise ValueError(f"dot product of {n} entries with {len(a)} weights and {len(gens)} generators")
    H, Gs = curve.blinding_generator(), curve.scalar_generator()
    d_ints = random_vector(n, rng)
    d = FrVec.from_ints(d_ints)
    r_delta, r_beta = random_scalar(rng), random_scalar(rng)
    delta = curve.msm_parallel(list(gens[:n]) + [H], d_ints + [r_delta], backend)
    beta = curve.msm([Gs, H], [a.dot(d), r_beta], backend)
    c = dot_product_challenge(transcript, xi, tau, delta, beta)
    z = x.scale(c).add(d).to_ints()
    proof = DotProductProof(delta, beta, z, (c * r_xi + r_delta) % P, (c * r_tau + r_beta) % P)
    absorb_response(transcript, proof)
    return proof
