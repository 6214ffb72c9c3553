"""Rough edges of `zkdl train` / `zkdl circuit emit` (issue 13): emit reproduces a proof's
circuit digest, the first-proof compile notice and the ETA, Ctrl-C keeps the finished
work and `zkdl train --resume` continues it, every overflow remedy is a CLI option."""

from __future__ import annotations

import json
import os
import re
from dataclasses import fields

import pytest

from tests.test_cli import SMALL, invoke, output

from zkdl import rundir


def _proofs(out):
    return sorted(str(p) for p in (out / "proofs").iterdir())


def _header(path):
    from zkdl.prooffile import unpack
    with open(path, "rb") as fh:
        return unpack(fh.read())[0]


def _digest_line(text: str) -> str:
    m = re.search(r"circuit digest ([0-9a-f]{64})", text)
    assert m, text
    return m.group(1)


def _no_staging_left(out):
    assert not [n for n in os.listdir(out.parent) if ".partial-" in n or ".old-" in n]


# ============================================================================ 1. circuit emit
@pytest.fixture(scope="module")
def proven(tmp_path_factory):
    """3 steps in windows of 2 (a first window of T=2, a chained one of T=1), with --prove-loss."""
    out = tmp_path_factory.mktemp("edges") / "emit-run"
    res = invoke("train", "--out", out, "--steps", 3, "--window", 2, "--prove-loss", *SMALL)
    assert res.exit_code == 0, output(res)
    return out


def test_emit_options_reproduce_proof_digest(proven):
    first, chained = _proofs(proven)
    h0, h1 = _header(first), _header(chained)
    assert h0["statement"]["initial_weights_range_checked"] and not h1["statement"]["initial_weights_range_checked"]
    res = invoke("circuit", "emit", *SMALL, "--run-steps", 3, "--window", 2, "--first", "--prove-loss")
    assert res.exit_code == 0, output(res)
    assert _digest_line(res.stderr) == h0["circuit_digest"]
    assert json.loads(res.stdout)["digest"] == h0["circuit_digest"]
    res = invoke("circuit", "emit", *SMALL, "--run-steps", 3, "--steps", 1, "--chained", "--prove-loss")
    assert res.exit_code == 0, output(res)
    assert _digest_line(res.stderr) == h1["circuit_digest"]
    # each of these options changes the digest, so none may be left out
    base = ["--run-steps", 3, "--steps", 1, "--chained", "--prove-loss"]
    for args in (["--run-steps", 4, "--steps", 1, "--chained", "--prove-loss"],
                 ["--run-steps", 3, "--steps", 1, "--first", "--prove-loss"],
                 ["--run-steps", 3, "--steps", 1, "--first", "--no-check-dataset", "--prove-loss"],
                 ["--run-steps", 3, "--steps", 1, "--chained"],
                 base + ["--update-bits", 17],
                 base + ["--n-samples", 32]):
        res = invoke("circuit", "emit", *SMALL, *args)
        assert res.exit_code == 0, output(res)
        assert _digest_line(res.stderr) != h1["circuit_digest"], args


def test_emit_from_proof(proven, tmp_path):
    for f in _proofs(proven):
        h = _header(f)
        res = invoke("circuit", "emit", "--from-proof", f)
        assert res.exit_code == 0, output(res)
        assert _digest_line(res.stdout) == h["circuit_digest"]
        assert f"T={h['statement']['steps'][1] - h['statement']['steps'][0]}" in res.stdout
        js = tmp_path / (os.path.basename(f) + ".json")
        res = invoke("circuit", "emit", "--from-proof", f, "-o", js)
        assert res.exit_code == 0, output(res)
        assert json.loads(js.read_text())["digest"] == h["circuit_digest"]
        assert f"written to {js}" in res.stdout


