"""Training method ``subset_momentum`` (zkdl.methods.subset_momentum): heavy-ball momentum
on a public random subset of the top layers per step.

Honest proofs verify (ZK and plain), chain and audit; the circuit follows the public
layer schedule of its window (t0 is part of the digest); each new relation corrupted
with the prover's check off is rejected; the tracer follows its float64 reference."""

import json
import random

import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.circuits.check import check_witness
from zkdl.config import TrainConfig
from zkdl.errors import VerificationError
from zkdl.methods.subset_momentum import subset_start, update_steps
from zkdl.methods.subset_momentum_trace import float_train
from zkdl.prooffile import pack, unpack
from zkdl.prover.aggregate import prove_window
from zkdl.verifier.verify import circuit_for, verify
from tests.method_cases import assert_follows, assert_honest_chain, assert_rejected, bump

SEED = 20261203
NAME = "subset_momentum"
CFG = TrainConfig(width=(6, 5), batch_size=4, lr_shift=7)


@pytest.fixture(scope="module")
def run():
    return zkdl.train(CFG, D.synthetic(n_samples=40, n_features=3, n_classes=3), steps=4, keep_in_memory=True,
                      method=NAME)


def prove(run, t0=0, T=2, **kw):
    return prove_window(run, t0, T, rng=random.Random(SEED), **kw)


def test_the_schedule_is_public_and_the_subset_moves(run):
    assert [subset_start(0, 3, t) for t in range(4)] == [2, 2, 1, 1]
    upd = update_steps(0, 3, 0, 4)
    assert upd == {1: [2, 3], 2: [0, 1, 2, 3], 3: [0, 1, 2, 3]}
    assert update_steps(0, 3, None, 4) == {1: [], 2: [], 3: [0, 1, 2, 3]}
    w = [run.state(t)["W"][0] for t in range(5)]
    assert np.array_equal(w[0], w[2]) and not np.array_equal(w[2], w[3])   # layer 1 waits for step 2
    assert not any(v.any() for v in run.state(0)["V"]) and run.state(4)["V"][0].any()
    for rs in ("bits", "logup"):
        c = circuit_for(run.config, 2, 40, method=NAME, method_params=run.method_params, range_strategy=rs, t0=0)
        assert check_witness(c, run, (0, 2)) == []
        # layer 1 does not update in steps 0..1: nothing committed for it, no backward into it
        assert not any(t.base in ("Vn", "G_Ap", "G_Z") and t.instances[0][1] == 1 for t in c.tensors)
    c2 = circuit_for(run.config, 2, 40, method=NAME, method_params=run.method_params, t0=2)
    assert c2.digest() != c.digest() and check_witness(c2, run, (2, 2)) == []


def test_tracer_follows_the_float_reference():
    data = D.synthetic(n_samples=200, n_features=8, n_classes=3)
    cfg = TrainConfig(width=16, layers=3, batch_size=16, lr_shift=9)
    r = zkdl.train(cfg, data, steps=40, method=NAME)
    losses, _, _ = float_train(r.config, data, 40, r.state(0), **r.method_params)
    assert_follows(r.losses, losses)
    assert np.mean(r.losses[-5:]) < np.mean(r.losses[:5])


@pytest.mark.parametrize("zk", [True, False], ids=["zk", "plain"])
def test_honest_proofs_verify_and_chain(run, zk):
    assert_honest_chain(prove, run, NAME, zk)


def test_a_proof_restated_at_another_step_is_rejected(run):
    """The circuit depends on t0 (which layers update): moving the window breaks the digest."""
    proof, _ = prove(run, 0, 2)
    header, body = unpack(proof)
    header["statement"]["steps"] = [2, 4]
    with pytest.raises(VerificationError):   # (another circuit: its sizes or its digest differ)
        verify(pack(header, body))


TAMPERS = {   # relation broken -> trace corruption (window 0..1: layer 1 outside the subset)
    "update": bump("Vn_2", 0, also=("W_next_2", -1)),     # a momentum update off by one
    "chain": bump("W_1", 1),                              # a layer outside the subset changed
    "chain_final": bump("W_next_1", 1),                   # ... in the statement's final state
    "velocity_final": bump("V_next_1", 1),                # its momentum changed
    "backward": bump("G_Ap_2", 0),                          # the backward into an updating layer
    "relu_bwd": bump("G_Z_2", 1),
}


@pytest.mark.parametrize("what,zk", [(w, w == "update") for w in sorted(TAMPERS)])
def test_each_relation_corrupted_is_rejected(run, what, zk):
    """Plain mode (the same relations, checked faster at these sizes), one of them in ZK."""
    assert_rejected(prove, run, TAMPERS[what], what, T=2, zk=zk)


def test_velocity_of_a_waiting_layer_is_its_initial_one(run):
    """Window 2..3: layer 1 updates at steps 2 and 3; V at step 3 is its V' of step 2 (a
    changed V there breaks `velocity`)."""
    assert_rejected(prove, run, bump("V_1", 1), "velocity", t0=2, T=2)


def test_train_and_audit_from_the_command_line(tmp_path):
    from tests.test_cli import invoke, output
    res = invoke("train", "--out", tmp_path / "r", "--method", NAME, "--method-param", "beta_num=7",
                 "--method-param", "beta_shift=3", "--width", "6", "--layers", "3", "--batch-size", "4",
                 "--data", "synthetic:40", "--steps", "2", "--window", "1", "--no-zk", "-q")
    assert res.exit_code == 0, output(res)
    res = invoke("audit", tmp_path / "r" / "claim", "--jobs", 1, "--json")
    assert res.exit_code == 0, output(res)
    assert json.loads(res.stdout)["summary"]["method_params"] == {"beta_num": 7, "beta_shift": 3, "subset_seed": 0}
    res = invoke("export-model", tmp_path / "r", "--out", tmp_path / "m.npz")
    assert res.exit_code == 0, output(res)
    res = invoke("audit", tmp_path / "r" / "claim", "--jobs", 1, "--model", tmp_path / "m.npz")
    assert res.exit_code == 0, output(res)
    res = invoke("train", "--out", tmp_path / "bad", "--method", NAME, "--method-param", "beta_num=9",
                 "--method-param", "beta_shift=3", "--steps", "1", "-q")
    assert res.exit_code == 2 and "beta" in output(res) and "Traceback" not in output(res), output(res)
    assert not (tmp_path / "bad").exists()
