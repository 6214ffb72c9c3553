"""Progress output (issue 18): plain lines when stderr is not a terminal or with --quiet,
live rich bars on a terminal, the prover's progress callback off by default and
without effect on the proof bytes, and the verifier pool's progress callback."""

from __future__ import annotations

import io
import json
import random

import pytest

from zkdl import rundir
from zkdl.cli_common import Progress


def test_plain_progress_draws_no_bar(capsys):
    say = Progress(quiet=False, live=False)
    bar = say.bar("training", total=3, unit="steps")
    bar.update(completed=1, eta=2.0)
    bar.advance()
    bar.done()
    say("step 0 (1 of 3): loss 1.0")
    say.close()
    err = capsys.readouterr().err
    assert err == "step 0 (1 of 3): loss 1.0\n"   # the line only: no escape codes, no bar


def test_quiet_prints_nothing(capsys):
    say = Progress(quiet=True, live=True)
    assert not say.live
    say.bar("x", total=1).update(completed=1)
    say("hello")
    assert capsys.readouterr() == ("", "")


def test_not_a_terminal_is_plain(monkeypatch):
    monkeypatch.setattr("zkdl.cli_common._stderr_is_terminal", lambda: False)
    assert Progress(quiet=False).live is False
    monkeypatch.setattr("zkdl.cli_common._stderr_is_terminal", lambda: True)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("ZKDL_PROGRESS", raising=False)
    assert Progress(quiet=False).live is True
    monkeypatch.setenv("ZKDL_PROGRESS", "plain")
    assert Progress(quiet=False).live is False
    monkeypatch.setenv("ZKDL_PROGRESS", "")
    monkeypatch.setenv("TERM", "dumb")
    assert Progress(quiet=False).live is False


def _live(width=120):
    from rich.console import Console
    buf = io.StringIO()
    return Progress(quiet=False, live=True, console=Console(file=buf, force_terminal=True, width=width)), buf


def test_live_bars_and_lines():
    say, buf = _live()
    bar = say.bar("proofs", total=4, unit="windows")
    bar.update(completed=1, description="proof 2/4 (steps 1..1)", eta=12.0)
    say("proof 2/4 (steps 1..1): proving, ETA 12.0s")
    say._rich.refresh()
    bar.done()
    say.close()
    out = buf.getvalue()
    assert "proof 2/4 (steps 1..1): proving, ETA 12.0s" in out   # the plain line, above the bars
    assert "1/4" in out and "windows" in out and "ETA" in out
    assert say._rich is None   # closed: a later close is harmless
    say.close()


def test_phase_tracker_plain_lines_as_before(capsys):
    say = Progress(quiet=False, live=False)
    track = rundir._PhaseTracker(say, ("test-plain", 1), started=0.0)
    for ev, detail in [("check", "witness of steps 0..0"), ("commit", "statement"), ("commit", "h[1]"),
                       ("matmul", "fwd[1]"), ("product", "relu[1]"), ("matmul", "bwd[1]"), ("open", "W[1]")]:
        track(ev, detail)
    track.finish(True)
    lines = capsys.readouterr().err.splitlines()
    # one line per change of event, in the format of the lines before the bars existed
    assert [ln.split()[0] for ln in lines] == ["check", "commit", "matmul", "product", "matmul", "open"]
    assert lines[1].startswith("  commit   statement  [") and lines[1].endswith("s]")