def test_emit_from_proof_errors(proven, tmp_path):
    from zkdl.prooffile import pack, unpack
    f = _proofs(proven)[1]
    # not a proof: exit 2, one line
    res = invoke("circuit", "emit", "--from-proof", proven / "summary.json")
    assert res.exit_code == 2 and output(res).count("\n") == 1 and "not a zkdl proof file" in output(res)
    res = invoke("circuit", "emit", "--from-proof", tmp_path / "missing.zkdl")
    assert res.exit_code == 2 and "Traceback" not in output(res)
    # a header whose circuit digest is not the one its config and statement define: exit 1, one line
    with open(f, "rb") as fh:
        header, body = unpack(fh.read())
    header["circuit_digest"] = "0" * 64
    bad = tmp_path / "bad.zkdl"
    bad.write_bytes(pack(header, body))
    res = invoke("circuit", "emit", "--from-proof", bad)
    assert res.exit_code == 1 and output(res).count("\n") == 1, output(res)
    assert "circuit digest mismatch" in output(res)
    # --from-proof takes everything from the header
    res = invoke("circuit", "emit", "--from-proof", f, "--width", 8)
    assert res.exit_code == 2 and "--width" in output(res) and output(res).count("\n") == 1


# ============================================================================ 2. compile notice and ETA
def test_proof_eta_leaves_out_the_compiling_first_proof():
    eta = rundir._proof_eta
    assert eta([60.0], 3, True) is None  # only the first (compiling) proof so far: no estimate
    assert eta([60.0, 2.0, 4.0], 2, True) == pytest.approx(6.0)
    assert eta([60.0], 3, False) == pytest.approx(180.0)  # kernels already compiled in this process
    assert eta([3.0, 5.0], 2, False) == pytest.approx(8.0)
    assert eta([60.0, 2.0], 0, True) == 0.0


def test_train_prints_compile_notice_once(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir, "_PROVED_IN_PROCESS", False)
    monkeypatch.setattr(rundir, "_kernel_cache_warm", lambda: False)
    res = invoke("train", "--out", tmp_path / "a", "--steps", 3, *SMALL, "--range", "bits")  # (the quicker here)
    assert res.exit_code == 0, output(res)
    lines = res.stderr.splitlines()
    notice = [i for i, line in enumerate(lines) if "compiling kernels (first run only" in line]
    assert len(notice) == 1
    assert notice[0] < min(i for i, line in enumerate(lines) if line.startswith("proof 1/3"))
    assert "proof 1/3 (steps 0..0): proving" in lines
    assert "proof 2/3 (steps 1..1): proving" in lines  # the only duration so far includes the compile time
    assert any(line.startswith("proof 3/3 (steps 2..2): proving, ETA ") for line in lines)
    # a later proof of the same process: no notice, and the first proof's duration counts
    res = invoke("train", "--out", tmp_path / "b", "--steps", 2, *SMALL, "--range", "bits")
    assert res.exit_code == 0, output(res)
    assert "kernels" not in res.stderr
    assert any(line.startswith("proof 2/2 (steps 1..1): proving, ETA ") for line in res.stderr.splitlines())


def test_compile_notice_when_cache_state_unknown(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir, "_PROVED_IN_PROCESS", False)
    monkeypatch.setattr(rundir, "_kernel_cache_warm", lambda: None)
    res = invoke("train", "--out", tmp_path / "a", "--steps", 1, *SMALL)
    assert res.exit_code == 0, output(res)
    assert "first proof of this process: compiling kernels if not cached" in res.stderr


def test_kernel_cache_detector_answers():
    assert rundir._kernel_cache_warm() in (True, False, None)


# ============================================================================ 3. Ctrl-C and --resume
def _interrupt_step(monkeypatch, at: int):
    """Make the tracer raise KeyboardInterrupt when step ``at`` starts (steps 0..at-1 finish)."""
    import zkdl.tracer as tracer
    real = tracer._step

    def step(cfg, data, st, t):
        if t == at:
            raise KeyboardInterrupt
        return real(cfg, data, st, t)

    monkeypatch.setattr(tracer, "_step", step)


