"""``zkdl prove-eval``: the proven test accuracy of a proven run (zkdl.eval_prove)."""

from __future__ import annotations

import json
import time

import click

from zkdl.cli_common import EXIT_USAGE, Fail, Progress, encodable, fmt_bytes, fmt_seconds
from zkdl.errors import ZkdlError


@click.command("prove-eval")
@click.argument("run_out", metavar="RUN_OUT_DIR", type=click.Path(exists=True, file_okay=False))
@click.option("--data", "data_spec", required=True, metavar="TEST_SPEC",
              help="The test set: a data spec as for `zkdl train --data` ('digits', a .npz or .csv path, "
                   "'synthetic:...'), encoded with the run's training scaling, or a set zkdl stored as it is "
                   "(RUN_OUT_DIR/run/eval.npz: the rows held out by `zkdl train --eval-split`).")
@click.option("--public-data", is_flag=True,
              help="Commit the test set deterministically (zero blinds): anyone holding it recomputes the "
                   "commitment (`zkdl audit --test-data`). The description beside the proof then records the "
                   "training scaling too. Default: a hiding commitment (the test rows stay private).")
@click.option("--name", default=None, metavar="NAME",
              help="File stem of the proof in RUN_OUT_DIR/claim/eval/ [default: from TEST_SPEC's file name].")
@click.option("--label-column", default="label", show_default=True, help="Label column of a .csv data file.")
@click.option("--no-zk", is_flag=True, help="Plain mode (NOT zero-knowledge; labelled as such).")
@click.option("--range", "range_strategy", type=click.Choice(["bits", "logup"]), default=None,
              help="How range checks are proven [default: logup].")
@click.option("--backend", type=click.Choice(["cpu", "cuda", "reference"]), default="cpu", show_default=True,
              help="Prover backend (cuda falls back to cpu with a warning where no GPU is usable).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Prover threads [default: all cores].")
@click.option("--force", is_flag=True, help="Replace an existing evaluation proof of the same NAME.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def prove_eval_cmd(run_out, data_spec, public_data, name, label_column, no_zk, range_strategy, backend, threads,
                   force, as_json, quiet):
    """Prove the test accuracy of the final model of a proven run.

    Proves that the final weights W[T] of RUN_OUT_DIR's last proof (a `zkdl train` /
    `zkdl prove` output directory) classify the test set TEST_SPEC with k of its n rows
    right: the forward pass of every row, the predicted class (the first largest score:
    ties go to the lowest class index, as `zkdl evaluate`), and the count k as a public
    output. The proof commits W[T] with the blinds of the claim's final-weight
    commitment, so `zkdl audit` checks it is the trained model, byte for byte; the
    test set is committed too (hiding, unless --public-data). Writes
    RUN_OUT_DIR/claim/eval/NAME.zkdl and NAME.json; `zkdl audit RUN_OUT_DIR` then
    reports the proven test accuracy. Exit 2 for unusable inputs (no proven run, a test
    set whose features, classes or fixed point do not fit the model, an existing NAME).
    """
    from zkdl.eval_prove import EvalError, prove_eval
    from zkdl.rundir import _PhaseTracker
    say = Progress(quiet)
    started = time.monotonic()
    say(f"proving the test accuracy of {run_out} on {data_spec}")
    on_phase = _PhaseTracker(say, ("eval", bool(not no_zk), range_strategy), started)
    ok = False
    try:
        res = prove_eval(run_out, data_spec, public_data=public_data, zk=not no_zk, range=range_strategy,
                         backend=backend, threads=threads, progress=on_phase, label_column=label_column,
                         name=name, force=force)
        ok = True
    except (EvalError, ZkdlError) as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    finally:
        on_phase.finish(ok, timed=False)
        say.close()
    if as_json:
        click.echo(json.dumps(res, indent=1, sort_keys=True))
        return
    mode = "zero-knowledge" if not no_zk else "PLAIN (not zero-knowledge)"
    click.echo(encodable(f"proven test accuracy {res['accuracy']:.4f} ({res['correct']} of {res['n_samples']} rows "
                         f"of {res['data']}), {mode}, test set {'public' if public_data else 'hidden'}"))
    click.echo(f"proof {res['proof']} ({fmt_bytes(res['bytes'])}, proved in {fmt_seconds(res['seconds'])}); "
               f"audit with: zkdl audit {run_out}")