def test_phase_tracker_live_totals_from_the_last_proof_of_the_same_shape():
    say, buf = _live()
    key = ("test-live", 1)
    rundir._PHASE_STATS.pop(key, None)
    events = [("check", "w"), ("witness", "s"), ("commit", "statement"), ("commit", "a"), ("lookup", "T1"),
              ("matmul", "m"), ("product", "p"), ("open", "W")]
    first = rundir._PhaseTracker(say, key, started=0.0)
    assert first.prior == {}
    for ev, d in events:
        first(ev, d)
    first.finish(True)
    assert rundir._PHASE_STATS[key]["commit"][0] == 2 and rundir._PHASE_STATS[key]["reductions"][0] == 2
    second = rundir._PhaseTracker(say, key, started=0.0)
    second("commit", "statement")
    task = say._rich.tasks[-1]
    assert task.total == 2 and task.completed == 1 and task.fields["eta_at"] is not None
    assert "commit" in task.description
    second.finish(False)   # a failed proof does not replace the statistics
    assert rundir._PHASE_STATS[key]["commit"][0] == 2
    third = rundir._PhaseTracker(say, key, started=0.0)
    third("commit", "statement")
    third.finish(True, timed=False)   # the proof that compiled the kernels: its counts, not its times
    assert rundir._PHASE_STATS[key]["commit"] == (1, None)
    fourth = rundir._PhaseTracker(say, key, started=0.0)
    fourth("commit", "statement")
    assert say._rich.tasks[-1].total == 1 and say._rich.tasks[-1].fields["eta_at"] is None
    fourth.finish(False)
    say.close()
    rundir._PHASE_STATS.pop(key, None)


def test_prover_callback_is_optional_and_changes_no_byte():
    import zkdl
    from zkdl.config import TrainConfig
    from zkdl.data import synthetic
    from zkdl.prover.aggregate import prove_window
    data = synthetic(16, 4, 2)
    run = zkdl.train(TrainConfig(width=4, layers=2, batch_size=4), data, 1)
    seen = []
    quiet, _ = prove_window(run, 0, 1, rng=random.Random(5), zk=False)
    loud, _ = prove_window(run, 0, 1, rng=random.Random(5), zk=False, progress=lambda *a: seen.append(a))
    assert quiet == loud
    phases = {rundir.PHASE_OF_EVENT.get(ev) for ev, _ in seen}
    assert {"witness check", "commit", "openings"} <= phases and None not in phases


def test_verify_pool_progress(tmp_path):
    from zkdl.verify_pool import verify_files
    paths = [str(tmp_path / f"missing{i}.zkdl") for i in range(3)]
    for jobs in (1, 2):
        calls = []
        res = verify_files(paths, jobs, progress=lambda d, n: calls.append((d, n)))
        assert [r["missing"] for r in res] == [True] * 3
        assert calls[0] == (0, 3) and calls[-1] == (3, 3) and len(calls) == 4
        assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(verify_files(paths, 1)) == 3   # without a callback: as before


def test_audit_quiet_option(tmp_path):
    from click.testing import CliRunner
    from zkdl.cli import cli
    res = CliRunner().invoke(cli, ["audit", str(tmp_path / "nothing"), "--quiet"])
    assert res.exit_code == 2 and "Traceback" not in (res.output or "")


@pytest.mark.parametrize("args", [["train", "--help"], ["prove", "--help"], ["audit", "--help"]])
def test_quiet_documented(args):
    from click.testing import CliRunner
    from zkdl.cli import cli
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0 and "--quiet" in res.output


