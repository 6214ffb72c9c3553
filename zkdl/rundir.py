"""The output directory of ``zkdl train`` and ``zkdl prove``: its files, written through a
staging directory, resumed after an interruption, and the proving of a run into it.

Layout (docs/FORMAT.md, section 4)::

    run/                              the recorded run (zkdl.Run.save layout)
    proofs/steps_<t0>-<t1>.zkdl       one proof per window (t1 exclusive, 6 digits)
    secrets/steps_<t0>-<t1>.json      commitment blinds to chain the next window (0600)
    summary.json                      config digest, training metrics, proof list
    claim/                            manifest.json + copies of the proofs (`zkdl audit`)
    model.npz                         after `zkdl export-model`: final weights + their opening

``zkdl train`` builds it in a hidden staging directory next to ``--out`` and renames it
into place when it is complete, or, after Ctrl-C, when it holds the finished steps and
proofs (summary.json "complete": false; ``zkdl train --resume`` continues it).
Heavy modules (numpy, numba, the prover) are imported inside the functions.
"""

from __future__ import annotations

import os
import shutil
import time

import click

from zkdl import __version__
from zkdl.cli_common import EXIT_USAGE, Fail, Progress, fmt_bytes, fmt_seconds, load_data, parse_lr, write_json
from zkdl.errors import ConfigError

SUMMARY_FORMAT = "zkdl-run-summary/v1"
OUTPUT_ENTRIES = {"run", "proofs", "secrets", "summary.json", "claim", "model.npz"}


# ============================================================================ files and summary.json
def window_name(t0: int, t1: int) -> str:
    """File stem of the proof of steps t0..t1-1 (t1 exclusive)."""
    return f"steps_{t0:06d}-{t1:06d}"


def _proof_path(out: str, t0: int, t1: int) -> tuple[str, str]:
    stem = window_name(t0, t1)
    return os.path.join(out, "proofs", stem + ".zkdl"), os.path.join(out, "secrets", stem + ".json")


def rel(path: str, base: str) -> str:
    return os.path.relpath(path, base).replace(os.sep, "/")


def locate_run(run_dir: str) -> tuple[str, str]:
    """(output directory, saved run) of ``zkdl prove RUN_DIR``: RUN_DIR is a train output
    directory (it holds run/) or a saved run (it holds manifest.json), whose output
    directory is the train output directory holding it, or RUN_DIR itself."""
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
        raise Fail(f"{run_dir}: not a saved run (no manifest.json, no run/manifest.json)", EXIT_USAGE)
    return base, rdir


def _proof_entry(proof, path: str, spath: str, base: str, seconds: float | None) -> dict:
    h = proof.header
    st = h["statement"]
    return {
        "file": rel(path, base),
        "secrets": rel(spath, base),
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
        **({"frozen_digest": st["frozen_digest"], "frozen_public": st["frozen_public"]}
           if "frozen_digest" in st else {}),
        "losses": st.get("losses"),
        "range": h.get("range"),
        "bytes": len(proof.data),
        "prove_seconds": None if seconds is None else round(seconds, 3),
    }


def summary_base(run) -> dict:
    return {
        "format": SUMMARY_FORMAT,
        "zkdl_version": __version__,
        "config": run.config.to_dict(),
        "config_digest": run.config.digest(),
        "data": {"name": run.data.name, "digest": run.data.digest(), "n_samples": int(run.data.n_samples)},
        # how the training features and labels were encoded (zkdl.data.Scaling; `zkdl evaluate`
        # encodes a test set with it); None for a run recorded before scalings were kept
        "scaling": None if getattr(run.data, "scaling", None) is None else run.data.scaling.to_dict(),
        "run": None,
        "n_steps": run.n_steps,
        "training": [{"t": t, "loss": run.losses[t], "accuracy": run.accuracies[t]} for t in range(run.n_steps)],
        "proofs": [],
        "complete": False,
    }


def _record(summary: dict, entry: dict, out: str) -> None:
    summary["proofs"] = [e for e in summary["proofs"] if e["file"] != entry["file"]] + [entry]
    summary["proofs"].sort(key=lambda e: (e["steps"][0], e["steps"][1]))
    write_json(os.path.join(out, "summary.json"), summary)


def prior_proofs(prior: dict) -> list[dict]:
    """The well-formed proof entries of a previous summary.json."""
    proofs = prior.get("proofs")
    return [e for e in proofs if isinstance(e, dict) and isinstance(e.get("file"), str)
            and isinstance(e.get("secrets"), str) and isinstance(e.get("steps"), list)] \
        if isinstance(proofs, list) else []


