"""Training method ``lora`` (zkdl.methods.lora): low-rank adapters on a frozen base.

Honest proofs verify in ZK and plain mode, chain, and audit with a released model; the
frozen base is one commitment per claim; every new relation, corrupted with the prover's
own check off, is rejected; the tracer follows its float64 reference."""

import json
import random

import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.circuits.check import check_witness
from zkdl.cli_verify import check_files
from zkdl.config import TrainConfig
from zkdl.errors import VerificationError
from zkdl.methods.lora_trace import float_train
from zkdl.prooffile import pack, unpack
from zkdl.prover.aggregate import prove_window
from zkdl.verifier.verify import ChainError, StatementError, circuit_for, verify
from tests.method_cases import assert_follows, assert_rejected, bump

SEED = 20261202
CFG = TrainConfig(width=(5,), batch_size=4, lr_shift=6)   # 2 layers: one hidden


@pytest.fixture(scope="module")
def run():
    return zkdl.train(CFG, D.synthetic(n_samples=40, n_features=3, n_classes=3), steps=4, keep_in_memory=True,
                      method="lora", method_params={"rank": 2})


def prove(run, t0=0, T=2, **kw):
    return prove_window(run, t0, T, rng=random.Random(SEED), **kw)


@pytest.fixture(scope="module")
def first(run):
    """The ZK proof of steps 0..1 (with its loss) and its secrets, shared by the tests."""
    return prove(run, 0, 2, prove_loss=True)


def test_adapters_train_and_the_base_stays(run):
    s0, s4 = run.state(0), run.state(4)
    assert set(s0) == {"base", "lora_B", "lora_A"}
    assert all(np.array_equal(a, b) for a, b in zip(s0["base"], s4["base"]))
    assert all(not a.any() for a in s0["lora_A"]) and any(a.any() for a in s4["lora_A"])
    assert s0["lora_B"][0].shape == (3, 2) and s0["lora_A"][1].shape == (2, 3)
    for rs in ("bits", "logup"):
        c = circuit_for(run.config, 2, 40, method="lora", method_params={"rank": 2}, range_strategy=rs)
        assert check_witness(c, run, (0, 2)) == []
    # the proof commits nothing of size d_in x d_out per step: no dW, no W
    names = {t.base for t in c.tensors if t.kind == "committed" and t.scope == "step"}
    assert not names & {"dW", "W", "Wb"}, names


def test_tracer_follows_the_float_reference():
    """Same initial state and batches: the integer losses track float64 LoRA."""
    data = D.synthetic(n_samples=200, n_features=8, n_classes=3)
    cfg = TrainConfig(width=16, layers=3, batch_size=16, lr_shift=7)
    r = zkdl.train(cfg, data, steps=30, method="lora", method_params={"rank": 4})
    losses, _, _ = float_train(r.config, data, 30, r.state(0), rank=4)
    assert_follows(r.losses, losses)
    assert r.losses[-1] < r.losses[0]


@pytest.mark.parametrize("zk", [True, False], ids=["zk", "plain"])
def test_honest_proofs_verify_and_chain(run, first, zk):
    first, sec = first if zk else prove(run, 0, 2, zk=zk, prove_loss=True)
    assert set(sec) == {"dataset", "frozen", "initial", "final"}
    assert verify(first).losses is not None
    second, _ = prove(run, 2, 2, zk=zk, secrets=dict(sec, initial=sec["final"]), check_initial_weights=False,
                      check_dataset=False)
    s1, s2 = verify(first), verify(second, expect_initial=verify(first).final_weights_digest)
    assert s1.method == "lora" and s1.zk is zk and s1.frozen_digest == s2.frozen_digest
    assert "frozen base" in s1.describe()
    with pytest.raises(ChainError):
        verify(second, expect_initial=s1.initial_weights_digest)


