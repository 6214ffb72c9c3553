"""The ``zkdl`` command line: train, prove, verify, inspect, claim, audit, export-model,
evaluate, circuit emit.

What the commands share (exit codes, the error handling of the group, options) is in
``zkdl.cli_common``; the output directory of ``zkdl train`` / ``zkdl prove`` in
``zkdl.rundir``; the proof-file helpers of verify, inspect and circuit emit in
``zkdl.cli_verify``.

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

from zkdl import __version__, cli_verify, rundir
from zkdl.cli_common import (EXIT_INTERRUPTED, EXIT_REJECTED, EXIT_USAGE, Fail, Progress, ZkdlGroup, anchor_options,
                             config_options, encodable, first_line, fmt_bytes, fmt_seconds, load_data, make_config,
                             parse_steps, publish_metrics_option, ray_option, write_json)
from zkdl.errors import VerificationError, ZkdlError
from zkdl.eval_cli import prove_eval_cmd

DEFAULT_OUT = "zkdl-run"
DEFAULT_STEPS = 4


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


def parse_method_params(method, pairs) -> dict:
    """--method-param KEY=INT pairs, checked against the method (exit 2 on a bad one)."""
    params = {}
    for pair in pairs:
        key, sep, val = pair.partition("=")
        try:
            if not sep or not key:
                raise ValueError
            params[key] = int(val)
        except ValueError:
            raise Fail(f"--method-param {pair!r}: expected KEY=INT", EXIT_USAGE) from None
    from zkdl.errors import ConfigError
    from zkdl.tracer import step_function
    try:
        full, _ = step_function(method or "sgd_mlp", params)
    except ConfigError as exc:
        raise Fail(f"--method: {exc}", EXIT_USAGE) from None
    return full


def load_base(path: str, method, cfg) -> dict:
    """--base MODEL.npz: {frozen state name: the model's weights} (exit 2 on a bad file)."""
    from zkdl.anchors import AnchorError, load_model
    from zkdl.circuits.builder import method_class
    names = getattr(method_class(method or "sgd_mlp"), "constant_state", ())
    if not names:
        raise Fail(f"--base: training method {method or 'sgd_mlp'!r} has no frozen base", EXIT_USAGE)
    try:
        _, ws, _, _ = load_model(path)
    except AnchorError as exc:
        raise Fail(f"--base {exc}", EXIT_USAGE) from None
    dims = cfg.dims()
    want = [(dims[l - 1], dims[l]) for l in range(1, len(dims))]
    if [w.shape for w in ws] != want:
        raise Fail(f"--base {path}: weights of shapes {[w.shape for w in ws]}, the config's layers are {want}",
                   EXIT_USAGE)
    return {names[0]: ws}


def check_public_base(method, public_base: bool) -> None:
    """--public-base needs a method with a frozen base (exit 2 before any work)."""
    from zkdl.circuits.builder import method_class
    if public_base and not method_class(method or "sgd_mlp").statement.get("frozen"):
        raise Fail(f"--public-base: training method {method or 'sgd_mlp'!r} has no frozen base", EXIT_USAGE)


@cli.command()
@click.option("--out", "-o", default=DEFAULT_OUT, show_default=True, help="Output directory.")
@click.option("--steps", type=click.IntRange(min=1), default=DEFAULT_STEPS, show_default=True,
              help="Training steps (batches).")
@click.option("--window", "--aggregate", "window", type=click.IntRange(min=1), default=1, show_default=True,
              help="Steps per proof (T); 1 = one proof per batch.")
@config_options
@click.option("--no-prove/--prove", "no_prove", default=False,
              help="--no-prove: train and record only; prove later with `zkdl prove` (--resume keeps a run's "
                   "--no-prove unless --prove is given).")
@click.option("--backend", type=click.Choice(["cpu", "cuda", "reference"]), default="cpu", show_default=True,
              help="Prover backend (cuda: NVIDIA GPU through CuPy, falls back to cpu with a note where "
                   "unavailable; reference: pure-Python oracle, tiny sizes only).")
@click.option("--no-zk", is_flag=True, help="Plain mode (NOT zero-knowledge; labelled as such): debugging, speed "
              "comparisons.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Prover threads [default: all cores].")
@click.option("--force", is_flag=True, help="Replace an existing output directory (only zkdl outputs in it).")
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --out: train the missing steps and "
              "prove the missing windows (options not given are taken from it; those given must match).")
@anchor_options
@publish_metrics_option
@click.option("--method", default=None, metavar="NAME",
              help="Training method: a registered plugin (docs/METHODS.md) [default: sgd_mlp]; fedavg / fedstale: "
                   "a federated run of clients on shards of --data (--method-param clients=K,rounds=R,...).")
@click.option("--method-param", "method_param", multiple=True, metavar="KEY=INT",
              help="A parameter of --method (repeatable), e.g. --method-param frozen_layers=2.")