# ============================================================================ proving
_PROVED_IN_PROCESS = False  # set before the first proof of this process (it includes numba compile time)


def _first_proof_notice(say: Progress) -> None:
    """Before the first proof of this process: say that numba compiles the prover
    kernels (40-90 s on a cold cache), so that the silence is explained."""
    global _PROVED_IN_PROCESS
    if _PROVED_IN_PROCESS:
        return
    _PROVED_IN_PROCESS = True
    warm = _kernel_cache_warm()
    if warm is False:
        say("compiling kernels (first run only; this takes a minute or two) ...")
    elif warm is True:
        say("first proof of this process: loading compiled kernels (recompiling any that changed) ...")
    else:
        say("first proof of this process: compiling kernels if not cached ...")


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


# the prover's progress events (prover.aggregate.prove_window ``progress``) grouped into
# the phases of its ``timings``: what a live bar shows
PHASE_OF_EVENT = {"check": "witness check", "witness": "witness", "commit": "commit", "lookup": "lookups",
                  "matmul": "reductions", "product": "reductions", "open": "openings"}
# (steps per window, first of a chain) -> {phase: (events, seconds)} of the last such proof of
# this process: the totals and steady-state ETA of the next proof of the same shape
_PHASE_STATS: dict = {}


class _PhaseTracker:
    """The ``progress`` callback of one proof: plain phase lines when not live (as before),
    else one live bar per phase with its events and an ETA from the last proof of the same
    shape (none for the first: it may include compiling the kernels)."""

    def __init__(self, say: Progress, key, started: float):
        self.say, self.key, self.started = say, key, started
        self.prior = _PHASE_STATS.get(key, {})
        self.stats: dict = {}
        self.event = None
        self.phase = None
        self.count = 0
        self.t_phase = started
        self.bar = None

    def __call__(self, event, detail) -> None:
        if not self.say.live:
            if event != self.event:
                self.say(f"  {event:<8} {detail}  [{time.monotonic() - self.started:.1f}s]")
            self.event = event
            return
        self.event = event
        phase = PHASE_OF_EVENT.get(event, event)
        if phase != self.phase:
            self._close_phase()
            self.phase, self.count, self.t_phase = phase, 0, time.monotonic()
            n, sec = self.prior.get(phase, (None, None))
            self.bar = self.say.bar(f"  {phase}", total=n, unit="events")
            if sec is not None:
                self.bar.update(eta=sec)
        self.count += 1
        n = self.prior.get(phase, (None, None))[0]
        self.bar.update(completed=self.count, total=max(n, self.count) if n else None,
                        description=f"  {phase}: {str(detail)[:40]}")

    def _close_phase(self) -> None:
        if self.phase is not None:
            self.stats[self.phase] = (self.count, time.monotonic() - self.t_phase)
        if self.bar is not None:
            self.bar.done()
            self.bar = None

    def finish(self, ok: bool, timed: bool = True) -> None:
        """End the proof's bars; a finished proof (``ok``) leaves its event counts for the
        next proof of its shape, and its phase times when ``timed`` (not when it included
        compiling the kernels)."""
        self._close_phase()
        if ok and self.stats:
            _PHASE_STATS[self.key] = {ph: (n, sec if timed else None) for ph, (n, sec) in self.stats.items()}


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