def _interrupt_proof(monkeypatch, at: int):
    """Make the ``at``-th zkdl.prove call (1-based) raise KeyboardInterrupt."""
    import zkdl.api as api
    real = api.prove
    calls = {"n": 0}

    def prove(*a, **kw):
        calls["n"] += 1
        if calls["n"] == at:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(api, "prove", prove)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run the resumed ones must equal."""
    out = tmp_path_factory.mktemp("edges") / "ref"
    res = invoke("train", "--out", out, "--steps", 4, "--window", 2, *SMALL)
    assert res.exit_code == 0, output(res)
    return out


def _manifest(out):
    return json.loads((out / "run" / "manifest.json").read_text())


def _same_as_reference(out, ref):
    a, b = _manifest(out), _manifest(ref)
    assert a["n_steps"] == b["n_steps"] and a["config_digest"] == b["config_digest"]
    assert a["weights_final"]["digest"] == b["weights_final"]["digest"]
    assert [s["loss"] for s in a["steps"]] == [s["loss"] for s in b["steps"]]
    sa, sb = json.loads((out / "summary.json").read_text()), json.loads((ref / "summary.json").read_text())
    assert sa["complete"] is True
    keys = ("steps", "circuit_digest", "zk", "initial_weights_range_checked", "dataset_range_checked", "losses")
    assert [{k: e[k] for k in keys} for e in sa["proofs"]] == [{k: e[k] for k in keys} for e in sb["proofs"]]
    for f, g in zip(_proofs(out), _proofs(ref)):
        assert os.path.basename(f) == os.path.basename(g)
        assert _header(f)["config"] == _header(g)["config"]
    res = invoke("verify", "--chain", *_proofs(out))
    assert res.exit_code == 0, output(res)
    assert (out / "claim" / "manifest.json").exists()


def test_interrupt_while_training_keeps_steps_then_resume(tmp_path, monkeypatch, reference):
    out = tmp_path / "run-out"
    _interrupt_step(monkeypatch, at=3)
    res = invoke("train", "--out", out, "--steps", 4, "--window", 2, *SMALL)
    assert res.exit_code == 130, output(res)
    assert "Traceback" not in output(res)
    assert f"interrupted: kept 3 of 4 steps and 0 proofs in {out}; continue with `zkdl train --resume --out {out}`" \
        in res.stderr
    _no_staging_left(out)
    assert _manifest(out)["n_steps"] == 3
    assert sorted(os.listdir(out / "run" / "steps")) == [f"step_{t:08d}.npz" for t in range(3)]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and summary["n_steps"] == 3 and summary["proofs"] == []
    assert not (out / "claim").exists()
    monkeypatch.undo()
    # --resume alone takes the config from OUT
    res = invoke("train", "--resume", "--out", out)
    assert res.exit_code == 0, output(res)
    assert "step 3 (4 of 4)" in res.stderr and "step 2 (3 of 4)" not in res.stderr  # only the missing step
    _same_as_reference(out, reference)
    _no_staging_left(out)


def test_interrupt_while_proving_keeps_proofs_then_resume(tmp_path, monkeypatch, reference):
    out = tmp_path / "run-out"
    _interrupt_proof(monkeypatch, at=2)
    res = invoke("train", "--out", out, "--steps", 4, "--window", 2, *SMALL)
    assert res.exit_code == 130, output(res)
    assert f"interrupted: kept 4 of 4 steps and 1 proofs in {out}" in res.stderr
    _no_staging_left(out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and [e["steps"] for e in summary["proofs"]] == [[0, 2]]
    assert sorted(os.listdir(out / "proofs")) == ["steps_000000-000002.zkdl"]
    assert sorted(os.listdir(out / "secrets")) == ["run-seed", "steps_000000-000002.json"]
    first = (out / "proofs" / "steps_000000-000002.zkdl").read_bytes()
    monkeypatch.undo()
    # the same options again (as given the first time) are accepted
    res = invoke("train", "--resume", "--out", out, "--steps", 4, "--window", 2, *SMALL)
    assert res.exit_code == 0, output(res)
    assert "already proven, reusing proofs/steps_000000-000002.zkdl" in res.stderr
    # the hint names a command that proves again (`train --resume --force` is refused)
    assert f"(use `zkdl prove --force {out}` to prove again)" in res.stderr and "use --force" not in res.stderr
    assert (out / "proofs" / "steps_000000-000002.zkdl").read_bytes() == first
    _same_as_reference(out, reference)
    res = invoke("export-model", out)  # the run's final weights open the last proof's commitment
    assert res.exit_code == 0, output(res)


def test_real_sigint_keeps_the_finished_steps(tmp_path):
    """A real Ctrl-C (SIGINT to a `python -m zkdl train` process) while proving."""
    import signal
    import subprocess
    import sys
    out = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, "-m", "zkdl", "train", "--out", str(out), "--steps", "2", *SMALL],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in proc.stderr:
            if "proving" in line:
                proc.send_signal(signal.SIGINT)
                break
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted: kept 2 of 2 steps and " in err and "--resume --out" in err and "Traceback" not in err
    assert os.listdir(tmp_path) == ["r"]
    assert json.loads((out / "summary.json").read_text())["complete"] is False
    res = invoke("train", "--resume", "--out", out)
    assert res.exit_code == 0, output(res)
    assert invoke("verify", "--chain", *_proofs(out)).exit_code == 0


def test_interrupt_before_any_step_leaves_nothing(tmp_path, monkeypatch):
    out = tmp_path / "run-out"
    _interrupt_step(monkeypatch, at=0)
    res = invoke("train", "--out", out, "--steps", 2, *SMALL)
    assert res.exit_code == 130
    assert os.listdir(tmp_path) == []


def test_resume_refuses_other_settings(tmp_path, monkeypatch):
    out = tmp_path / "run-out"
    _interrupt_step(monkeypatch, at=1)
    res = invoke("train", "--out", out, "--steps", 3, *SMALL)
    assert res.exit_code == 130, output(res)
    monkeypatch.undo()
    before = sorted(os.listdir(out))
    for args, named in ((["--width", 16], "width 8 (given 16)"), (["--steps", 5], "steps 3 (given 5)"),
                        (["--lr", "1/1024", "--batch-size", 8], "lr_shift 9 (given 10)"),
                        (["--window", 2], "window 1 (given 2)"), (["--data", "synthetic:128"], "data "),
                        (["--no-zk"], "no-zk False (given True)")):
        res = invoke("train", "--resume", "--out", out, *args)
        assert res.exit_code == 2, output(res)
        assert output(res).count("\n") == 1 and output(res).startswith("error: --resume:"), output(res)
        assert named in output(res)
    assert "batch_size 4 (given 8)" in output(invoke("train", "--resume", "--out", out, "--batch-size", 8))
    assert sorted(os.listdir(out)) == before and _manifest(out)["n_steps"] == 1
    res = invoke("train", "--resume", "--out", tmp_path / "nothing")
    assert res.exit_code == 2 and "no recorded run" in output(res)
    res = invoke("train", "--resume", "--force", "--out", out)
    assert res.exit_code == 2
    _no_staging_left(out)


# ============================================================================ 4. remedies are options
def _remedy_options(text: str) -> set[str]:
    """The CLI options of the TrainConfig fields a remedy text names."""
    from zkdl.config import TrainConfig
    names = {f.name for f in fields(TrainConfig)}
    remedy = text.split("remedy:", 1)[1] if "remedy:" in text else text
    words = set(re.findall(r"[A-Za-z_]+", remedy))
    return {"--" + w.replace("_", "-") for w in words & names}


def test_every_overflow_remedy_is_a_cli_option(tmp_path):
    import zkdl.tracer as tracer
    texts = [tracer._REMEDY_VALUE, tracer._REMEDY_UPDATE]
    with open(tracer.__file__, encoding="utf-8") as fh:  # the remedies written inline, too
        texts += re.findall(r'"([^"\n]*\b(?:smaller|larger|raise|lower)\b[^"\n]*)"', fh.read())
    assert len(texts) >= 3
    res = invoke("train", "--out", tmp_path / "big-lr", "--no-prove", "--steps", 2, *SMALL, "--lr", "1/4")
    assert res.exit_code == 1 and "Traceback" not in output(res), output(res)
    assert "dW_1" in output(res) and "update_bits" in output(res), output(res)
    texts.append(output(res))
    helps = {cmd: invoke(*cmd, "--help").stdout for cmd in (("train",), ("circuit", "emit"))}
    wanted = set().union(*(_remedy_options(t) for t in texts))
    assert {"--update-bits", "--lr-num", "--lr-shift", "--R", "--Q"} <= wanted
    for cmd, text in helps.items():
        for opt in wanted:
            assert re.search(rf"(^|[\s,]){re.escape(opt)}[\s,]", text), (cmd, opt)
    # and the remedy works: a wider update bound takes the same learning rate
    res = invoke("train", "--out", tmp_path / "wide", "--no-prove", "--steps", 1, *SMALL, "--lr", "1/4",
                 "--update-bits", 20)
    assert res.exit_code == 0, output(res)
    assert json.loads((tmp_path / "wide" / "summary.json").read_text())["config"]["update_bits"] == 20
    res = invoke("train", "--out", tmp_path / "bad", "--no-prove", "--steps", 1, *SMALL, "--update-bits", 40)
    assert res.exit_code == 2 and "update_bits" in output(res) and "Traceback" not in output(res)


# ============================================================================ issue 13 review
def test_resume_keeps_no_prove(tmp_path, monkeypatch):
    out = tmp_path / "run-out"
    _interrupt_step(monkeypatch, at=1)
    res = invoke("train", "--out", out, "--steps", 2, "--no-prove", *SMALL)
    assert res.exit_code == 130, output(res)
    monkeypatch.undo()
    assert json.loads((out / "summary.json").read_text())["train_options"]["no_prove"] is True
    res = invoke("train", "--resume", "--out", out)
    assert res.exit_code == 0, output(res)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True and summary["proofs"] == [] and summary["train_options"]["no_prove"]
    assert not (out / "proofs").exists() or not os.listdir(out / "proofs")
    assert "proving" not in res.stderr and "prove later with" in res.stdout
    # a run directory without proofs: the audit points to `zkdl prove`, not to `zkdl claim`
    res = invoke("audit", out)
    assert res.exit_code == 2 and f"run `zkdl prove {out}` first" in res.stderr and "zkdl claim" not in res.stderr
    # the option given wins: --prove proves the recorded steps
    res = invoke("train", "--resume", "--out", out, "--prove")
    assert res.exit_code == 0, output(res)
    summary = json.loads((out / "summary.json").read_text())
    assert [e["steps"] for e in summary["proofs"]] == [[0, 1], [1, 2]] and not summary["train_options"]["no_prove"]


def test_step_numbers_match_the_table(tmp_path):
    out = tmp_path / "r"
    res = invoke("train", "--out", out, "--steps", 2, "--no-prove", *SMALL)
    assert res.exit_code == 0, output(res)
    assert "step 0 (1 of 2): loss" in res.stderr and "step 1 (2 of 2): loss" in res.stderr
    assert "step 2/2" not in res.stderr
    table = [line.split() for line in res.stdout.splitlines()]
    assert [r[0] for r in table if len(r) == 3 and r[0].isdigit()] == ["0", "1"]


def test_export_model_names_the_weights(proven, tmp_path):
    res = invoke("export-model", proven, "-o", tmp_path / "m.npz")
    assert res.exit_code == 0, output(res)
    assert "W[3], the weights after steps 0..2" in res.stdout and "after step 3" not in res.stdout


def test_overflow_remedies_name_the_cli_options():
    import zkdl.tracer as tracer
    for text in (tracer._REMEDY_VALUE, tracer._REMEDY_UPDATE):
        assert "--lr" in text and "--lr-num" in text and "--lr-shift" in text
    assert "--R" in tracer._REMEDY_VALUE and "--Q" in tracer._REMEDY_VALUE
    assert "--update-bits" in tracer._REMEDY_UPDATE
