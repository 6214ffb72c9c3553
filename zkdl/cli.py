"""The ``zkdl`` command line: train, prove, verify, inspect, claim, audit, export-model,
circuit emit.

Exit codes: 0 success; 1 a proof was rejected (or proving/training failed on its
input); 2 bad usage or unreadable input; 70 internal error (rerun with ``--debug``
for the traceback); 130 interrupted. User errors never print a traceback.

Output directory of ``zkdl train`` (see docs/FORMAT.md)::

    run/                              the recorded run (zkdl.Run.save layout)
    proofs/steps_<t0>-<t1>.zkdl       one proof per window (t1 exclusive, 6 digits)
    secrets/steps_<t0>-<t1>.json      commitment blinds to chain the next window (0600)
    summary.json                      config digest, training metrics, proof list
    claim/                            manifest.json + copies of the proofs (`zkdl audit`)
    model.npz                         after `zkdl export-model`: final weights + their opening

Heavy modules (numpy, numba, the prover) are imported inside the commands, so
``zkdl verify`` and ``zkdl inspect`` stay light.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

import click

from zkdl import __version__
from zkdl.errors import ConfigError, DataError, VerificationError, ZkdlError

SUMMARY_FORMAT = "zkdl-run-summary/v1"
DEFAULT_OUT = "zkdl-run"
DEFAULT_STEPS = 4
OUTPUT_ENTRIES = {"run", "proofs", "secrets", "summary.json", "claim", "model.npz"}

EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


# ============================================================================ plumbing
class _Fail(click.ClickException):
    """A user-facing failure with a chosen exit code (message printed as 'error: ...')."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.exit_code = code

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _exit_code_for(exc: BaseException) -> int:
    from zkdl.circuits.ir import CircuitError
    if isinstance(exc, VerificationError):
        return EXIT_REJECTED
    if isinstance(exc, (ConfigError, DataError, CircuitError, OSError)):
        return EXIT_USAGE
    return 1


class ZkdlGroup(click.Group):
    """Maps every failure to a message and an exit code (see module docstring)."""

    def invoke(self, ctx):
        debug = bool(ctx.params.get("debug")) or "--debug" in sys.argv[1:2]
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("\ninterrupted: stopped (temporary files removed; nothing half-written left behind)", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:  # noqa: BLE001 - the one place that turns errors into messages
            if debug:
                raise
            if _is_user_error(exc):
                msg = str(exc).strip() or type(exc).__name__
                lines = msg.splitlines()
                click.echo(f"error: {lines[0]}", err=True)
                for line in lines[1:]:  # a witness failure lists the relations it broke
                    click.echo(f"  {line.strip()}", err=True)
                raise click.exceptions.Exit(_exit_code_for(exc)) from None
            click.echo(f"internal error: {type(exc).__name__}: {_first_line(exc)}", err=True)
            click.echo("  this is a bug in zkdl; rerun with `zkdl --debug ...` for the traceback and report it",
                       err=True)
            raise click.exceptions.Exit(EXIT_INTERNAL) from None


def _is_user_error(exc: BaseException) -> bool:
    if isinstance(exc, (ZkdlError, OSError)):
        return True
    try:
        from zkdl.prover.aggregate import WitnessError
    except Exception:  # noqa: BLE001 - the prover may be unavailable (verifier-only install)
        return False
    return isinstance(exc, WitnessError)


class _Progress:
    """Progress lines on stderr (suppressed by --quiet)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.start = time.monotonic()

    def __call__(self, msg: str) -> None:
        if not self.quiet:
            click.echo(msg, err=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def first_proof_notice(self) -> None:
        """Before the first proof of this process: say that numba compiles the prover
        kernels (40-90 s on a cold cache), so that the silence is explained."""
        global _PROVED_IN_PROCESS
        if _PROVED_IN_PROCESS:
            return
        _PROVED_IN_PROCESS = True
        warm = _kernel_cache_warm()
        if warm is False:
            self("compiling kernels (first run only; this takes a minute or two) ...")
        elif warm is True:
            self("first proof of this process: loading compiled kernels (recompiling any that changed) ...")
        else:
            self("first proof of this process: compiling kernels if not cached ...")


_PROVED_IN_PROCESS = False  # set before the first proof of this process (it includes numba compile time)


def _kernel_cache_warm() -> bool | None:
    """Whether numba's on-disk cache holds the prover kernels (index files next to their
    modules); None when it cannot tell (NUMBA_CACHE_DIR set elsewhere, modules not found)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    import importlib.util
    found = None
    for mod in ("zkdl.field.kernels", "zkdl.prover.kernels"):
        try:
            spec = importlib.util.find_spec(mod)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.origin:
            return None
        d = os.path.join(os.path.dirname(spec.origin), "__pycache__")
        stem = os.path.splitext(os.path.basename(spec.origin))[0] + "."
        try:
            has = any(n.startswith(stem) and n.endswith(".nbi") for n in os.listdir(d))
        except OSError:
            has = False
        found = has if found is None else (found and has)
    return found


def _proof_eta(durations: list[float], remaining: int, first_compiles: bool) -> float | None:
    """Seconds left for ``remaining`` proofs, from the durations of the proofs made so far.
    When the first of them includes the kernels' compile time (``first_compiles``) it is
    left out; None when no duration is usable yet."""
    if remaining <= 0:
        return 0.0
    usable = durations[1:] if first_compiles else durations
    if not usable:
        return None
    return sum(usable) / len(usable) * remaining


def _fmt_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f}s"
    m, s = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def _fmt_bytes(n: int) -> str:
    for unit, k in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n} B"


def window_name(t0: int, t1: int) -> str:
    """File stem of the proof of steps t0..t1-1 (t1 exclusive)."""
    return f"steps_{t0:06d}-{t1:06d}"


def _write_json(path: str, obj, mode: int = 0o644) -> None:
    from zkdl.api import atomic_write
    atomic_write(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode(), mode)