def prove_windows(run, out: str, t_start: int, t_end: int, window: int, *, backend: str, threads,
                  say: Progress, summary: dict, reuse: bool, chain=None, zk: bool = True,
                  anchors: dict | None = None, force_hint: str = "--force", ray: str | None = None) -> list[dict]:
    """Prove steps t_start..t_end-1 of ``run`` in windows of ``window`` steps, chaining,
    into ``out``/proofs and ``out``/secrets; ``summary`` (written after each proof)
    collects the entries. ``anchors``: public_data / public_init / prove_loss flags
    (public_init applies to the window starting at step 0 only). ``force_hint``: what
    proves a reused window again, named in the notes. Returns the entries of this call.
    On a terminal (``say.live``) a bar of the windows (steady-state ETA: the proofs made
    so far, less the one that compiled the kernels) and one per prover phase are drawn.
    The boundary blinds come from ``out``'s run seed (secrets/run-seed, made on first use;
    zkdl.blinds), so windows may be proven in any order. ``ray``: prove the windows as Ray
    tasks ("" a local Ray instance, else the address of a cluster; zkdl.distributed),
    each file written as its window finishes."""
    from zkdl.api import resolve_backend
    from zkdl.blinds import load_or_create

    if ray is None or backend != "cuda":   # on Ray the workers' GPUs count, not this machine's
        backend = resolve_backend(backend, warn=lambda msg: click.echo(f"note: {msg}", err=True))
    os.makedirs(os.path.join(out, "proofs"), exist_ok=True)
    sdir = os.path.join(out, "secrets")
    os.makedirs(sdir, exist_ok=True)
    os.chmod(sdir, 0o700)
    seed = load_or_create(out)
    windows = [(t, min(t + window, t_end)) for t in range(t_start, t_end, window)]
    if chain is None and t_start > 0:
        chain = _find_chain_start(out, t_start)
        if chain is None:
            say(f"note: no saved proof ends at step {t_start}; the proof of steps {t_start}.. starts a new chain "
                f"(it range-checks W[{t_start}] itself)")
    entries = []
    durations: list[float] = []  # seconds of each proof made by this call
    first_compiles = not _PROVED_IN_PROCESS  # the first proof of the process includes numba compile time
    wbar = say.bar("proofs", total=len(windows), unit="windows")   # live only (a terminal)
    try:
        _prove_each(run, out, windows, wbar, durations, first_compiles, entries, chain, say=say, summary=summary,
                    reuse=reuse, anchors=anchors, force_hint=force_hint, backend=backend, threads=threads, zk=zk,
                    seed=seed, ray=ray)
    finally:
        wbar.done()
    entries.sort(key=lambda e: (e["steps"][0], e["steps"][1]))   # Ray finishes them in any order
    return entries


def _reused(run, out, t0, t1, tag, *, say, anchors, force_hint):
    """The finished proof (with secrets) of window t0..t1-1 in ``out`` to reuse, or None
    when there is none; ConfigError when the file there is not a proof of this window."""
    from zkdl.api import Proof
    path, spath = _proof_path(out, t0, t1)
    if not (os.path.exists(path) and os.path.exists(spath)):
        return None
    proof = Proof.load(path, spath)
    h = proof.header
    if h.get("config") != run.config.to_dict() or h["statement"]["steps"] != [t0, t1]:
        raise ConfigError(f"{path} exists but is not a proof of this run's steps {t0}..{t1 - 1}; "
                          f"remove it or pass --force")
    say(f"{tag}: already proven, reusing {rel(path, out)} (use {force_hint} to prove again)")
    st = h["statement"]
    for flag, key, want in (("--public-data", "dataset_public", anchors and anchors.get("public_data")),
                            ("--public-init", "initial_weights_public",
                             anchors and anchors.get("public_init") and t0 == 0),
                            ("--public-base", "frozen_public", anchors and anchors.get("public_base")),
                            ("--prove-loss", "losses", anchors and anchors.get("prove_loss"))):
        if want and not st.get(key):
            click.echo(f"note: the reused proof of steps {t0}..{t1 - 1} was made without {flag}; "
                       f"use {force_hint} to prove it again with it", err=True)
    want_range = (anchors or {}).get("range")
    if want_range and h.get("range") != want_range:
        click.echo(f"note: the reused proof of steps {t0}..{t1 - 1} checks ranges by {h.get('range')}, "
                   f"not {want_range}; use {force_hint} to prove it again", err=True)
    return proof


def _save_proof(proof, out, t0, t1, summary, entries, seconds) -> dict:
    """Write a finished proof and its secrets (each atomically: secrets first, so that a
    proof file always has its secrets) and record it in summary.json."""
    path, spath = _proof_path(out, t0, t1)
    proof.save_secrets(spath)
    proof.save(path)
    entry = _proof_entry(proof, path, spath, out, seconds)
    _record(summary, entry, out)
    entries.append(entry)
    return entry


