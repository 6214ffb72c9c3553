"""Hostile input (issue 13): proofs and claims built to crash or exhaust the verifier and
the auditor are rejected with typed errors, before any work proportional to what they state.

One test (or a few) per defect a fuzz of mutated proofs and claims found: deep JSON
nesting, lone surrogates / invalid UTF-8, huge integers, sizes that cost work before the
file bounds them (denial of service), and the unbound header field ``sizes``."""

from __future__ import annotations

import itertools
import json
import random
import shutil
import struct

import pytest

from tests.test_cli import SMALL, invoke, output

import zkdl
from zkdl import data as D
from zkdl.audit import ClaimError, _close, audit_claim, load_manifest
from zkdl.report import _svg_metric
from zkdl.config import TrainConfig
from zkdl.errors import ConfigError, DataError, EncodingError, VerificationError
from zkdl.prooffile import MAGIC, canonical_json, pack, unpack
from zkdl.prover.aggregate import prove_window
from zkdl.schedule import _words, batch_indices
from zkdl.verifier import verify as V
from zkdl.verifier.verify import StatementError, verify


# ----------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def proof():
    """A tiny honest proof (plain mode: the fastest to verify), 2 layers of width 8, range
    checks by bits (whose witness commitments grow fastest with T: see the logup case below)."""
    cfg = TrainConfig(width=8, layers=2, batch_size=4, lr_shift=9)
    run = zkdl.train(cfg, D.synthetic(n_samples=16, n_features=4, n_classes=2), steps=1, keep_in_memory=True)
    data, _ = prove_window(run, 0, 1, rng=random.Random(13), zk=False, range_strategy="bits")
    verify(data)
    return data


@pytest.fixture(scope="module")
def claim_src(tmp_path_factory):
    """A two-proof claim with a public initialization and proven losses."""
    out = tmp_path_factory.mktemp("hostile") / "run"
    res = invoke("train", "--out", out, "-q", "--steps", 2, *SMALL, "--public-init", "--prove-loss")
    assert res.exit_code == 0, output(res)
    return out / "claim"


@pytest.fixture
def claim(claim_src, tmp_path):
    dest = tmp_path / "claim"
    shutil.copytree(claim_src, dest)
    return dest


def manifest(claim):
    return json.loads((claim / "manifest.json").read_text())


def rewrite(data: bytes, edit) -> bytes:
    header, body = unpack(data)
    edit(header)
    return pack(header, body)


def container(raw_header: bytes, body: bytes = b"") -> bytes:
    return MAGIC + struct.pack("<HI", 1, len(raw_header)) + raw_header + struct.pack("<Q", len(body)) + body


def one_line_error(res, code):
    """A CLI rejection: exit ``code``, one line on stderr, no traceback, no internal error."""
    assert res.exit_code == code, output(res)
    assert "Traceback" not in output(res) and "internal error" not in output(res)
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def forbid(monkeypatch, *targets):
    """Make each (object, name) raise when called: the rejection must come before that work."""
    class ProportionalWork(Exception):
        pass

    def boom(*args, **kwargs):
        raise ProportionalWork("work proportional to a hostile size was started")

    for obj, name in targets:
        monkeypatch.setattr(obj, name, boom)


# ----------------------------------------------------------------- 1. deep nesting
@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_header_and_manifest(proof, claim, depth, tmp_path):
    deep = b"[" * depth + b"]" * depth
    # proof header: rejected on the raw bytes, before parsing (old code: RecursionError)
    with pytest.raises(EncodingError, match="nests"):
        unpack(container(b'{"kind":' + deep + b"}"))
    header, body = unpack(proof)
    raw = canonical_json(header)
    hostile = container(raw[:-1] + b',"zz":' + deep + b"}", body)
    with pytest.raises(EncodingError, match="nests"):
        verify(hostile)
    nested = []
    for _ in range(depth):
        nested = [nested]
    with pytest.raises(EncodingError, match="deeper"):
        canonical_json({"x": nested})
    # brackets inside strings are not nesting
    assert unpack(container(b'{"a":"' + b"[" * 1000 + b'"}')) == ({"a": "[" * 1000}, b"")
    f = tmp_path / "deep.zkdl"
    f.write_bytes(hostile)
    one_line_error(invoke("inspect", f), 1)
    # claim manifest (old code: RecursionError in load_manifest, an internal error)
    m = manifest(claim)
    text = json.dumps(m)
    (claim / "manifest.json").write_bytes(text[:-1].encode() + b',"zz":' + deep + b"}")
    with pytest.raises(ClaimError, match="nests"):
        load_manifest(str(claim))
    one_line_error(invoke("audit", claim, "--jobs", 1), 2)


