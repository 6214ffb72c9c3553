"""``zkdl train --method fedavg|fedstale``: simulate a federated run on one machine and prove it
(clients: shards of ``--data``), written to ``--out`` (zkdl.federated_sim). Progress on
stderr as for ``zkdl train``: a line per proof (with a steady-state ETA) and the prover's
phases, bars of the rounds, the proofs and the phases on a terminal, nothing with --quiet."""

from __future__ import annotations

import os

import click

from zkdl.cli_common import EXIT_USAGE, Fail, Progress, load_data, make_config

FEDERATED_METHODS = ("fedavg", "fedstale")
# train options that a federated run does not take (it has its own rounds and local steps)
_NOT_FEDERATED = ("steps", "window", "no_prove", "resume", "public_data", "public_init", "public_base", "prove_loss",
                  "publish_metrics", "base_path")


def parse_federation_params(method: str, pairs) -> dict:
    """--method-param KEY=INT (repeatable, or comma-separated: clients=4,rounds=3)."""
    from zkdl.federated import federation_defaults
    known = federation_defaults()
    out = {"beta_num": 2, "beta_shift": 2} if method == "fedstale" else {}
    for item in pairs:
        for pair in item.split(","):
            key, sep, val = pair.strip().partition("=")
            try:
                if not sep or not key:
                    raise ValueError
                out[key] = int(val)
            except ValueError:
                raise Fail(f"--method-param {pair!r}: expected KEY=INT", EXIT_USAGE) from None
            if key not in known:
                raise Fail(f"--method-param {key!r}: {method} has no such parameter (known: "
                           f"{', '.join(sorted(known))})", EXIT_USAGE)
    if method == "fedstale" and out.get("beta_num") == 0:
        raise Fail("--method fedstale needs beta_num > 0 (beta = 0 is fedavg)", EXIT_USAGE)
    return out


def train_federated(ctx, method: str, method_param, *, out, force, width, layers, batch_size, lr_num, lr_shift,
                    lr, R, Q, seed, update_bits, data_spec, label_column, backend, no_zk, threads, range_strategy,
                    quiet) -> None:
    from click.core import ParameterSource
    from zkdl import rundir
    from zkdl.errors import ZkdlError
    from zkdl.federated_sim import normalize_federation, run_federated
    given = [name for name in _NOT_FEDERATED
             if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)]
    if given:
        shown = ", ".join("--" + g.replace("_path", "").replace("_", "-") for g in given)
        raise Fail(f"--method {method}: {shown} do(es) not apply to a federated run (its rounds and local steps are "
                   f"--method-param rounds=N / local_steps=E)", EXIT_USAGE)
    say = Progress(quiet)
    params = parse_federation_params(method, method_param)
    cfg = make_config(width, layers, batch_size, lr_num, lr_shift, R, Q, seed, None, lr, update_bits)
    data = load_data(data_spec, label_column, cfg.R)
    cfg = cfg.for_data(data)
    try:
        fed = normalize_federation(params, data)
    except ZkdlError as exc:
        raise Fail(f"--method-param: {exc}", EXIT_USAGE) from None
    replace = rundir.check_out_dir(out, force)
    say(f"{method}: {fed['clients']} clients (shards of {data.name}), {fed['rounds']} rounds of {fed['local_steps']} "
        f"local step(s), {fed['participants']} participant(s) per round, model {list(cfg.dims())}")
    try:
        m = run_federated(cfg, data, fed, out, zk=not no_zk, range_strategy=range_strategy, backend=backend,
                          threads=threads, say=say, replace=replace)
    except ValueError as exc:
        raise Fail(str(exc), EXIT_USAGE) from None
    finally:
        say.close()   # the live bars (a terminal) go before the table on stdout
    if quiet:
        click.echo(out)
        return
    click.echo(f"federated run ({method}): {fed['clients']} clients, {fed['rounds']} rounds")
    click.echo(f"  {'round':>5}  {'participants':<16} {'stale':<12} {'client proofs':>13}  {'aggregation':>11}")
    for rd in m["rounds"]:
        stale = ",".join(f"{e['client']}<-{e['from_round']}" for e in rd["stale"]) or "-"
        tc = sum(e["prove_seconds"] for e in rd["client_proofs"])
        click.echo(f"  {rd['round']:>5}  {str(rd['participants']):<16} {stale:<12} {tc:>12.1f}s  "
                   f"{rd['aggregation']['prove_seconds']:>10.1f}s")
    if no_zk:
        click.echo("  mode: PLAIN (not zero-knowledge): the proofs do not hide the data or the weights")
    click.echo(f"audit with:\n  zkdl audit {os.path.join(out, 'claim')}")
    click.echo(f"written to {out}/")
