"""Public anchors and proven metrics: the loss relation (completeness and soundness),
deterministic dataset / initial-weight commitments, released models, and the audit
failures each anchor can raise (wrong dataset file, wrong released model, tampered metric)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil

import numpy as np
import pytest

from tests.test_cli import SMALL, invoke, output
from tests.test_protocol import SEED, make_run

from zkdl import anchors
from zkdl import data as D
from zkdl.circuits.builder import build_circuit
from zkdl.circuits.check import check_witness, witness
from zkdl.errors import VerificationError
from zkdl.prooffile import pack, unpack
from zkdl.prover.aggregate import prove_window
from zkdl.verifier.verify import StatementError, verify


@pytest.fixture(scope="module")
def run():
    return make_run()


def prove(run, t0=1, T=2, **kw):
    return prove_window(run, t0, T, rng=random.Random(SEED), **kw)


# ----------------------------------------------------------------- proven loss
@pytest.mark.parametrize("zk", [True, False], ids=["zk", "plain"])
@pytest.mark.parametrize("t0,T", [(1, 2), (0, 3)])
def test_proven_loss_is_the_tracers_loss(run, zk, t0, T):
    proof, _ = prove(run, t0, T, zk=zk, prove_loss=True)
    st = verify(proof)
    assert st.losses is not None and len(st.losses) == T
    assert st.loss_values() == run.losses[t0:t0 + T]  # the tracer's float loss, to the last bit
    assert "proven loss" in st.describe()


def test_no_loss_unless_asked(run):
    st = verify(prove(run)[0])
    assert st.losses is None and st.loss_values() is None


@pytest.mark.parametrize("which,delta,zk", [(0, 1, True), (0, 1, False), (-1, -1, False), (0, 1 << 40, False)],
                         ids=["first+1-zk", "first+1", "last-1", "first+2^40"])
def test_false_loss_is_rejected(run, zk, which, delta):
    """A prover that states a wrong loss but proves everything else honestly (same
    transcript discipline) is caught by the loss relation, not by anything else."""
    def tamper(stage, obj):
        if stage == "outputs":
            obj["loss"][which] += delta
    proof, _ = prove(run, zk=zk, prove_loss=True, tamper=tamper)
    with pytest.raises(VerificationError, match=r"loss\["):
        verify(proof)


@pytest.fixture(scope="module")
def loss_proof(run):
    """One honest proof with the proven loss (ZK), shared by the header-edit tests."""
    return prove(run, prove_loss=True)[0]


def _rewrite_losses(proof, losses):
    header, body = unpack(proof)
    header["statement"]["losses"] = losses
    return pack(header, body)


@pytest.mark.parametrize("losses,msg", [
    ([1], "2 steps"), ([1, 2, 3], "2 steps"), ([-1, 5], "outside"), ([1, 1 << 300], "outside"),
    ([1, 2.5], "integers"), ([True, 1], "integers"), ("12", "integers"),
])
def test_malformed_losses_in_header(loss_proof, losses, msg):
    with pytest.raises(StatementError, match=msg):
        verify(_rewrite_losses(loss_proof, losses))


def test_edited_loss_in_header_is_rejected(loss_proof):
    proof = loss_proof
    losses = unpack(proof)[0]["statement"]["losses"]
    with pytest.raises(VerificationError):
        verify(_rewrite_losses(proof, [losses[0] + 1, losses[1]]))
    header, body = unpack(proof)  # dropping the losses changes the circuit: rejected
    del header["statement"]["losses"]
    with pytest.raises(VerificationError):
        verify(pack(header, body))


def test_circuit_loss_relation(run):
    c = build_circuit(run.config, steps=2, n_samples=run.data.n_samples, prove_loss=True)
    assert any(r.kind == "sum_squares" for r in c.relations)
    assert c.digest() != build_circuit(run.config, steps=2, n_samples=run.data.n_samples).digest()
    assert check_witness(c, run, steps=(1, 2)) == []
    w = witness(c, run, 1, bits=False)
    (name,) = [t.name for t in c.tensors if t.base == "loss"]
    B, R = run.config.batch_size, run.config.R
    assert [w[name][i, 0] / (2 * B * 2 ** (2 * R)) for i in range(2)] == run.losses[1:3]


# ----------------------------------------------------------------- public commitments
def test_commit_from_opening_matches_prover():
    from zkdl.hyrax import commit_from_opening, default_col_bits
    from zkdl.prover import hyrax as PH
    rng = np.random.default_rng(7)
    v = rng.integers(-(1 << 33), 1 << 33, size=128)
    c_bits = default_col_bits(7)
    blinds = [random.Random(3).randrange(1 << 254) for _ in range(1 << (7 - c_bits))]
    c, _ = PH.commit(v, c_bits, blinds=blinds)
    assert commit_from_opening(v.tolist(), 7, blinds).to_bytes() == c.to_bytes()
    assert commit_from_opening(v.tolist(), 7).to_bytes() != c.to_bytes()


def test_public_data_and_init_are_recomputable(run):
    proof, sec = prove(run, 0, 2, public_data=True, public_init=True)
    st = verify(proof)
    assert st.dataset_public and st.initial_weights_public
    assert st.dataset_digest == anchors.dataset_digest(run.config, run.data)
    assert st.initial_weights_digest == anchors.initial_weights_digest(run.config)
    # a chained proof keeps the deterministic dataset commitment (and says so)
    nxt, _ = prove_window(run, 2, 2, secrets=dict(sec, initial=sec["final"]), rng=random.Random(SEED + 1),
                          check_initial_weights=False)
    st2 = verify(nxt)
    assert st2.dataset_public and not st2.initial_weights_public
    assert st2.dataset_digest == st.dataset_digest


def test_hiding_commitments_are_not_recomputable(run):
    st = verify(prove(run, 0, 1)[0])
    assert not st.dataset_public and not st.initial_weights_public
    assert st.dataset_digest != anchors.dataset_digest(run.config, run.data)
    assert st.initial_weights_digest != anchors.initial_weights_digest(run.config)


def test_public_init_only_for_step_zero(run):
    with pytest.raises(ValueError, match="W\\[0\\]"):
        prove(run, 1, 1, public_init=True)


def test_public_init_of_other_weights_is_caught(run):
    """A run whose W[0] is not the seed's initialization: the API refuses to call it
    public; a prover bypassing that check is caught by the auditor's recomputation."""
    import zkdl
    from zkdl.errors import ZkdlError
    from zkdl.tracer import Run, init_weights
    other = [w + 1 for w in init_weights(run.config)]
    bad = Run(run.config, run.data, other, keep_in_memory=True).resume(1)
    with pytest.raises(ZkdlError, match="public initialization"):
        zkdl.prove(bad, steps=(0, 1), public_init=True)
    proof, _ = prove_window(bad, 0, 1, rng=random.Random(SEED), public_init=True)
    st = verify(proof)  # a valid proof, with a deterministic commitment of other weights
    assert st.initial_weights_public
    assert st.initial_weights_digest != anchors.initial_weights_digest(run.config)