@click.option("--base", "base_path", type=click.Path(dir_okay=False), default=None, metavar="MODEL.npz",
              help="The frozen base model of a method that has one (lora): a zkdl model file (`zkdl "
                   "export-model`) whose weights fit the config [default: the initialization from --seed].")
@click.option("--epochs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Train N epochs instead of --steps: N * floor(rows / batch) steps (an epoch is one shuffle of "
                   "the training rows cut into full batches; the rows mod batch left at its end sit that epoch out).")
@click.option("--eval-split", "eval_split", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              metavar="FRACTION", help="Hold out ceil(FRACTION * rows) rows of --data (chosen by --seed) for "
                                       "evaluation; train on the others.")
@click.option("--eval-data", "eval_spec", default=None, metavar="SPEC",
              help="A held-out set (the forms of --data), encoded with the training set's scaling.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr; print only the output directory.")
def train(out, steps, window, width, layers, batch_size, lr_num, lr_shift, lr, R, Q, seed, data_spec, label_column,
          no_prove, backend, no_zk, threads, force, public_data, public_init, public_base, prove_loss,
          range_strategy, publish_metrics, quiet, update_bits=None, resume=False, method=None, method_param=(),
          base_path=None, epochs=None, eval_split=None, eval_spec=None):
    """Train an MLP with exact integer SGD, record every step and prove it.

    With no options this runs the embedded default: an 8-layer, width-32 ReLU MLP
    (TrainConfig defaults) on the built-in synthetic data, 4 steps of batch 32, one
    proof per batch, chained, written to ./zkdl-run/ (run/, proofs/, secrets/,
    summary.json). Progress goes to stderr, the final table to stdout. The output
    directory appears only when everything succeeded, or after Ctrl-C: then it holds
    the finished steps and proofs (summary.json "complete": false), and
    `zkdl train --resume --out OUT` continues the run (options not given are taken
    from OUT; options given must match it).

    Held-out evaluation (not proven): --eval-split FRACTION holds out rows of --data
    (seeded by --seed), --eval-data SPEC reads a separate set; either is encoded with
    the training rows' scaling, evaluated (loss and accuracy on every row) on W[0],
    after every epoch and after the last step, and recorded in summary.json
    "evaluation" and OUT/run/eval.npz. --epochs N: N epochs of floor(rows / batch)
    steps each, instead of --steps.
    """
    ctx = click.get_current_context()
    from click.core import ParameterSource
    steps_given = ctx.get_parameter_source("steps") not in (None, ParameterSource.DEFAULT)
    if method in ("fedavg", "fedstale") and (epochs or eval_split or eval_spec):
        raise Fail(f"--epochs, --eval-split and --eval-data are not available for --method {method}", EXIT_USAGE)
    if epochs is not None and steps_given:
        raise Fail("give either --steps or --epochs, not both", EXIT_USAGE)
    if eval_split is not None and eval_spec is not None:
        raise Fail("give either --eval-split or --eval-data, not both", EXIT_USAGE)
    if resume and (eval_split is not None or eval_spec is not None):
        raise Fail("--resume: a resumed run keeps its held-out set (omit --eval-split / --eval-data)", EXIT_USAGE)
    if method in ("fedavg", "fedstale"):   # a federated run: zkdl.federated_cli
        from zkdl.federated_cli import train_federated
        return train_federated(click.get_current_context(), method, method_param, out=out, force=force, width=width,
                               layers=layers, batch_size=batch_size, lr_num=lr_num, lr_shift=lr_shift, lr=lr, R=R,
                               Q=Q, seed=seed, update_bits=update_bits, data_spec=data_spec,
                               label_column=label_column, backend=backend, no_zk=no_zk, threads=threads,
                               range_strategy=range_strategy, quiet=quiet)
    say = Progress(quiet)
    anchors = dict(public_data=public_data, public_init=public_init, public_base=public_base, prove_loss=prove_loss,
                   range=range_strategy)
    method_params = parse_method_params(method, method_param)
    if not resume:
        check_public_base(method, public_base)
    if resume:
        if force:
            raise Fail("--resume continues OUT, --force replaces it: give one of them", EXIT_USAGE)
        cfg, data, opts = rundir.resume_settings(click.get_current_context(), out, dict(
            width=width, layers=layers, batch_size=batch_size, lr_num=lr_num, lr_shift=lr_shift, lr=lr, R=R, Q=Q,
            update_bits=update_bits, seed=seed, steps=steps, data_spec=data_spec, label_column=label_column,
            window=window, no_zk=no_zk, publish_metrics=publish_metrics, no_prove=no_prove, **anchors))
        window, no_zk, publish_metrics = opts["window"], opts["no_zk"], opts["publish_metrics"]
        no_prove = opts["no_prove"]
        anchors = {k: opts[k] for k in anchors}
        replace = True
    else:
        from zkdl.circuits.builder import DEFAULT_RANGE
        anchors["range"] = range_strategy or DEFAULT_RANGE
        cfg = make_config(width, layers, batch_size, lr_num, lr_shift, R, Q, seed, steps, lr, update_bits)
        replace = rundir.check_out_dir(out, force)
    if not no_prove:  # an unavailable backend is reported before training, not after
        from zkdl.api import resolve_backend
        backend = resolve_backend(backend, warn=lambda msg: click.echo(f"note: {msg}", err=True))
    held, held_source = None, None
    if not resume:
        if eval_split is not None:
            from zkdl.data import load_spec_split
            data, held = load_spec_split(data_spec, label_column, R=cfg.R, fraction=eval_split, seed=cfg.batch_seed)
            held_source = {"source": "split", "spec": data_spec, "fraction": eval_split, "seed": cfg.batch_seed}
        else:
            data = load_data(data_spec, label_column, cfg.R)
            if eval_spec is not None:
                held = load_data(eval_spec, label_column, cfg.R, scaling=data.scaling)
                held_source = {"source": "file", "spec": eval_spec}
        cfg = cfg.for_data(data)
    elif os.path.isfile(os.path.join(out, "run", "eval.npz")):
        from zkdl.data import Dataset
        held = Dataset.load_raw(os.path.join(out, "run", "eval.npz"))
    per_epoch = data.n_samples // cfg.batch_size
    if per_epoch < 1:
        raise Fail(f"--batch-size {cfg.batch_size} exceeds the {data.n_samples} training rows", EXIT_USAGE)
    if epochs is not None:
        if resume and cfg.steps != epochs * per_epoch:
            raise Fail(f"--resume: {out} was trained with steps {cfg.steps} (given --epochs {epochs}: "
                       f"{epochs * per_epoch} steps); drop --epochs or match it", EXIT_USAGE)
        cfg = cfg.replace(steps=epochs * per_epoch)
    initial = None
    if base_path is not None:
        if resume:
            raise Fail("--base: a resumed run keeps its base (omit --base)", EXIT_USAGE)
        initial = load_base(base_path, method, cfg)
    steps = cfg.steps
    import zkdl
    say(f"zkdl {__version__}: {'resuming' if resume else 'training'} {cfg.layers}-layer MLP {list(cfg.dims())} "
        f"on {data.name}, batch {cfg.batch_size}, eta {cfg.lr_num}/2^{cfg.lr_shift}, {steps} steps"
        + ("" if no_prove else f", proofs of {window} step(s) each"))
    left_out = data.n_samples - per_epoch * cfg.batch_size
    say(f"epoch = {per_epoch} batches of {cfg.batch_size} from a fresh shuffle of the {data.n_samples} training rows"
        + (f" ({left_out} rows of each shuffle, different ones each epoch, sit that epoch out)" if left_out else "")
        + f"; {steps} steps = {steps / per_epoch:g} epochs"
        + ("" if held is None else f"; held-out set: {held.n_samples} rows ({held.name})"))
    prior_eval = None
    staging = rundir.staging_dir(out)
    run = None
    summary = None
    history = []  # held-out evaluations: {"epoch", "step", "loss", "accuracy"}
    train_opts = {"window": None if no_prove else window, "no_prove": bool(no_prove), "no_zk": bool(no_zk),
                  "publish_metrics": bool(publish_metrics), **anchors}
    try:
        t_start = time.monotonic()
        if resume:
            prior = rundir.copy_for_resume(out, staging)
            run = zkdl.Run.load(os.path.join(staging, "run"))
            if (method is not None and method != run.method) or (method_param and method_params != run.method_params):
                raise Fail(f"--method/--method-param differ from the run in {out} ({run.method} "
                           f"{run.method_params}): omit them to resume it", EXIT_USAGE)
        else:
            prior = {}
            run = zkdl.train(cfg, data, 0, out_dir=os.path.join(staging, "run"), method=method or "sgd_mlp",
                             method_params=method_params, initial=initial)  # an empty run, then its steps
        n0 = run.n_steps
        history = []
        if held is not None:
            if resume:
                prior_eval = prior.get("evaluation") if isinstance(prior.get("evaluation"), dict) else {}
                held_source = {k: v for k, v in (prior_eval.get("data") or {}).items()
                               if k in ("source", "spec", "fraction", "seed")}
                history = [h for h in prior_eval.get("history") or [] if isinstance(h, dict)
                           and isinstance(h.get("step"), int) and h["step"] <= n0]
            else:
                from zkdl.tracer import _atomic_write
                _atomic_write(os.path.join(staging, "run", "eval.npz"), held.save_raw)

        def evaluate_now(t_next):
            el, ea = run.evaluate(held)
            e = t_next / per_epoch
            history[:] = [h for h in history if h["step"] != t_next] + [
                {"epoch": round(e, 4), "step": t_next, "loss": el, "accuracy": ea}]
            say(f"epoch {e:g} (W[{t_next}]): eval loss {el:.4f}  eval accuracy {ea:.3f}  "
                f"on {held.n_samples} held-out rows")

        if held is not None and n0 == 0:
            evaluate_now(0)

        def on_step(t, loss, acc):
            el = time.monotonic() - t_start
            eta = el / (t + 1 - n0) * (steps - t - 1)
            say(f"step {t} ({t + 1} of {steps}): loss {loss:.4f}  batch accuracy {acc:.3f}  "
                f"[{fmt_seconds(el)}, ETA {fmt_seconds(eta)}]")
            if held is not None and ((t + 1) % per_epoch == 0 or t + 1 == steps):
                evaluate_now(t + 1)

        if resume:
            say(f"resuming {out}: {n0} of {steps} steps recorded, "
                f"{len(rundir.prior_proofs(prior))} proofs")
        if steps > n0:
            tbar = say.bar("training", total=steps, unit="steps")   # drawn on a terminal only
            tbar.update(completed=n0)
            step_cb = on_step

            def on_step(t, loss, acc, _cb=step_cb):
                _cb(t, loss, acc)
                el = time.monotonic() - t_start
                tbar.update(completed=t + 1, eta=el / (t + 1 - n0) * (steps - t - 1))
            try:
                run.resume(steps - n0, progress=on_step)
            finally:
                tbar.done()
        summary = rundir.summary_base(run)
        summary["run"] = "run"
        summary["window"] = train_opts["window"]
        summary["train_options"] = train_opts
        summary["train_seconds"] = round(time.monotonic() - t_start + (prior.get("train_seconds") or 0), 3)
        summary["proofs"] = [e for e in rundir.prior_proofs(prior) if os.path.isfile(os.path.join(staging, e["file"]))]
        summary["epochs"] = {"batches_per_epoch": per_epoch, "epochs": round(run.n_steps / per_epoch, 4),
                             "rows_left_out_per_epoch": data.n_samples - per_epoch * cfg.batch_size}
        if held is not None:
            summary["evaluation"] = rundir.eval_record(held, held_source or {}, history, per_epoch)
        entries = []
        if not no_prove:
            import shlex
            entries = rundir.prove_windows(run, staging, 0, run.n_steps, window, backend=backend, threads=threads,
                                           zk=not no_zk, say=say, summary=summary, reuse=resume, anchors=anchors,
                                           force_hint=f"`zkdl prove --force {shlex.quote(out)}`")
        if resume and (run.n_steps > n0 or
                       {e["file"] for e in summary["proofs"]} - {e["file"] for e in rundir.prior_proofs(prior)}):
            if os.path.exists(os.path.join(staging, "model.npz")):
                os.unlink(os.path.join(staging, "model.npz"))
                say("note: removed model.npz (it no longer is the last proof's model); "
                    f"export it again with `zkdl export-model {out}`")
        summary["final_accuracy"] = float(run.accuracy())
        summary["complete"] = True
        write_json(os.path.join(staging, "summary.json"), summary)
        if entries:
            from zkdl.audit import build_claim
            build_claim(staging, os.path.join(staging, "claim"),  # public: proofs + manifest, no secrets
                        publish_metrics=publish_metrics)
        rundir.install(staging, out, replace)
    except KeyboardInterrupt:
        if run is None or (run.n_steps == 0 and not resume) or not os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            if summary is None:  # interrupted while training: the proofs OUT already had stay listed
                summary = rundir.summary_base(run)
                summary.update(run="run", window=train_opts["window"], train_options=train_opts,
                               train_seconds=round(time.monotonic() - t_start + (prior.get("train_seconds") or 0), 3),
                               proofs=rundir.prior_proofs(prior))
                if held is not None:
                    summary["evaluation"] = rundir.eval_record(held, held_source or {}, history, per_epoch)
            n_proofs = rundir.keep_interrupted(run, staging, summary)
            rundir.install(staging, out, replace)
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
    say(f"done in {fmt_seconds(say.elapsed())}")
    say.close()   # the live bars (a terminal) end before the report goes to stdout
    rundir.print_report(run, entries, out, quiet, evaluation=summary.get("evaluation"))
    if not quiet and no_prove:
        click.echo(f"prove later with:\n  zkdl prove {out}")


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
@anchor_options
@publish_metrics_option
@ray_option("Prove the windows")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def prove(run_dir, steps_spec, window, out, backend, no_zk, threads, force, public_data, public_init, public_base,
          prove_loss, range_strategy, publish_metrics, quiet, ray_address=None):
    """Prove a recorded run (from `zkdl train --no-prove` or zkdl.Run.save).

    RUN_DIR is a saved run (it holds manifest.json) or a `zkdl train` output
    directory (it holds run/). Steps are proven in windows of --window steps; each
    window chains onto the previous one (its initial weights are the previous proof's
    final weight commitments). Resumable: windows whose proof and secrets files
    already exist are reused, so an interrupted `zkdl prove` continues where it stopped.
    Like `zkdl train`, writes (or refreshes) the public claim OUT/claim/.

    --ray [ADDRESS]: one Ray task per window, on a Ray cluster or a local Ray instance;
    each proof is written as its window finishes, a window whose worker dies is
    retried, and a rerun reuses the finished windows. The boundary blinds come from the
    run seed in OUT/secrets/run-seed, so the windows need not wait for each other and
    the statements are those of a sequential prove.
    """
    from zkdl.cli_common import check_ray
    from zkdl.tracer import Run
    ray = check_ray(ray_address)
    say = Progress(quiet)
    base, rdir = rundir.locate_run(run_dir)
    out = out or base
    run = Run.load(rdir)
    check_public_base(run.method, public_base)
    t0, t1 = parse_steps(steps_spec, run.n_steps)
    os.makedirs(out, exist_ok=True)
    from zkdl.audit import read_summary
    spath = os.path.join(out, "summary.json")
    summary = read_summary(out)
    if summary and summary.get("config_digest") != run.config.digest():
        raise Fail(f"{spath} belongs to another run (config digest differs); choose another --out", EXIT_USAGE)
    if not summary or summary.get("format") != rundir.SUMMARY_FORMAT:
        summary = rundir.summary_base(run)
    summary["run"] = rundir.rel(rdir, out)
    summary["complete"] = False
    say(f"proving steps {t0}..{t1 - 1} of {rdir} ({run.n_steps} steps recorded) in windows of {window}")
    entries = rundir.prove_windows(run, out, t0, t1, window, backend=backend, threads=threads, say=say,
                                   summary=summary, reuse=not force, zk=not no_zk,
                                   anchors=dict(public_data=public_data, public_init=public_init,
                                                public_base=public_base, prove_loss=prove_loss,
                                                range=range_strategy), ray=ray)
    covered = sorted(tuple(e["steps"]) for e in summary["proofs"])
    end = 0
    for a, b in covered:
        if a == end:
            end = b
    summary["complete"] = end >= run.n_steps
    write_json(spath, summary)
    rundir.refresh_claim(out, publish_metrics, say)
    say(f"done in {fmt_seconds(say.elapsed())}")
    say.close()
    if quiet:
        click.echo(out)
        return
    rundir.print_report(run, entries, out, quiet)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--expect-initial", metavar="DIGEST", default=None,
              help="Required initial-weights digest (of the first file with --chain, of every file otherwise).")
