"""Zero-knowledge sumcheck, prover side: a messenger for prove_sumcheck that commits
to every round polynomial and proves round consistency (see zkdl.zksumcheck)."""

from __future__ import annotations

from zkdl import curve
from zkdl.field import P
from zkdl.poly import poly_eval
from zkdl.prover.sigma import prove_dot_product, random_scalar
from zkdl.prover.zkproofs import Hidden
from zkdl.zksumcheck import absorb_zk_statement, round_weights


class ZkMessenger:
    def __init__(self, transcript, writer, claim: Hidden, claim_com=None, rng=None):
        self.t, self.w, self.rng = transcript, writer, rng
        self.cur = claim
        self.cur_com = claim_com if claim_com is not None else claim.com()
        self.degree = None

    def start(self, claim: int, num_vars: int, degree: int) -> None:
        if claim % P != self.cur.v:
            raise ValueError("prover bug: zk sumcheck claim differs from the committed claim")
        self.degree = degree
        self.gens = curve.generators(degree + 1)
        absorb_zk_statement(self.t, self.cur_com, num_vars, degree)

    def round(self, coeffs) -> int:
        coeffs = [c % P for c in coeffs]
        H = curve.blinding_generator()
        r_g = random_scalar(self.rng)
        c_g = curve.msm(list(self.gens) + [H], coeffs + [r_g])
        self.w.raw(curve.encode_point(c_g))
        self.t.absorb_point(b"zksumcheck/round", c_g)
        r = self.t.challenge_scalar(b"zksumcheck/challenge")
        nxt = Hidden(poly_eval(coeffs, r), random_scalar(self.rng))
        c_next = nxt.com()
        self.w.raw(curve.encode_point(c_next))
        self.t.absorb_point(b"zksumcheck/next", c_next)
        rho = self.t.challenge_scalar(b"zksumcheck/rho")
        tau = curve.msm([self.cur_com, c_next], [1, rho])
        proof = prove_dot_product(self.t, self.gens, coeffs, r_g, (self.cur.r + rho * nxt.r) % P,
                                  round_weights(r, rho, self.degree), c_g, tau, rng=self.rng)
        self.w.raw(proof.to_bytes())
        self.cur, self.cur_com = nxt, c_next
        return r
