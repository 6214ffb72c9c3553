"""Training method ``muon`` (zkdl.methods.muon): Muon (momentum, a proven integer
normalisation, five Newton-Schulz steps) on Drop-Muon's layer schedule.

Honest proofs verify (ZK and plain) under both range strategies, chain and audit; each
new relation corrupted with the prover's check off is rejected, and so is any other
normalisation scale than floor(2^K / sqrt(N)); the tracer follows its float64 reference."""

import json
import random

import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.circuits.check import check_witness
from zkdl.config import TrainConfig
from zkdl.methods import muon_trace
from zkdl.methods.muon import NORM_BITS, momentum_bits, muon_update_steps, shape_scale
from zkdl.prover.aggregate import prove_window
from zkdl.verifier.verify import circuit_for, verify
from tests.method_cases import assert_follows, assert_honest_chain, assert_rejected, bump

SEED = 20261204
NAME = "muon"
CFG = TrainConfig(width=(6, 5), batch_size=4, lr_num=8, lr_shift=9)   # dims 3, 6, 5, 3: wide and tall layers


@pytest.fixture(scope="module")
def run():
    return zkdl.train(CFG, D.synthetic(n_samples=40, n_features=3, n_classes=3), steps=4, keep_in_memory=True,
                      method=NAME)


def prove(run, t0=0, T=2, **kw):
    return prove_window(run, t0, T, rng=random.Random(SEED), **kw)


def test_the_integer_normalisation_and_schedule(run):
    st = run.window(0, 1)[0].tensors
    n = int(st["nrm2e_2"][0])
    s = int(st["nscale_2"][0])
    assert n == int(np.sum(st["Mn_2"].astype(object) ** 2)) + 1
    assert s * s * n <= 1 << (2 * NORM_BITS) < (s + 1) ** 2 * n
    x0 = st["X0_2"] / float(1 << CFG.R)
    assert abs(np.sqrt(np.sum(x0 * x0)) - 1) < 1e-3               # ||X0||_F = 1 up to rounding
    assert shape_scale(3, 6) == 5792 and shape_scale(6, 5) == 4096   # floor(sqrt(2) 2^12), 1 for a tall layer
    assert momentum_bits([784, 1024, 1024, 10], 32) == 20      # 2^20 4^19 + 1 <= 2^60
    assert muon_update_steps(run.method_params, 3, 0, 4) == {1: [2, 3], 2: [0, 1, 2, 3], 3: [0, 1, 2, 3]}
    w = [run.state(t)["W"][0] for t in range(5)]
    assert np.array_equal(w[0], w[2]) and not np.array_equal(w[2], w[3])   # layer 1 waits for step 2
    for rs in ("bits", "logup"):
        c = circuit_for(run.config, 2, 40, method=NAME, method_params=run.method_params, range_strategy=rs, t0=0)
        assert check_witness(c, run, (0, 2)) == []
        assert not any(t.base in ("Mn", "X0", "G_Ap") and t.instances[0][1] == 1 for t in c.tensors)


@pytest.mark.parametrize("subset", [0, 1])
def test_tracer_follows_the_float_reference(subset):
    data = D.synthetic(n_samples=200, n_features=8, n_classes=3)
    cfg = TrainConfig(width=16, layers=3, batch_size=16, lr_num=10, lr_shift=9)
    r = zkdl.train(cfg, data, steps=40, method=NAME, method_params={"subset": subset})
    losses, _, _ = muon_trace.float_train(r.config, data, 40, r.state(0), **r.method_params)
    assert_follows(r.losses, losses, tol=0.01)
    assert np.mean(r.losses[-5:]) < 0.5 * np.mean(r.losses[:5])


def test_honest_proofs_verify_and_chain(run):
    assert_honest_chain(prove, run, NAME, False)


def test_an_honest_zero_knowledge_proof_verifies():
    """ZK on a 2-layer run (a wide and a tall layer, every layer updating): the same
    relation kinds as above, fewer families (the suite's time)."""
    small = zkdl.train(TrainConfig(width=5, layers=2, batch_size=4, lr_num=8, lr_shift=9),
                       D.synthetic(n_samples=24, n_features=3, n_classes=3), steps=1, keep_in_memory=True,
                       method=NAME, method_params={"subset": 0})
    proof, _ = prove(small, 0, 1, zk=True)
    st = verify(proof)
    assert st.method == NAME and st.zk


