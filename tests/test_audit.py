"""Training claims: `zkdl claim` and `zkdl audit` (one small claim, mutated copies)."""

from __future__ import annotations

import hashlib
import json
import shutil
from html.parser import HTMLParser

import pytest

from tests.test_cli import SMALL, invoke, output

TRAIN = ("--steps", 3, *SMALL)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("audit")
    a, b = base / "run-a", base / "run-b"
    for out in (a, b):  # same config; b differs only in its commitments (fresh blinds)
        res = invoke("train", "--out", out, "-q", *TRAIN)
        assert res.exit_code == 0, output(res)
    return a, b


def copy_claim(src, tmp_path):
    dest = tmp_path / "claim"
    shutil.copytree(src / "claim", dest)
    return dest


def manifest(claim):
    return json.loads((claim / "manifest.json").read_text())


def write_manifest(claim, m):
    (claim / "manifest.json").write_text(json.dumps(m, indent=1))


def audit_json(claim, *extra):
    res = invoke("audit", claim, "--json", "--jobs", 1, *extra)
    report = json.loads(res.stdout)
    return res.exit_code, report


def codes(report):
    return {f["code"] for f in report["failures"]}


def test_train_writes_claim(runs):
    a, _ = runs
    m = manifest(a / "claim")
    assert m["format"] == "zkdl-claim/v1"
    assert [p["steps"] for p in m["proofs"]] == [[0, 1], [1, 2], [2, 3]]
    assert m["steps"] == [0, 3]
    for p in m["proofs"]:
        data = (a / "claim" / p["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == p["sha256"]
        assert data == (a / p["file"]).read_bytes()
    assert "metrics" not in m  # the reported (unproven) metrics only with --publish-metrics
    assert not (a / "claim" / "secrets").exists()


def test_claim_command_rebuilds(runs, tmp_path):
    a, _ = runs
    dest = tmp_path / "c"
    res = invoke("claim", a, "-o", dest)
    assert res.exit_code == 0, output(res)
    m1, m2 = manifest(dest), manifest(a / "claim")
    assert m1["proofs"] == m2["proofs"] and m1["config"] == m2["config"]
    res = invoke("claim", a, "-o", dest)  # rebuilding over an existing claim is fine
    assert res.exit_code == 0, output(res)
    res = invoke("claim", tmp_path / "nothing-here")
    assert res.exit_code == 2


def test_valid_claim_audits_clean(runs, tmp_path):
    a, _ = runs
    html_path = tmp_path / "report.html"
    res = invoke("audit", a / "claim", "--html", html_path)  # all cores, worker processes
    assert res.exit_code == 0, output(res)
    assert "HOLDS" in res.stdout and "steps       0..2" in res.stdout
    assert "batch 4" in res.stdout
    code, report = audit_json(a)  # a train output directory works too (its claim/)
    assert code == 0 and report["ok"] and report["failures"] == []
    assert [p["valid"] and p["digest_ok"] for p in report["proofs"]] == [True] * 3
    assert report["summary"]["whole_run"] is True
    assert report["summary"]["hyperparameters"]["batch_size"] == 4

    class P(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.tables, self.svg, self.text, self.external = 0, set(), 0, [], []

        def handle_starttag(self, tag, attrs):
            d = dict(attrs)
            if tag == "tr" and "proof" in (d.get("class") or "").split():
                self.rows += 1
            if tag == "table":
                self.tables.add(d.get("id"))
            if tag == "svg":
                self.svg += 1
            for k in ("src", "href"):
                if d.get(k):
                    self.external.append(d[k])

        def handle_data(self, data):
            self.text.append(data)

    p = P()
    p.feed(html_path.read_text())
    p.close()
    text = "".join(p.text)
    assert p.rows == 3 and {"summary", "proofs"} <= p.tables and p.svg >= 1 and not p.external
    assert "HOLDS" in text and "steps_000001-000002.zkdl" in text


def test_missing_proof(runs, tmp_path):
    c = copy_claim(runs[0], tmp_path)
    (c / "proofs" / "steps_000001-000002.zkdl").unlink()
    code, r = audit_json(c)
    assert code == 1 and "missing_proof" in codes(r)
    assert any("proofs[1]" in f["location"] for f in r["failures"])


def test_proof_dropped_from_manifest(runs, tmp_path):
    c = copy_claim(runs[0], tmp_path)
    m = manifest(c)
    m["proofs"] = [m["proofs"][0], m["proofs"][2]]
    write_manifest(c, m)
    code, r = audit_json(c)
    assert code == 1 and "gap" in codes(r) and "chain_broken" in codes(r)
    m["proofs"] = m["proofs"][:1]
    write_manifest(c, m)
    code, r = audit_json(c)
    assert code == 1 and codes(r) == {"incomplete", "chain_broken"}


def test_reordered_proofs(runs, tmp_path):
    c = copy_claim(runs[0], tmp_path)
    m = manifest(c)
    m["proofs"][1], m["proofs"][2] = m["proofs"][2], m["proofs"][1]
    write_manifest(c, m)
    code, r = audit_json(c)
    assert code == 1 and "out_of_order" in codes(r) and "gap" not in codes(r)
    assert [f["location"].split()[0] for f in r["failures"] if f["code"] == "out_of_order"] == \
        ["proofs[1]", "proofs[2]"]


def test_duplicated_step_range(runs, tmp_path):
    c = copy_claim(runs[0], tmp_path)
    m = manifest(c)
    m["proofs"].insert(2, dict(m["proofs"][1]))
    write_manifest(c, m)
    code, r = audit_json(c)
    assert code == 1 and "duplicate_range" in codes(r)
    assert any(f["code"] == "duplicate_range" and f["location"].startswith("proofs[2]") for f in r["failures"])


def test_spliced_proof_from_another_run(runs, tmp_path):
    a, b = runs
    c = copy_claim(a, tmp_path)
    name = "proofs/steps_000001-000002.zkdl"
    shutil.copy(b / "claim" / name, c / name)
    m = manifest(c)
    m["proofs"][1]["sha256"] = manifest(b / "claim")["proofs"][1]["sha256"]
    write_manifest(c, m)
    code, r = audit_json(c)
    assert code == 1 and "chain_broken" in codes(r) and "dataset_mismatch" in codes(r)
    assert "digest_mismatch" not in codes(r) and "invalid_proof" not in codes(r)
    assert all(p["valid"] for p in r["proofs"])  # each proof is fine alone; the chain is not


def test_changed_hyperparameter(runs, tmp_path):
    c = copy_claim(runs[0], tmp_path)
    m = manifest(c)
    m["config"]["lr_num"] = 2
    write_manifest(c, m)
    code, r = audit_json(c)
    assert code == 1 and "config_mismatch" in codes(r)
    assert any("lr_num" in f["message"] for f in r["failures"])


def test_tampered_proof_file(runs, tmp_path):
    c = copy_claim(runs[0], tmp_path)
    f = c / "proofs" / "steps_000002-000003.zkdl"
    data = bytearray(f.read_bytes())
    data[-100] ^= 1
    f.write_bytes(bytes(data))
    code, r = audit_json(c)
    assert code == 1 and "digest_mismatch" in codes(r)
    assert any(x["code"] == "digest_mismatch" and x["location"].startswith("proofs[2]") for x in r["failures"])


def test_file_that_is_not_a_proof(runs, tmp_path):
    c = copy_claim(runs[0], tmp_path)
    f = c / "proofs" / "steps_000000-000001.zkdl"
    f.write_bytes(b"not a proof at all\n")
    m = manifest(c)
    m["proofs"][0]["sha256"] = hashlib.sha256(b"not a proof at all\n").hexdigest()
    write_manifest(c, m)
    code, r = audit_json(c)
    assert code == 1 and "not_a_proof" in codes(r) and "digest_mismatch" not in codes(r)
    res = invoke("audit", c, "--jobs", 1)
    assert res.exit_code == 1 and "DOES NOT HOLD" in res.stdout and "not_a_proof" in res.stdout


def test_unusable_input(runs, tmp_path):
    res = invoke("audit", tmp_path / "missing")
    assert res.exit_code == 2 and "error:" in res.stderr
    c = copy_claim(runs[0], tmp_path)
    (c / "manifest.json").write_text("{not json")
    res = invoke("audit", c)
    assert res.exit_code == 2 and "not JSON" in res.stderr
    (c / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    assert invoke("audit", c).exit_code == 2


def test_path_outside_claim_rejected(runs, tmp_path):
    c = copy_claim(runs[0], tmp_path)
    m = manifest(c)
    m["proofs"][0]["file"] = "../../etc/passwd"
    write_manifest(c, m)
    code, r = audit_json(c)
    assert code == 1 and "bad_path" in codes(r)


def test_prove_keeps_claim_in_step(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs[0], run)
    res = invoke("prove", run, "--steps", "2:3", "--force", "-q")
    assert res.exit_code == 0, output(res)
    m = manifest(run / "claim")
    new = (run / "proofs" / "steps_000002-000003.zkdl").read_bytes()
    assert m["proofs"][2]["sha256"] == hashlib.sha256(new).hexdigest()
    assert new != (runs[0] / "proofs" / "steps_000002-000003.zkdl").read_bytes()  # fresh blinds
    code, r = audit_json(run)
    assert code == 0 and r["ok"], r["failures"]
