"""Zero-knowledge sumcheck, prover side: a messenger for prove_sumcheck that commits
to every round polynomial and links consecutive rounds by proofs of dot product
(see zkdl.zksumcheck for the protocol and wire format)."""

from __future__ import annotations

from zkdl import curve
from zkdl.field import P
from zkdl.poly import poly_eval
from zkdl.prover.sigma import prove_dot_product, random_scalar
from zkdl.prover.zkproofs import Hidden
from zkdl.zksumcheck import absorb_zk_statement, eval_weights, gen_sets, link_statement, sum_weights


class ZkMessenger:
    """After the last round, ``cur`` is the reduced claim (a Hidden) and ``cur_com`` its
    commitment (sent, with its proof, right after the last round)."""

    def __init__(self, transcript, writer, claim: Hidden, claim_com=None, rng=None):
        self.t, self.w, self.rng = transcript, writer, rng
        self.cur = claim
        self.cur_com = claim_com if claim_com is not None else claim.com()
        self.claim_com = self.cur_com

    def start(self, claim: int, num_vars: int, degree: int) -> None:
        if claim % P != self.cur.v:
            raise ValueError("prover bug: zk sumcheck claim differs from the committed claim")
        self.degree, self.num_vars, self.i = degree, num_vars, 0
        self.sets = gen_sets(degree, num_vars)
        self.prev = None  # (coeffs, blind, commitment, r) of the previous round
        absorb_zk_statement(self.t, self.cur_com, num_vars, degree)

    def round(self, coeffs) -> int:
        d, i = self.degree, self.i
        coeffs = [c % P for c in coeffs]
        blind = random_scalar(self.rng)
        com = curve.msm(list(self.sets[i]) + [curve.blinding_generator()], coeffs + [blind])
        self.w.raw(curve.encode_point(com))
        self.t.absorb_point(b"zksumcheck/round", com)
        r = self.t.challenge_scalar(b"zksumcheck/challenge")
        if i == 0:
            proof = prove_dot_product(self.t, self.sets[0], coeffs, blind, self.cur.r, sum_weights(d),
                                      com, self.claim_com, rng=self.rng)
        else:
            pc, pb, pcom, pr = self.prev
            gens, a = link_statement(self.sets, i, pr, d)
            proof = prove_dot_product(self.t, gens, pc + coeffs, (pb + blind) % P, 0, a, pcom + com,
                                      curve.identity(), rng=self.rng)
        self.w.raw(proof.to_bytes())
        self.prev = (coeffs, blind, com, r)
        self.i += 1
        if self.i == self.num_vars:
            self._finish()
        return r

    def _finish(self) -> None:
        coeffs, blind, com, r = self.prev
        final = Hidden(poly_eval(coeffs, r), random_scalar(self.rng))
        final_com = final.com()
        self.w.raw(curve.encode_point(final_com))
        self.t.absorb_point(b"zksumcheck/final", final_com)
        proof = prove_dot_product(self.t, self.sets[self.num_vars - 1], coeffs, blind, final.r,
                                  eval_weights(r, self.degree), com, final_com, rng=self.rng)
        self.w.raw(proof.to_bytes())
        self.cur, self.cur_com = final, final_com
