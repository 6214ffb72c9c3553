"""Edges of claims and audits (issue 13): what a default claim holds, audit workers that
never run the caller's script, inputs checked before the audit's work, `zkdl prove`
writing claim/, out-of-order chains, step-range conventions in messages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import zkdl.audit as A
import zkdl.verify_pool as pool
from tests.test_cli import invoke, output

TINY = ["--width", "8", "--layers", "3", "--batch-size", "8", "--data", "synthetic:64"]


@pytest.fixture(scope="module")
def run_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("edges") / "run"
    res = invoke("train", "--out", out, "-q", "--steps", 3, *TINY)
    assert res.exit_code == 0, output(res)
    return out


def _no_verification(monkeypatch):
    def refuse(paths, jobs):
        raise AssertionError("the audit started verifying proofs")
    monkeypatch.setattr(A, "verify_files", refuse)


# ------------------------------------------------------------------ 1. privacy of the default claim
def _metric_needles(summary) -> tuple[set, set]:
    """(decimal forms of the run's losses and accuracies, the long ones among them)."""
    needles = set()
    for e in summary["training"]:
        x = e["loss"]
        needles |= {repr(x), f"{x:.4f}", f"{x:.6f}", f"{x:.6g}", f"{x:.8g}", str(round(x, 4))}
        a = e["accuracy"]
        if a not in (0.0, 1.0):
            needles |= {repr(a), f"{a:.3f}"}
    needles = {n for n in needles if len(n) >= 4}
    return needles, {n for n in needles if len(n) >= 6}


def _claim_texts(claim) -> list[tuple[str, str, bytes]]:
    """(file, its JSON text: the manifest or a proof's header, its binary part) per file of the claim."""
    from zkdl.prooffile import unpack
    out = []
    for root, _, names in os.walk(claim):
        for n in names:
            path = os.path.join(root, n)
            data = open(path, "rb").read()
            if n.endswith(".zkdl"):
                header, body = unpack(data)
                out.append((path, json.dumps(header), body))
            else:
                out.append((path, data.decode("utf-8"), b""))
    return out


def _traced_values(run_dir) -> set[int]:
    """Large-magnitude integers of the run's traced tensors (weights, activations, gradients)."""
    from zkdl.tracer import Run
    run = Run.load(str(run_dir))
    vals = set()
    for t in range(run.n_steps):
        for arr in run.step(t).tensors.values():
            a = np.asarray(arr).reshape(-1)
            if a.dtype.kind in "iu":
                vals |= {int(v) for v in a[np.abs(a) >= 1 << 20][:200]}
    for w in run.weights(run.n_steps):
        a = np.asarray(w).reshape(-1)
        vals |= {int(v) for v in a[np.abs(a) >= 1 << 12][:200]}
    return vals


def test_default_zk_claim_holds_no_witness_values(run_out, tmp_path):
    summary = json.loads((run_out / "summary.json").read_text())
    needles, long_needles = _metric_needles(summary)
    assert len(long_needles) >= 3
    files = _claim_texts(run_out / "claim")
    manifest = json.loads((run_out / "claim" / "manifest.json").read_text())
    assert manifest["zk"] is True and "metrics" not in manifest
    for path, text, body in files:
        for n in needles:
            assert n not in text, f"{path} holds the run's metric value {n}"
        for n in long_needles:
            assert n.encode() not in body, f"{path} holds the run's metric value {n}"
    from zkdl.field import P
    traced = _traced_values(run_out / "run")
    assert len(traced) > 20
    for path, text, body in files:
        blob = text.encode() + body
        for v in traced:
            assert (v % P).to_bytes(32, "little") not in blob, f"{path} holds a traced value {v}"
            assert int(v).to_bytes(8, "little", signed=True) not in blob, f"{path} holds a traced value {v}"
            if abs(v) >= 10 ** 6:
                assert str(v) not in text, f"{path} holds a traced value {v}"

    # --publish-metrics: the reported metrics are there (labelled unproven), on request only
    res = invoke("claim", run_out, "-o", tmp_path / "c", "--publish-metrics", "-q")
    assert res.exit_code == 0, output(res)
    m = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert m["metrics"]["proven"] is False and m["metrics"]["training"] == summary["training"]
    text = (tmp_path / "c" / "manifest.json").read_text()
    assert all(repr(e["loss"]) in text for e in summary["training"])
    code_report = invoke("audit", tmp_path / "c", "--json", "--jobs", 1)
    report = json.loads(code_report.stdout)
    assert code_report.exit_code == 0 and any("NOT proven" in n for n in report["notes"])
    res = invoke("claim", run_out, "-o", tmp_path / "d", "-q")
    assert res.exit_code == 0 and "metrics" not in json.loads((tmp_path / "d" / "manifest.json").read_text())


def test_train_publish_metrics_flag(tmp_path):
    out = tmp_path / "run"
    res = invoke("train", "--out", out, "-q", "--steps", 1, *TINY, "--publish-metrics")
    assert res.exit_code == 0, output(res)
    m = json.loads((out / "claim" / "manifest.json").read_text())
    assert len(m["metrics"]["training"]) == 1 and m["metrics"]["proven"] is False


# ------------------------------------------------------------------ 2. audit workers never import __main__
def test_audit_never_reruns_the_callers_script(run_out, tmp_path):
    marker = tmp_path / "marker.txt"
    script = tmp_path / "caller.py"
    script.write_text(textwrap.dedent(f"""
        import json, threading, time
        import zkdl
        with open({str(marker)!r}, "a") as fh:   # unguarded: a worker importing __main__ writes again
            fh.write("ran\\n")
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()  # the old forkserver path
        report = zkdl.audit_claim({str(run_out / "claim")!r}, jobs=2)
        print(json.dumps({{"ok": report["ok"], "n": len(report["proofs"]), "failures": report["failures"]}}))
    """))
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert marker.read_text() == "ran\n"
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert doc["ok"] and doc["n"] == 3, doc["failures"]


def test_worker_death_is_a_rejection_not_a_hang(run_out, tmp_path, monkeypatch):
    proofs = sorted((run_out / "claim" / "proofs").iterdir())
    crash = tmp_path / "crash.zkdl"
    shutil.copy(proofs[1], crash)
    boot = ("import json, os, signal, sys; sys.path[:] = json.loads(sys.argv[1]); import zkdl.verify_pool as V; "
            "real = V.verify_file; "
            "V.verify_file = lambda p: os.kill(os.getpid(), signal.SIGKILL) if 'crash' in p else real(p); "
            "from zkdl._verify_worker import main; main()")
    monkeypatch.setattr(pool, "_WORKER_BOOT", boot)
    paths = [str(proofs[0]), str(crash), str(proofs[2]), str(tmp_path / "missing.zkdl")]
    res = pool.verify_files(paths, 2)
    assert [r["valid"] for r in res] == [True, False, True, False]
    assert "died" in res[1]["reason"] and "SIGKILL" in res[1]["reason"]
    assert res[1]["sha256"] == pool.sha256_file(str(crash)) and not res[1]["missing"]
    assert res[3]["missing"]
    assert res[0]["statement"]["steps"] == [0, 1] and res[2]["statement"]["steps"] == [2, 3]


# ------------------------------------------------------------------ 3, 4. inputs checked before any work
def test_audit_missing_model_stops_at_once(run_out, tmp_path, monkeypatch):
    _no_verification(monkeypatch)
    missing = tmp_path / "missing.npz"
    res = invoke("audit", run_out, "--model", missing)
    assert res.exit_code == 2 and str(missing) in res.stderr and "Traceback" not in output(res)
    with pytest.raises(A.ClaimError, match="no such file"):
        A.audit_claim(str(run_out / "claim"), jobs=1, model_path=str(missing))
    res = invoke("audit", run_out, "--model", tmp_path)
    assert res.exit_code == 2


def test_audit_text_file_as_model_gets_a_plain_message(run_out, tmp_path, monkeypatch):
    _no_verification(monkeypatch)   # an unusable --model stops the audit before any work
    junk = tmp_path / "notes.txt"
    junk.write_text("not a model\n")
    res = invoke("audit", run_out, "--model", junk, "--jobs", 1)
    assert res.exit_code == 2 and "not a zkdl model file (.npz)" in res.stderr
    assert "allow_pickle" not in output(res) and "pickle" not in output(res)


def test_audit_html_path_checked_before_work(run_out, tmp_path, monkeypatch):
    _no_verification(monkeypatch)
    bad = tmp_path / "no" / "such" / "dir" / "x.html"
    res = invoke("audit", run_out, "--html", bad)
    assert res.exit_code == 2 and str(bad) in res.stderr and "does not exist" in res.stderr
    with pytest.raises(A.ClaimError, match="is a directory"):
        A.check_output_path(str(tmp_path))


# ------------------------------------------------------------------ 5. `zkdl prove` writes claim/
def test_prove_writes_claim_and_audit_names_a_claimless_run_dir(tmp_path):
    out = tmp_path / "run"
    res = invoke("train", "--out", out, "-q", "--steps", 2, *TINY, "--no-prove")
    assert res.exit_code == 0, output(res)
    res = invoke("audit", out)
    assert res.exit_code == 2
    assert f"{out} is a run output directory without proofs; run `zkdl prove {out}` first" in res.stderr
    res = invoke("prove", out, "-q", "--publish-metrics")
    assert res.exit_code == 0, output(res)
    m = json.loads((out / "claim" / "manifest.json").read_text())
    assert m["steps"] == [0, 2] and len(m["metrics"]["training"]) == 2
    res = invoke("audit", out, "--jobs", 1)
    assert res.exit_code == 0, output(res)
    res = invoke("prove", out, "-q")  # refreshed without --publish-metrics: the metrics are gone
    assert res.exit_code == 0, output(res)
    assert "metrics" not in json.loads((out / "claim" / "manifest.json").read_text())
    shutil.rmtree(out / "claim")
    with pytest.raises(A.ClaimError, match="without a claim"):
        A.audit_claim(str(out), jobs=1)


# ------------------------------------------------------------------ 6. out-of-order chains
def test_verify_chain_out_of_order_names_the_next_file(run_out):
    f0, f1, f2 = sorted(str(p) for p in (run_out / "proofs").iterdir())
    res = invoke("verify", "--chain", f0, f2, f1)
    assert res.exit_code == 1
    assert (f"INVALID  {f2}: steps out of order: {f2} covers steps 2..2 but the chain is at step 1; "
            f"{f1} (steps 1..1) should come next") in res.stdout
    assert "expected initial weights" not in res.stdout
    res = invoke("verify", "--chain", f0, f2)
    assert res.exit_code == 1 and "no file given covers steps 1..1" in res.stdout


# ------------------------------------------------------------------ 7. one step-range convention
def test_step_range_convention_in_messages_and_docs(run_out, tmp_path):
    c = tmp_path / "claim"
    shutil.copytree(run_out / "claim", c)
    m = json.loads((c / "manifest.json").read_text())
    m["proofs"][1]["steps"] = [2, 2]
    (c / "manifest.json").write_text(json.dumps(m))
    report = json.loads(invoke("audit", c, "--json", "--jobs", 1).stdout)
    msgs = [f["message"] for f in report["failures"] if f["code"] == "bad_range"]
    assert msgs and "[2, 2)" not in msgs[0] and "[2, 2]" in msgs[0] and "end-exclusive" in msgs[0]
    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "FORMAT.md"), encoding="utf-8").read()
    head = doc.split("## 1.")[0]
    assert "Step ranges" in head and "t0..t1-1" in head and "[t0, t1)" in head


