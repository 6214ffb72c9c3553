"""Claim batching, prover side (see zkdl.claims for the protocol)."""

from __future__ import annotations

from zkdl.claims import absorb_claims, batch_weight, check_claims


def prove_point_batch(ch, label: bytes, table, claims):
    """Returns (point, value) of the single claim on ``table`` the claims reduce to."""
    be = ch.be
    claims = [(tuple(p), v) for p, v in claims]
    check_claims(claims, be.length(table).bit_length() - 1)
    absorb_claims(ch, label, claims)
    if len(claims) == 1:
        return claims[0]
    alphas = ch.t.challenge_scalars(label + b"/alpha", len(claims))
    weights = None
    for a, (p, _) in zip(alphas, claims):
        term = be.scale(be.eq_table(p), a)
        weights = term if weights is None else be.add(weights, term)
    res, final = ch.sumcheck([table, weights], ch.lin([(a, v) for a, (_, v) in zip(alphas, claims)]))
    (t,) = ch.send(label + b"/final", [res.table_evals[0]])
    ch.equal(label, final, ch.lin([(batch_weight(alphas, claims, res.point), t)]))
    return tuple(res.point), t