def _prove_each(run, out, windows, wbar, durations, first_compiles, entries, chain, *, say, summary, reuse,
                anchors, force_hint, backend, threads, zk, seed, ray=None) -> None:
    import zkdl
    tags = [f"proof {i + 1}/{len(windows)} (steps {t0}..{t1 - 1})" for i, (t0, t1) in enumerate(windows)]
    have: dict = {}   # window index -> its Proof (with secrets): reused or proven by this call
    for i, (t0, t1) in enumerate(windows):
        proof = _reused(run, out, t0, t1, tags[i], say=say, anchors=anchors, force_hint=force_hint) if reuse else None
        if proof is not None:
            path, spath = _proof_path(out, t0, t1)
            entry = _proof_entry(proof, path, spath, out, None)
            old = [e for e in summary["proofs"] if e["file"] == entry["file"]]
            if old and old[0].get("prove_seconds") is not None:
                entry["prove_seconds"] = old[0]["prove_seconds"]
            _record(summary, entry, out)
            entries.append(entry)
            have[i] = proof
    todo = [i for i in range(len(windows)) if i not in have]
    wbar.update(completed=len(have))
    if ray is not None and todo:
        _prove_on_ray(run, out, windows, tags, todo, have, chain, wbar, durations, entries, say=say,
                      summary=summary, anchors=anchors, backend=backend, threads=threads, zk=zk, seed=seed,
                      address=ray or None)
        return
    for n, i in enumerate(todo):
        t0, t1 = windows[i]
        prev = have.get(i - 1) if i > 0 else chain
        tag = tags[i]
        left = _proof_eta(durations, len(todo) - n, first_compiles) if durations else None
        eta = "" if left is None else f", ETA {fmt_seconds(left)}"
        _first_proof_notice(say)
        say(f"{tag}: proving{eta}")
        wbar.update(completed=len(have), description=f"{tag}", eta=left if left is not None else None)
        started = time.monotonic()
        opts = dict(anchors or {})
        opts["public_init"] = bool(opts.get("public_init")) and t0 == 0 and prev is None
        opts["public_base"] = bool(opts.get("public_base")) and prev is None   # a chain reuses its blinds
        if opts.get("range") is None:
            opts.pop("range", None)
        shape = (t1 - t0, prev is None, bool(zk), opts.get("range"), bool(opts.get("prove_loss")), backend)
        on_phase = _PhaseTracker(say, shape, started)
        ok = False
        try:
            proof = zkdl.prove(run, steps=(t0, t1 - t0), backend=backend, chain=prev, threads=threads,
                               progress=on_phase, zk=zk, run_seed=seed, **opts)
            ok = True
        finally:
            on_phase.finish(ok, timed=not (first_compiles and not durations))  # not the compiling proof's times
        seconds = time.monotonic() - started
        entry = _save_proof(proof, out, t0, t1, summary, entries, seconds)
        durations.append(seconds)
        say(f"{tag}: {entry['file']}  {fmt_bytes(len(proof.data))}  proved in {fmt_seconds(seconds)}"
            + ("  [PLAIN mode: not zero-knowledge]" if proof.header.get("zk") is False else ""))
        have[i] = proof
        wbar.update(completed=len(have))


def _prove_on_ray(run, out, windows, tags, todo, have, chain, wbar, durations, entries, *, say, summary, anchors,
                  backend, threads, zk, seed, address) -> None:
    """The windows ``todo`` as Ray tasks (zkdl.distributed), each written into ``out`` as it
    finishes. A window whose predecessor is at hand (reused, or the chain start) reuses its
    blinds; the others derive theirs from ``seed``: the same statements as proving them
    one after the other."""
    from zkdl.distributed import WindowJob, prove_jobs
    base = chain if chain is not None else next(iter(have.values()), None)  # the chain's dataset blinds
    index = {}
    jobs = []
    for i in todo:
        t0, t1 = windows[i]
        prev = have.get(i - 1) if i > 0 else chain
        jobs.append(WindowJob.plan(t0, t1, prev=prev, starts_chain=(i == 0 and chain is None), base=base,
                                   anchors=anchors, zk=zk))
        index[t0] = i
    where = f"the Ray cluster at {address}" if address else "a local Ray instance"
    say(f"proving {len(jobs)} window(s) as Ray tasks on {where} (first tasks load or compile the kernels) ...")
    started = time.monotonic()

    def on_done(job, proof, info):
        i = index[job.t0]
        entry = _save_proof(proof, out, job.t0, job.t1, summary, entries, info["seconds"])
        durations.append(info["seconds"])
        have[i] = proof
        left = len(windows) - len(have)
        el = time.monotonic() - started
        eta = f", ETA {fmt_seconds(el / (len(jobs) - left) * left)}" if left else ""
        say(f"{tags[i]}: {entry['file']}  {fmt_bytes(len(proof.data))}  proved in {fmt_seconds(info['seconds'])} "
            f"(worker pid {info['pid']}; {len(have)} of {len(windows)} done{eta})"
            + ("  [PLAIN mode: not zero-knowledge]" if proof.header.get("zk") is False else ""))
        wbar.update(completed=len(have))

    prove_jobs(run, jobs, seed, on_done=on_done, address=address, backend=backend, threads=threads,
               warn=lambda msg: click.echo(f"note: {msg}", err=True))


