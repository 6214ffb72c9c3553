"""Verifier channels: how a reduction receives prover values and checks relations.

The claim reductions (zkdl.reductions, zkdl.claims) are written once against a
channel; the channel decides the mode:

* :class:`PlainChannel` -- values are field elements in the clear; relations are
  checked by arithmetic (sound, NOT zero-knowledge).
* :class:`ZkChannel` -- values are Pedersen commitments v G_s + r H; linear
  combinations are taken homomorphically; equalities and products are checked by
  Sigma proofs (zkdl.zkproofs); sumchecks are zero-knowledge (zkdl.zksumcheck).
  Nothing witness-dependent is revealed (Hyrax / Spartan style).
"""

from __future__ import annotations

from zkdl import curve
from zkdl.errors import VerificationError
from zkdl.field import P, is_canonical
from zkdl.sumcheck import SumcheckProof, verify_sumcheck
from zkdl.zkproofs import ProductProof, ZeroProof, verify_product, verify_zero
from zkdl.zksumcheck import verify_zk_sumcheck


class ReductionError(VerificationError):
    """A claim reduction step failed (the message names the step)."""


def _name(label: bytes) -> str:
    return label.decode("ascii", errors="replace")


class PlainChannel:
    zk = False

    def __init__(self, transcript, reader):
        self.t, self.r = transcript, reader

    def recv(self, label: bytes, n: int) -> list[int]:
        vals = self.r.scalars(n, _name(label))
        self.t.absorb_scalars(label, vals)
        return vals

    def absorb(self, label: bytes, values) -> None:
        self.t.absorb_scalars(label, list(values))

    def sumcheck(self, claim: int, num_vars: int, degree: int):
        red = verify_sumcheck(self.t, claim, num_vars, degree, SumcheckProof.read(self.r))
        return red.point, red.value

    def const(self, v: int) -> int:
        return v % P

    def lin(self, terms, const: int = 0) -> int:
        return (const + sum(c * v for c, v in terms)) % P

    def equal(self, label: bytes, a: int, b: int) -> None:
        if a % P != b % P:
            raise ReductionError(f"{_name(label)}: relation does not hold")

    def product(self, label: bytes, x: int, y: int, z: int) -> None:
        if x * y % P != z % P:
            raise ReductionError(f"{_name(label)}: product relation does not hold")

    def valid(self, v) -> bool:
        return is_canonical(v)


class ZkChannel:
    """``deferred``: a zkdl.curve.DeferredChecks collecting the Sigma proofs' group
    equations; the caller must call its ``verify`` (batch check) at the end."""

    zk = True

    def __init__(self, transcript, reader, deferred=None):
        self.t, self.r = transcript, reader
        self.deferred = deferred

    def recv(self, label: bytes, n: int):
        pts = self.r.points(n, _name(label))
        self.t.absorb_points(label, pts)
        return pts

    def absorb(self, label: bytes, values) -> None:
        self.t.absorb_points(label, list(values))

    def sumcheck(self, claim, num_vars: int, degree: int):
        return verify_zk_sumcheck(self.t, self.r, claim, num_vars, degree, self.deferred)

    def const(self, v: int):
        return curve.msm([curve.scalar_generator()], [v % P])

    def lin(self, terms, const: int = 0):
        pts = [p for _, p in terms]
        sc = [c % P for c, _ in terms]
        if const % P:
            pts.append(curve.scalar_generator())
            sc.append(const % P)
        return curve.msm(pts, sc) if pts else curve.identity()

    def equal(self, label: bytes, a, b) -> None:
        verify_zero(self.t, label, self.lin([(1, a), (P - 1, b)]), ZeroProof.read(self.r), self.deferred)

    def product(self, label: bytes, x, y, z) -> None:
        verify_product(self.t, label, x, y, z, ProductProof.read(self.r), self.deferred)

    def valid(self, v) -> bool:
        return isinstance(v, curve.G1Point)