# ------------------------------------------------------------------ issue 13 review
def test_audit_data_spec_checked_before_any_verification(run_out, tmp_path, monkeypatch):
    _no_verification(monkeypatch)
    missing = tmp_path / "missing.npz"
    res = invoke("audit", run_out, "--data", missing)
    assert res.exit_code == 2 and str(missing) in res.stderr and "not found" in res.stderr
    assert "Traceback" not in output(res)
    text = tmp_path / "bad.npz"
    text.write_text("x,y\n1,2\n")
    res = invoke("audit", run_out, "--data", text)
    assert res.exit_code == 2 and "not a .npz data file" in res.stderr
    assert "pickle" not in output(res) and output(res).count("\n") == 1
    with pytest.raises(A.ClaimError, match="not a .npz data file"):
        A.audit_claim(str(run_out / "claim"), jobs=1, data_spec=str(text))


def test_audit_unusable_model_stops_at_once(run_out, tmp_path, monkeypatch):
    _no_verification(monkeypatch)
    other = run_out / "run" / "data.npz"   # an .npz, but no zkdl model file
    assert other.exists()
    res = invoke("audit", run_out, "--model", other)
    assert res.exit_code == 2 and f"--model {other}: not a zkdl model file (format None" in res.stderr
    with pytest.raises(A.ClaimError, match="not a zkdl model file"):
        A.audit_claim(str(run_out / "claim"), jobs=1, model_path=str(other))


def test_audit_model_of_another_run_is_a_mismatch(run_out, tmp_path):
    res = invoke("export-model", run_out, "-o", tmp_path / "m.npz")
    assert res.exit_code == 0, output(res)
    other = tmp_path / "other"
    res = invoke("train", "--out", other, "-q", "--steps", 2, *TINY)
    assert res.exit_code == 0, output(res)
    res = invoke("audit", other, "--model", tmp_path / "m.npz", "--jobs", 1, "--json")
    assert res.exit_code == 1
    assert {f["code"] for f in json.loads(res.stdout)["failures"]} == {"model_mismatch"}


def test_verify_chain_reversed_names_the_first_file(run_out):
    f0, f1, f2 = sorted(str(p) for p in (run_out / "proofs").iterdir())
    res = invoke("verify", "--chain", f2, f1, f0)
    assert res.exit_code == 1
    first_bad = [line for line in res.stdout.splitlines() if line.startswith("INVALID")][0]
    assert f1 in first_bad and f"the chain starts with {f0} (steps 0..0): give it first" in first_bad
