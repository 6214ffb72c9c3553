"""Distributed proving and auditing on a local Ray instance with 2 worker CPUs
(zkdl.distributed; `zkdl prove --ray`, `zkdl audit --ray`, `zkdl.prove(executor="ray")`).
Marked slow (.ci/run runs them in a step of their own: `pytest -m slow tests/test_distributed.py`).

Skipped (with the reason shown by -ra) where Ray is not installed: `pip install -e '.[distributed]'`.
One local Ray instance per test process (module fixture; an xdist worker that runs
tests of this module starts its own, in its own temporary directory)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'zkdl[distributed]')")
pytestmark = pytest.mark.slow   # about 1.5 min on 2 cores: its own step in .ci/run

import zkdl  # noqa: E402
from zkdl.blinds import seed_path  # noqa: E402
from zkdl.prooffile import unpack  # noqa: E402

from test_cli import SMALL, invoke, output  # noqa: E402

STEPS = 3


@pytest.fixture(scope="module")
def cluster():
    tmp = tempfile.mkdtemp(prefix="zr", dir="/tmp")   # short: Ray's socket paths must stay under 107 bytes
    ray.init(address="local", num_cpus=2, include_dashboard=False, _temp_dir=tmp, log_to_driver=False,
             logging_level="ERROR")
    try:
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist") / "rec"
    res = invoke("train", "--out", out, "--steps", STEPS, "--no-prove", *SMALL)
    assert res.exit_code == 0, output(res)
    return out


def copy_of(recorded, path, seed_from=None):
    shutil.copytree(recorded, path)
    if seed_from is not None:   # the same run seed: the same statement blinds
        os.makedirs(path / "secrets", exist_ok=True)
        shutil.copy2(seed_path(str(seed_from)), seed_path(str(path)))
    return path


def proof_files(out):
    return sorted(os.path.join(out, "proofs", n) for n in os.listdir(os.path.join(out, "proofs")))


def statements(out):
    return [{k: h[k] for k in ("config", "circuit_digest", "statement", "zk", "range")}
            for h in (unpack(open(p, "rb").read())[0] for p in proof_files(out))]


def no_partial_files(out):
    for d in ("proofs", "secrets", "."):
        names = os.listdir(os.path.join(out, d))
        assert not [n for n in names if n.startswith(".tmp-")], names
    stems = {n[:-5] for n in os.listdir(os.path.join(out, "proofs"))}
    assert stems == {n[:-5] for n in os.listdir(os.path.join(out, "secrets")) if n.endswith(".json")}


def test_ray_prove_matches_sequential_and_audits(cluster, recorded, tmp_path):
    seq = copy_of(recorded, tmp_path / "seq")
    res = invoke("prove", seq)
    assert res.exit_code == 0, output(res)
    dist = copy_of(recorded, tmp_path / "dist", seed_from=seq)
    res = invoke("prove", dist, "--ray")
    assert res.exit_code == 0, output(res)
    assert "as Ray tasks on a local Ray instance" in output(res)
    pids = {int(p) for p in re.findall(r"worker pid (\d+);", output(res))}
    assert 1 <= len(pids) <= 2, output(res)   # the windows were proven by the (at most 2) Ray workers
    assert len(proof_files(dist)) == STEPS
    assert statements(dist) == statements(seq)          # the same commitments, flags and digests
    assert [open(p, "rb").read() for p in proof_files(dist)] != [open(p, "rb").read() for p in proof_files(seq)]
    no_partial_files(dist)
    res = invoke("verify", *proof_files(dist), "--chain")
    assert res.exit_code == 0 and f"{STEPS} of {STEPS} proof(s) valid; chain proves" in res.stdout, output(res)
    res = invoke("audit", dist, "--json", "--ray", "local")
    assert res.exit_code == 0, output(res)
    rep = json.loads(res.stdout)
    assert rep["ok"] and rep["failures"] == [] and len(rep["proofs"]) == STEPS and rep["timing"]["ray"] == "local"
    # a tampered file: Ray's audit rejects it like the local one
    bad = proof_files(dist)[1].replace(str(dist), str(dist / "claim"))
    data = bytearray(open(bad, "rb").read())
    data[-40] ^= 1
    open(bad, "wb").write(bytes(data))
    res = invoke("audit", dist, "--ray")
    assert res.exit_code == 1 and "INVALID" in output(res).upper(), output(res)


def _prove_task_pids():
    """Worker processes of this test process's Ray instance (children of its raylet)
    executing a window now (Ray titles them ray::<task name>)."""
    raylet = ray._private.worker._global_node.all_processes["raylet"][0].process.pid
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    title = fh.read()
                with open(f"/proc/{pid}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if title.startswith(b"ray::zkdl_prove_window") and ppid == raylet:
                found.append(int(pid))
    return found


def test_worker_killed_mid_window_is_retried_and_resume_reuses(cluster, recorded, tmp_path):
    out = copy_of(recorded, tmp_path / "killed")
    result = {}
    th = threading.Thread(target=lambda: result.setdefault("res", invoke("prove", out, "--ray")))
    th.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and th.is_alive() and time.monotonic() < deadline:
        pids = _prove_task_pids()
        if pids and not os.listdir(out / "proofs"):
            time.sleep(0.5)                    # well inside the window's proof
            if not os.listdir(out / "proofs"):
                os.kill(pids[0], signal.SIGKILL)
                killed = pids[0]
        time.sleep(0.05)
    th.join(300)
    assert killed is not None, "no window task was seen running"
    res = result["res"]
    assert res.exit_code == 0, output(res)
    assert f"(worker pid {killed};" not in output(res)   # every window was finished by a live worker
    assert len(proof_files(out)) == STEPS
    no_partial_files(out)
    res = invoke("audit", out, "--ray")
    assert res.exit_code == 0, output(res)

    # a crash that left only the middle window: the rerun reuses it byte for byte and proves the rest
    for stem in ("steps_000000-000001", "steps_000002-000003"):
        os.unlink(out / "proofs" / f"{stem}.zkdl")
        os.unlink(out / "secrets" / f"{stem}.json")
    kept = {p: open(p, "rb").read() for p in proof_files(out)}
    res = invoke("prove", out, "--backend", "cuda", "--ray")   # this instance has no GPU: cpu, with a note
    assert res.exit_code == 0, output(res)
    assert "the Ray cluster has no GPU" in res.stderr
    assert output(res).count("already proven, reusing") == 1
    assert "proving 2 window(s) as Ray tasks" in output(res)
    assert all(open(p, "rb").read() == b for p, b in kept.items())
    res = invoke("verify", *proof_files(out), "--chain")
    assert res.exit_code == 0, output(res)
    res = invoke("audit", out, "--ray")
    assert res.exit_code == 0, output(res)


def test_api_executor_ray_gives_the_sequential_statements(cluster, recorded):
    run = zkdl.Run.load(recorded / "run")
    seed = bytes(range(32))
    a = zkdl.prove(run, steps=(0, 3), executor="ray", window=2, run_seed=seed, prove_loss=True)
    b = zkdl.prove(run, steps=(0, 3), executor="sequential", window=2, run_seed=seed, prove_loss=True)
    assert [p.steps for p in a] == [(0, 2), (2, 1)]
    assert [unpack(p.data)[0]["statement"] for p in a] == [unpack(p.data)[0]["statement"] for p in b]
    assert [p.secrets for p in a] == [p.secrets for p in b]
    assert ray.is_initialized()   # the caller's connection is kept