def test_the_frozen_base_is_one_commitment_per_claim(run, first, tmp_path):
    """A second proof that commits the base afresh (the same values, other blinds: another
    commitment) is valid alone, but it does not continue the chain."""
    first, sec = first
    fresh = {k: v for k, v in sec.items() if k != "frozen"}
    second, _ = prove(run, 2, 1, secrets=dict(fresh, initial=sec["final"]), check_initial_weights=False,
                      check_dataset=False, zk=False)
    assert verify(second).frozen_digest != verify(first).frozen_digest
    paths = [tmp_path / "a.zkdl", tmp_path / "b.zkdl"]
    for p, data in zip(paths, (first, second)):
        p.write_bytes(data)
    res = check_files([str(p) for p in paths], None, chain=True)
    assert res[0]["ok"] and not res[1]["ok"] and "frozen-base" in res[1]["reason"]


def test_the_header_cannot_drop_or_change_the_frozen_base(first):
    header, body = unpack(first[0])
    st = header["statement"]
    for bad in ({k: v for k, v in st.items() if k != "frozen_digest"}, dict(st, frozen_digest="0" * 64),
                dict(st, frozen_public=True), dict(st, frozen_public=1)):
        with pytest.raises(VerificationError):
            verify(pack(dict(header, statement=bad), body))
    with pytest.raises(StatementError):
        verify(pack(dict(header, statement={k: v for k, v in st.items() if k != "frozen_public"}), body))


TAMPERS = {   # relation family broken -> trace corruption (window 0..0, "base": 0..1)
    "lora_down": bump("Fq_1"),
    "side_forward": bump("Zx_2"),
    "forward": bump("Zp_2"),
    "lora_up_grad": bump("Hq_2"),
    "side_backward": bump("Gx_1"),
    "update_B": bump("dLB_1", also=("lora_B_next_1", -1)),      # an adapter update off by one
    "update_A": bump("dLA_2", also=("lora_A_next_2", -1)),
    "base": bump("base_1", step=1),                             # the base moved inside a window
    "chain_final:LA": bump("lora_A_next_2"),
}


@pytest.mark.parametrize("what", sorted(TAMPERS))
def test_each_relation_corrupted_is_rejected(run, what):
    """In plain mode (the same relations, checked 8x faster at these sizes); ZK below."""
    assert_rejected(prove, run, TAMPERS[what], what, T=2 if what == "base" else 1)


def test_zk_mode_rejects_a_bad_adapter_update(run):
    assert_rejected(prove, run, TAMPERS["update_B"], "update_B", zk=True)


def test_train_prove_audit_export_from_the_command_line(tmp_path):
    from tests.test_cli import invoke, output
    args = ["--width", "6", "--layers", "2", "--batch-size", "4", "--data", "synthetic:40", "--steps", "2",
            "--window", "1", "--no-zk", "-q"]      # (plain mode: the command-line plumbing, faster)
    res = invoke("train", "--out", tmp_path / "r", "--method", "lora", "--method-param", "rank=2", *args)
    assert res.exit_code == 0, output(res)
    res = invoke("verify", *sorted((tmp_path / "r" / "proofs").iterdir()), "--chain")
    assert res.exit_code == 0, output(res)
    res = invoke("export-model", tmp_path / "r", "--out", tmp_path / "m.npz")
    assert res.exit_code == 0, output(res)
    res = invoke("audit", tmp_path / "r" / "claim", "--jobs", 1, "--json", "--model", tmp_path / "m.npz")
    assert res.exit_code == 0, output(res)
    rep = json.loads(res.stdout)
    assert rep["ok"] and rep["summary"]["method"] == "lora" and rep["summary"]["frozen_digest"]
    assert rep["anchors"]["frozen"] == "hiding commitment"            # (no --public-base)
    # a released model whose adapter moved does not open the claim
    with np.load(tmp_path / "m.npz") as z:
        arrays = {k: z[k] for k in z.files}
    key = next(k for k in arrays if k.startswith("final.LB_final.") and not k.endswith("blinds"))
    arrays[key] = arrays[key].copy()
    arrays[key][0, 0] += 1
    np.savez(tmp_path / "bad.npz", **arrays)
    res = invoke("audit", tmp_path / "r" / "claim", "--jobs", 1, "--model", tmp_path / "bad.npz")
    assert res.exit_code != 0 and "Traceback" not in output(res), output(res)