# ----------------------------------------------------------------- 2. surrogates, invalid UTF-8
def test_lone_surrogate_in_header(proof, tmp_path):
    header, body = unpack(proof)
    header["zkdl_version"] = "SURROGATE"
    raw = canonical_json(header).replace(b'"SURROGATE"', b'"\\ud800"')
    hostile = container(raw, body)
    with pytest.raises(EncodingError, match="surrogate"):  # old code: UnicodeEncodeError
        unpack(hostile)
    with pytest.raises(VerificationError):
        verify(hostile)
    with pytest.raises(EncodingError, match="surrogate"):
        canonical_json({"a": "\udfff"})
    f = tmp_path / "surrogate.zkdl"
    f.write_bytes(hostile)
    one_line_error(invoke("inspect", f), 1)  # old code: exit 70 (internal error)
    res = invoke("verify", f)
    assert res.exit_code == 1 and "INVALID" in res.stdout and "Traceback" not in output(res)


def test_manifest_with_invalid_utf8(claim):
    raw = (claim / "manifest.json").read_bytes()
    (claim / "manifest.json").write_bytes(raw.replace(b'"zkdl-claim/v1"', b'"zkdl-claim/v1\xff"', 1))
    with pytest.raises(ClaimError, match="UTF-8"):  # old code: UnicodeDecodeError
        load_manifest(str(claim))
    one_line_error(invoke("audit", claim, "--jobs", 1), 2)


def test_report_with_surrogates_and_control_characters_prints(claim, tmp_path):
    m = manifest(claim)
    m["proofs"][1]["file"] = "PLACEHOLDER"
    text = json.dumps(m).replace('"PLACEHOLDER"', '"proofs/x\\ud800\\u001b[31m\\ny.zkdl"')
    (claim / "manifest.json").write_text(text)
    html_path = tmp_path / "r.html"
    res = invoke("audit", claim, "--jobs", 1, "--html", html_path)  # old code: UnicodeEncodeError, exit 70
    assert res.exit_code == 1, output(res)
    assert "internal error" not in output(res) and "Traceback" not in output(res)
    assert "missing_proof" in res.stdout
    assert "x\\ud800\\x1b[31m\\ny.zkdl" in res.stdout  # escaped, on the proof's own line
    assert not any(line.startswith("y.zkdl") for line in res.stdout.splitlines())
    assert "\\ud800" in html_path.read_text(encoding="utf-8")
    res = invoke("audit", claim, "--jobs", 1, "--json")
    assert res.exit_code == 1 and json.loads(res.stdout)["proofs"][1]["file"] == "proofs/x\ud800\x1b[31m\ny.zkdl"


# ----------------------------------------------------------------- 3. huge integers
def test_huge_integers(proof, claim, monkeypatch):
    # the batch schedule (old code: OverflowError in _words, or a list of 2^70 rows)
    with pytest.raises(ValueError, match="2\\^64"):
        batch_indices(0, 1 << 70, 4, 0)
    with pytest.raises(ValueError, match="2\\^63"):
        batch_indices(0, 16, 4, 1 << 80)
    with pytest.raises(ValueError, match="epoch"):
        list(itertools.islice(_words(0, 16, 1 << 64), 1))
    assert batch_indices(0, 16, 4, 5) == batch_indices(0, 16, 4, 5)
    # SHAKE words (old code: OverflowError)
    for n in (1 << 70, -1, 2.0):
        with pytest.raises(DataError, match="shake_words"):
            D.shake_words(b"t", n)
    assert len(D.shake_words(b"t", 3)) == 3
    # config fields, bounded where they enter
    base = TrainConfig(width=8, layers=2).to_dict()
    for field, value in [("width", [1 << 70]), ("steps", 1 << 63), ("n_features", 1 << 70), ("batch_size", 1 << 40),
                         ("layers", 10 ** 12), ("width", [8] * 1024), ("batch_seed", 1 << 64)]:
        d = dict(base, **{field: value})
        if field == "width":
            d.pop("layers")
        with pytest.raises(ConfigError):
            TrainConfig.from_dict(d)
    TrainConfig.from_dict(dict(base, steps=(1 << 63) - 1, init_seed=(1 << 64) - 1))
    # statement steps near 2^64 (old code: OverflowError in the schedule)
    t0 = 1 << 70

    def steps(h):
        h["statement"]["steps"] = [t0, t0 + 1]
    with pytest.raises(StatementError, match="2\\^63"):
        verify(rewrite(proof, steps))
    # manifest metrics and the helpers that compare and plot them (old code: OverflowError)
    assert _close(10 ** 400, 1.0) is False and _close(1.0, 10 ** 400) is False and _close(0.5, 0.5)
    svg = _svg_metric([(0, 1.0), (1, 10 ** 400), (1 << 2000, 0.5), (2, 0.25), (3, float("inf"))], "loss")
    assert "<polyline" in svg and "over steps 0..2" in svg
    m = manifest(claim)
    m["metrics"]["training"] = [{"t": 0, "loss": 10 ** 400}, {"t": 1 << 300, "loss": 1.0}]  # reported, unproven
    m["metrics"]["proven_loss"][1]["loss"] = -(10 ** 400)
    (claim / "manifest.json").write_text(json.dumps(m))
    report = audit_claim(str(claim), jobs=1)
    assert not report["ok"]
    assert {f["code"] for f in report["failures"]} == {"metric_mismatch"}
    res = invoke("audit", claim, "--jobs", 1, "--html", claim / "r.html")
    assert res.exit_code == 1 and "internal error" not in output(res), output(res)


