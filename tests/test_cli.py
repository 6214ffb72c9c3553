"""The zkdl command line through click's runner (and once through a real subprocess)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from zkdl.cli import cli

SMALL = ["--width", "8", "--layers", "3", "--batch-size", "4", "--data", "synthetic:64"]


def invoke(*args):
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()  # click >= 8.2: .stdout and .stderr are always separate
    return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


def output(res) -> str:
    """stdout and stderr together (what a user sees)."""
    return res.stdout + res.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run-out"
    res = invoke("train", "--out", out, "--steps", 3, *SMALL)
    assert res.exit_code == 0, output(res)
    return out


def proofs_of(out):
    return sorted(str(p) for p in (out / "proofs").iterdir())


def test_train_layout_and_summary(trained):
    out = trained
    assert sorted(os.listdir(out)) == ["claim", "proofs", "run", "secrets", "summary.json"]
    names = sorted(os.listdir(out / "proofs"))
    assert names == ["steps_000000-000001.zkdl", "steps_000001-000002.zkdl", "steps_000002-000003.zkdl"]
    secrets = sorted(os.listdir(out / "secrets"))
    assert secrets == ["run-seed"] + [n.replace(".zkdl", ".json") for n in names]   # run-seed: zkdl.blinds
    for s in secrets:
        assert stat.S_IMODE(os.stat(out / "secrets" / s).st_mode) == 0o600
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True
    assert [p["steps"] for p in summary["proofs"]] == [[0, 1], [1, 2], [2, 3]]
    for a, b in zip(summary["proofs"], summary["proofs"][1:]):
        assert a["final_weights_digest"] == b["initial_weights_digest"]
    assert all(p["bytes"] > 0 and p["prove_seconds"] >= 0 for p in summary["proofs"])
    assert os.path.exists(out / "run" / "manifest.json")
    # no staging directories left next to the output
    assert not [n for n in os.listdir(out.parent) if ".partial-" in n or ".old-" in n]


def test_verify_chain_ok(trained):
    res = invoke("verify", "--chain", *proofs_of(trained))
    assert res.exit_code == 0, output(res)
    lines = res.stdout.splitlines()
    assert sum(line.startswith("VALID  ") for line in lines) == 3
    assert "mode: zero-knowledge" in res.stdout and "PLAIN" not in res.stdout


def test_verify_json(trained):
    res = invoke("verify", "--json", "--chain", *proofs_of(trained))
    assert res.exit_code == 0, output(res)
    doc = json.loads(res.stdout)
    assert doc["ok"] is True and doc["chain_statement"]["steps"] == [0, 3]


def test_verify_chain_out_of_order_rejected(trained):
    files = proofs_of(trained)
    res = invoke("verify", "--chain", files[1], files[0], files[2])
    assert res.exit_code == 1
    assert "INVALID" in res.stdout and "Traceback" not in output(res)


def test_verify_expect_initial(trained):
    files = proofs_of(trained)
    summary = json.loads((trained / "summary.json").read_text())
    res = invoke("verify", "--expect-initial", summary["proofs"][1]["initial_weights_digest"], files[1])
    assert res.exit_code == 0, output(res)
    res = invoke("verify", "--expect-initial", "0" * 64, files[1])
    assert res.exit_code == 1 and "INVALID" in res.stdout
    res = invoke("verify", "--expect-initial", "xyz", files[1])
    assert res.exit_code == 2


def test_verify_corrupted_rejected(trained, tmp_path):
    data = bytearray((trained / "proofs" / "steps_000000-000001.zkdl").read_bytes())
    data[-200] ^= 0x01
    bad = tmp_path / "bad.zkdl"
    bad.write_bytes(bytes(data))
    junk = tmp_path / "junk.zkdl"
    junk.write_bytes(b"not a proof at all")
    res = invoke("verify", bad, junk)
    assert res.exit_code == 1, output(res)
    assert res.stdout.count("INVALID") == 2
    assert "Traceback" not in output(res) and "internal error" not in output(res)


def test_verify_missing_file_is_usage_error(tmp_path):
    res = invoke("verify", tmp_path / "nope.zkdl")
    assert res.exit_code == 2 and "ERROR" in res.stdout and "Traceback" not in output(res)


def test_inspect(trained, tmp_path):
    f = trained / "proofs" / "steps_000001-000002.zkdl"
    res = invoke("inspect", f)
    assert res.exit_code == 0, output(res)
    assert "mode          zero-knowledge" in res.stdout
    assert "steps         1..1" in res.stdout
    res = invoke("inspect", "--json", f)
    assert json.loads(res.stdout)["header"]["statement"]["steps"] == [1, 2]
    bad = tmp_path / "bad.zkdl"
    bad.write_bytes(b"ZKDLPRF\x00garbage")
    res = invoke("inspect", bad)
    assert res.exit_code == 1 and "malformed" in output(res) and "Traceback" not in output(res)


def test_refuses_existing_out_without_force(trained, tmp_path):
    before = sorted(os.listdir(trained / "proofs"))
    res = invoke("train", "--out", trained, "--steps", 1, *SMALL)
    assert res.exit_code == 2
    assert "--force" in output(res)
    assert sorted(os.listdir(trained / "proofs")) == before
    # --force refuses to delete files zkdl did not write
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    res = invoke("train", "--out", other, "--steps", 1, "--force", *SMALL)
    assert res.exit_code == 2 and (other / "thesis.tex").exists()


def test_force_replaces(tmp_path):
    out = tmp_path / "r"
    assert invoke("train", "--out", out, "--steps", 1, "--no-prove", *SMALL).exit_code == 0
    assert not os.path.exists(out / "proofs")
    res = invoke("train", "--out", out, "--steps", 1, "--force", "--quiet", *SMALL)
    assert res.exit_code == 0, output(res)
    assert os.listdir(out / "proofs") == ["steps_000000-000001.zkdl"]


def test_no_prove_then_prove_resumable_window(tmp_path):
    out = tmp_path / "r"
    res = invoke("train", "--out", out, "--steps", 3, "--no-prove", *SMALL)
    assert res.exit_code == 0, output(res)
    res = invoke("prove", out, "--steps", "0:2", "--window", 2, "--quiet")
    assert res.exit_code == 0, output(res)
    assert json.loads((out / "summary.json").read_text())["complete"] is False
    res = invoke("prove", out, "--window", 2)  # reuses 0..1, proves 2..2 chained
    assert res.exit_code == 0, output(res)
    assert "reusing" in output(res)
    assert sorted(os.listdir(out / "proofs")) == ["steps_000000-000002.zkdl", "steps_000002-000003.zkdl"]
    assert json.loads((out / "summary.json").read_text())["complete"] is True
    res = invoke("verify", "--chain", *proofs_of(out))
    assert res.exit_code == 0, output(res)


def test_bad_data_path(tmp_path):
    out = tmp_path / "r"
    res = invoke("train", "--out", out, "--data", tmp_path / "missing.npz", "--steps", 1)
    assert res.exit_code == 2
    assert "missing.npz" in output(res) and "Traceback" not in output(res)
    assert not os.path.exists(out)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    res = invoke("train", "--out", out, "--data", bad, "--steps", 1)
    assert res.exit_code == 2 and "label" in output(res) and "Traceback" not in output(res)
    assert not os.path.exists(out)


def test_bad_config_is_usage_error(tmp_path):
    res = invoke("train", "--out", tmp_path / "r", "--R", 40, "--steps", 1, *SMALL)
    assert res.exit_code == 2 and "error:" in output(res) and "Traceback" not in output(res)


def test_circuit_emit(tmp_path):
    f = tmp_path / "c.json"
    res = invoke("circuit", "emit", "--width", 8, "--layers", 3, "--batch-size", 4, "--steps", 2, "-o", f)
    assert res.exit_code == 0, output(res)
    doc = json.loads(f.read_text())
    assert doc["steps"] == 2 and len(doc["digest"]) == 64
    assert "circuit" in res.stdout
    res = invoke("circuit", "emit", "--width", 8, "--layers", 3, "--batch-size", 4)
    assert res.exit_code == 0
    one = json.loads(res.stdout)
    assert one["steps"] == 1 and one["digest"] != doc["digest"]
    assert res.stderr.startswith("circuit ")


def test_version_and_help():
    res = invoke("--version")
    assert res.exit_code == 0 and "zkdl" in res.stdout
    for cmd in (["train"], ["prove"], ["verify"], ["inspect"], ["circuit", "emit"]):
        res = invoke(*cmd, "--help")
        assert res.exit_code == 0 and "Usage" in res.stdout


def test_usage_error_exit_2():
    assert invoke("verify").exit_code == 2
    assert invoke("train", "--steps", "zero").exit_code == 2


def test_python_m_zkdl_help():
    res = subprocess.run([sys.executable, "-m", "zkdl", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    for cmd in ("train", "prove", "verify", "inspect", "circuit"):
        assert cmd in res.stdout


def test_no_zk_is_labelled_plain(tmp_path):
    out = tmp_path / "plain"
    res = invoke("train", "--out", out, "--steps", 1, "--no-zk", *SMALL)
    assert res.exit_code == 0, output(res)
    f = proofs_of(out)[0]
    res = invoke("verify", f)
    assert res.exit_code == 0 and "PLAIN (not zero-knowledge)" in res.stdout
    res = invoke("inspect", f)
    assert "mode          PLAIN (not zero-knowledge)" in res.stdout


def test_lr_option_forms():
    from zkdl.cli_common import parse_lr
    assert parse_lr("1/512") == (1, 9)
    assert parse_lr("3/2^10") == (3, 10)
    assert parse_lr("0.001953125") == (1, 9)
    for bad in ("0.001", "-1/2", "x", "1/3", "0"):
        with pytest.raises(click.BadParameter):
            parse_lr(bad)
    res = invoke("circuit", "emit", "--lr", "1/3")
    assert res.exit_code == 2 and "Traceback" not in output(res)
    res = invoke("circuit", "emit", "--lr", "1/1024", "--lr-num", "2")
    assert res.exit_code == 2


def test_backend_cuda_falls_back_with_a_note(tmp_path):
    """--backend cuda without CuPy or a GPU proves on the cpu backend and says why."""
    from zkdl.errors import BackendUnavailable
    from zkdl.prover.backend import get_backend
    try:
        get_backend("cuda")
        available = True
    except BackendUnavailable:
        available = False
    res = invoke("train", "--out", tmp_path / "o", "-q", "--steps", 1, *SMALL, "--backend", "cuda")
    assert res.exit_code == 0, output(res)
    assert ("falling back to the cpu backend" in res.stderr) is (not available)
    res = invoke("verify", *sorted((tmp_path / "o" / "proofs").glob("*.zkdl")))
    assert res.exit_code == 0, output(res)
