"""Zero-knowledge sumcheck (verifier side), Hyrax style.

The claim is a commitment C_0 = claim G_s + r H. In round i the prover sends a
vector commitment C_g = <c, G> + r_g H to the coefficients c of g_i (constant first,
degree + 1 of them, generators G_0.. of zkdl.curve), the verifier draws r_i, the
prover sends C_{i+1} = g_i(r_i) G_s + r' H, the verifier draws rho, and a proof of
dot product (zkdl.sigma) shows

    <c, a> = value in C_i + rho C_{i+1},   a_k = [k = 0] + 1 + rho r_i^k,

i.e. g(0) + g(1) = claim_i and g(r_i) = claim_{i+1} at once (up to the random rho).
The final claim stays committed (C_n) for the caller's closing Sigma proof.
(Wahby et al., "Doubly-efficient zkSNARKs without trusted setup", S&P 2018, sec. 4.)

Wire format per round: C_g (48) || C_{i+1} (48) || DotProductProof over degree + 1.
"""

from __future__ import annotations

from zkdl import curve
from zkdl.errors import SigmaProofError, SumcheckError
from zkdl.field import P
from zkdl.sigma import DotProductProof, verify_dot_product
from zkdl.sumcheck import MAX_DEGREE, MAX_ROUNDS


def absorb_zk_statement(transcript, claim_com, num_vars: int, degree: int) -> None:
    transcript.absorb_bytes(b"zksumcheck/shape", bytes([num_vars, degree]))
    transcript.absorb_point(b"zksumcheck/claim", claim_com)


def round_weights(r: int, rho: int, degree: int) -> list[int]:
    """a with <c, a> = g(0) + g(1) + rho g(r)."""
    out, rk = [], 1
    for k in range(degree + 1):
        out.append(((2 if k == 0 else 1) + rho * rk) % P)
        rk = rk * r % P
    return out


def verify_zk_sumcheck(transcript, reader, claim_com, num_vars: int, degree: int):
    """Returns (point, commitment to the reduced claim)."""
    if not 0 <= num_vars <= MAX_ROUNDS or not 1 <= degree <= MAX_DEGREE:
        raise SumcheckError(f"unsupported zk sumcheck shape ({num_vars} variables, degree {degree})")
    absorb_zk_statement(transcript, claim_com, num_vars, degree)
    gens = curve.generators(degree + 1)
    point, cur = [], claim_com
    for i in range(num_vars):
        c_g = reader.point("zk sumcheck round commitment")
        transcript.absorb_point(b"zksumcheck/round", c_g)
        r = transcript.challenge_scalar(b"zksumcheck/challenge")
        c_next = reader.point("zk sumcheck next claim")
        transcript.absorb_point(b"zksumcheck/next", c_next)
        rho = transcript.challenge_scalar(b"zksumcheck/rho")
        proof = DotProductProof.read(reader, degree + 1)
        tau = curve.msm([cur, c_next], [1, rho])
        try:
            verify_dot_product(transcript, gens, c_g, tau, round_weights(r, rho, degree), proof)
        except SigmaProofError as exc:
            raise SumcheckError(f"zk sumcheck round {i}: {exc}", i) from None
        point.append(r)
        cur = c_next
    return tuple(point), cur
