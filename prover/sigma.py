"""Sigma protocols, prover side: proofs of dot product, linear and log size (see :mod:`zkdl.sigma`)."""

from __future__ import annotations

import secrets

from zkdl import curve
from zkdl.field import P, inv
from zkdl.field.vector import FrVec
from zkdl.sigma import (DotProductLogProof, DotProductProof, absorb_response, dot_log_finish,
                        dot_log_round, dot_log_start, dot_product_challenge)

__all__ = ["random_scalar", "random_vector", "prove_dot_product", "prove_dot_product_log"]


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
    H = curve.blinding_generator()
    d_ints = random_vector(n, rng)
    d = FrVec.from_ints(d_ints)
    r_delta, r_beta = random_scalar(rng), random_scalar(rng)
    delta = curve.msm_parallel(list(gens[:n]) + [H], d_ints + [r_delta], backend)
    beta = curve.commit_scalar(a.dot(d), r_beta)
    c = dot_product_challenge(transcript, xi, tau, delta, beta)
    z = x.scale(c).add(d).to_ints()
    proof = DotProductProof(delta, beta, z, (c * r_xi + r_delta) % P, (c * r_tau + r_beta) % P)
    absorb_response(transcript, proof)
    return proof


def prove_dot_product_log(transcript, gens, x, r_xi: int, r_tau: int, a, tau, *, rng=None,
                          backend=None) -> DotProductLogProof:
    """Log-size proof of dot product (see :mod:`zkdl.sigma`): xi = <x, G> + r_xi H (bound to
    the transcript by the caller), tau = <x, a> G_s + r_tau H. x, a: FrVec or int lists."""
    x = x.to_ints() if isinstance(x, FrVec) else [v % P for v in x]
    a = a.to_ints() if isinstance(a, FrVec) else [v % P for v in a]
    n = len(x)
    k = n.bit_length() - 1
    if n == 0 or n != 1 << k or len(a) != n or len(gens) < n:
        raise ValueError(f"log dot product needs 2^k entries, got {n} (weights {len(a)}, gens {len(gens)})")
    gens = list(gens[:n])
    H = curve.blinding_generator()
    w = dot_log_start(transcript, tau)
    q = curve.scalar_generator() * curve.to_scalar(w)
    r = (r_xi + w * r_tau) % P
    weight = [1] * n  # current generator p = sum_t weight[t m + p] G[t m + p]
    lr = []
    for _ in range(k):
        m = len(x)
        h = m // 2
        c_l = sum(xi * ai for xi, ai in zip(x[:h], a[h:])) % P
        c_r = sum(xi * ai for xi, ai in zip(x[h:], a[:h])) % P
        r_l, r_r = random_scalar(rng), random_scalar(rng)
        # <x_L, G_R> and <x_R, G_L> over the original generators with the folded weights
        idx_r = [i for i in range(n) if i % m >= h]  # original indices inside G_R blocks
        idx_l = [i - h for i in idx_r]
        left = curve.msm_parallel([gens[i] for i in idx_r] + [q, H],
                                  [x[i % m - h] * weight[i] % P for i in idx_r] + [c_l, r_l], backend)
        right = curve.msm_parallel([gens[i] for i in idx_l] + [q, H],
                                   [x[i % m + h] * weight[i] % P for i in idx_l] + [c_r, r_r], backend)
        lr += [left, right]
        u = dot_log_round(transcript, left, right)
        ui = inv(u)
        x = [(u * x[p] + ui * x[p + h]) % P for p in range(h)]
        a = [(ui * a[p] + u * a[p + h]) % P for p in range(h)]
        weight = [wt * (ui if i % m < h else u) % P for i, wt in enumerate(weight)]
        r = (u * u % P * r_l + r + ui * ui % P * r_r) % P
    g_hat = curve.msm_parallel(gens, weight, backend)
    base = g_hat + q * curve.to_scalar(a[0])
    d, e = random_scalar(rng), random_scalar(rng)
    t = curve.msm([base, H], [d, e], backend)
    c = dot_log_finish(transcript, t)
    proof = DotProductLogProof(lr, t, (d + c * x[0]) % P, (e + c * r) % P)
    transcript.absorb_scalars(b"dotlog/response", [proof.z1, proof.z2])
    return proof