def eval_record(held, source: dict, history: list[dict], per_epoch: int) -> dict:
    """summary.json "evaluation": the held-out set (name, content digest, rows, where it
    came from), the batches per epoch and the history of (epoch, step, loss, accuracy)
    of the weights W[step] on every held-out row (step 0: the initial weights; then
    after every epoch, and after the last step)."""
    return {"data": {"name": held.name, "digest": held.digest(), "n_samples": int(held.n_samples), **source},
            "file": "run/eval.npz", "batches_per_epoch": per_epoch, "history": history,
            "final": history[-1] if history else None}


def print_report(run, entries: list[dict], out_shown: str, quiet: bool, evaluation: dict | None = None) -> None:
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
    if evaluation and evaluation.get("history"):
        hist = evaluation["history"]
        echo(f"held-out evaluation on {evaluation['data']['n_samples']} rows ({evaluation['data']['name']}), "
             f"not proven:")
        echo(f"  {'epoch':>6}  {'step':>6}  {'eval loss':>10}  {'eval acc':>8}")
        shown = hist if len(hist) <= 12 else hist[:5] + [None] + hist[-5:]
        for h in shown:
            if h is None:
                echo(f"  {'...':>6}")
            else:
                echo(f"  {h['epoch']:>6g}  {h['step']:>6}  {h['loss']:>10.4f}  {h['accuracy']:>8.3f}")
    if entries:
        w = max(len(e["file"]) for e in entries)
        echo(f"proofs ({len(entries)}):")
        echo(f"  {'file':<{w}}  {'steps':>11}  {'size':>10}  {'prove':>8}")
        for e in entries:
            t0, t1 = e["steps"]
            sec = "-" if e["prove_seconds"] is None else fmt_seconds(e["prove_seconds"])
            echo(f"  {e['file']:<{w}}  {f'{t0}..{t1 - 1}':>11}  {fmt_bytes(e['bytes']):>10}  {sec:>8}")
        total = sum(e["prove_seconds"] or 0 for e in entries)
        echo(f"  total {fmt_bytes(sum(e['bytes'] for e in entries))}, {fmt_seconds(total)} proving")
        if any(e["zk"] is False for e in entries):
            echo("  mode: PLAIN (not zero-knowledge): the proofs do not hide the data or the weights")
        echo("verify with:")
        echo(f"  zkdl verify {os.path.join(out_shown, 'proofs', '*.zkdl')} --chain")
        if os.path.isdir(os.path.join(out_shown, "claim")):
            echo(f"  zkdl audit {os.path.join(out_shown, 'claim')}      (the public claim: manifest + proofs)")
        else:
            echo(f"build a claim to hand to an auditor with:\n  zkdl claim {out_shown}")
    echo(f"written to {out_shown}/")


# ============================================================================ writing the directory
def check_out_dir(out: str, force: bool) -> bool:
    """Refuse a non-empty ``out`` unless --force and it only holds zkdl outputs.
    Returns True when ``out`` exists and must be replaced at the end."""
    if not os.path.exists(out):
        return False
    if not os.path.isdir(out):
        raise Fail(f"--out {out}: exists and is not a directory", EXIT_USAGE)
    entries = set(os.listdir(out))
    if not entries:
        return True
    if not force:
        raise Fail(f"output directory {out} already exists and is not empty; "
                   f"pass --force to replace it, or choose another --out", EXIT_USAGE)
    foreign = sorted(e for e in entries if e not in OUTPUT_ENTRIES)
    if foreign:
        raise Fail(f"--force: {out} holds files that zkdl did not write ({', '.join(foreign[:5])}); "
                   f"refusing to delete them", EXIT_USAGE)
    return True


def staging_dir(out: str) -> str:
    import tempfile
    parent = os.path.dirname(os.path.abspath(out)) or "."
    os.makedirs(parent, exist_ok=True)
    d = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(out))}.partial-", dir=parent)
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(d, 0o777 & ~umask)  # mkdtemp makes it 0700; the output directory is an ordinary one
    return d


def install(staging: str, out: str, replace: bool) -> None:
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