# ----------------------------------------------------------------- 4. denial of service
def only_one_step_circuits(monkeypatch):
    """The verifier may build the O(layers) one-step circuit (it bounds the body), never
    the T-step one, before a hostile size is rejected."""
    real = V.circuit_for

    def one_step_only(config, T, *a, **k):
        if T != 1:
            raise AssertionError(f"circuit of {T} steps built for a hostile header")
        return real(config, T, *a, **k)
    monkeypatch.setattr(V, "circuit_for", one_step_only)


def test_many_layers_rejected_before_the_circuit(proof, monkeypatch, tmp_path):
    only_one_step_circuits(monkeypatch)

    def layers(n):
        def edit(h):
            h["config"]["width"] = 8
            h["config"]["layers"] = n
        return edit
    # 10^6 layers: beyond the config's limit (old code: 43 s and 2.6 GB, then MemoryError)
    with pytest.raises(StatementError, match="layers must be at most 1024"):
        verify(rewrite(proof, layers(10 ** 6)))
    # 1000 layers are allowed, but their statement commitments alone exceed this body
    with pytest.raises(StatementError, match="shorter than the statement commitments"):
        verify(rewrite(proof, layers(1000)))
    f = tmp_path / "layers.zkdl"
    f.write_bytes(rewrite(proof, layers(10 ** 6)))
    res = invoke("verify", f)
    assert res.exit_code == 1 and "INVALID" in res.stdout and "Traceback" not in output(res)


def test_many_steps_rejected_before_the_circuit(proof, monkeypatch):
    only_one_step_circuits(monkeypatch)

    def steps(h):  # T = 1000 is allowed, but its witness commitments do not fit this body
        h["statement"]["steps"] = [1, 1001]
    with pytest.raises(StatementError, match="witness commitments"):  # old code: 40 s, 2.4 GB
        verify(rewrite(proof, steps))

    def too_many(h):
        h["statement"]["steps"] = [0, 4097]
    with pytest.raises(StatementError, match="4096"):
        verify(rewrite(proof, too_many))


def test_many_steps_in_a_logup_proof_rejected_by_its_sizes():
    """Under logup a tiny body may hold the (few, small) witness commitments of T = 1000
    steps; the T-step circuit is then built (O(layers T^2), well under a second for this
    network) and its committed-value count rejects the header before any proof work."""
    cfg = TrainConfig(width=8, layers=2, batch_size=4, lr_shift=9)
    run = zkdl.train(cfg, D.synthetic(n_samples=16, n_features=4, n_classes=2), steps=1, keep_in_memory=True)
    data, _ = prove_window(run, 0, 1, rng=random.Random(13), zk=False, range_strategy="logup")

    def steps(h):
        h["statement"]["steps"] = [1, 1001]
    with pytest.raises(StatementError, match="sizes|witness commitments"):
        verify(rewrite(data, steps))


