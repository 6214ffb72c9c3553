"""`zkdl prove-eval` and the audit of evaluation proofs (zkdl.eval_cli, zkdl.eval_claim):
the proven test accuracy is the count `zkdl evaluate` gets, the audit reports it for the
claim's final model and rejects an evaluation of another model, a changed proof and a
public test set that is not the one given; bad inputs exit 2 with a message."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.test_cli import invoke, output

TRAIN = ["--width", "8", "--layers", "3", "--batch-size", "8", "--steps", "2", "--window", "2", "--no-zk", "-q"]


def _train(out, seed_data="synthetic:120"):
    res = invoke("train", "--out", out, "--data", seed_data, "--eval-split", "0.25", *TRAIN)
    assert res.exit_code == 0, output(res)
    return out


@pytest.fixture(scope="module")
def proven(tmp_path_factory):
    """A proven run with a ZK evaluation proof of its held-out rows (public test set)."""
    out = _train(tmp_path_factory.mktemp("ev") / "run")
    res = invoke("prove-eval", out, "--data", out / "run" / "eval.npz", "--public-data", "--json", "-q")
    assert res.exit_code == 0, output(res)
    return out, json.loads(res.stdout)


def _audit(target, *extra):
    res = invoke("audit", target, "--json", "-q", *extra)
    return res.exit_code, json.loads(res.stdout)


def test_the_proven_count_is_the_evaluated_count(proven):
    out, rep = proven
    assert invoke("export-model", out).exit_code == 0
    ev = invoke("evaluate", out / "model.npz", out / "run" / "eval.npz", "--json")
    assert ev.exit_code == 0, output(ev)
    want = json.loads(ev.stdout)
    assert (rep["correct"], rep["n_samples"]) == (want["correct"], want["n_samples"]) and rep["n_samples"] == 30
    assert rep["zk"] is True and rep["dataset_public"] is True
    assert (out / "claim" / "eval" / "eval.zkdl").is_file()
    desc = json.loads((out / "claim" / "eval" / "eval.json").read_text())
    assert desc["public_data"] is True and "eval" in desc["data"] and desc["scaling"]["format"] == "zkdl-scaling/v1"


def test_the_audit_reports_the_proven_test_accuracy(proven, tmp_path):
    out, rep = proven
    code, a = _audit(out, "--test-data", out / "run" / "eval.npz")
    assert code == 0 and a["ok"], a["failures"]
    (e,) = a["evaluations"]
    assert e["ok"] and e["correct"] == rep["correct"] and e["test_data"] == "recomputed, matches"
    res = invoke("audit", out, "-q", "--html", tmp_path / "r.html")
    assert res.exit_code == 0 and f"PROVEN {rep['accuracy']:.4f}" in res.stdout
    assert "Test accuracy" in (tmp_path / "r.html").read_text()


def test_a_public_test_set_other_than_the_committed_one_fails(proven, tmp_path):
    out, _ = proven
    code, a = _audit(out, "--test-data", "synthetic:30")
    assert code == 1 and [f["code"] for f in a["failures"]] == ["test_data_mismatch"]
    assert a["evaluations"][0]["test_data"] == "recomputed, DIFFERS"


def test_an_evaluation_of_another_model_fails(proven, tmp_path):
    """An honest evaluation proof of another run's final model, copied into this claim."""
    out, _ = proven
    other = _train(tmp_path / "other", "synthetic:130")
    assert invoke("prove-eval", other, "--data", other / "run" / "eval.npz", "--no-zk", "-q").exit_code == 0
    desc = json.loads((other / "claim" / "eval" / "eval.json").read_text())
    assert desc["public_data"] is False and "data" not in desc and "scaling" not in desc   # a hiding test set
    claim = tmp_path / "claim"
    shutil.copytree(out / "claim", claim)
    shutil.copy(other / "claim" / "eval" / "eval.zkdl", claim / "eval" / "other.zkdl")
    code, a = _audit(claim)
    assert code == 1 and [f["code"] for f in a["failures"]] == ["eval_link"]
    assert "another model" in a["failures"][0]["message"]
    assert [e["ok"] for e in a["evaluations"]] == [True, False]


def test_a_changed_evaluation_proof_fails(proven, tmp_path):
    out, _ = proven
    claim = tmp_path / "claim"
    shutil.copytree(out / "claim", claim)
    p = claim / "eval" / "eval.zkdl"
    raw = bytearray(p.read_bytes())
    raw[-40] ^= 1
    p.write_bytes(bytes(raw))
    code, a = _audit(claim)
    assert code == 1 and [f["code"] for f in a["failures"]] == ["eval_invalid"]


def test_prove_eval_bad_inputs_exit_2(proven, tmp_path):
    out, _ = proven
    cases = [
        (["prove-eval", out, "--data", out / "run" / "eval.npz"], "exists (use --force"),
        (["prove-eval", out, "--data", tmp_path / "missing.csv", "--name", "x"], "not found"),
        (["prove-eval", out, "--data", "synthetic:20:5", "--name", "y"], "features"),
        (["prove-eval", tmp_path, "--data", "synthetic:20"], "no claim/manifest.json"),
    ]
    for args, msg in cases:
        res = invoke(*args, "-q")
        assert res.exit_code == 2 and msg in output(res) and "Traceback" not in output(res), (args, output(res))
    assert not (out / "claim" / "eval" / "x.zkdl").exists() and not (out / "claim" / "eval" / "y.zkdl").exists()