def refresh_claim(out: str, publish_metrics: bool, say: Progress) -> None:
    """Write or rebuild OUT/claim/ after ``zkdl prove``, as ``zkdl train`` does; only a note
    when OUT/claim exists and is not a claim directory."""
    claim_dir = os.path.join(out, "claim")
    claim_entries = set(os.listdir(claim_dir)) if os.path.isdir(claim_dir) else set()
    if os.path.exists(claim_dir) and not (claim_entries <= {"manifest.json", "proofs"} and
                                          (not claim_entries or "manifest.json" in claim_entries)):
        click.echo(f"note: {claim_dir} exists and is not a claim directory: no claim written "
                   f"(build one elsewhere with `zkdl claim {out} -o DIR`)", err=True)
    else:
        from zkdl.audit import build_claim
        staging = staging_dir(claim_dir)
        try:
            build_claim(out, staging, publish_metrics=publish_metrics)
            install(staging, claim_dir, bool(claim_entries))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        say(f"claim {'rebuilt' if claim_entries else 'written'}: {rel(claim_dir, out)}/")


def keep_interrupted(run, staging: str, summary: dict) -> int:
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
        if rel(path, staging) not in listed and os.path.exists(spath):
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
    write_json(os.path.join(staging, "summary.json"), summary)
    return len(summary["proofs"])


# ============================================================================ resuming
def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # every zkdl file is replaced by a rename, never rewritten in place
    except OSError:
        shutil.copy2(src, dst)


def copy_for_resume(out: str, staging: str) -> dict:
    """Fill ``staging`` with the contents of ``out`` (hard links where possible) minus the
    claim (rebuilt at the end); returns out's summary.json (or {})."""
    from zkdl.audit import read_summary
    shutil.copytree(out, staging, copy_function=_link_or_copy, dirs_exist_ok=True,
                    ignore=lambda d, names: ["claim"] if os.path.samefile(d, out) and "claim" in names else [])
    return read_summary(out) or {}


_RESUME_CONFIG_FIELDS = ("width", "layers", "batch_size", "R", "Q", "update_bits", "steps", "lr_num", "lr_shift")


def resume_settings(ctx, out: str, given: dict):
    """(config, data, options) of ``zkdl train --resume --out OUT``: OUT's recorded run
    and train options, checked against the options given on the command line (those
    not given are taken from OUT). Exit 2 naming the differing fields."""
    from click.core import ParameterSource
    from zkdl.audit import read_summary
    from zkdl.tracer import Run
    if not os.path.isfile(os.path.join(out, "run", "manifest.json")):
        raise Fail(f"--resume: {out} holds no recorded run (no run/manifest.json); nothing to continue",
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
        data = load_data(given["data_spec"], given["label_column"], saved.R)
        if data.digest() != saved_run.data.digest():
            diffs.append(f"data {saved_run.data.name} (given {data.name})")
    opts = dict(prior["train_options"]) if isinstance(prior.get("train_options"), dict) else {}
    proofs = prior_proofs(prior)
    # a summary from before no_prove was recorded: a --no-prove run has window None and no proofs
    opts.setdefault("no_prove", bool(opts) and opts.get("window") is None and not proofs)
    opts["no_prove"] = bool(given["no_prove"]) if is_given("no_prove") else bool(opts["no_prove"])
    opts.setdefault("window", prior.get("window"))
    opts.setdefault("no_zk", any(e.get("zk") is False for e in proofs))
    opts.setdefault("public_data", any(e.get("dataset_public") for e in proofs))
    opts.setdefault("public_init", any(e.get("initial_weights_public") for e in proofs))
    opts.setdefault("public_base", any(e.get("frozen_public") for e in proofs))
    opts.setdefault("prove_loss", any(e.get("losses") is not None for e in proofs))
    opts.setdefault("range", next((e["range"] for e in proofs if e.get("range")), "bits"))
    if given.get("range") is not None and given["range"] != opts["range"]:
        diffs.append(f"range {opts['range']} (given {given['range']})")
    opts.setdefault("publish_metrics", False)
    if is_given("publish_metrics"):  # a claim option: the claim is rebuilt anyway
        opts["publish_metrics"] = bool(given["publish_metrics"])
    for k in ("window", "no_zk", "public_data", "public_init", "public_base", "prove_loss"):
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
        raise Fail(f"--resume: {out} was trained with other settings: {'; '.join(diffs)}; drop these options "
                   f"or match them", EXIT_USAGE)
    return saved, saved_run.data, opts
