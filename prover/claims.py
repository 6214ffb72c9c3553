"""Claim batching, prover side (see zkdl.claims for the protocol)."""

from __future__ import annotations

from zkdl.claims import PointBatchProof, absorb_claims, check_claims
from zkdl.field import P
from zkdl.prover.backend import CpuBackend


def prove_point_batch(transcript, label: bytes, table, claims, be=None):
    """Returns (proof or None, point, value) for the claims [(point, value)] on ``table``."""
    be = be if be is not None else CpuBackend()
    claims = [(tuple(p), v) for p, v in claims]
    num_vars = be.length(table).bit_length() - 1
    check_claims(claims, num_vars)
    absorb_claims(transcript, label, claims)
    if len(claims) == 1:
        return None, claims[0][0], claims[0][1]
    alphas = transcript.challenge_scalars(label + b"/alpha", len(claims))
    weights = None
    for a, (p, _) in zip(alphas, claims):
        term = be.scale(be.eq_table(p), a)
        weights = term if weights is None else be.add(weights, term)
    claim = sum(a * v for a, (_, v) in zip(alphas, claims)) % P
    res = be.sumcheck(transcript, [table, weights], claim=claim)
    final = res.table_evals[0]
    transcript.absorb_scalar(label + b"/final", final)
    return PointBatchProof(res.proof, final), res.point, final
