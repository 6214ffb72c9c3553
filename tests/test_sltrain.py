"""Training method ``sltrain`` (zkdl.methods.sltrain): sparse plus low-rank weights on a
public random support.

Honest proofs verify (ZK and plain) and chain; the support is public and fixed (a moved
entry is rejected); every new relation corrupted with the prover's check off is
rejected; the tracer follows its float64 reference."""

import random

import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.circuits.check import check_witness
from zkdl.config import TrainConfig
from zkdl.errors import VerificationError
from zkdl.methods.sltrain_trace import float_train
from zkdl.prover.aggregate import prove_window
from zkdl.support import support_count, support_positions
from zkdl.verifier.verify import circuit_for, verify
from tests.method_cases import assert_follows, assert_honest_chain, assert_rejected, bump

SEED = 20261204
NAME = "sltrain"
PARAMS = {"rank": 2, "density_permille": 200, "support_seed": 3}
CFG = TrainConfig(width=(5,), batch_size=4, lr_shift=10)   # 2 layers: one hidden


@pytest.fixture(scope="module")
def run():
    return zkdl.train(CFG, D.synthetic(n_samples=40, n_features=3, n_classes=3), steps=3, keep_in_memory=True,
                      method=NAME, method_params=PARAMS)


def prove(run, t0=0, T=2, **kw):
    return prove_window(run, t0, T, rng=random.Random(SEED), **kw)


def test_support_is_public_sorted_distinct_and_seeded():
    p = support_positions(3, 1, 30, 40, 36)
    assert p == sorted(set(p)) and len(p) == 36 and 0 <= p[0] and p[-1] < 1200
    assert p == support_positions(3, 1, 30, 40, 36) != support_positions(4, 1, 30, 40, 36)
    assert support_count(30, 40, 30) == 36 and support_count(2, 2, 1) == 1
    with pytest.raises(ValueError):
        support_positions(0, 1, 2, 2, 5)


def test_only_the_support_trains(run):
    s0, s3 = run.state(0), run.state(3)
    assert s0["sl_S"][0].shape == (support_count(3, 5, 200), 1)
    dense0, dense3 = (np.asarray(run.weights(t)[1]) for t in (0, 3))
    assert dense0.shape == (5, 3) and not np.array_equal(s0["sl_S"][1], s3["sl_S"][1])
    for rs in ("bits", "logup"):
        c = circuit_for(run.config, 2, 40, method=NAME, method_params=PARAMS, range_strategy=rs)
        assert check_witness(c, run, (0, 2)) == []
    committed = {t.base for t in c.tensors if t.kind == "committed" and t.scope == "step"}
    assert not committed & {"Sd", "GW", "dW", "W"}, committed


def test_tracer_follows_the_float_reference():
    data = D.synthetic(n_samples=200, n_features=8, n_classes=3)
    cfg = TrainConfig(width=16, layers=3, batch_size=16, lr_shift=9)
    r = zkdl.train(cfg, data, steps=30, method=NAME, method_params={"rank": 4, "density_permille": 100})
    losses, _, _ = float_train(r.config, data, 30, r.state(0), **r.method_params)
    assert_follows(r.losses, losses)


@pytest.mark.parametrize("zk", [True, False], ids=["zk", "plain"])
def test_honest_proofs_verify_and_chain(run, zk):
    assert_honest_chain(prove, run, NAME, zk)


def _moved_support_entry(stage, steps):
    """One nonzero of the dense S moved to a position off the support (values kept)."""
    rows, cols = 5, 3
    on = set(support_positions(PARAMS["support_seed"], 2, rows, cols, support_count(rows, cols, 200)))
    src, dst = min(on), min(set(range(rows * cols)) - on)
    for st in steps:
        a = st.tensors["Sd_2"].copy()
        a[dst // cols, dst % cols], a[src // cols, src % cols] = a[src // cols, src % cols], 0
        st.tensors["Sd_2"] = a


TAMPERS = {   # relation broken -> trace corruption
    "scatter": _moved_support_entry,                               # a support entry moved
    "side_forward": bump("Zx_1"),
    "side_backward": bump("Gx_1"),
    "weight_grad": bump("GW_2"),
    "gather": bump("gSV_2"),
    "update_S": bump("dSV_1", also=("sl_S_next_1", -1)),          # a sparse update off by one
}


@pytest.mark.parametrize("what,zk", [(w, w == "update_S") for w in sorted(TAMPERS)])
def test_each_relation_corrupted_is_rejected(run, what, zk):
    """Plain mode (the same relations, checked faster at these sizes), one of them in ZK."""
    assert_rejected(prove, run, TAMPERS[what], what, T=1, zk=zk)


def test_train_audit_and_export_from_the_command_line(tmp_path):
    import json
    from tests.test_cli import invoke, output
    res = invoke("train", "--out", tmp_path / "r", "--method", NAME, "--method-param", "density_permille=200",
                 "--width", "6", "--layers", "2", "--batch-size", "4", "--data", "synthetic:40", "--steps", "2",
                 "--window", "2", "--lr-shift", "10", "--no-zk", "-q")
    assert res.exit_code == 0, output(res)
    res = invoke("export-model", tmp_path / "r", "--out", tmp_path / "m.npz")
    assert res.exit_code == 0, output(res)
    res = invoke("audit", tmp_path / "r" / "claim", "--jobs", 1, "--json", "--model", tmp_path / "m.npz")
    assert res.exit_code == 0 and json.loads(res.stdout)["summary"]["method"] == NAME, output(res)


def test_another_support_is_another_circuit(run):
    from zkdl.prooffile import pack, unpack
    proof, _ = prove(run, 0, 1)
    header, body = unpack(proof)
    header["method_params"] = dict(header["method_params"], support_seed=4)
    with pytest.raises(VerificationError):
        verify(pack(header, body))
