"""Zero-knowledge sumcheck (verifier side), Hyrax style.

The claim is a commitment C_claim = claim G_s + r H. Round i's polynomial g_i
(coefficients c_i, constant first, degree + 1 of them) is sent only as a vector
commitment C_i = <c_i, G^(i)> + r_i H over its own generators
G^(i) = G_{i(d+1)} .. G_{i(d+1)+d} (zkdl.curve), after which the verifier draws r_i.
Proofs of dot product (zkdl.sigma) then show, without revealing any c_i:

* first round:   <c_0, (2, 1, .., 1)> = claim           (vector in C_0, scalar in C_claim)
* round i >= 1:  <c_i, (2, 1, .., 1)> - <c_{i-1}, (1, r_{i-1}, r_{i-1}^2, ..)> = 0
                 (vector c_{i-1} || c_i in C_{i-1} + C_i over G^(i-1) || G^(i),
                 scalar 0 in the identity commitment)
* final:         <c_{n-1}, (1, r_{n-1}, ..)> = final    (scalar in C_final, sent last)

i.e. g_0(0) + g_0(1) = claim, g_i(0) + g_i(1) = g_{i-1}(r_{i-1}), and the reduced claim
g_{n-1}(r_{n-1}) stays committed in C_final for the caller's closing Sigma proof.
Distinct generators per round matter: a commitment's component over another round's
generators would survive in one link and cancel in the next; with disjoint sets the
first and final proofs (each over one set) force every such component to zero.
(Wahby et al., "Doubly-efficient zkSNARKs without trusted setup", S&P 2018, sec. 4.)

Wire format: per round C_i (48) || DotProductProof (over d+1 entries for the first
round, 2(d+1) after); then C_final (48) || DotProductProof over d+1 entries. With
no rounds (0 variables) the claim itself is the reduced claim and nothing is sent.
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


def sum_weights(degree: int) -> list[int]:
    """a with <c, a> = g(0) + g(1)."""
    return [2] + [1] * degree


def eval_weights(r: int, degree: int) -> list[int]:
    """a with <c, a> = g(r)."""
    out, rk = [], 1
    for _ in range(degree + 1):
        out.append(rk)
        rk = rk * r % P
    return out


def gen_sets(degree: int, num_vars: int):
    """The generator set G^(i) of every round."""
    k = degree + 1
    g = curve.generators(num_vars * k)
    return [g[i * k:(i + 1) * k] for i in range(num_vars)]


def link_statement(sets, i: int, r_prev: int, degree: int):
    """Generators and weights of the round-i link proof (vector c_{i-1} || c_i)."""
    gens = list(sets[i - 1]) + list(sets[i])
    a = [(P - w) % P for w in eval_weights(r_prev, degree)] + sum_weights(degree)
    return gens, a


def verify_zk_sumcheck(transcript, reader, claim_com, num_vars: int, degree: int, deferred=None):
    """Returns (point, commitment to the reduced claim). ``deferred``: queue the group
    equations of the proofs of dot product for batch verification."""
    if not 0 <= num_vars <= MAX_ROUNDS or not 1 <= degree <= MAX_DEGREE:
        raise SumcheckError(f"unsupported zk sumcheck shape ({num_vars} variables, degree {degree})")
    absorb_zk_statement(transcript, claim_com, num_vars, degree)
    if num_vars == 0:
        return (), claim_com
    sets = gen_sets(degree, num_vars)
    point, prev_com = [], None
    O = curve.identity()
    for i in range(num_vars):
        com = reader.point("zk sumcheck round commitment")
        transcript.absorb_point(b"zksumcheck/round", com)
        r = transcript.challenge_scalar(b"zksumcheck/challenge")
        try:
            if i == 0:
                proof = DotProductProof.read(reader, degree + 1)
                verify_dot_product(transcript, sets[0], com, claim_com, sum_weights(degree), proof,
                                   deferred=deferred)
            else:
                gens, a = link_statement(sets, i, point[-1], degree)
                proof = DotProductProof.read(reader, 2 * (degree + 1))
                verify_dot_product(transcript, gens, prev_com + com, O, a, proof, deferred=deferred)
        except SigmaProofError as exc:
            raise SumcheckError(f"zk sumcheck round {i}: {exc}", i) from None
        point.append(r)
        prev_com = com
    final_com = reader.point("zk sumcheck final claim")
    transcript.absorb_point(b"zksumcheck/final", final_com)
    proof = DotProductProof.read(reader, degree + 1)
    try:
        verify_dot_product(transcript, sets[num_vars - 1], prev_com, final_com,
                           eval_weights(point[-1], degree), proof, deferred=deferred)
    except SigmaProofError as exc:
        raise SumcheckError(f"zk sumcheck final claim: {exc}", num_vars - 1) from None
    return tuple(point), final_com
