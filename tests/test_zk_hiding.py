"""Hiding sanity for zero-knowledge proofs (issue 7)."""

import random

import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.config import TrainConfig
from zkdl.field import P
from zkdl.prooffile import unpack
from zkdl.prover import channel as channel_mod
from zkdl.prover.aggregate import prove_window
from zkdl.verifier.verify import verify


def make_run(init_seed=0):
    cfg = TrainConfig(width=(6, 5), batch_size=3, lr_shift=9, init_seed=init_seed)
    return zkdl.train(cfg, D.synthetic(n_samples=50, n_features=3, n_classes=3), steps=2, keep_in_memory=True)


@pytest.fixture(scope="module")
def run():
    return make_run()


def windows32(data: bytes) -> set:
    return {data[i:i + 32] for i in range(len(data) - 31)}


def test_two_proofs_of_the_same_run_share_no_element(run):
    """Fresh blinds everywhere: no 32-byte string (a scalar, or any 32 bytes of a point)
    of one proof's body occurs in the other's."""
    a = unpack(prove_window(run, 0, 2)[0])[1]
    b = unpack(prove_window(run, 0, 2)[0])[1]
    assert len(a) == len(b)
    assert windows32(a).isdisjoint(windows32(b))


def test_committed_values_never_appear_in_the_clear(run, monkeypatch):
    """Every value the ZK prover commits to (claimed evaluations, bit-plane values,
    operands) is absent from the proof bytes."""
    sent = []
    original = channel_mod.ZkProverChannel.send

    def spy(self, label, vals):
        out = original(self, label, vals)
        sent.extend(h.v for h in out)
        return out
    monkeypatch.setattr(channel_mod.ZkProverChannel, "send", spy)
    proof, _ = prove_window(run, 0, 1)
    body = unpack(proof)[1]
    secret = {v for v in sent if 1 < v < P - 1}
    assert len(secret) > 50
    for v in secret:
        assert v.to_bytes(32, "little") not in body
    verify(proof)


def test_other_weights_same_statement_shape_same_structure(run):
    other = make_run(init_seed=1)
    assert not all(np.array_equal(a, b) for a, b in zip(run.weights(0), other.weights(0)))
    pa, _ = prove_window(run, 0, 2, rng=random.Random(1))
    pb, _ = prove_window(other, 0, 2, rng=random.Random(1))
    ha, ba = unpack(pa)
    hb, bb = unpack(pb)
    assert len(ba) == len(bb)
    strip = ("config", "statement", "circuit_digest")
    assert {k: v for k, v in ha.items() if k not in strip} == {k: v for k, v in hb.items() if k not in strip}
    assert ha["statement"].keys() == hb["statement"].keys()