@click.option("--chain", is_flag=True,
              help="The files form one chain in the given order: each must start at the step and from the "
                   "final weights (and dataset) of the previous one.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (one JSON object on stdout).")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr (several files: a line per file, on a "
                                                  "terminal a bar).")
def verify(files, expect_initial, chain, as_json, quiet=False):
    """Verify proof files; print one line per file (VALID, or INVALID with the reason).

    Checks each proof completely against the circuit its header's config defines, with
    no access to the run. Exit status: 0 if every file is valid, 1 if any is invalid, 2 on
    bad usage or when a file cannot be read. With --chain the files must continue each other (same config and
    dataset, contiguous steps, each starting from the previous final-weights digest),
    so together they prove one training run from its first to its last step.
    """
    if expect_initial is not None and not (len(expect_initial) == 64 and
                                           all(c in "0123456789abcdef" for c in expect_initial)):
        raise click.BadParameter("expected a 64-digit lowercase hex SHA-256 digest", param_hint="--expect-initial")
    results = cli_verify.check_files(files, expect_initial, chain)
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
    data = cli_verify.read_proof_file(file)
    try:
        header, body = unpack(data)
    except VerificationError as exc:
        raise Fail(f"{file}: malformed proof file: {first_line(exc)}", EXIT_REJECTED) from None
    if as_json:
        click.echo(json.dumps({"file": file, "format_version": FORMAT_VERSION, "file_bytes": len(data),
                               "body_bytes": len(body), "header": header}, indent=1, sort_keys=True))
        return
    echo = click.echo
    zk = header.get("zk")
    echo(f"file          {file}  ({fmt_bytes(len(data))}: header {len(data) - len(body) - 22} B JSON, "
         f"body {fmt_bytes(len(body))})")
    echo(f"kind          {header.get('kind')}  (container format version {FORMAT_VERSION}, "
         f"written by zkdl {header.get('zkdl_version')})")
    params = header.get("method_params")
    shown = ", ".join(f"{k}={v}" for k, v in params.items()) if isinstance(params, dict) else ""
    echo(f"method        {header.get('method')}" + (f"  ({shown})" if shown else ""))
    if zk is False:
        echo("mode          PLAIN (not zero-knowledge): the proof does not hide the witness")
    elif zk is True:
        echo("mode          zero-knowledge")
    else:
        echo(f"mode          unknown (zk = {zk!r})")
    echo(f"range checks  {header.get('range')}")
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
            echo(f"config        (invalid: {first_line(exc)}) {json.dumps(cfg, sort_keys=True)}")
    st = header.get("statement")
    if isinstance(st, dict):
        steps = st.get("steps")
        if isinstance(steps, list) and len(steps) == 2 and all(isinstance(x, int) for x in steps):
            echo(f"steps         {steps[0]}..{steps[1] - 1}  (T = {steps[1] - steps[0]})")
        else:
            echo(f"steps         {steps!r}")
        echo(f"dataset rows  {st.get('n_samples')}")
        echo(f"dataset       {st.get('dataset_digest')}")
        if "frozen_digest" in st:
            echo(f"frozen base   {st.get('frozen_digest')}" + ("  (public: zero blinds)" if st.get("frozen_public") else ""))
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
@publish_metrics_option
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
            raise Fail(f"--out {claim_dir}: exists and is not a directory", EXIT_USAGE)
        entries = set(os.listdir(claim_dir))
        if entries and not (entries <= {"manifest.json", "proofs"} and "manifest.json" in entries):
            raise Fail(f"{claim_dir} exists and is not a claim directory; choose another --out", EXIT_USAGE)
        replace = True
    staging = rundir.staging_dir(claim_dir)
    try:
        manifest = build_claim(run_out, staging, publish_metrics=publish_metrics)
        rundir.install(staging, claim_dir, replace)
    except ClaimError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise Fail(str(exc), EXIT_USAGE) from None
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
              help="The file to write [default: RUN_OUT_DIR/model.npz, or RUN_OUT_DIR/model.pt with --format torch].")