def rescaled(delta):
    """Layer 2 at step 0 normalised with s + delta, everything after it recomputed
    consistently (X0, the Newton-Schulz steps, dW, W_next): only the residual range
    checks can tell."""
    def tamper(stage, steps):
        T = dict(steps[0].tensors)
        s = int(T["nscale_2"][0]) + delta
        x0 = muon_trace._normalize(T, 2, 0, T["Mn_2"], CFG.R, scale=s)
        dW = muon_trace._newton_schulz(T, 2, 0, x0, CFG, CFG.lr_num * shape_scale(6, 5))
        T["W_next_2"] = T["W_2"] - dW
        steps[0].tensors = T
    return tamper


@pytest.mark.parametrize("delta,relation", [(-1, "range:nhigh"), (1, "range:nlow")], ids=["smaller", "larger"])
def test_another_normalisation_scale_is_rejected(run, delta, relation):
    assert_rejected(prove, run, rescaled(delta), relation, T=1)


def scale_only(stage, steps):
    """s - 1 with its products made consistent, the residuals left honest."""
    T = dict(steps[0].tensors)
    s = int(T["nscale_2"][0]) - 1
    n = int(T["nrm2e_2"][0])
    for name, v in (("nscale", s), ("nscale2", s * s), ("nprod", s * s * n), ("nlin", s * n)):
        T[f"{name}_2"] = np.array([v], dtype=np.int64)
    steps[0].tensors = T


TAMPERS = {   # relation broken -> trace corruption (window 0..1: layer 1 outside the subset)
    "momentum_update": bump("Mn_2", 0),
    "norm2": bump("nrm2_2", 0, also=("nrm2e_2", 1)),
    "norm_low": scale_only,
    "norm_spread": bump("nscaleB_2", 0),
    "normalize": bump("X0_2", 0),
    "ns0_gram": bump("Ag0_2", 0),
    "ns1_square": bump("AA1_3", 0),
    "ns2_poly": bump("Bm2_2", 0),
    "ns3_step": bump("X4_3", 0),
    "update": bump("dW_2", 0, also=("W_next_2", -1)),
    "momentum": bump("M_2", 1),                           # M at step 1 is step 0's M'
    "chain": bump("W_1", 1),                              # a layer outside the subset changed
    "momentum_final": bump("M_next_1", 1),
}


@pytest.mark.parametrize("what", sorted(TAMPERS))
def test_each_relation_corrupted_is_rejected(run, what):
    """Plain mode: the same relations as in ZK, checked faster at these sizes (the ZK
    rules themselves are each method's honest ZK chain and the other methods' ZK cases)."""
    assert_rejected(prove, run, TAMPERS[what], what, T=2)


def test_train_and_audit_from_the_command_line(tmp_path):
    from tests.test_cli import invoke, output
    res = invoke("train", "--out", tmp_path / "r", "--method", NAME, "--method-param", "subset=0",
                 "--width", "6", "--layers", "3", "--batch-size", "4", "--lr-num", "8",
                 "--data", "synthetic:40", "--steps", "2", "--window", "1", "--no-zk", "-q")
    assert res.exit_code == 0, output(res)
    res = invoke("audit", tmp_path / "r" / "claim", "--jobs", 1, "--json")
    assert res.exit_code == 0, output(res)
    assert json.loads(res.stdout)["summary"]["method_params"] == {"beta_num": 61, "beta_shift": 6, "momentum_shift": 6,
                                                                  "subset": 0, "subset_seed": 0}
    res = invoke("export-model", tmp_path / "r", "--out", tmp_path / "m.npz")
    assert res.exit_code == 0, output(res)
    res = invoke("audit", tmp_path / "r" / "claim", "--jobs", 1, "--model", tmp_path / "m.npz")
    assert res.exit_code == 0, output(res)
    res = invoke("train", "--out", tmp_path / "bad", "--method", NAME, "--method-param", "subset=2",
                 "--steps", "1", "-q")
    assert res.exit_code == 2 and "subset" in output(res) and "Traceback" not in output(res), output(res)
    assert not (tmp_path / "bad").exists()
