"""Claim batching (verifier side): many evaluation claims on one committed table
become one, so each committed tensor is opened once.

Claims f(p_1) = y_1, ..., f(p_k) = y_k on one multilinear f over n variables. The
verifier draws alpha_1..alpha_k from the transcript; a sumcheck (degree 2) shows

    sum_x f(x) w(x) = sum_i alpha_i y_i,     w(x) = sum_i alpha_i eq(p_i, x),

the prover sends y* = f(p*) for the sumcheck point p*, and the verifier checks the
reduced claim equals w(p*) y* (it evaluates w itself: k eq evaluations), keeping the
single claim f(p*) = y*. A false y_i survives only if the random combination
cancels (probability <= k/|F|, plus the sumcheck's 2n/|F|). (Random linear
combination batching; e.g. Thaler, "Proofs, Arguments, and Zero-Knowledge", 4.5.2.)
A single claim passes through unchanged. Works through a channel (zkdl.channel):
values in the clear, or committed with Sigma-proof checks.
"""

from __future__ import annotations

from zkdl.channel import ReductionError
from zkdl.errors import EncodingError
from zkdl.field import is_canonical
from zkdl.poly import eq_eval

ClaimBatchError = ReductionError


def absorb_claims(ch, label: bytes, claims) -> None:
    for point, value in claims:
        ch.t.absorb_scalars(label + b"/point", list(point))
        ch.absorb(label + b"/value", [value])


def check_claims(claims, num_vars: int) -> None:
    if not claims:
        raise ReductionError("no claims to batch")
    for point, _ in claims:
        if len(point) != num_vars:
            raise ReductionError(f"claim point has {len(point)} coordinates, table has {num_vars} variables")
        if not all(is_canonical(x) for x in point):
            raise EncodingError("claim point is not canonical")


def batch_weight(alphas, claims, point) -> int:
    return sum(a * eq_eval(p, point) for a, (p, _) in zip(alphas, claims))


def verify_point_batch(ch, label: bytes, num_vars: int, claims):
    """Reduce ``claims`` [(point, value)] on one table to a single (point, value)."""
    claims = [(tuple(p), v) for p, v in claims]
    check_claims(claims, num_vars)
    absorb_claims(ch, label, claims)
    if len(claims) == 1:
        return claims[0]
    alphas = ch.t.challenge_scalars(label + b"/alpha", len(claims))
    point, final = ch.sumcheck(ch.lin([(a, v) for a, (_, v) in zip(alphas, claims)]), num_vars, 2)
    (t,) = ch.recv(label + b"/final", 1)
    ch.equal(label, final, ch.lin([(batch_weight(alphas, claims, point), t)]))
    return tuple(point), t