@click.option("--format", "fmt", type=click.Choice(["npz", "torch"]), default="npz", show_default=True,
              help="npz: the released model with its opening; torch: a state_dict (.pt) for the same "
                   "nn.Sequential of Linear/ReLU layers (weights transposed to out x in and dequantized by "
                   "2^-R, biases too; needs PyTorch: pip install 'zkdl[torch]').")
@click.option("--force", is_flag=True, help="Replace an existing file.")
def export_model_cmd(run_out, path, force, fmt):
    """Release the trained model with the opening of its commitment.

    Writes the final weights of the last proof of RUN_OUT_DIR (a `zkdl train` / `zkdl
    prove` output directory) as a .npz: per layer W<l> (int64, fixed point at scale
    2^R), W<l>_float (float64 = W<l> / 2^R) and blinds<l> (the blinds of the proof's
    final-weight commitment), plus meta (JSON: config, step, the digest they open). An
    auditor checks it with `zkdl audit CLAIM --model FILE`. The file reveals these
    weights and nothing else; the opening is checked against the proof before writing.

    With --format torch: a torch state_dict (`torch.save`) that loads into the same
    nn.Sequential(Linear, ReLU, ..., Linear): `{2(l-1)}.weight` = W<l>^T / 2^R and
    `{2(l-1)}.bias` = b<l> / 2^R (method sgd_bias), float32; the opening is checked as for
    the .npz, but the .pt holds no blinds (docs/FORMAT.md section 6).
    """
    from zkdl.anchors import AnchorError, export_model
    path = path or os.path.join(run_out, "model.pt" if fmt == "torch" else "model.npz")
    if os.path.exists(path) and not force:
        raise Fail(f"{path} exists (use --force to replace it)", EXIT_USAGE)
    try:
        if fmt == "torch":
            from zkdl.errors import ZkdlError
            from zkdl.torch_io import export_torch
            try:
                meta = export_torch(run_out, path)
            except (AnchorError, ZkdlError) as exc:
                raise Fail(str(exc), EXIT_USAGE) from None
            click.echo(f"torch state_dict of W[{meta['step']}] ({meta['layers']} layers; keys "
                       f"{', '.join(meta['keys'])}) written to {path}; it is the opening of final weights "
                       f"{meta['final_weights_digest'][:16]}… of {meta['proof']}")
            return
        meta = export_model(run_out, path)
    except AnchorError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    k = meta["step"]
    what = f"W[{k}], the weights after steps 0..{k - 1}" if k > 0 else "W[0], the initial weights"
    click.echo(f"model {what} ({meta['layers']} layers) written to {path}; it opens final "
               f"weights {meta['final_weights_digest'][:16]}… of {meta['proof']}")