# ============================================================================ options
def _config_options(f):
    opts = [
        click.option("--width", type=click.IntRange(min=1), default=None,
                     help="Hidden width of every hidden layer [default: 32]."),
        click.option("--layers", type=click.IntRange(min=1), default=None,
                     help="Number of linear layers [default: 8]."),
        click.option("--batch-size", "--batch", "batch_size", type=click.IntRange(min=1), default=None,
                     help="Batch size B [default: 32]."),
        click.option("--lr-num", type=int, default=None, help="Learning rate numerator a (eta = a / 2^k) [default: 1]."),
        click.option("--lr-shift", type=int, default=None, help="Learning rate shift k (eta = a / 2^k) [default: 9]."),
        click.option("--lr", "lr", default=None, metavar="ETA",
                     help="Learning rate as a / 2^k: '1/512', '3/2^10' or a decimal such as 0.001953125 "
                          "(must be exact in binary); alternative to --lr-num/--lr-shift."),
        click.option("--R", "R", type=int, default=None, help="Fractional bits of the fixed-point values [default: 16]."),
        click.option("--Q", "Q", type=int, default=None, help="Signed bit bound of the values [default: 32]."),
        click.option("--update-bits", "update_bits", type=int, default=None,
                     help="Signed bit bound of the weight updates dW, at most Q [default: 16]."),
        click.option("--seed", type=click.IntRange(min=0), default=None,
                     help="Seed of the initial weights and of the batch schedule [default: 0]."),
        click.option("--data", "data_spec", default="synthetic", show_default=True,
                     help="'synthetic' (built in; 'synthetic:N' for N samples), 'digits' "
                          "(needs scikit-learn), or a path to a .npz (arrays X, y) or .csv file."),
        click.option("--label-column", default="label", show_default=True,
                     help="Label column of a .csv data file."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _anchor_options(f):
    opts = [
        click.option("--public-data", is_flag=True,
                     help="Commit the dataset deterministically (no blinds) so that anyone holding the data "
                          "file can check it (`zkdl audit --data`). Use only for public data."),
        click.option("--public-init", is_flag=True,
                     help="Commit W[0] deterministically: the public initialization from the seed, which an "
                          "auditor recomputes."),
        click.option("--prove-loss", is_flag=True,
                     help="Make each step's training loss a public output of the proofs, and prove it."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _publish_metrics_option(f):
    return click.option("--publish-metrics", is_flag=True,
                        help="Put the reported per-step training loss and batch accuracy (NOT proven) into the "
                             "claim's manifest. Off by default: they depend on the private data and weights. "
                             "Proven losses (--prove-loss) are always in the claim.")(f)


def parse_lr(text: str) -> tuple[int, int]:
    """'a/2^k', 'a/N' (N a power of two) or an exact binary decimal -> (a, k)."""
    from fractions import Fraction
    t = text.strip().replace(" ", "")
    try:
        if "/2^" in t:
            a, k = t.split("/2^")
            frac = Fraction(int(a), 1 << int(k))
        else:
            frac = Fraction(t)
    except (ValueError, ZeroDivisionError, OverflowError):
        raise click.BadParameter(f"{text!r} is not a learning rate like 1/512, 3/2^10 or 0.001953125",
                                 param_hint="--lr") from None
    den = frac.denominator
    if frac <= 0 or den & (den - 1) or den.bit_length() - 1 > 62:
        raise click.BadParameter(f"{text!r}: the learning rate must be a positive a / 2^k (k <= 62)",
                                 param_hint="--lr")
    return frac.numerator, den.bit_length() - 1


def _make_config(width, layers, batch_size, lr_num, lr_shift, R, Q, seed, steps=None, lr=None, update_bits=None):
    from zkdl.config import TrainConfig
    if lr is not None:
        if lr_num is not None or lr_shift is not None:
            raise click.BadParameter("give either --lr or --lr-num/--lr-shift, not both", param_hint="--lr")
        lr_num, lr_shift = parse_lr(lr)
    kw = {}
    for name, v in (("width", width), ("layers", layers), ("batch_size", batch_size), ("lr_num", lr_num),
                    ("lr_shift", lr_shift), ("R", R), ("Q", Q), ("update_bits", update_bits), ("steps", steps)):
        if v is not None:
            kw[name] = v
    if seed is not None:
        kw["init_seed"] = kw["batch_seed"] = seed
    return TrainConfig(**kw)


def _load_data(spec: str, label_column: str, R: int):
    from zkdl import data as D
    return D.load_spec(spec, label_column, R=R)


# ============================================================================ proving
def _proof_path(out: str, t0: int, t1: int) -> tuple[str, str]:
    stem = window_name(t0, t1)
    return os.path.join(out, "proofs", stem + ".zkdl"), os.path.join(out, "secrets", stem + ".json")


def _rel(path: str, base: str) -> str:
    return os.path.relpath(path, base).replace(os.sep, "/")


def _proof_entry(proof, path: str, spath: str, base: str, seconds: float | None) -> dict:
    h = proof.header
    st = h["statement"]
    return {
        "file": _rel(path, base),
        "secrets": _rel(spath, base),
        "steps": st["steps"],
        "zk": h.get("zk"),
        "circuit_digest": h.get("circuit_digest"),
        "dataset_digest": st["dataset_digest"],
        "initial_weights_digest": st["initial_weights_digest"],
        "final_weights_digest": st["final_weights_digest"],
        "initial_weights_range_checked": st["initial_weights_range_checked"],
        "dataset_range_checked": st["dataset_range_checked"],
        "dataset_public": st.get("dataset_public", False),
        "initial_weights_public": st.get("initial_weights_public", False),
        "losses": st.get("losses"),
        "bytes": len(proof.data),
        "prove_seconds": None if seconds is None else round(seconds, 3),
    }


def _summary_base(run) -> dict:
    return {
        "format": SUMMARY_FORMAT,
        "zkdl_version": __version__,
        "config": run.config.to_dict(),
        "config_digest": run.config.digest(),
        "data": {"name": run.data.name, "digest": run.data.digest(), "n_samples": int(run.data.n_samples)},
        "run": None,
        "n_steps": run.n_steps,
        "training": [{"t": t, "loss": run.losses[t], "accuracy": run.accuracies[t]} for t in range(run.n_steps)],
        "proofs": [],
        "complete": False,
    }


def _find_chain_start(out: str, t0: int):
    """The saved proof (with secrets) that ends at step t0, or None."""
    from zkdl.api import Proof
    pdir = os.path.join(out, "proofs")
    if not os.path.isdir(pdir):
        return None
    suffix = f"-{t0:06d}.zkdl"
    for name in sorted(os.listdir(pdir)):
        if name.startswith("steps_") and name.endswith(suffix):
            spath = os.path.join(out, "secrets", name[:-len(".zkdl")] + ".json")
            if os.path.exists(spath):
                return Proof.load(os.path.join(pdir, name), spath)
    return None


def _prove_windows(run, out: str, t_start: int, t_end: int, window: int, *, backend: str, threads,
                   say: _Progress, summary: dict, reuse: bool, chain=None, zk: bool = True,
                   anchors: dict | None = None) -> list[dict]:
    """Prove steps t_start..t_end-1 of ``run`` in windows of ``window`` steps, chaining,
    into ``out``/proofs and ``out``/secrets; ``summary`` (written after each proof)
    collects the entries. ``anchors``: public_data / public_init / prove_loss flags
    (public_init applies to the window starting at step 0 only). Returns the entries of this call."""
    import zkdl
    from zkdl.api import Proof, resolve_backend

    backend = resolve_backend(backend, warn=lambda msg: click.echo(f"note: {msg}", err=True))
    os.makedirs(os.path.join(out, "proofs"), exist_ok=True)
    sdir = os.path.join(out, "secrets")
    os.makedirs(sdir, exist_ok=True)
    os.chmod(sdir, 0o700)
    windows = [(t, min(t + window, t_end)) for t in range(t_start, t_end, window)]
    if chain is None and t_start > 0:
        chain = _find_chain_start(out, t_start)
        if chain is None:
            say(f"note: no saved proof ends at step {t_start}; the proof of steps {t_start}.. starts a new chain "
                f"(it range-checks W[{t_start}] itself)")
    entries = []
    durations: list[float] = []  # seconds of each proof made by this call
    first_compiles = not _PROVED_IN_PROCESS  # the first proof of the process includes numba compile time
    for i, (t0, t1) in enumerate(windows):
        path, spath = _proof_path(out, t0, t1)
        tag = f"proof {i + 1}/{len(windows)} (steps {t0}..{t1 - 1})"
        if reuse and os.path.exists(path) and os.path.exists(spath):
            proof = Proof.load(path, spath)
            h = proof.header
            if h.get("config") == run.config.to_dict() and h["statement"]["steps"] == [t0, t1]:
                say(f"{tag}: already proven, reusing {_rel(path, out)} (use --force to prove again)")
                st = h["statement"]
                for flag, key, want in (("--public-data", "dataset_public", anchors and anchors.get("public_data")),
                                        ("--public-init", "initial_weights_public",
                                         anchors and anchors.get("public_init") and t0 == 0),
                                        ("--prove-loss", "losses", anchors and anchors.get("prove_loss"))):
                    if want and not st.get(key):
                        click.echo(f"note: the reused proof of steps {t0}..{t1 - 1} was made without {flag}; "
                                   f"use --force to prove it again with it", err=True)
                entry = _proof_entry(proof, path, spath, out, None)
                old = [e for e in summary["proofs"] if e["file"] == entry["file"]]
                if old and old[0].get("prove_seconds") is not None:
                    entry["prove_seconds"] = old[0]["prove_seconds"]
                _record(summary, entry, out)
                entries.append(entry)
                chain = proof
                continue
            raise ConfigError(f"{path} exists but is not a proof of this run's steps {t0}..{t1 - 1}; "
                              f"remove it or pass --force")
        left = _proof_eta(durations, len(windows) - i, first_compiles) if durations else None
        eta = "" if left is None else f", ETA {_fmt_seconds(left)}"
        say.first_proof_notice()
        say(f"{tag}: proving{eta}")
        started = time.monotonic()
        state = {"phase": None}

        def on_phase(phase, detail, _state=state, _started=started):
            if phase != _state["phase"]:
                _state["phase"] = phase
                say(f"  {phase:<8} {detail}  [{time.monotonic() - _started:.1f}s]")

        opts = dict(anchors or {})
        opts["public_init"] = bool(opts.get("public_init")) and t0 == 0 and chain is None
        proof = zkdl.prove(run, steps=(t0, t1 - t0), backend=backend, chain=chain, threads=threads,
                           progress=on_phase, zk=zk, **opts)
        seconds = time.monotonic() - started
        proof.save_secrets(spath)
        proof.save(path)
        durations.append(seconds)
        entry = _proof_entry(proof, path, spath, out, seconds)
        _record(summary, entry, out)
        entries.append(entry)
        say(f"{tag}: {_rel(path, out)}  {_fmt_bytes(len(proof.data))}  proved in {_fmt_seconds(seconds)}"
            + ("  [PLAIN mode: not zero-knowledge]" if proof.header.get("zk") is False else ""))
        chain = proof
    return entries


def _record(summary: dict, entry: dict, out: str) -> None:
    summary["proofs"] = [e for e in summary["proofs"] if e["file"] != entry["file"]] + [entry]
    summary["proofs"].sort(key=lambda e: (e["steps"][0], e["steps"][1]))
    _write_json(os.path.join(out, "summary.json"), summary)


def _print_report(run, entries: list[dict], out_shown: str, quiet: bool) -> None:
    echo = click.echo
    if quiet:
        echo(out_shown)
        return
    if run.n_steps:
        echo(f"trained {run.n_steps} steps: loss {run.losses[0]:.4f} -> {run.losses[-1]:.4f}, "
             f"batch accuracy {run.accuracies[0]:.3f} -> {run.accuracies[-1]:.3f}")
        echo(f"  {'step':>6}  {'loss':>10}  {'accuracy':>8}")
        shown = list(range(run.n_steps)) if run.n_steps <= 12 else \
            list(range(5)) + [None] + list(range(run.n_steps - 5, run.n_steps))
        for t in shown:
            if t is None:
                echo(f"  {'...':>6}")
            else:
                echo(f"  {t:>6}  {run.losses[t]:>10.4f}  {run.accuracies[t]:>8.3f}")
    if entries:
        w = max(len(e["file"]) for e in entries)
        echo(f"proofs ({len(entries)}):")
        echo(f"  {'file':<{w}}  {'steps':>11}  {'size':>10}  {'prove':>8}")
        for e in entries:
            t0, t1 = e["steps"]
            sec = "-" if e["prove_seconds"] is None else _fmt_seconds(e["prove_seconds"])
            echo(f"  {e['file']:<{w}}  {f'{t0}..{t1 - 1}':>11}  {_fmt_bytes(e['bytes']):>10}  {sec:>8}")
        total = sum(e["prove_seconds"] or 0 for e in entries)
        echo(f"  total {_fmt_bytes(sum(e['bytes'] for e in entries))}, {_fmt_seconds(total)} proving")
        if any(e["zk"] is False for e in entries):
            echo("  mode: PLAIN (not zero-knowledge): the proofs do not hide the data or the weights")
        echo("verify with:")
        echo(f"  zkdl verify {os.path.join(out_shown, 'proofs', '*.zkdl')} --chain")
        if os.path.isdir(os.path.join(out_shown, "claim")):
            echo(f"  zkdl audit {os.path.join(out_shown, 'claim')}      (the public claim: manifest + proofs)")
        else:
            echo(f"build a claim to hand to an auditor with:\n  zkdl claim {out_shown}")
    echo(f"written to {out_shown}/")


# ============================================================================ commands
@click.group(cls=ZkdlGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="zkdl")
@click.option("--debug", is_flag=True, help="Show the full traceback of internal errors (and all errors).")
@click.pass_context
def cli(ctx, debug):
    """zkdl: zero-knowledge proofs of neural-network training.

    Train a quantized MLP with exact integer SGD, prove every training step (one proof
    per window of steps, chained by weight commitments), and verify the proofs
    independently. Start with `zkdl train` (an embedded default run) and then
    `zkdl verify zkdl-run/proofs/*.zkdl --chain`.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _check_out_dir(out: str, force: bool) -> bool:
    """Refuse a non-empty ``out`` unless --force and it only holds zkdl outputs.
    Returns True when ``out`` exists and must be replaced at the end."""
    if not os.path.exists(out):
        return False
    if not os.path.isdir(out):
        raise _Fail(f"--out {out}: exists and is not a directory", EXIT_USAGE)
    entries = set(os.listdir(out))
    if not entries:
        return True
    if not force:
        raise _Fail(f"output directory {out} already exists and is not empty; "
                    f"pass --force to replace it, or choose another --out", EXIT_USAGE)
    foreign = sorted(e for e in entries if e not in OUTPUT_ENTRIES)
    if foreign:
        raise _Fail(f"--force: {out} holds files that zkdl did not write ({', '.join(foreign[:5])}); "
                    f"refusing to delete them", EXIT_USAGE)
    return True


def _staging_dir(out: str) -> str:
    import tempfile
    parent = os.path.dirname(os.path.abspath(out)) or "."
    os.makedirs(parent, exist_ok=True)
    d = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(out))}.partial-", dir=parent)
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(d, 0o777 & ~umask)  # mkdtemp makes it 0700; the output directory is an ordinary one
    return d


def _install(staging: str, out: str, replace: bool) -> None:
    """Move the finished staging directory to ``out`` (replacing the old one last)."""
    old = None
    if replace and os.path.exists(out):
        if os.listdir(out):
            old = staging.replace(".partial-", ".old-")
            os.rename(out, old)
        else:
            os.rmdir(out)
    os.rename(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@cli.command()
@click.option("--out", "-o", default=DEFAULT_OUT, show_default=True, help="Output directory.")
@click.option("--steps", type=click.IntRange(min=1), default=DEFAULT_STEPS, show_default=True,
              help="Training steps (batches).")
@click.option("--window", "--aggregate", "window", type=click.IntRange(min=1), default=1, show_default=True,
              help="Steps per proof (T); 1 = one proof per batch.")
@_config_options
@click.option("--no-prove", is_flag=True, help="Train and record only; prove later with `zkdl prove`.")
@click.option("--backend", type=click.Choice(["cpu", "cuda", "reference"]), default="cpu", show_default=True,
              help="Prover backend (cuda: NVIDIA GPU through CuPy, falls back to cpu with a note where "
                   "unavailable; reference: pure-Python oracle, tiny sizes only).")
@click.option("--no-zk", is_flag=True, help="Plain mode (NOT zero-knowledge; labelled as such): debugging, speed "
              "comparisons.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Prover threads [default: all cores].")
@click.option("--force", is_flag=True, help="Replace an existing output directory (only zkdl outputs in it).")
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --out: train the missing steps and "
              "prove the missing windows (options not given are taken from it; those given must match).")
@_anchor_options
@_publish_metrics_option
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr; print only the output directory.")
def train(out, steps, window, width, layers, batch_size, lr_num, lr_shift, lr, R, Q, seed, data_spec, label_column,
          no_prove, backend, no_zk, threads, force, public_data, public_init, prove_loss, publish_metrics, quiet,
          update_bits=None, resume=False):
    """Train an MLP with exact integer SGD, record every step and prove it.

    With no options this runs the embedded default: an 8-layer, width-32 ReLU MLP
    (TrainConfig defaults) on the built-in synthetic data, 4 steps of batch 32, one
    proof per batch, chained, written to ./zkdl-run/ (run/, proofs/, secrets/,
    summary.json). Progress goes to stderr, the final table to stdout. The output
    directory appears only when everything succeeded, or after Ctrl-C: then it holds
    the finished steps and proofs (summary.json "complete": false), and
    `zkdl train --resume --out OUT` continues the run (options not given are taken
    from OUT; options given must match it).
    """
    say = _Progress(quiet)
    anchors = dict(public_data=public_data, public_init=public_init, prove_loss=prove_loss)
    if resume:
        if force:
            raise _Fail("--resume continues OUT, --force replaces it: give one of them", EXIT_USAGE)
        cfg, data, opts = _resume_settings(click.get_current_context(), out, dict(
            width=width, layers=layers, batch_size=batch_size, lr_num=lr_num, lr_shift=lr_shift, lr=lr, R=R, Q=Q,
            update_bits=update_bits, seed=seed, steps=steps, data_spec=data_spec, label_column=label_column,
            window=window, no_zk=no_zk, publish_metrics=publish_metrics, **anchors))
        window, no_zk, publish_metrics = opts["window"], opts["no_zk"], opts["publish_metrics"]
        anchors = {k: opts[k] for k in anchors}
        replace = True
    else:
        cfg = _make_config(width, layers, batch_size, lr_num, lr_shift, R, Q, seed, steps, lr, update_bits)
        replace = _check_out_dir(out, force)
    if not no_prove:  # an unavailable backend is reported before training, not after
        from zkdl.api import resolve_backend
        backend = resolve_backend(backend, warn=lambda msg: click.echo(f"note: {msg}", err=True))
    if not resume:
        data = _load_data(data_spec, label_column, cfg.R)
        cfg = cfg.for_data(data)
    steps = cfg.steps
    import zkdl
    say(f"zkdl {__version__}: {'resuming' if resume else 'training'} {cfg.layers}-layer MLP {list(cfg.dims())} "
        f"on {data.name}, batch {cfg.batch_size}, eta {cfg.lr_num}/2^{cfg.lr_shift}, {steps} steps"
        + ("" if no_prove else f", proofs of {window} step(s) each"))
    staging = _staging_dir(out)
    run = None
    summary = None
    train_opts = {"window": None if no_prove else window, "no_zk": bool(no_zk),
                  "publish_metrics": bool(publish_metrics), **anchors}
    try:
        t_start = time.monotonic()
        if resume:
            prior = _copy_for_resume(out, staging)
            run = zkdl.Run.load(os.path.join(staging, "run"))
        else:
            prior = {}
            run = zkdl.train(cfg, data, 0, out_dir=os.path.join(staging, "run"))  # an empty run, then its steps
        n0 = run.n_steps

        def on_step(t, loss, acc):
            el = time.monotonic() - t_start
            eta = el / (t + 1 - n0) * (steps - t - 1)
            say(f"step {t + 1}/{steps}: loss {loss:.4f}  batch accuracy {acc:.3f}  "
                f"[{_fmt_seconds(el)}, ETA {_fmt_seconds(eta)}]")

        if resume:
            say(f"resuming {out}: {n0} of {steps} steps recorded, "
                f"{len(_prior_proofs(prior))} proofs")
        if steps > n0:
            run.resume(steps - n0, progress=on_step)
        summary = _summary_base(run)
        summary["run"] = "run"
        summary["window"] = train_opts["window"]
        summary["train_options"] = train_opts
        summary["train_seconds"] = round(time.monotonic() - t_start + (prior.get("train_seconds") or 0), 3)
        summary["proofs"] = [e for e in _prior_proofs(prior) if os.path.isfile(os.path.join(staging, e["file"]))]
        entries = []
        if not no_prove:
            entries = _prove_windows(run, staging, 0, run.n_steps, window, backend=backend, threads=threads, zk=not no_zk,
                                     say=say, summary=summary, reuse=resume, anchors=anchors)
        if resume and (run.n_steps > n0 or
                       {e["file"] for e in summary["proofs"]} - {e["file"] for e in _prior_proofs(prior)}):
            if os.path.exists(os.path.join(staging, "model.npz")):
                os.unlink(os.path.join(staging, "model.npz"))
                say("note: removed model.npz (it no longer is the last proof's model); "
                    f"export it again with `zkdl export-model {out}`")
        summary["final_accuracy"] = float(run.accuracy())
        summary["complete"] = True
        _write_json(os.path.join(staging, "summary.json"), summary)
        if entries:
            from zkdl.audit import build_claim
            build_claim(staging, os.path.join(staging, "claim"),  # public: proofs + manifest, no secrets
                        publish_metrics=publish_metrics)
        _install(staging, out, replace)
    except KeyboardInterrupt:
        if run is None or (run.n_steps == 0 and not resume) or not os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            if summary is None:  # interrupted while training: the proofs OUT already had stay listed
                summary = _summary_base(run)
                summary.update(run="run", window=train_opts["window"], train_options=train_opts,
                               train_seconds=round(time.monotonic() - t_start + (prior.get("train_seconds") or 0), 3),
                               proofs=_prior_proofs(prior))
            n_proofs = _keep_interrupted(run, staging, summary)
            _install(staging, out, replace)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        import shlex
        click.echo(f"\ninterrupted: kept {run.n_steps} of {steps} steps and {n_proofs} proofs in {out}; "
                   f"continue with `zkdl train --resume --out {shlex.quote(out)}`", err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    run.out_dir = os.path.join(out, "run")
    say(f"done in {_fmt_seconds(say.elapsed())}")
    _print_report(run, entries, out, quiet)
    if not quiet and no_prove:
        click.echo(f"prove later with:\n  zkdl prove {out}")


def _keep_interrupted(run, staging: str, summary: dict) -> int:
    """Make ``staging`` a consistent, incomplete output directory after Ctrl-C: the run's
    manifest and final weights rewritten for the steps recorded, every finished proof
    (with its secrets) listed in summary.json ("complete": false), secrets of an
    unfinished proof and the claim removed. Returns the number of proofs kept."""
    from zkdl.api import Proof
    run.save(os.path.join(staging, "run"))  # the step files are there; this rewrites manifest + final weights
    pdir, sdir = os.path.join(staging, "proofs"), os.path.join(staging, "secrets")
    listed = {e["file"] for e in summary["proofs"]}
    for name in sorted(os.listdir(pdir)) if os.path.isdir(pdir) else []:
        if not (name.startswith("steps_") and name.endswith(".zkdl")):
            continue
        path, spath = os.path.join(pdir, name), os.path.join(sdir, name[:-len(".zkdl")] + ".json")
        if _rel(path, staging) not in listed and os.path.exists(spath):
            entry = _proof_entry(Proof.load(path, spath), path, spath, staging, None)
            summary["proofs"] = [e for e in summary["proofs"] if e["file"] != entry["file"]] + [entry]
    summary["proofs"] = [e for e in summary["proofs"] if os.path.isfile(os.path.join(staging, e["file"]))]
    summary["proofs"].sort(key=lambda e: (e["steps"][0], e["steps"][1]))
    kept = {os.path.basename(e["secrets"]) for e in summary["proofs"]}
    for name in os.listdir(sdir) if os.path.isdir(sdir) else []:
        if name.endswith(".json") and name not in kept and \
                not os.path.exists(os.path.join(pdir, name[:-len(".json")] + ".zkdl")):
            os.unlink(os.path.join(sdir, name))  # the secrets of the proof that was being written
    shutil.rmtree(os.path.join(staging, "claim"), ignore_errors=True)  # a claim is built for complete runs only
    summary["complete"] = False
    _write_json(os.path.join(staging, "summary.json"), summary)
    return len(summary["proofs"])


def _prior_proofs(prior: dict) -> list[dict]:
    """The well-formed proof entries of a previous summary.json."""
    proofs = prior.get("proofs")
    return [e for e in proofs if isinstance(e, dict) and isinstance(e.get("file"), str)
            and isinstance(e.get("secrets"), str) and isinstance(e.get("steps"), list)] \
        if isinstance(proofs, list) else []


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # every zkdl file is replaced by a rename, never rewritten in place
    except OSError:
        shutil.copy2(src, dst)


def _copy_for_resume(out: str, staging: str) -> dict:
    """Fill ``staging`` with the contents of ``out`` (hard links where possible) minus the
    claim (rebuilt at the end); returns out's summary.json (or {})."""
    from zkdl.audit import read_summary
    shutil.copytree(out, staging, copy_function=_link_or_copy, dirs_exist_ok=True,
                    ignore=lambda d, names: ["claim"] if os.path.samefile(d, out) and "claim" in names else [])
    return read_summary(out) or {}


_RESUME_CONFIG_FIELDS = ("width", "layers", "batch_size", "R", "Q", "update_bits", "steps", "lr_num", "lr_shift")


def _resume_settings(ctx, out: str, given: dict):
    """(config, data, options) of ``zkdl train --resume --out OUT``: OUT's recorded run
    and train options, checked against the options given on the command line (those
    not given are taken from OUT). Exit 2 naming the differing fields."""
    from click.core import ParameterSource
    from zkdl.audit import read_summary
    from zkdl.tracer import Run
    if not os.path.isfile(os.path.join(out, "run", "manifest.json")):
        raise _Fail(f"--resume: {out} holds no recorded run (no run/manifest.json); nothing to continue",
                    EXIT_USAGE)
    saved_run = Run.load(os.path.join(out, "run"))
    saved = saved_run.config
    prior = read_summary(out) or {}

    def is_given(name):
        return ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)

    def show(v):
        if isinstance(v, tuple):
            return str(v[0]) if len(set(v)) == 1 else ",".join(map(str, v))
        return str(v)

    diffs = []
    want = {k: given[k] for k in _RESUME_CONFIG_FIELDS if is_given(k)}
    if is_given("lr"):
        lr_num, lr_shift = parse_lr(given["lr"])
        want.update(lr_num=lr_num, lr_shift=lr_shift)
    for k, v in want.items():
        have = getattr(saved, k)
        if k == "width":
            v = (v,) * (saved.layers - 1)
        if v != have:
            diffs.append(f"{k} {show(have)} (given {show(v)})")
    if is_given("seed") and (saved.init_seed, saved.batch_seed) != (given["seed"], given["seed"]):
        diffs.append(f"seed {saved.init_seed} (given {given['seed']})")
    if is_given("data_spec") or is_given("label_column"):
        data = _load_data(given["data_spec"], given["label_column"], saved.R)
        if data.digest() != saved_run.data.digest():
            diffs.append(f"data {saved_run.data.name} (given {data.name})")
    opts = dict(prior["train_options"]) if isinstance(prior.get("train_options"), dict) else {}
    proofs = _prior_proofs(prior)
    opts.setdefault("window", prior.get("window"))
    opts.setdefault("no_zk", any(e.get("zk") is False for e in proofs))
    opts.setdefault("public_data", any(e.get("dataset_public") for e in proofs))
    opts.setdefault("public_init", any(e.get("initial_weights_public") for e in proofs))
    opts.setdefault("prove_loss", any(e.get("losses") is not None for e in proofs))
    opts.setdefault("publish_metrics", False)
    if is_given("publish_metrics"):  # a claim option: the claim is rebuilt anyway
        opts["publish_metrics"] = bool(given["publish_metrics"])
    for k in ("window", "no_zk", "public_data", "public_init", "prove_loss"):
        if not is_given(k):
            if k == "window" and opts[k] is None:
                opts[k] = given[k]  # a --no-prove run: the window is free
            continue
        if k == "window":
            if opts[k] is None:
                opts[k] = given[k]
            elif given[k] != opts[k]:
                diffs.append(f"window {opts[k]} (given {given[k]})")
        elif bool(given[k]) != bool(opts[k]):
            diffs.append(f"{k.replace('_', '-')} {bool(opts[k])} (given {bool(given[k])})")
    if diffs:
        raise _Fail(f"--resume: {out} was trained with other settings: {'; '.join(diffs)}; drop these options "
                    f"or match them", EXIT_USAGE)
    return saved, saved_run.data, opts

def _parse_steps(spec: str | None, n: int) -> tuple[int, int]:
    if spec is None:
        return 0, n
    a, sep, b = spec.partition(":")
    try:
        t0 = int(a) if a else 0
        t1 = int(b) if b else n
        if not sep:
            t1 = t0 + 1
    except ValueError:
        raise click.BadParameter(f"{spec!r}: expected A:B (steps A..B-1), A: or :B", param_hint="--steps") from None
    if not 0 <= t0 < t1 <= n:
        raise click.BadParameter(f"{spec!r}: the run has steps 0..{n - 1}; need 0 <= A < B <= {n}",
                                 param_hint="--steps")
    return t0, t1


@cli.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--steps", "steps_spec", default=None, metavar="A:B",
              help="Steps to prove, A..B-1 (default: all; 'A:' or ':B' also work).")
@click.option("--window", "--aggregate", "window", type=click.IntRange(min=1), default=1, show_default=True,
              help="Steps per proof (T).")
@click.option("--out", "-o", default=None,
              help="Where proofs/, secrets/ and summary.json go [default: the train output directory "
                   "holding RUN_DIR, or RUN_DIR itself].")
@click.option("--backend", type=click.Choice(["cpu", "cuda", "reference"]), default="cpu", show_default=True,
              help="Prover backend (cuda: NVIDIA GPU through CuPy, falls back to cpu with a note where "
                   "unavailable; reference: pure-Python oracle, tiny sizes only).")
@click.option("--no-zk", is_flag=True, help="Plain mode (NOT zero-knowledge; labelled as such).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Prover threads [default: all cores].")
@click.option("--force", is_flag=True, help="Prove windows again even when their proof files exist (proofs of "
              "later windows chained onto them then no longer chain and must be proven again too).")
@_anchor_options
@_publish_metrics_option
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def prove(run_dir, steps_spec, window, out, backend, no_zk, threads, force, public_data, public_init, prove_loss,
          publish_metrics, quiet):
    """Prove a recorded run (from `zkdl train --no-prove` or zkdl.Run.save).

    RUN_DIR is a saved run (it holds manifest.json) or a `zkdl train` output
    directory (it holds run/). Steps are proven in windows of --window steps; each
    window chains onto the previous one (its initial weights are the previous proof's
    final weight commitments). Resumable: windows whose proof and secrets files
    already exist are reused, so an interrupted `zkdl prove` continues where it stopped.
    Like `zkdl train`, writes (or refreshes) the public claim OUT/claim/.
    """
    from zkdl.tracer import Run
    say = _Progress(quiet)
    if os.path.exists(os.path.join(run_dir, "run", "manifest.json")):
        base, rdir = run_dir, os.path.join(run_dir, "run")
    elif os.path.exists(os.path.join(run_dir, "manifest.json")):
        parent = os.path.dirname(os.path.abspath(run_dir))
        if os.path.exists(os.path.join(parent, "summary.json")) and os.path.basename(os.path.abspath(run_dir)) == "run":
            base = os.path.dirname(os.path.normpath(run_dir)) or "."
        else:
            base = run_dir
        rdir = run_dir
    else:
        raise _Fail(f"{run_dir}: not a saved run (no manifest.json, no run/manifest.json)", EXIT_USAGE)
    out = out or base
    run = Run.load(rdir)
    t0, t1 = _parse_steps(steps_spec, run.n_steps)
    os.makedirs(out, exist_ok=True)
    from zkdl.audit import read_summary
    spath = os.path.join(out, "summary.json")
    summary = read_summary(out)
    if summary and summary.get("config_digest") != run.config.digest():
        raise _Fail(f"{spath} belongs to another run (config digest differs); choose another --out", EXIT_USAGE)
    if not summary or summary.get("format") != SUMMARY_FORMAT:
        summary = _summary_base(run)
    summary["run"] = _rel(rdir, out)
    summary["complete"] = False
    say(f"proving steps {t0}..{t1 - 1} of {rdir} ({run.n_steps} steps recorded) in windows of {window}")
    entries = _prove_windows(run, out, t0, t1, window, backend=backend, threads=threads, say=say,
                             summary=summary, reuse=not force, zk=not no_zk,
                             anchors=dict(public_data=public_data, public_init=public_init, prove_loss=prove_loss))
    covered = sorted(tuple(e["steps"]) for e in summary["proofs"])
    end = 0
    for a, b in covered:
        if a == end:
            end = b
    summary["complete"] = end >= run.n_steps
    _write_json(spath, summary)
    claim_dir = os.path.join(out, "claim")  # written or refreshed, as `zkdl train` does
    claim_entries = set(os.listdir(claim_dir)) if os.path.isdir(claim_dir) else set()
    if os.path.exists(claim_dir) and not (claim_entries <= {"manifest.json", "proofs"} and
                                          (not claim_entries or "manifest.json" in claim_entries)):
        click.echo(f"note: {claim_dir} exists and is not a claim directory: no claim written "
                   f"(build one elsewhere with `zkdl claim {out} -o DIR`)", err=True)
    else:
        from zkdl.audit import build_claim
        staging = _staging_dir(claim_dir)
        try:
            build_claim(out, staging, publish_metrics=publish_metrics)
            _install(staging, claim_dir, bool(claim_entries))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        say(f"claim {'rebuilt' if claim_entries else 'written'}: {_rel(claim_dir, out)}/")
    say(f"done in {_fmt_seconds(say.elapsed())}")
    if quiet:
        click.echo(out)
        return
    _print_report(run, entries, out, quiet)


def _header_steps(path: str) -> tuple[int, int] | None:
    """The step range [t0, t1) a proof file's header states (unverified), or None."""
    from zkdl.prooffile import unpack
    try:
        with open(path, "rb") as fh:
            steps = unpack(fh.read())[0]["statement"]["steps"]
        t0, t1 = int(steps[0]), int(steps[1])
    except (OSError, VerificationError, KeyError, TypeError, ValueError, IndexError):
        return None
    return t0, t1


def _chain_order_problem(files, ranges: list, i: int, at: int) -> str | None:
    """Why file ``i`` (header steps ``ranges[i]``) cannot continue a chain that is at step
    ``at``, naming the file given that should come next; None when it starts at ``at``."""
    if ranges[i] is None or ranges[i][0] == at:
        return None
    a, b = ranges[i]
    here = f"{files[i]} covers steps {a}..{b - 1} but the chain is at step {at}"
    nxt = next((j for j in range(i + 1, len(files)) if ranges[j] is not None and ranges[j][0] == at), None)
    if nxt is not None:
        x, y = ranges[nxt]
        return f"steps out of order: {here}; {files[nxt]} (steps {x}..{y - 1}) should come next"
    before = next((j for j in range(i) if ranges[j] is not None and ranges[j][0] >= b), None)
    if before is not None:
        x, y = ranges[before]
        return f"steps out of order: {here}; it comes before {files[before]} (steps {x}..{y - 1}), given earlier"
    if a < at:
        return f"chain broken: {here} (it overlaps the previous proof)"
    return f"chain broken: {here}; no file given covers steps {at}..{a - 1}"


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--expect-initial", metavar="DIGEST", default=None,
              help="Required initial-weights digest (of the first file with --chain, of every file otherwise).")
@click.option("--chain", is_flag=True,
              help="The files form one chain in the given order: each must start at the step and from the "
                   "final weights (and dataset) of the previous one.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (one JSON object on stdout).")
def verify(files, expect_initial, chain, as_json):
    """Verify proof files; print one line per file (VALID, or INVALID with the reason).

    Checks each proof completely against the circuit its header's config defines, with
    no access to the run. Exit status: 0 if every file is valid, 1 if any is invalid, 2 on
    bad usage or when a file cannot be read. With --chain the files must continue each other (same config and
    dataset, contiguous steps, each starting from the previous final-weights digest),
    so together they prove one training run from its first to its last step.
    """
    from zkdl.api import verify as _verify
    from zkdl.prooffile import unpack

    if expect_initial is not None and not (len(expect_initial) == 64 and
                                           all(c in "0123456789abcdef" for c in expect_initial)):
        raise click.BadParameter("expected a 64-digit lowercase hex SHA-256 digest", param_hint="--expect-initial")
    results = []
    prev = None  # (header statement dict, config dict) of the previous file (chain mode)
    prev_ok = True
    ranges = [_header_steps(f) for f in files] if chain else []
    for i, path in enumerate(files):
        res = {"file": path, "ok": False, "reason": None, "statement": None, "zk": None}
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            res["reason"] = f"cannot read: {exc.strerror or exc}"
            res["unreadable"] = True
            results.append(res)
            prev, prev_ok = None, False
            continue
        expect = expect_initial if (not chain or i == 0) else None
        header = None
        try:
            header = unpack(data)[0]
            res["zk"] = header.get("zk")
        except VerificationError:
            pass
        try:
            if chain and i > 0:
                if prev is None:
                    raise VerificationError("the previous file of the chain could not be read, so this one "
                                            "cannot be linked to it")
                expect = prev["final_weights_digest"]
                order = _chain_order_problem(files, ranges, i, prev["steps"][1])
                if order is not None:
                    _verify(data)  # a proof that is itself invalid says so first
                    raise VerificationError(order)
            st = _verify(data, expect)
            if chain and i > 0:
                if st.t0 != prev["steps"][1]:
                    raise VerificationError(f"chain broken: proof starts at step {st.t0}, the previous one "
                                            f"ends at step {prev['steps'][1]}")
                if st.dataset_digest != prev["dataset_digest"]:
                    raise VerificationError("chain broken: a different dataset commitment than the previous proof")
                if st.n_samples != prev["n_samples"]:
                    raise VerificationError(f"chain broken: states a dataset of {st.n_samples} rows, the previous "
                                            f"proof {prev['n_samples']} (one chain, one dataset size)")
                if st.config.digest() != prev["config_digest"]:
                    raise VerificationError("chain broken: a different training config than the previous proof")
                if not prev_ok:
                    raise VerificationError("chain broken: the previous proof was rejected")
            res["ok"] = True
            res["statement"] = st.to_dict()
            res["describe"] = st.describe()
            res["zk"] = st.zk
        except VerificationError as exc:
            res["reason"] = _first_line(exc)
        results.append(res)
        if res["ok"]:
            prev, prev_ok = res["statement"], True
        else:
            prev_ok = False
            prev = None
            if header is not None and isinstance(header.get("statement"), dict):
                try:
                    hst = header["statement"]
                    from zkdl.config import TrainConfig
                    prev = {"steps": hst["steps"], "final_weights_digest": hst["final_weights_digest"],
                            "dataset_digest": hst["dataset_digest"], "n_samples": hst["n_samples"],
                            "config_digest": TrainConfig.from_dict(header.get("config")).digest()}
                except Exception:  # noqa: BLE001 - a malformed header just breaks the chain
                    prev = None
    all_ok = all(r["ok"] for r in results)
    plain = any(r["zk"] is False for r in results if r["ok"])
    if as_json:
        doc = {"ok": all_ok, "chain": chain, "files": results}
        if chain and all_ok:
            doc["chain_statement"] = {
                "steps": [results[0]["statement"]["steps"][0], results[-1]["statement"]["steps"][1]],
                "initial_weights_digest": results[0]["statement"]["initial_weights_digest"],
                "final_weights_digest": results[-1]["statement"]["final_weights_digest"],
                "dataset_digest": results[0]["statement"]["dataset_digest"],
            }
        click.echo(json.dumps(doc, indent=1, sort_keys=True))
    else:
        for r in results:
            if r["ok"]:
                click.echo(f"VALID  {r['file']}: {r['describe']}")
            elif r.get("unreadable"):
                click.echo(f"ERROR  {r['file']}: {r['reason']}")
            else:
                click.echo(f"INVALID  {r['file']}: {r['reason']}")
        n_ok = sum(r["ok"] for r in results)
        line = f"{n_ok} of {len(results)} proof(s) valid"
        if chain and all_ok:
            a, b = results[0]["statement"], results[-1]["statement"]
            line += (f"; chain proves steps {a['steps'][0]}..{b['steps'][1] - 1} from W[{a['steps'][0]}] "
                     f"{a['initial_weights_digest'][:16]}… to W[{b['steps'][1]}] {b['final_weights_digest'][:16]}…")
        click.echo(line)
        if plain:
            click.echo("note: PLAIN mode (not zero-knowledge): these proofs are sound but do not hide the "
                       "training data or weights", err=True)
    if any(r.get("unreadable") for r in results):
        raise click.exceptions.Exit(EXIT_USAGE)
    if not all_ok:
        raise click.exceptions.Exit(EXIT_REJECTED)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the header as JSON.")
def inspect(file, as_json):
    """Print a proof file's header (without verifying it).

    Shows the proof kind, format version, mode (zero-knowledge or PLAIN), the training
    config, the statement (steps, dataset and weight commitment digests), the circuit
    digest and sizes. Nothing shown is checked: use `zkdl verify` for that. A file that
    is not a well-formed proof container is reported with exit status 1.
    """
    from zkdl.prooffile import FORMAT_VERSION, unpack
    try:
        with open(file, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise _Fail(f"{file}: cannot read ({exc.strerror or exc})", EXIT_USAGE) from None
    try:
        header, body = unpack(data)
    except VerificationError as exc:
        raise _Fail(f"{file}: malformed proof file: {_first_line(exc)}", EXIT_REJECTED) from None
    if as_json:
        click.echo(json.dumps({"file": file, "format_version": FORMAT_VERSION, "file_bytes": len(data),
                               "body_bytes": len(body), "header": header}, indent=1, sort_keys=True))
        return
    echo = click.echo
    zk = header.get("zk")
    echo(f"file          {file}  ({_fmt_bytes(len(data))}: header {len(data) - len(body) - 22} B JSON, "
         f"body {_fmt_bytes(len(body))})")
    echo(f"kind          {header.get('kind')}  (container format version {FORMAT_VERSION}, "
         f"written by zkdl {header.get('zkdl_version')})")
    if zk is False:
        echo("mode          PLAIN (not zero-knowledge): the proof does not hide the witness")
    elif zk is True:
        echo("mode          zero-knowledge")
    else:
        echo(f"mode          unknown (zk = {zk!r})")
    cfg = header.get("config")
    if isinstance(cfg, dict):
        try:
            from zkdl.config import TrainConfig
            c = TrainConfig.from_dict(cfg)
            echo(f"config        {c.layers}-layer MLP {list(c.dims())}, batch {c.batch_size}, "
                 f"eta {c.lr_num}/2^{c.lr_shift}, R={c.R}, Q={c.Q}, update_bits={c.update_bits}, "
                 f"seeds init {c.init_seed} batch {c.batch_seed}")
            echo(f"config digest {c.digest()}")
        except (ZkdlError, TypeError, ValueError) as exc:
            echo(f"config        (invalid: {_first_line(exc)}) {json.dumps(cfg, sort_keys=True)}")
    st = header.get("statement")
    if isinstance(st, dict):
        steps = st.get("steps")
        if isinstance(steps, list) and len(steps) == 2 and all(isinstance(x, int) for x in steps):
            echo(f"steps         {steps[0]}..{steps[1] - 1}  (T = {steps[1] - steps[0]})")
        else:
            echo(f"steps         {steps!r}")
        echo(f"dataset rows  {st.get('n_samples')}")
        echo(f"dataset       {st.get('dataset_digest')}")
        echo(f"W initial     {st.get('initial_weights_digest')}")
        echo(f"W final       {st.get('final_weights_digest')}")
        echo(f"range checks  initial weights: {st.get('initial_weights_range_checked')}, "
             f"dataset: {st.get('dataset_range_checked')} (false: inherited from a previous proof)")
    echo(f"circuit       {header.get('circuit_digest')}")
    sizes = header.get("sizes")
    if isinstance(sizes, dict):
        echo("sizes         " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                          for k, v in sorted(sizes.items())))
    echo("(not verified: run `zkdl verify` to check the proof)")


@cli.command("claim")
@click.argument("run_out", metavar="RUN_OUT_DIR", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "-o", "claim_dir", default=None,
              help="Claim directory to write [default: RUN_OUT_DIR/claim]; an existing claim there is replaced.")
@_publish_metrics_option
@click.option("--quiet", "-q", is_flag=True, help="Print only the claim directory.")
def claim_cmd(run_out, claim_dir, publish_metrics, quiet):
    """Build (or rebuild) a training claim from a `zkdl train` / `zkdl prove` output directory.

    A claim is a directory with manifest.json (format zkdl-claim/v1: config, dataset and
    weight commitment digests, the ordered proof files with their step ranges and
    SHA-256 digests, proven losses of --prove-loss proofs; the reported, unproven
    training metrics only with --publish-metrics) and a copy of the proof files.
    Secrets and the recorded run are never copied: a claim is public. Hand it to an
    auditor, who runs `zkdl audit CLAIM_DIR`.
    """
    from zkdl.audit import ClaimError, build_claim
    claim_dir = claim_dir or os.path.join(run_out, "claim")
    replace = False
    if os.path.exists(claim_dir):
        if not os.path.isdir(claim_dir):
            raise _Fail(f"--out {claim_dir}: exists and is not a directory", EXIT_USAGE)
        entries = set(os.listdir(claim_dir))
        if entries and not (entries <= {"manifest.json", "proofs"} and "manifest.json" in entries):
            raise _Fail(f"{claim_dir} exists and is not a claim directory; choose another --out", EXIT_USAGE)
        replace = True
    staging = _staging_dir(claim_dir)
    try:
        manifest = build_claim(run_out, staging, publish_metrics=publish_metrics)
        _install(staging, claim_dir, replace)
    except ClaimError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _Fail(str(exc), EXIT_USAGE) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if quiet:
        click.echo(claim_dir)
        return
    a, b = manifest["steps"]
    click.echo(f"claim of steps {a}..{b - 1} ({len(manifest['proofs'])} proofs) written to {claim_dir}/")
    click.echo(f"audit with:\n  zkdl audit {claim_dir}")


@cli.command("export-model")
@click.argument("run_out", metavar="RUN_OUT_DIR", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "-o", "path", default=None, type=click.Path(dir_okay=False),
              help="The .npz file to write [default: RUN_OUT_DIR/model.npz].")
@click.option("--force", is_flag=True, help="Replace an existing file.")
def export_model_cmd(run_out, path, force):
    """Release the trained model with the opening of its commitment.

    Writes the final weights of the last proof of RUN_OUT_DIR (a `zkdl train` / `zkdl
    prove` output directory) as a .npz: per layer W<l> (int64, fixed point at scale
    2^R), W<l>_float (float64 = W<l> / 2^R) and blinds<l> (the blinds of the proof's
    final-weight commitment), plus meta (JSON: config, step, the digest they open). An
    auditor checks it with `zkdl audit CLAIM --model FILE`. The file reveals these
    weights and nothing else; the opening is checked against the proof before writing.
    """
    from zkdl.anchors import AnchorError, export_model
    path = path or os.path.join(run_out, "model.npz")
    if os.path.exists(path) and not force:
        raise _Fail(f"{path} exists (use --force to replace it)", EXIT_USAGE)
    try:
        meta = export_model(run_out, path)
    except AnchorError as exc:
        raise _Fail(str(exc), EXIT_USAGE) from None
    click.echo(f"model after step {meta['step']} ({meta['layers']} layers) written to {path}; it opens final "
               f"weights {meta['final_weights_digest'][:16]}… of {meta['proof']}")


@cli.command()
@click.argument("claim_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the audit report as JSON on stdout.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a self-contained HTML report (summary, proof table, chain diagram) here.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes verifying proofs in parallel [default: all cores].")
@click.option("--data", "data_spec", default=None,
              help="The public dataset to check the claim's dataset commitment against: 'synthetic[:N...]', "
                   "'digits' or a .npz/.csv path (the claim must be proven with --public-data).")
@click.option("--label-column", default="label", show_default=True, help="Label column of a .csv data file.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None,
              help="A released model (`zkdl export-model`): check it is exactly the claim's final weights.")
def audit(claim_dir, as_json, html_path, jobs, data_spec, label_column, model_path):
    """Audit a training claim: verify every proof and check that they prove what the manifest states.

    Checks each file's SHA-256 against the manifest, verifies every proof (in parallel),
    and checks that the step ranges are in order, contiguous and complete, that each
    proof starts from the previous proof's final weights, that all share the manifest's
    config and dataset commitment, and that the first proof range-checks the initial
    weights and the dataset. Public anchors: a claim proven with --public-init gets its
    W[0] recomputed from the seed; --data recomputes the dataset commitment of a
    --public-data claim; --model checks a released model; proven losses (--prove-loss)
    are reported and compared with the manifest's metrics. Reports what is proven and
    every failure with its location.
    Exit status: 0 the whole claim holds, 1 it does not, 2 the claim cannot be read
    (missing directory, manifest.json missing or not JSON), the --model file cannot be
    read or the --html file cannot be written (both checked before any verification).
    CLAIM_DIR may also be a `zkdl train` / `zkdl prove` output directory holding claim/.
    """
    from zkdl.audit import MANIFEST, ClaimError, audit_claim, check_output_path
    from zkdl.report import html_report, text_report
    if not os.path.exists(os.path.join(claim_dir, MANIFEST)) and \
            os.path.exists(os.path.join(claim_dir, "claim", MANIFEST)):
        claim_dir = os.path.join(claim_dir, "claim")
    try:
        if html_path is not None:  # before the audit's work, not after it
            check_output_path(html_path, "--html")
        report = audit_claim(claim_dir, jobs=jobs, data_spec=data_spec, label_column=label_column,
                             model_path=model_path)
    except ClaimError as exc:
        raise _Fail(str(exc), EXIT_USAGE) from None
    if html_path is not None:
        from zkdl.api import atomic_write
        # the report holds untrusted manifest strings: a lone surrogate is written as \udXXX
        atomic_write(html_path, html_report(report).encode("utf-8", "backslashreplace"))
    if as_json:
        click.echo(json.dumps(report, indent=1, sort_keys=True))  # ASCII: non-ASCII characters escaped
    else:
        click.echo(_encodable(text_report(report)))
        if html_path is not None:
            click.echo(_encodable(f"HTML report written to {html_path}"))
    if not report["ok"]:
        raise click.exceptions.Exit(EXIT_REJECTED)


def _encodable(text: str) -> str:
    """``text`` with every character stdout cannot encode (a lone surrogate, non-ASCII on an
    ASCII terminal) replaced by its backslash escape, so printing it cannot fail."""
    enc = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        return text.encode(enc, "backslashreplace").decode(enc)
    except LookupError:
        return text.encode("ascii", "backslashreplace").decode("ascii")


@cli.group()
def circuit():
    """Circuit tools: emit the FAC4DNN circuit that a proof's config defines."""


@circuit.command("emit")
@_config_options
@click.option("--steps", "--window", "steps", type=click.IntRange(min=1), default=1, show_default=True,
              help="Steps per proof (T) of the circuit: the window, `zkdl train --window`.")
@click.option("--run-steps", type=click.IntRange(min=0), default=DEFAULT_STEPS, show_default=True,
              help="Steps of the whole run (config.steps, `zkdl train --steps`); part of the config, so of the "
                   "digest.")
@click.option("--n-samples", type=click.IntRange(min=1), default=None,
              help="Dataset rows fixed in the circuit [default: the rows of --data, as in every proof].")
@click.option("--first/--chained", "first", default=True, show_default=True,
              help="The circuit of a chain's first window (it range-checks W[t0] and the dataset) or of a "
                   "chained later window (both checks inherited).")
@click.option("--check-initial-weights/--no-check-initial-weights", "check_weights", default=None,
              help="Override the W[t0] range check [default: from --first/--chained].")
@click.option("--check-dataset/--no-check-dataset", "check_dataset", default=None,
              help="Override the dataset range check [default: from --first/--chained].")
@click.option("--prove-loss", is_flag=True, help="The circuit of a proof made with --prove-loss (public losses).")
@click.option("--from-proof", "from_proof", type=click.Path(dir_okay=False), default=None,
              help="Rebuild the circuit of this proof file from its header (config and statement), check it "
                   "against the header's circuit digest; no other circuit option may be given.")
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False), default=None,
              help="Write the JSON here (default: stdout; with --from-proof, not written).")
