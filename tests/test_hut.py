"""Training method ``hut`` (zkdl.methods.hut): a Hadamard adapter W = W0 + W0 * (B A) on a
frozen base.

Honest proofs verify and chain with one frozen base; every new relation corrupted with
the prover's check off is rejected; the tracer follows its float64 reference."""

import random

import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.circuits.check import check_witness
from zkdl.config import TrainConfig
from zkdl.methods.hut_trace import float_train
from zkdl.prover.aggregate import prove_window
from zkdl.verifier.verify import circuit_for
from tests.method_cases import assert_follows, assert_honest_chain, assert_rejected, bump

SEED = 20261205
NAME = "hut"
CFG = TrainConfig(width=(5,), batch_size=4, lr_shift=6)   # 2 layers: one hidden


@pytest.fixture(scope="module")
def run():
    return zkdl.train(CFG, D.synthetic(n_samples=40, n_features=3, n_classes=3), steps=3, keep_in_memory=True,
                      method=NAME, method_params={"rank": 2})


def prove(run, t0=0, T=2, **kw):
    return prove_window(run, t0, T, rng=random.Random(SEED), **kw)


def test_the_base_is_updated_multiplicatively(run):
    s0, s3 = run.state(0), run.state(3)
    assert all(np.array_equal(a, b) for a, b in zip(s0["base"], s3["base"]))
    assert any(a.any() for a in s3["hut_A"]) and not any(a.any() for a in s0["hut_A"])
    w0, w3 = run.weights(0), run.weights(3)
    assert all(np.array_equal(a, b) for a, b in zip(w0, s0["base"]))          # A = 0: W = W0
    assert all(not ((b == 0) & (a != 0)).any() for a, b in zip(w3, s0["base"]))  # W0 = 0 stays 0
    for rs in ("bits", "logup"):
        c = circuit_for(run.config, 2, 40, method=NAME, method_params={"rank": 2}, range_strategy=rs)
        assert check_witness(c, run, (0, 2)) == []
    committed = {t.base for t in c.tensors if t.kind == "committed" and t.scope == "step"}
    assert not committed & {"P", "H", "W3", "GW", "GP", "dW"}, committed


def test_tracer_follows_the_float_reference():
    data = D.synthetic(n_samples=200, n_features=8, n_classes=3)
    cfg = TrainConfig(width=16, layers=3, batch_size=16, lr_shift=7)
    r = zkdl.train(cfg, data, steps=30, method=NAME, method_params={"rank": 4})
    losses, _, _ = float_train(r.config, data, 30, r.state(0), rank=4)
    assert_follows(r.losses, losses)
    assert np.mean(r.losses[-5:]) < np.mean(r.losses[:5])


@pytest.mark.parametrize("zk", [True, False], ids=["zk", "plain"])
def test_honest_proofs_verify_and_chain(run, zk):
    assert_honest_chain(prove, run, NAME, zk)


def test_train_audit_and_export_from_the_command_line(tmp_path):
    import json
    from tests.test_cli import invoke, output
    res = invoke("train", "--out", tmp_path / "r", "--method", NAME, "--method-param", "rank=2", "--width", "6",
                 "--layers", "2", "--batch-size", "4", "--data", "synthetic:40", "--steps", "2", "--window", "2",
                 "--no-zk", "-q")
    assert res.exit_code == 0, output(res)
    res = invoke("export-model", tmp_path / "r", "--out", tmp_path / "m.npz")
    assert res.exit_code == 0, output(res)
    res = invoke("audit", tmp_path / "r" / "claim", "--jobs", 1, "--json", "--model", tmp_path / "m.npz")
    assert res.exit_code == 0 and json.loads(res.stdout)["summary"]["method"] == NAME, output(res)


TAMPERS = {   # relation broken -> trace corruption
    "adapter": bump("P_2"),
    "hadamard": bump("H_1"),
    "effective": bump("W3_2"),
    "weight_grad": bump("GW_2"),
    "base_grad": bump("GP_1"),
    "update_B": bump("dLB_1", also=("hut_B_next_1", -1)),
    "update_A": bump("dLA_2", also=("hut_A_next_2", -1)),
}


@pytest.mark.parametrize("what,zk", [(w, w == "hadamard") for w in sorted(TAMPERS)])
def test_each_relation_corrupted_is_rejected(run, what, zk):
    """Plain mode (the same relations, checked faster at these sizes), one of them in ZK."""
    assert_rejected(prove, run, TAMPERS[what], what, T=1, zk=zk)