@cli.command("evaluate")
@click.argument("model_path", metavar="MODEL.npz")
@click.argument("data_spec", metavar="DATA")
@click.option("--run", "run_dir", default=None, metavar="RUN_OUT_DIR",
              help="The `zkdl train` output directory whose summary.json holds the training scaling [default: the "
                   "directory holding MODEL.npz].")
@click.option("--label-column", default="label", show_default=True, help="Label column of a .csv data file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def evaluate_cmd(model_path, data_spec, run_dir, label_column, as_json):
    """Accuracy and confusion matrix of a released model on a dataset (not proven).

    MODEL.npz is a `zkdl export-model` file; DATA a data spec as for `zkdl train
    --data` ('synthetic[:N...]', 'digits', a .npz or .csv path). DATA is encoded with the
    training data's scaling (per-feature mean and std, R, label map) recorded in the
    summary.json of --run, or of the directory holding MODEL.npz (a model exported into
    its run directory); a summary of another config there is an error. Without a
    recorded scaling DATA is standardized by its own statistics and its labels numbered
    in sorted order (as a training set would be), with a note on stderr. A quantized
    set zkdl stored is used as it is: `zkdl evaluate OUT/model.npz OUT/run/eval.npz`
    evaluates on the held-out rows of `zkdl train --eval-split`.
    Exit 2 for a missing or unreadable file, a file that is no zkdl model, a model of
    another run, or data whose features or classes do not fit the model.
    """
    from zkdl.evaluate import EvaluationError, evaluate
    try:
        rep = evaluate(model_path, data_spec, label_column, run_dir=run_dir)
    except (EvaluationError, ZkdlError) as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    if rep["scaling"] == "own statistics":
        click.echo(f"note: no training scaling recorded for {model_path} (pass --run RUN_OUT_DIR); {data_spec} is "
                   f"standardized by its own statistics and its labels numbered in sorted order, so the "
                   f"accuracy is only meaningful if that matches the training data", err=True)
    if as_json:
        click.echo(json.dumps(rep, indent=1, sort_keys=True))
        return
    echo = click.echo
    echo(encodable(f"model {rep['model']} on {rep['data']} ({rep['n_samples']} rows, scaling: "
                   f"{rep['scaling_source'] if rep['scaling'] == 'training' else rep['scaling']})"))
    echo(f"accuracy {rep['accuracy']:.4f} ({rep['correct']} of {rep['n_samples']} correct), "
         f"loss {rep['loss']:.4f}  (not proven)")
    cls = rep["classes"]
    w = max(5, max(len(c) for c in cls) + 1, max(len(str(v)) for row in rep["confusion"] for v in row) + 1)
    echo("confusion matrix (rows: true class, columns: predicted):")
    echo(encodable(" " * w + "".join(f"{c[:w - 1]:>{w}}" for c in cls)))
    for c, row in zip(cls, rep["confusion"]):
        echo(encodable(f"{c[:w - 1]:>{w}}" + "".join(f"{v:>{w}}" for v in row)))


@cli.command()
@click.argument("claim_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the audit report as JSON on stdout.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a self-contained HTML report (summary, proof table, chain diagram, plots of the loss, "
                   "held-out accuracy and proof time per step where the data is there) here.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes verifying proofs in parallel [default: all cores].")
@click.option("--data", "data_spec", default=None,
              help="The public dataset to check the claim's dataset commitment against: 'synthetic[:N...]', "
                   "'digits' or a .npz/.csv path (the claim must be proven with --public-data).")
@click.option("--label-column", default="label", show_default=True, help="Label column of a .csv data file.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None,
              help="A released model (`zkdl export-model`): check it is exactly the claim's final weights.")
@click.option("--base", "base_path", type=click.Path(dir_okay=False), default=None, metavar="MODEL.npz",
              help="The published base model of a --public-base claim (lora): recompute its frozen commitment "
                   "from this zkdl model file [default: from the seed].")
@click.option("--test-data", "test_data", default=None, metavar="TEST_SPEC",
              help="The public test set of a `zkdl prove-eval --public-data` evaluation proof: recompute its "
                   "test-set commitment from this data spec (or stored set).")
@ray_option("Verify the proofs")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar on stderr (there is none when stderr is not a "
                                                  "terminal either).")
def audit(claim_dir, as_json, html_path, jobs, data_spec, label_column, model_path, base_path, test_data,
          quiet=False, ray_address=None):
    """Audit a training claim: verify every proof and check that they prove what the manifest states.

    Checks each file's SHA-256 against the manifest, verifies every proof (in parallel),
    and checks that the step ranges are in order, contiguous and complete, that each
    proof starts from the previous proof's final weights, that all share the manifest's
    config and dataset commitment, and that the first proof range-checks the initial
    weights and the dataset. Public anchors: a claim proven with --public-init gets its
    W[0] recomputed from the seed; --data recomputes the dataset commitment of a
    --public-data claim; --model checks a released model; proven losses (--prove-loss)
    are reported and compared with the manifest's metrics. Evaluation proofs
    (`zkdl prove-eval`, in CLAIM_DIR/eval/) are verified and checked to evaluate the
    claim's final model: their proven test accuracy is reported (--test-data recomputes
    a public test set). Reports what is proven and every failure with its location.
    Exit status: 0 the whole claim holds, 1 it does not, 2 the claim cannot be read
    (missing directory, manifest.json missing or not JSON), the --model file cannot be
    read or the --html file cannot be written (both checked before any verification).
    CLAIM_DIR may also be a `zkdl train` / `zkdl prove` output directory holding claim/.
    """
    from zkdl.audit import MANIFEST, ClaimError, audit_claim, check_output_path
    from zkdl.cli_common import check_ray
    from zkdl.report import html_report, text_report
    ray = check_ray(ray_address)
    if ray is not None and jobs is not None:
        raise Fail("give --jobs (local worker processes) or --ray (Ray tasks), not both", EXIT_USAGE)
    if not os.path.exists(os.path.join(claim_dir, MANIFEST)) and \
            os.path.exists(os.path.join(claim_dir, "claim", MANIFEST)):
        claim_dir = os.path.join(claim_dir, "claim")
    try:
        if html_path is not None:  # before the audit's work, not after it
            check_output_path(html_path, "--html")
        say = Progress(quiet)   # a live bar on a terminal; no lines otherwise (as before)
        vbar = say.bar("verifying proofs", total=None, unit="proofs")

        def on_verified(done, total):
            vbar.update(completed=done, total=total)
        try:
            report = audit_claim(claim_dir, jobs=jobs, data_spec=data_spec, label_column=label_column,
                                 model_path=model_path, base_path=base_path, test_data=test_data,
                                 ray=None if ray is None else (ray or True),
                                 **({"progress": on_verified} if say.live else {}))
        finally:
            say.close()
    except ClaimError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    if html_path is not None:
        from zkdl.api import atomic_write
        # the report holds untrusted manifest strings: a lone surrogate is written as \udXXX
        atomic_write(html_path, html_report(report).encode("utf-8", "backslashreplace"))
    if as_json:
        click.echo(json.dumps(report, indent=1, sort_keys=True))  # ASCII: non-ASCII characters escaped
    else:
        click.echo(encodable(text_report(report)))
        if html_path is not None:
            click.echo(encodable(f"HTML report written to {html_path}"))
    if not report["ok"]:
        raise click.exceptions.Exit(EXIT_REJECTED)


@cli.group()
def circuit():
    """Circuit tools: emit the FAC4DNN circuit that a proof's config defines."""


@circuit.command("emit")
@config_options
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
@click.option("--range", "range_strategy", type=click.Choice(["bits", "logup"]), default=None,
              help="The range strategy of the proof (default: zkdl's default, see `zkdl train --help`).")
@click.option("--from-proof", "from_proof", type=click.Path(dir_okay=False), default=None,
              help="Rebuild the circuit of this proof file from its header (config and statement), check it "
                   "against the header's circuit digest; no other circuit option may be given.")
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False), default=None,
              help="Write the JSON here (default: stdout; with --from-proof, not written).")
