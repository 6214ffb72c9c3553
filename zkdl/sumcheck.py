"""Sumcheck: proof format and verifier (pure Python; the prover is zkdl.prover.sumcheck).

Statement: for multilinear tables T_1..T_k over n variables and an optional eq
factor with public point r_eq (e in {0, 1}),

    claim = sum_{x in {0,1}^n} eq(r_eq, x)^e * T_1(x) * ... * T_k(x).

Round i (variables in index order, most significant first; see zkdl.poly) the
prover sends the univariate g_i(X) = sum over the remaining hypercube with the
first i-1 variables fixed to the earlier challenges, as **coefficients** (constant
term first, exactly degree + 1 of them, degree = e + k). The verifier checks
g_i(0) + g_i(1) = running claim, absorbs the coefficients, draws r_i from the
transcript and sets the claim to g_i(r_i). At the end it returns the reduced
claim (r_1..r_n, value): the caller must discharge value = eq(r_eq, r)^e * prod
T_j(r) itself (from commitments), since this verifier never sees the tables.
(Lund, Fortnow, Karloff, Nisan 1992; Thaler, "Proofs, Arguments, and Zero-Knowledge", ch. 4.)

Encoding: u16 round count, then per round a u8 coefficient count and that many
canonical 32-byte field elements.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkdl.encoding import Reader, Writer
from zkdl.errors import (EncodingError, SumcheckConsistencyError, SumcheckDegreeError,
                         SumcheckRoundCountError)
from zkdl.field import P, is_canonical
from zkdl.poly import poly_eval

MAX_DEGREE = 8
MAX_ROUNDS = 64


@dataclass(frozen=True)
class SumcheckProof:
    """Round polynomials as coefficient tuples (constant term first)."""

    rounds: tuple[tuple[int, ...], ...]

    def to_bytes(self) -> bytes:
        w = Writer().u16(len(self.rounds))
        for coeffs in self.rounds:
            w.u8(len(coeffs)).scalars(coeffs)
        return w.getvalue()

    @classmethod
    def read(cls, reader: Reader) -> "SumcheckProof":
        n = reader.u16()
        if n > MAX_ROUNDS:
            raise EncodingError(f"sumcheck proof claims {n} rounds (at most {MAX_ROUNDS})")
        rounds = []
        for _ in range(n):
            c = reader.u8()
            if c > MAX_DEGREE + 1:
                raise EncodingError(f"sumcheck round with {c} coefficients (at most {MAX_DEGREE + 1})")
            rounds.append(tuple(reader.scalars(c)))
        return cls(tuple(rounds))

    @classmethod
    def from_bytes(cls, data: bytes) -> "SumcheckProof":
        r = Reader(data, "sumcheck proof")
        proof = cls.read(r)
        r.finish()
        return proof


@dataclass(frozen=True)
class ReducedClaim:
    """What a sumcheck reduces to: the polynomial's value at ``point``."""

    point: tuple[int, ...]
    value: int


def absorb_statement(transcript, claim: int, num_vars: int, degree: int) -> None:
    """Bind the sumcheck's shape and claimed sum (shared by prover and verifier)."""
    transcript.absorb_bytes(b"sumcheck/shape", bytes([num_vars, degree]))
    transcript.absorb_scalar(b"sumcheck/claim", claim)


def verify_sumcheck(transcript, claim: int, num_vars: int, degree: int,
                    proof: SumcheckProof) -> ReducedClaim:
    """Check ``proof`` for ``claim`` over ``num_vars`` variables and the given degree.

    Raises SumcheckRoundCountError, SumcheckDegreeError, SumcheckConsistencyError
    (naming the round) or EncodingError; returns the ReducedClaim otherwise.
    """
    if not (isinstance(num_vars, int) and 0 <= num_vars <= MAX_ROUNDS):
        raise SumcheckRoundCountError(f"unsupported number of variables {num_vars!r}")
    if not (isinstance(degree, int) and 1 <= degree <= MAX_DEGREE):
        raise SumcheckDegreeError(f"unsupported sumcheck degree {degree!r}")
    if not is_canonical(claim):
        raise EncodingError("sumcheck claim is not a canonical field element")
    if not isinstance(proof, SumcheckProof) or not isinstance(proof.rounds, tuple):
        raise EncodingError("not a SumcheckProof")
    if len(proof.rounds) != num_vars:
        raise SumcheckRoundCountError(
            f"sumcheck has {len(proof.rounds)} rounds, expected {num_vars}")
    absorb_statement(transcript, claim, num_vars, degree)
    point = []
    for i, coeffs in enumerate(proof.rounds):
        if not isinstance(coeffs, tuple) or len(coeffs) != degree + 1:
            n = len(coeffs) if isinstance(coeffs, tuple) else "?"
            raise SumcheckDegreeError(
                f"sumcheck round {i}: {n} coefficients, expected {degree + 1} (degree {degree})", i)
        if not all(is_canonical(c) for c in coeffs):
            raise EncodingError(f"sumcheck round {i}: coefficient not a canonical field element")
        g0 = coeffs[0]
        g1 = sum(coeffs) % P
        if (g0 + g1) % P != claim:
            raise SumcheckConsistencyError(
                f"sumcheck round {i}: g(0) + g(1) does not equal the running claim", i)
        transcript.absorb_scalars(b"sumcheck/round", coeffs)
        r = transcript.challenge_scalar(b"sumcheck/challenge")
        point.append(r)
        claim = poly_eval(coeffs, r)
    return ReducedClaim(tuple(point), claim)