def test_train_on_a_terminal_draws_bars_and_keeps_stdout_clean(tmp_path, monkeypatch):
    """`zkdl train` with stderr a terminal: the bars and the usual lines on stderr, the
    report on stdout without a single escape sequence."""
    from click.testing import CliRunner
    from zkdl.cli import cli
    monkeypatch.setattr("zkdl.cli_common._stderr_is_terminal", lambda: True)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("FORCE_COLOR", "1")      # rich: draw as on a terminal into the captured stream
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.delenv("ZKDL_PROGRESS", raising=False)
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    out = tmp_path / "run"
    res = runner.invoke(cli, ["train", "--width", "4", "--layers", "2", "--batch-size", "4", "--data", "synthetic:16",
                              "--steps", "2", "--no-zk", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.stdout and "written to" in res.stdout
    assert "step 1 (2 of 2): loss" in res.stderr and "proof 2/2 (steps 1..1)" in res.stderr
    assert "windows" in res.stderr and "\x1b[" in res.stderr   # the live bars


# ---------------------------------------------------------------- verify and federated runs
def _invoke(*args):
    from click.testing import CliRunner
    from zkdl.cli import cli
    try:
        runner = CliRunner(mix_stderr=False)   # click < 8.2
    except TypeError:
        runner = CliRunner()                   # click >= 8.2: stdout and stderr apart
    return runner.invoke(cli, [str(a) for a in args])


def _terminal(monkeypatch):
    """stderr taken for a terminal: rich draws its bars into the captured stream."""
    monkeypatch.setattr("zkdl.cli_common._stderr_is_terminal", lambda: True)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.delenv("ZKDL_PROGRESS", raising=False)


@pytest.fixture(scope="module")
def chain3(tmp_path_factory):
    """Three chained proofs (PLAIN, the smallest network)."""
    out = tmp_path_factory.mktemp("progress") / "run"
    res = _invoke("train", "--width", "4", "--layers", "2", "--batch-size", "4", "--data", "synthetic:16",
                  "--steps", "3", "--no-zk", "--out", out, "-q")
    assert res.exit_code == 0, res.output
    return sorted(str(p) for p in (out / "proofs").iterdir())


def test_verify_several_files_plain_progress_on_stderr(chain3, tmp_path, monkeypatch):
    monkeypatch.setenv("ZKDL_PROGRESS", "plain")
    res = _invoke("verify", "--chain", *chain3)
    assert res.exit_code == 0, res.output
    err = res.stderr.splitlines()
    lines = [ln for ln in err if ln.startswith("verify ")]
    assert [ln.split(": ")[0:2] for ln in lines] == [[f"verify {i}/3", f] for i, f in enumerate(chain3, 1)
                                                       for _ in range(2)]   # a line as each file starts and ends
    starts = [ln for ln in err if ln.endswith("verifying") or ", ETA " in ln]
    assert [ln.split(":")[0] for ln in starts] == ["verify 1/3", "verify 2/3", "verify 3/3"]
    assert starts[0].endswith(": verifying") and ", ETA " in starts[2]   # steady state: less the first file
    ends = [ln for ln in err if " in " in ln and ln.startswith("verify ")]
    assert len(ends) == 3 and all(": valid in " in ln and ln.endswith("s") for ln in ends)
    assert "verify 1/3" not in res.stdout and res.stdout.count("VALID  ") == 3
    junk = tmp_path / "junk.zkdl"
    junk.write_bytes(b"not a proof")
    res = _invoke("verify", chain3[0], junk)
    assert res.exit_code == 1 and f"verify 2/2: {junk}: INVALID in " in res.stderr, res.stderr
    res = _invoke("verify", chain3[0], tmp_path / "absent.zkdl")
    assert res.exit_code == 2 and "verify 2/2: " in res.stderr and ": cannot read in " in res.stderr


def test_verify_json_keeps_stdout_clean(chain3, monkeypatch):
    monkeypatch.setenv("ZKDL_PROGRESS", "plain")
    res = _invoke("verify", "--json", "--chain", *chain3)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["ok"] is True and doc["chain_statement"]["steps"] == [0, 3]
    assert "verify 3/3: " in res.stderr
    _terminal(monkeypatch)                      # bars on the terminal: stderr only
    res = _invoke("verify", "--json", "--chain", *chain3)
    assert res.exit_code == 0 and json.loads(res.stdout)["ok"] is True
    assert "\x1b" not in res.stdout and "\x1b[" in res.stderr and "proofs" in res.stderr


def test_verify_one_file_and_quiet_print_no_progress(chain3, capsys):
    import click

    from zkdl.cli import verify
    from zkdl.cli_verify import check_files
    res = _invoke("verify", chain3[0])
    assert res.exit_code == 0 and "verify 1/1" not in res.stderr
    assert all(r["ok"] for r in check_files(chain3, None, True, say=Progress(quiet=True)))
    ctx = click.Context(verify)
    ctx.params["quiet"] = True                  # what a --quiet of the command sets
    with ctx:
        assert all(r["ok"] for r in check_files(chain3, None, True))
    assert capsys.readouterr() == ("", "")
    check_files(chain3, None, True, say=Progress(quiet=False, live=False))
    assert capsys.readouterr().err.count(": valid in ") == 3


FED = ["--method", "fedavg", "--method-param", "clients=2,rounds=2,participants=1", "--width", "6", "--layers", "2",
       "--batch-size", "4", "--data", "synthetic:40", "--no-zk"]


def test_federated_train_plain_progress(tmp_path, monkeypatch):
    """A line per client proof and aggregation (proof i/4, a steady-state ETA once the
    proofs so far give one) and the prover's phases, on stderr; the table on stdout."""
    monkeypatch.setenv("ZKDL_PROGRESS", "plain")
    res = _invoke("train", *FED, "--out", tmp_path / "fed")
    assert res.exit_code == 0, res.output
    err = res.stderr
    starts = [ln for ln in err.splitlines() if ": proving " in ln]
    assert [ln.split(" (proof ")[1][:3] for ln in starts] == ["1/4", "2/4", "3/4", "4/4"]
    assert starts[0].startswith("round 0: client ") and starts[1].startswith("round 0: proving the aggregation")
    assert ", ETA " in starts[3]      # both kinds timed by then
    assert "aggregation of 2 inputs proved in" in err and "  commit   statement" in err   # a phase line
    assert "proof 1/4" not in res.stdout and "federated run (fedavg)" in res.stdout and "\x1b" not in err


def test_federated_train_quiet_and_on_a_terminal(tmp_path, monkeypatch):
    res = _invoke("train", *FED, "--out", tmp_path / "q", "--quiet")
    assert res.exit_code == 0 and res.stderr == "" and res.stdout.strip() == str(tmp_path / "q"), res.output
    _terminal(monkeypatch)
    res = _invoke("train", *FED, "--out", tmp_path / "t")
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.stdout and "audit with:" in res.stdout
    assert "\x1b[" in res.stderr and "rounds" in res.stderr and "proofs" in res.stderr   # the live bars
    assert "round 1: proving the aggregation" in res.stderr                              # the lines above them


def test_federated_api_progress_and_audit_progress(tmp_path):
    """The Python API's progress callable gets the lines (no phases); the federated audit's
    progress(done, total) is called as the proofs are verified."""
    from zkdl.config import TrainConfig
    from zkdl.data import synthetic
    from zkdl.federated_audit import audit_federated
    from zkdl.federated_sim import train_federated
    lines = []
    train_federated(TrainConfig(width=6, layers=2, batch_size=4), synthetic(40, 16, 4), str(tmp_path / "f"),
                    params={"clients": 2, "rounds": 2, "participants": 1}, zk=False, progress=lines.append)
    assert sum(": proving " in ln for ln in lines) == 4 and not any(ln.startswith("  ") for ln in lines)
    for jobs in (1, 2):
        calls = []
        rep = audit_federated(str(tmp_path / "f" / "claim"), jobs=jobs, progress=lambda d, n: calls.append((d, n)))
        assert rep["ok"], rep["failures"]
        assert calls[0] == (0, 4) and calls[-1] == (4, 4) and len(calls) == 5


def test_verify_quiet_flag(chain3, monkeypatch):
    monkeypatch.setenv("ZKDL_PROGRESS", "plain")
    res = _invoke("verify", "--chain", "--quiet", *chain3)
    assert res.exit_code == 0 and res.stdout.count("VALID  ") == 3 and "verify 1/3" not in res.stderr, res.output
    res = _invoke("verify", "--json", "-q", "--chain", *chain3)
    assert res.exit_code == 0 and json.loads(res.stdout)["ok"] is True and res.stderr == ""


def test_federated_audit_bar_on_a_terminal(tmp_path, monkeypatch):
    res = _invoke("train", *FED, "--out", tmp_path / "fed", "-q")
    assert res.exit_code == 0, res.output
    _terminal(monkeypatch)
    res = _invoke("audit", tmp_path / "fed", "--jobs", "1")
    assert res.exit_code == 0 and "HOLDS" in res.stdout and "\x1b" not in res.stdout, res.output
    assert "4/4" in res.stderr and "proofs" in res.stderr