def test_big_manifest_config_not_recomputed(claim, monkeypatch):
    """W[0] is recomputed under the first proof's own (verified, file-bounded) config,
    never under the manifest's: a manifest stating a huge model costs nothing."""
    from zkdl import anchors
    real, seen = anchors.initial_weights_digest, []

    def spy(cfg, *method):
        seen.append(list(cfg.width))
        if max(cfg.width) > 64:
            raise AssertionError("recomputed W[0] under the manifest's config")
        return real(cfg, *method)
    monkeypatch.setattr(anchors, "initial_weights_digest", spy)
    m = manifest(claim)
    assert m["initial_weights_public"] is True
    m["config"]["width"] = [4096] * 7  # W[0] of this config: 10^8 values (old code: > 150 s, 2.9 GB)
    m["config"]["layers"] = 8
    (claim / "manifest.json").write_text(json.dumps(m))
    report = audit_claim(str(claim), jobs=1)
    assert not report["ok"] and "config_mismatch" in {f["code"] for f in report["failures"]}
    assert seen and all(max(w) <= 64 for w in seen)
    assert "recomputed, matches" in report["anchors"]["initial_weights"]
    res = invoke("audit", claim, "--jobs", 1)
    assert res.exit_code == 1 and "Traceback" not in res.stdout + res.stderr


def test_honest_claim_still_recomputes_public_init(claim):
    report = audit_claim(str(claim), jobs=1)
    assert report["ok"], report["failures"]
    assert "recomputed, matches" in report["anchors"]["initial_weights"]


# ----------------------------------------------------------------- 5. the sizes field
@pytest.mark.parametrize("edit", [
    lambda s: s.update(body_bytes=0),
    lambda s: s.update(committed_values=1.5),
    lambda s: s.update(committed_values=s["committed_values"] + 1),
    lambda s: s.update(body_bytes=float(s["body_bytes"])),
    lambda s: s.update(extra=1),
    lambda s: s.pop("committed_values"),
    lambda s: s.clear(),
], ids=["body0", "float", "off-by-one", "float-body", "extra-key", "missing-key", "empty"])
def test_sizes_must_be_exact(proof, edit):
    header, body = unpack(proof)
    assert header["sizes"] == {"body_bytes": len(body), "committed_values": header["sizes"]["committed_values"]}
    assert header["sizes"]["committed_values"] > 0
    with pytest.raises(StatementError, match="sizes"):  # old code: the proof still verified
        verify(rewrite(proof, lambda h: edit(h["sizes"])))
    with pytest.raises(StatementError, match="sizes"):
        verify(rewrite(proof, lambda h: h.pop("sizes")))


# ----------------------------------------------------------------- 6. proof files: unbounded, not regular
def run_bounded(*args, timeout=120):
    """The CLI in a subprocess under a 2 GiB address-space limit: a regression that reads
    /dev/zero dies of MemoryError there instead of taking the machine down."""
    import os
    import resource
    import subprocess
    import sys

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    env = dict(os.environ, ZKDL_MSM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "zkdl", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limit, env=env, cwd=os.path.dirname(os.path.dirname(__file__)))


def one_line_rejection(proc, codes=(1, 2)):
    assert proc.returncode in codes, (proc.returncode, proc.stdout, proc.stderr)
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text and "internal error" not in text and "MemoryError" not in text, text
    assert len(proc.stderr.strip().splitlines()) <= 1, proc.stderr


@pytest.fixture
def fifo(tmp_path):
    import os
    path = tmp_path / "pipe.zkdl"
    os.mkfifo(path)
    return path


def test_proof_file_must_be_a_regular_file(fifo):
    from zkdl.prooffile import read_proof_file
    for path in ("/dev/zero", fifo):  # old code: /dev/zero OOM-killed, the FIFO blocked forever
        with pytest.raises(EncodingError, match="not a regular file"):
            read_proof_file(path)
        with pytest.raises(EncodingError, match="not a regular file"):
            zkdl.verify(str(path))
        with pytest.raises(EncodingError, match="not a regular file"):
            zkdl.Proof.load(path)
        for cmd in (["verify", path], ["inspect", path], ["circuit", "emit", "--from-proof", path]):
            proc = run_bounded(*cmd)
            one_line_rejection(proc)
            assert "not a regular file" in proc.stdout + proc.stderr


def test_proof_file_larger_than_the_format_allows(proof, tmp_path):
    from zkdl.prooffile import MAX_BODY, MAX_FILE, read_proof_file
    header, body = unpack(proof)
    hlen = len(canonical_json(header))
    big = tmp_path / "big.zkdl"
    with open(big, "wb") as fh:  # sparse: a valid prefix, then more than header + MAX_BODY
        fh.write(proof[:14])
        fh.truncate(22 + hlen + MAX_BODY + 1)
    with pytest.raises(EncodingError, match="exceeds the proof format's maximum"):
        read_proof_file(big)
    with open(big, "r+b") as fh:  # not a proof at all: bounded by the largest header
        fh.write(b"garbage!")
        fh.truncate(MAX_FILE + 1)
    with pytest.raises(EncodingError, match=f"maximum of {MAX_FILE} bytes"):
        zkdl.verify(str(big))
    proc = run_bounded("verify", big)
    one_line_rejection(proc)
    # an honest file still reads
    ok = tmp_path / "ok.zkdl"
    ok.write_bytes(proof)
    assert read_proof_file(ok) == proof
    assert zkdl.verify(str(ok)).t0 == 0