# ----------------------------------------------------------------- CLI: claims and audits
@pytest.fixture(scope="module")
def public_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("anchors") / "run"
    res = invoke("train", "--out", out, "-q", "--steps", 3, *SMALL, "--public-data", "--public-init",
                 "--prove-loss", "--publish-metrics")
    assert res.exit_code == 0, output(res)
    res = invoke("export-model", out)
    assert res.exit_code == 0, output(res)
    return out


def audit(claim, *extra):
    res = invoke("audit", claim, "--json", "--jobs", 1, *extra)
    assert res.exit_code in (0, 1), output(res)
    return res.exit_code, json.loads(res.stdout)


def codes(report):
    return {f["code"] for f in report["failures"]}


def test_public_claim_audits_clean_with_anchors(public_run, tmp_path):
    code, r = audit(public_run, "--data", "synthetic:64", "--model", public_run / "model.npz")
    assert code == 0, r["failures"]
    assert "matches" in r["anchors"]["dataset"] and "matches" in r["anchors"]["initial_weights"]
    assert "exactly the trained" in r["anchors"]["model"]
    summary = json.loads((public_run / "summary.json").read_text())
    assert [p["loss"] for p in r["proven_loss"]] == [t["loss"] for t in summary["training"]]
    m = json.loads((public_run / "claim" / "manifest.json").read_text())
    assert m["dataset_public"] and m["initial_weights_public"] and m["metrics"]["proven"]
    html_path = tmp_path / "r.html"
    res = invoke("audit", public_run, "--html", html_path, "--jobs", 1)
    assert res.exit_code == 0
    page = html_path.read_text()
    assert 'id="proven-metric"' in page and "proven loss" in page


