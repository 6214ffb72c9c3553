"""Prover channels: the prover's side of zkdl.channel (plain or zero-knowledge).

Channel values are field elements (plain) or :class:`~zkdl.prover.zkproofs.Hidden`
committed scalars (ZK); ``value(x)`` gives the clear value either way.
"""

from __future__ import annotations

from zkdl import curve
from zkdl.field import P
from zkdl.poly import poly_eval
from zkdl.prover.zkproofs import Hidden, hidden, lin, prove_product, prove_zero
from zkdl.prover.zksumcheck import ZkMessenger


class PlainProverChannel:
    zk = False

    def __init__(self, transcript, writer, be, rng=None):
        self.t, self.w, self.be, self.rng = transcript, writer, be, rng

    def value(self, x) -> int:
        return x % P

    def send(self, label: bytes, vals) -> list[int]:
        vals = [v % P for v in vals]
        self.w.scalars(vals)
        self.t.absorb_scalars(label, vals)
        return vals

    def absorb(self, label: bytes, values) -> None:
        self.t.absorb_scalars(label, list(values))

    def sumcheck(self, tables, claim, eq_point=None, terms=None):
        """Returns (prover result, the reduced claim as a channel value). ``terms``: a sum
        of products (zkdl.prover.sumcheck.prove_sumcheck)."""
        res = self.be.sumcheck(self.t, tables, eq_point=eq_point, claim=claim % P, terms=terms)
        self.w.raw(res.proof.to_bytes())
        final = poly_eval(res.proof.rounds[-1], res.point[-1]) if res.proof.rounds else claim % P
        return res, final

    def const(self, v: int) -> int:
        return v % P

    def lin(self, terms, const: int = 0) -> int:
        return (const + sum(c * v for c, v in terms)) % P

    def equal(self, label: bytes, a, b) -> None:
        pass

    def product(self, label: bytes, x, y, z) -> None:
        pass


class ZkProverChannel:
    zk = True

    def __init__(self, transcript, writer, be, rng=None):
        self.t, self.w, self.be, self.rng = transcript, writer, be, rng

    def value(self, x: Hidden) -> int:
        return x.v

    def send(self, label: bytes, vals) -> list[Hidden]:
        hs = [hidden(v, self.rng) for v in vals]
        pts = [h.com() for h in hs]
        self.w.raw(curve.encode_points(pts))
        self.t.absorb_points(label, pts)
        return hs

    def absorb(self, label: bytes, values) -> None:
        self.t.absorb_points(label, [h.com() for h in values])

    def sumcheck(self, tables, claim: Hidden, eq_point=None, terms=None):
        msg = ZkMessenger(self.t, self.w, claim, rng=self.rng)
        res = self.be.sumcheck(self.t, tables, eq_point=eq_point, claim=claim.v, messenger=msg, terms=terms)
        return res, msg.cur

    def const(self, v: int) -> Hidden:
        return Hidden(v % P, 0)

    def lin(self, terms, const: int = 0) -> Hidden:
        return lin(terms, const)

    def equal(self, label: bytes, a: Hidden, b: Hidden) -> None:
        d = lin([(1, a), (P - 1, b)])
        # (a dishonest witness -- soundness tests -- yields a proof the verifier rejects)
        self.w.raw(prove_zero(self.t, label, Hidden(0, d.r), d.com(), rng=self.rng).to_bytes())

    def product(self, label: bytes, x: Hidden, y: Hidden, z: Hidden) -> None:
        self.w.raw(prove_product(self.t, label, x, y, z, rng=self.rng).to_bytes())