@click.pass_context
def emit_cmd(ctx, width, layers, batch_size, lr_num, lr_shift, lr, R, Q, update_bits, seed, data_spec, label_column,
             steps, run_steps, n_samples, first, check_weights, check_dataset, prove_loss, from_proof, output):
    """Write the circuit JSON (relations, tensors, digest) for a training config.

    Input and output sizes and the dataset rows come from --data. The digest printed is
    the circuit digest found in the headers of proofs of the same config (--run-steps is
    the run's `zkdl train --steps`), window T (--steps), dataset, chaining (--first /
    --chained) and --prove-loss. --from-proof FILE rebuilds a proof's circuit from its
    header instead and checks its digest (exit 1 on a mismatch, 2 if FILE is not a proof).
    The summary goes to stderr (to stdout when -o or --from-proof is given).
    """
    from zkdl.circuits.builder import build_circuit
    from zkdl.circuits.emit import emit, summary
    if from_proof is not None:
        from click.core import ParameterSource
        given = [p.opts[0] for p in ctx.command.params if p.name not in ("from_proof", "output")
                 and ctx.get_parameter_source(p.name) not in (None, ParameterSource.DEFAULT)]
        if given:
            raise _Fail(f"--from-proof takes the circuit from the proof's header; drop {', '.join(given)}", EXIT_USAGE)
        c, digest = _circuit_of_proof(from_proof)
        click.echo(summary(c))
        click.echo(f"circuit digest {digest}  (equals the circuit_digest of {from_proof})")
    else:
        cfg = _make_config(width, layers, batch_size, lr_num, lr_shift, R, Q, seed, run_steps, lr, update_bits)
        data = _load_data(data_spec, label_column, cfg.R)
        cfg = cfg.for_data(data)
        c = build_circuit(cfg, steps=steps, check_initial_weights=first if check_weights is None else check_weights,
                          check_dataset=first if check_dataset is None else check_dataset,
                          n_samples=int(data.n_samples) if n_samples is None else n_samples, prove_loss=prove_loss)
        if output is None:
            emit(c, sys.stdout)
            click.echo(summary(c), err=True)
            click.echo(f"circuit digest {c.digest()}", err=True)
            return
    if output is None:
        return
    try:
        emit(c, output)
    except BaseException:
        if os.path.exists(output + ".tmp"):
            os.unlink(output + ".tmp")
        raise
    if from_proof is None:
        click.echo(summary(c))
        click.echo(f"circuit digest {c.digest()}")
    click.echo(f"written to {output}")