def test_audit_with_a_proof_that_is_dev_zero_or_a_fifo(claim):
    import os
    m = manifest(claim)
    target = claim / m["proofs"][1]["file"]
    target.unlink()
    os.symlink("/dev/zero", target)  # outside the claim: rejected by its real path, never opened
    report = audit_claim(str(claim), jobs=1)
    assert not report["ok"] and "bad_path" in {f["code"] for f in report["failures"]}
    target.unlink()
    os.mkfifo(target)  # inside the claim, but not a regular file (old code: the audit hung)
    report = audit_claim(str(claim), jobs=1)
    assert not report["ok"]
    assert any(f["code"] == "missing_proof" and "not a regular file" in f["message"] for f in report["failures"])
    proc = run_bounded("audit", claim, "--jobs", 2)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert "not a regular file" in proc.stdout


# ----------------------------------------------------------------- 7. claims: symlinks, duplicates
def record_reads(monkeypatch):
    """Record every path the auditor verifies (and every proof file read in this process)."""
    import zkdl.audit as A
    import zkdl.prooffile as P
    calls, reads = [], []
    real_verify, real_read = A.verify_files, P.read_proof_file

    def spy_verify(paths, jobs):
        calls.append(list(paths))
        return real_verify(paths, 1)

    def spy_read(path):
        reads.append(str(path))
        return real_read(path)
    monkeypatch.setattr(A, "verify_files", spy_verify)
    monkeypatch.setattr(P, "read_proof_file", spy_read)
    return calls, reads


def test_symlink_out_of_the_claim_is_a_bad_path(claim, tmp_path, monkeypatch):
    import os
    m = manifest(claim)
    outside = tmp_path / "outside.zkdl"
    target = claim / m["proofs"][1]["file"]
    shutil.move(target, outside)  # the very proof, but outside the claim directory
    os.symlink(outside, target)
    calls, reads = record_reads(monkeypatch)
    report = audit_claim(str(claim), jobs=1)
    assert [f["code"] for f in report["failures"] if f["location"].startswith("proofs[1]")] == ["bad_path"]
    assert not report["ok"]
    assert all(str(outside) not in p for c in calls for p in c) and str(outside) not in reads
    assert reads  # the reader was the one recorded: the other proof was read through it
    # a symlink inside the claim to a file inside it is fine
    target.unlink()
    shutil.move(outside, claim / "proofs" / "real.zkdl")
    os.symlink("real.zkdl", target)
    assert audit_claim(str(claim), jobs=1)["ok"]


def test_duplicate_entries_verified_once(claim, monkeypatch):
    m = manifest(claim)
    m["proofs"] = [m["proofs"][0]] * 50  # old code: each of the 50 verified before the chain check
    (claim / "manifest.json").write_text(json.dumps(m))
    calls, _ = record_reads(monkeypatch)
    report = audit_claim(str(claim), jobs=1)
    assert calls == [[calls[0][0]]]
    assert not report["ok"] and "duplicate_range" in {f["code"] for f in report["failures"]}
    assert all(r["valid"] and r["digest_ok"] for r in report["proofs"])


@pytest.mark.parametrize("edit, match", [
    (lambda t: t[:-1] + ',"n_samples":64}', "duplicate key 'n_samples'"),
    (lambda t: t.replace('"zk":', '"zz":NaN,"zk":', 1), "NaN"),
    (lambda t: t.replace('"zk":', '"zz":-Infinity,"zk":', 1), "-Infinity"),
    (lambda t: t.replace('"zk":', '"zz":' + "9" * 5000 + ',"zk":', 1), "an integer with too many digits"),
], ids=["duplicate-key", "nan", "infinity", "long-integer"])
def test_manifest_must_be_standard_json(claim, edit, match):
    m = manifest(claim)
    m["n_samples"] = 63
    text = json.dumps(m, separators=(",", ":"))
    (claim / "manifest.json").write_text(edit(text))
    with pytest.raises(ClaimError, match=match) as info:  # old code: last key won, the claim audited clean
        load_manifest(str(claim))
    assert "set_int_max_str_digits" not in str(info.value)
    res = invoke("audit", claim, "--jobs", 1)
    one_line_error(res, 2)
    assert "set_int_max_str_digits" not in output(res)
