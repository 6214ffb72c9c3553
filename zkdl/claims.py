"""Claim batching (verifier side): many evaluation claims on one committed table
become one, so each committed tensor is opened once.

Claims f(p_1) = y_1, ..., f(p_k) = y_k on one multilinear f over n variables. The
verifier draws alpha_1..alpha_k from the transcript; the prover runs a sumcheck for

    sum_x f(x) w(x) = sum_i alpha_i y_i,     w(x) = sum_i alpha_i eq(p_i, x)

(degree 2), and at its end sends y* = f(p*) for the sumcheck point p*. The verifier
checks the reduced value equals y* w(p*) (it evaluates w itself: k eq evaluations)
and keeps the single claim f(p*) = y*. A false y_i survives only if the random
combination cancels (probability <= k/|F| for the alphas plus the sumcheck's 2n/|F|).
(Standard random-linear-combination batching; e.g. Thaler, "Proofs, Arguments, and
Zero-Knowledge", section 4.5.2.) A single claim is passed through unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkdl.encoding import Reader, Writer
from zkdl.errors import EncodingError, VerificationError
from zkdl.field import P, is_canonical
from zkdl.poly import eq_eval
from zkdl.sumcheck import SumcheckProof, verify_sumcheck


class ClaimBatchError(VerificationError):
    """The batched claims do not reduce consistently."""


@dataclass(frozen=True)
class PointBatchProof:
    sumcheck: SumcheckProof
    final_value: int  # f(p*)

    def write(self, w: Writer) -> None:
        w.raw(self.sumcheck.to_bytes()).scalar(self.final_value)

    @classmethod
    def read(cls, r: Reader) -> "PointBatchProof":
        return cls(SumcheckProof.read(r), r.scalar())


def absorb_claims(transcript, label: bytes, claims) -> None:
    for point, value in claims:
        transcript.absorb_scalars(label + b"/point", point)
        transcript.absorb_scalar(label + b"/value", value)


def check_claims(claims, num_vars: int) -> None:
    if not claims:
        raise ClaimBatchError("no claims to batch")
    for point, value in claims:
        if len(point) != num_vars:
            raise ClaimBatchError(f"claim point has {len(point)} coordinates, table has {num_vars} variables")
        if not is_canonical(value) or not all(is_canonical(x) for x in point):
            raise EncodingError("claim point or value is not canonical")


def verify_point_batch(transcript, label: bytes, num_vars: int, claims,
                       proof: PointBatchProof | None):
    """Reduce ``claims`` [(point, value)] on one table to a single (point, value).

    ``proof`` must be None exactly when there is a single claim."""
    claims = [(tuple(p), v) for p, v in claims]
    check_claims(claims, num_vars)
    absorb_claims(transcript, label, claims)
    if len(claims) == 1:
        if proof is not None:
            raise ClaimBatchError("a single claim needs no batching proof")
        return claims[0]
    if not isinstance(proof, PointBatchProof) or not is_canonical(proof.final_value):
        raise ClaimBatchError("missing or malformed claim-batching proof")
    alphas = transcript.challenge_scalars(label + b"/alpha", len(claims))
    total = sum(a * v for a, (_, v) in zip(alphas, claims)) % P
    red = verify_sumcheck(transcript, total, num_vars, 2, proof.sumcheck)
    w = sum(a * eq_eval(p, red.point) for a, (p, _) in zip(alphas, claims)) % P
    if red.value != proof.final_value * w % P:
        raise ClaimBatchError(f"{label.decode(errors='replace')}: batched claims do not reduce consistently")
    transcript.absorb_scalar(label + b"/final", proof.final_value)
    return red.point, proof.final_value
