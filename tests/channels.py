"""Test helper: a prover channel and the matching verifier channel, plain or ZK."""

import random

from zkdl.channel import PlainChannel, ZkChannel
from zkdl.encoding import Writer
from zkdl.prover.backend import CpuBackend
from zkdl.prover.channel import PlainProverChannel, ZkProverChannel
from zkdl.prover.zkproofs import Hidden, hidden
from zkdl.transcript import Transcript
from zkdl.verifier.verify import ProofReader


class Pair:
    def __init__(self, zk: bool, seed: int = 1, label: bytes = b"t"):
        self.zk, self.label = zk, label
        self.rng = random.Random(seed)
        self.w = Writer()
        self.p = (ZkProverChannel if zk else PlainProverChannel)(Transcript(label), self.w, CpuBackend(), self.rng)

    def claim(self, v: int):
        """(prover value, verifier value) of a claim with clear value v."""
        if not self.zk:
            return v, v
        h = hidden(v, self.rng)
        return h, h.com()

    def verifier(self, data: bytes | None = None):
        data = self.w.getvalue() if data is None else data
        return (ZkChannel if self.zk else PlainChannel)(Transcript(self.label), ProofReader(data))

    def public(self, value):
        """What the verifier sees of a prover channel value."""
        return value.com() if isinstance(value, Hidden) else value

    @staticmethod
    def clear(value) -> int:
        return value.v if isinstance(value, Hidden) else value