def _circuit_of_proof(path: str):
    """(circuit, digest) rebuilt from a proof file's header; exit 2 when the file is not a
    proof, 1 when its header does not define the circuit its digest names."""
    from zkdl.prooffile import unpack
    from zkdl.verifier.verify import PROOF_KIND, circuit_for, parse_header
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except OSError as exc:
        raise _Fail(f"{path}: cannot read ({exc.strerror or exc})", EXIT_USAGE) from None
    try:
        header, body = unpack(blob)
    except VerificationError as exc:
        msg = _first_line(exc)
        raise _Fail(f"{path}: {msg}" if "not a zkdl proof file" in msg else f"{path}: not a zkdl proof file ({msg})",
                    EXIT_USAGE) from None
    if not isinstance(header, dict) or header.get("kind") != PROOF_KIND:
        kind = header.get("kind") if isinstance(header, dict) else None
        raise _Fail(f"{path}: not a zkdl training proof (kind {kind!r}, expected {PROOF_KIND!r})", EXIT_USAGE)
    try:
        config, plan, _st = parse_header(header, len(body))   # sizes bounded by the file
    except VerificationError as exc:
        raise _Fail(f"{path}: {_first_line(exc)}", EXIT_REJECTED) from None
    c = circuit_for(plan, config)
    digest = c.digest()
    if digest != header.get("circuit_digest"):
        raise _Fail(f"{path}: circuit digest mismatch: the header says {header.get('circuit_digest')}, its config "
                    f"and statement define {digest}", EXIT_REJECTED)
    return c, digest


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> None:
    """Entry point of the ``zkdl`` script and ``python -m zkdl``."""
    import signal
    try:
        signal.signal(signal.SIGTERM, _terminate)  # clean up like Ctrl-C
    except (ValueError, OSError):  # not the main thread
        pass
    cli.main(args=argv, prog_name="zkdl")


if __name__ == "__main__":  # pragma: no cover
    main()