@click.pass_context
def emit_cmd(ctx, width, layers, batch_size, lr_num, lr_shift, lr, R, Q, update_bits, seed, data_spec, label_column,
             steps, run_steps, n_samples, first, check_weights, check_dataset, prove_loss, range_strategy, from_proof,
             output):
    """Write the circuit JSON (relations, tensors, digest) for a training config.

    Input and output sizes and the dataset rows come from --data. The digest printed is
    the circuit digest found in the headers of proofs of the same config (--run-steps is
    the run's `zkdl train --steps`), window T (--steps), dataset, chaining (--first /
    --chained) and --prove-loss. --from-proof FILE rebuilds a proof's circuit from its
    header instead and checks its digest (exit 1 on a mismatch, 2 if FILE is not a proof).
    The summary goes to stderr (to stdout when -o or --from-proof is given).
    """
    from zkdl.circuits.builder import DEFAULT_RANGE, build_circuit
    from zkdl.circuits.emit import emit, summary
    if from_proof is not None:
        from click.core import ParameterSource
        given = [p.opts[0] for p in ctx.command.params if p.name not in ("from_proof", "output")
                 and ctx.get_parameter_source(p.name) not in (None, ParameterSource.DEFAULT)]
        if given:
            raise Fail(f"--from-proof takes the circuit from the proof's header; drop {', '.join(given)}", EXIT_USAGE)
        c, digest = cli_verify.circuit_of_proof(from_proof)
        click.echo(summary(c))
        click.echo(f"circuit digest {digest}  (equals the circuit_digest of {from_proof})")
    else:
        cfg = make_config(width, layers, batch_size, lr_num, lr_shift, R, Q, seed, run_steps, lr, update_bits)
        data = load_data(data_spec, label_column, cfg.R)
        cfg = cfg.for_data(data)
        c = build_circuit(cfg, steps=steps, check_initial_weights=first if check_weights is None else check_weights,
                          check_dataset=first if check_dataset is None else check_dataset,
                          n_samples=int(data.n_samples) if n_samples is None else n_samples, prove_loss=prove_loss,
                          range_strategy=range_strategy or DEFAULT_RANGE)
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


cli.add_command(prove_eval_cmd)     # zkdl prove-eval (zkdl.eval_cli)


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