def _save_npz(path, data, X=None):
    np.savez(path, X=data.X_float() if X is None else X, y=np.asarray(data.y))


def test_wrong_dataset_file(public_run, tmp_path):
    data = D.synthetic(n_samples=64)
    good, bad = tmp_path / "same.npz", tmp_path / "other.npz"
    _save_npz(good, data)
    X = data.X_float().copy()
    X[5, 2] += 1.0
    _save_npz(bad, data, X)
    code, r = audit(public_run, "--data", good)   # the same data as a file: matches
    assert code == 0, r["failures"]
    code, r = audit(public_run, "--data", bad)
    assert code == 1 and codes(r) == {"data_mismatch"}
    assert "not the data the model was trained on" in r["failures"][0]["message"]
    code, r = audit(public_run, "--data", "synthetic:64:8")  # other number of features
    assert code == 1 and codes(r) == {"data_mismatch"}
    res = invoke("audit", public_run, "--data", tmp_path / "missing.npz")
    assert res.exit_code == 2 and "not found" in output(res) and "Traceback" not in output(res)


def test_data_check_needs_public_data(tmp_path):
    out = tmp_path / "hiding"
    res = invoke("train", "--out", out, "-q", "--steps", 1, *SMALL)
    assert res.exit_code == 0, output(res)
    code, r = audit(out, "--data", "synthetic:64")
    assert code == 1 and codes(r) == {"data_not_public"}
    assert r["anchors"]["initial_weights"] == "hiding commitment"


def _edit_model(src, dest, **changes):
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    for k, fn in changes.items():
        arrays[k] = fn(arrays[k])
    np.savez(dest, **arrays)


@pytest.mark.parametrize("key,fn,reason", [
    ("W2", lambda w: w + np.eye(*w.shape, dtype=np.int64), "not the trained model"),
    ("W1_float", lambda f: f * 1.0000001, "float weights differ"),
    ("blinds3", lambda b: b[::-1].copy(), "not the trained model"),
    ("W3", lambda w: w[:, :-1].copy(), "shape"),
])
def test_wrong_released_model(public_run, tmp_path, key, fn, reason):
    bad = tmp_path / "bad.npz"
    _edit_model(public_run / "model.npz", bad, **{key: fn})
    code, r = audit(public_run, "--model", bad)
    assert code == 1 and codes(r) == {"model_mismatch"}
    assert any(reason in f["message"] for f in r["failures"])


def test_model_file_that_is_not_a_model(public_run, tmp_path):
    # no zkdl model file at all: an unusable argument (exit 2 at once), not a mismatch
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 definitely not a zip")
    res = invoke("audit", public_run, "--model", junk)
    assert res.exit_code == 2 and "not a zkdl model file (.npz)" in res.stderr and "Traceback" not in output(res)
    other = tmp_path / "data.npz"
    _save_npz(other, D.synthetic(n_samples=64))
    res = invoke("audit", public_run, "--model", other)
    assert res.exit_code == 2 and "no meta" in res.stderr


def test_model_of_another_step(public_run, tmp_path):
    from zkdl.config import TrainConfig
    meta, ws, fs, bs = anchors.load_model(str(public_run / "model.npz"))
    cfg = TrainConfig.from_dict(meta["config"])
    problems = anchors.check_model(str(public_run / "model.npz"), cfg, "0" * 64, meta["step"] + 1)
    assert any("claim ends at W[4]" in p for p in problems) and any("not the trained" in p for p in problems)


def test_export_model_refuses_and_never_overwrites(public_run, tmp_path):
    res = invoke("export-model", public_run)  # model.npz exists already
    assert res.exit_code == 2 and "exists" in output(res)
    res = invoke("export-model", tmp_path)
    assert res.exit_code == 2 and "not a proven run directory" in output(res)
    assert not (tmp_path / "model.npz").exists()


def _copy_claim(public_run, tmp_path):
    dest = tmp_path / "claim"
    shutil.copytree(public_run / "claim", dest)
    return dest


