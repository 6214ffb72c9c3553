"""A claim pins one dataset size (issue 13, item 1b).

The demonstrated forgery: proof 1 of a claim states N = 40, proof 2 states N = 48 over
the same dataset commitment (reading 8 rows of padding), and the manifest omits
``n_samples``. The proofs themselves now force rows >= N to zero
(tests/test_dataset_soundness.py); here the audit: ``n_samples`` is mandatory, every
proof must state it, consecutive proofs must agree, and ``--data`` checks every proof.
To test the audit's own checks in isolation, the verified statements of an honest claim
are edited after verification (as if the proofs had verified with those statements)."""

from __future__ import annotations

import json
import shutil

import pytest

import zkdl.audit as audit_mod
from zkdl.audit import audit_claim
from tests.test_cli import SMALL, invoke, output


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("nsamples") / "run"
    res = invoke("train", "--out", out, "-q", "--steps", 2, *SMALL, "--public-data")
    assert res.exit_code == 0, output(res)
    return out


@pytest.fixture
def claim(run_dir, tmp_path):
    dest = tmp_path / "claim"
    shutil.copytree(run_dir / "claim", dest)
    return dest


def edit_manifest(claim, fn):
    path = claim / "manifest.json"
    m = json.loads(path.read_text())
    fn(m)
    path.write_text(json.dumps(m))


def with_statements(monkeypatch, edit):
    """Verify for real, then apply ``edit(index, statement)`` to the verified statements."""
    real = audit_mod.verify_files

    def fake(paths, jobs):
        results = real(paths, 1)
        for i, r in enumerate(results):
            if r["statement"] is not None:
                edit(i, r["statement"])
        return results
    monkeypatch.setattr(audit_mod, "verify_files", fake)


def codes_at(report):
    return {(f["code"], f["location"].split(" ")[0]) for f in report["failures"]}


def test_honest_claim_holds(claim):
    r = audit_claim(str(claim), jobs=1, data_spec="synthetic:64")
    assert r["ok"], r["failures"]
    assert "matches every proof" in r["anchors"]["dataset"]


@pytest.mark.parametrize("value", [None, "64", 0, True])
def test_manifest_without_a_dataset_size_is_unusable(claim, value):
    edit_manifest(claim, lambda m: m.pop("n_samples") if value is None else m.update(n_samples=value))
    res = invoke("audit", claim, "--jobs", 1)
    assert res.exit_code == 2, output(res)
    assert "n_samples" in res.stderr and "Traceback" not in output(res)


def test_proofs_stating_different_sizes_fail(claim, monkeypatch):
    def edit(i, st):
        if i == 1:
            st["n_samples"] = 72      # the second proof "reads" 8 more rows
    with_statements(monkeypatch, edit)
    r = audit_claim(str(claim), jobs=1)
    assert not r["ok"]
    msgs = [f["message"] for f in r["failures"] if f["location"].startswith("proofs[1]")]
    assert any("previous proof 64" in m for m in msgs), msgs
    assert ("dataset_mismatch", "proofs[1]") in codes_at(r)


def test_manifest_size_must_match_every_proof(claim, monkeypatch):
    # the manifest agrees with the second proof, not with the first: both sides are caught
    edit_manifest(claim, lambda m: m.update(n_samples=72))
    with_statements(monkeypatch, lambda i, st: st.update(n_samples=72) if i == 1 else None)
    r = audit_claim(str(claim), jobs=1)
    assert ("dataset_mismatch", "proofs[0]") in codes_at(r)
    assert ("dataset_mismatch", "proofs[1]") in codes_at(r)


def test_data_is_checked_against_every_proof(claim, monkeypatch):
    with_statements(monkeypatch, lambda i, st: st.update(dataset_digest="ab" * 32) if i == 1 else None)
    r = audit_claim(str(claim), jobs=1, data_spec="synthetic:64")
    data_fails = [f for f in r["failures"] if f["code"] == "data_mismatch"]
    assert [f["location"] for f in data_fails] == ["--data synthetic:64 / proofs[1] proofs/steps_000001-000002.zkdl"]
    assert "matches" not in r["anchors"]["dataset"]


def test_verify_chain_requires_one_dataset_size(run_dir, monkeypatch):
    import dataclasses

    import zkdl.api as api_mod
    files = sorted((run_dir / "proofs").glob("*.zkdl"))
    res = invoke("verify", *files, "--chain")
    assert res.exit_code == 0, output(res)
    real = api_mod.verify

    def fake(data, expect=None):
        st = real(data, expect)
        return dataclasses.replace(st, n_samples=72) if st.t0 == 1 else st
    monkeypatch.setattr(api_mod, "verify", fake)
    res = invoke("verify", *files, "--chain")
    assert res.exit_code == 1 and "dataset of 72 rows, the previous proof 64" in res.stdout, output(res)
