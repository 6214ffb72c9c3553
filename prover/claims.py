"""Claim batching, prover side (see zkdl.claims for the protocol)."""

from __future__ import annotations

from zkdl.claims import PointBatchProof, absorb_claims, check_claims
from zkdl.field import P
from zkdl.field.vector import FrVec
from zkdl.prover.mle import eq_table
from zkdl.prover.sumcheck import prove_sumcheck


def prove_point_batch(transcript, label: bytes, table: FrVec, claims, threads=None):
    """Returns (proof or None, point, value) for the claims [(point, value)] on ``table``."""
    claims = [(tuple(p), v) for p, v in claims]
    num_vars = len(table).bit_length() - 1
    check_claims(claims, num_vars)
    absorb_claims(transcript, label, claims)
    if len(claims) == 1:
        return None, claims[0][0], claims[0][1]
    alphas = transcript.challenge_scalars(label + b"/alpha", len(claims))
    weights = None
    for a, (p, _) in zip(alphas, claims):
        term = eq_table(p, threads).scale(a, threads)
        weights = term if weights is None else weights.add(term, threads)
    claim = sum(a * v for a, (_, v) in zip(alphas, claims)) % P
    res = prove_sumcheck(transcript, [table, weights], claim=claim, threads=threads, check_claim=False)
    final = res.table_evals[0]
    transcript.absorb_scalar(label + b"/final", final)
    return PointBatchProof(res.proof, final), res.point, final