def test_public_base_is_recomputed_by_the_audit(tmp_path):
    """--public-base: the base's commitment has zero blinds (frozen_public), the audit
    recomputes it from the seed (a proof without it keeps the base hidden: the test above)."""
    from tests.test_cli import invoke, output
    args = ["--width", "6", "--layers", "2", "--batch-size", "4", "--data", "synthetic:40", "--steps", "1", "-q",
            "--no-zk", "--method", "lora"]
    res = invoke("train", "--out", tmp_path / "p", "--public-base", *args)
    assert res.exit_code == 0, output(res)
    res = invoke("audit", tmp_path / "p" / "claim", "--jobs", 1, "--json")
    rep = json.loads(res.stdout)
    assert res.exit_code == 0 and "recomputed, matches" in rep["anchors"]["frozen"], output(res)
    proof = sorted((tmp_path / "p" / "proofs").iterdir())[0]
    assert verify(proof.read_bytes()).frozen_public is True
    res = invoke("train", "--out", tmp_path / "sgd", "--public-base", *args[:-2])
    assert res.exit_code == 2 and "frozen base" in output(res) and "Traceback" not in output(res), output(res)
    assert not (tmp_path / "sgd").exists()


def test_a_given_base_is_fine_tuned_and_audited_against_it(tmp_path):
    """--base MODEL.npz: the base of a published model (a zkdl model file); with
    --public-base the audit recomputes its commitment from that file (--base), and the
    seed's initialization no longer matches."""
    from tests.test_cli import invoke, output
    from zkdl.anchors import model_bytes
    cfg = TrainConfig(width=6, layers=3, batch_size=4, lr_shift=6).for_data(
        D.synthetic(n_samples=40, n_features=3, n_classes=3))
    rng = np.random.default_rng(7)
    base = [rng.integers(-30000, 30000, size=(cfg.dims()[l], cfg.dims()[l + 1])) for l in range(cfg.layers)]
    path = tmp_path / "base.npz"
    path.write_bytes(model_bytes(cfg, base, [[0]] * cfg.layers, 0, "0" * 64, "test"))
    with pytest.raises(zkdl.ZkdlError, match="shapes"):
        zkdl.train(cfg, D.synthetic(n_samples=40, n_features=3, n_classes=3), steps=1, method="lora",
                   initial={"base": base[:2]})
    args = ["--width", "6", "--layers", "3", "--batch-size", "4", "--data", "synthetic:40:3:3", "--steps", "1",
            "-q", "--no-zk", "--method", "lora", "--lr-shift", "6"]
    res = invoke("train", "--out", tmp_path / "r", "--base", path, "--public-base", *args)
    assert res.exit_code == 0, output(res)
    run = zkdl.Run.load(tmp_path / "r" / "run")
    assert all(np.array_equal(a, b) for a, b in zip(run.state(1)["base"], base))
    rep = json.loads(invoke("audit", tmp_path / "r" / "claim", "--jobs", 1, "--json", "--base", path).stdout)
    assert rep["ok"] and "the --base model: recomputed, matches" in rep["anchors"]["frozen"], rep["anchors"]
    res = invoke("audit", tmp_path / "r" / "claim", "--jobs", 1, "--json")
    assert res.exit_code == 1 and "base_mismatch" in res.stdout
    for bad in (["--base", tmp_path / "nope.npz"], ["--base", path, "--width", "8"]):
        res = invoke("train", "--out", tmp_path / "bad", *args, *bad)
        assert res.exit_code == 2 and "Traceback" not in output(res), output(res)
        assert not (tmp_path / "bad").exists()