def test_tampered_metric_in_manifest(public_run, tmp_path):
    c = _copy_claim(public_run, tmp_path)
    m = json.loads((c / "manifest.json").read_text())
    m["metrics"]["proven_loss"][1]["loss"] *= 0.5
    (c / "manifest.json").write_text(json.dumps(m))
    code, r = audit(c)
    assert code == 1 and codes(r) == {"metric_mismatch"}
    assert "step 1" in r["failures"][0]["location"]
    m["metrics"]["proven_loss"][1]["loss"] *= 2
    m["metrics"]["training"][2]["loss"] = 0.001  # the reported (unproven) loss disagrees with the proof
    (c / "manifest.json").write_text(json.dumps(m))
    code, r = audit(c)
    assert code == 1 and codes(r) == {"metric_mismatch"}
    assert "step 2" in r["failures"][0]["location"]


def test_tampered_metric_in_proof(public_run, tmp_path):
    c = _copy_claim(public_run, tmp_path)
    m = json.loads((c / "manifest.json").read_text())
    f = c / m["proofs"][1]["file"]
    header, body = unpack(f.read_bytes())
    header["statement"]["losses"] = [header["statement"]["losses"][0] // 2]
    data = pack(header, body)
    f.write_bytes(data)
    m["proofs"][1]["sha256"] = hashlib.sha256(data).hexdigest()
    (c / "manifest.json").write_text(json.dumps(m))
    code, r = audit(c)
    assert code == 1 and "invalid_proof" in codes(r)
    assert r["proofs"][1]["status"] == "fail" and r["proven_loss"] is None


def test_hostile_manifest_values_never_crash(public_run, tmp_path, monkeypatch):
    """Any JSON value in any manifest field: a report (ok or failures) or ClaimError,
    never another exception (seeded random mutations). The proofs are verified once;
    the mutated audits reuse those verification results (only the manifest changes)."""
    import copy
    from zkdl import audit as A
    from zkdl.audit import ClaimError, audit_claim
    c0 = _copy_claim(public_run, tmp_path / "once")
    m0 = json.loads((c0 / "manifest.json").read_text())
    results = A.verify_files([str(c0 / p["file"]) for p in m0["proofs"]], 1)
    by_name = {p["file"]: r for p, r in zip(m0["proofs"], results)}
    monkeypatch.setattr(A, "verify_files", lambda paths, jobs: [
        copy.deepcopy(by_name.get("proofs/" + os.path.basename(p), {"missing": True, "reason": "file missing",
                                                                     "sha256": None, "valid": False,
                                                                     "statement": None, "verify_seconds": None}))
        for p in paths])
    rng = random.Random(SEED)
    base = json.loads((public_run / "claim" / "manifest.json").read_text())
    values = [None, True, False, 0, -1, 1 << 70, 1.5, "", "x" * 70, [], [1, 2], {}, {"t": 1}, [{"t": "a"}],
              [{"t": []}], [[0, 1]], {"proven_loss": [{"t": 0, "loss": "big"}]}, {"training": [None, {"t": 0}]},
              [{"t": 0, "loss": 1e308, "loss_sum": -1}], {"proven": True}]
    c = _copy_claim(public_run, tmp_path)
    keys = sorted(base) + ["metrics.proven_loss", "metrics.training", "proofs.0.steps", "proofs.0.file"]
    for i in range(200):
        m = json.loads(json.dumps(base))
        key = rng.choice(keys)
        val = rng.choice(values)
        if key.startswith("metrics."):
            m.setdefault("metrics", {})[key.split(".")[1]] = val
        elif key.startswith("proofs.0."):
            m["proofs"][0][key.split(".")[2]] = val
        else:
            m[key] = val
        (c / "manifest.json").write_text(json.dumps(m))
        try:
            r = audit_claim(str(c), jobs=1)
        except ClaimError:
            continue
        assert isinstance(r["ok"], bool)
        if r["ok"]:  # only an informative field, or a weaker but well-typed statement, passes
            weaker = (key in ("zk", "dataset_public", "initial_weights_public") and type(val) is bool) or \
                (key in ("metrics.proven_loss", "metrics.training") and val == [])
            assert key == "zkdl_version" or weaker, (key, val)
