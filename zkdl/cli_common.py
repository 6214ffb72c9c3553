"""What the ``zkdl`` commands share: the exit codes and the group class that maps every
failure to a message and an exit code, progress output, formatting, and the options
(with their parsing) that several commands take.

Exit codes: 0 success; 1 a proof was rejected (or proving/training failed on its
input); 2 bad usage or unreadable input; 70 internal error (rerun with ``--debug``
for the traceback); 130 interrupted. User errors never print a traceback.

Light on purpose (click and the standard library at import time), like ``zkdl.cli``.
"""

from __future__ import annotations

import json
import os
import sys
import time

import click

from zkdl.errors import ConfigError, DataError, VerificationError, ZkdlError

EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


# ============================================================================ failures
class Fail(click.ClickException):
    """A user-facing failure with a chosen exit code (message printed as 'error: ...')."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.exit_code = code

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def first_line(exc: BaseException) -> str:
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
    """Maps every failure to a message and an exit code (see the module docstring)."""

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
            click.echo(f"internal error: {type(exc).__name__}: {first_line(exc)}", err=True)
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


# ============================================================================ output
class Progress:
    """Progress on stderr: plain lines (``say(msg)``), and on a terminal live bars as well.

    ``quiet``: nothing at all. Live bars (the ``rich`` library) are drawn only when stderr
    is a terminal (and TERM is not ``dumb``) and not quiet; otherwise :meth:`bar` returns a
    bar that draws nothing, so piped and captured output is the plain lines only.
    ``ZKDL_PROGRESS=plain`` turns the bars off on a terminal too. On a terminal the lines
    print above the bars; :meth:`close` (also on interruption, via the click context)
    removes the bars and restores the cursor."""

    def __init__(self, quiet: bool, live: bool | None = None, console=None):
        self.quiet = quiet
        self.start = time.monotonic()
        if live is None:
            live = (not quiet and _stderr_is_terminal() and os.environ.get("TERM") != "dumb"
                    and os.environ.get("ZKDL_PROGRESS", "").lower() != "plain")
        self.live = bool(live) and not quiet
        if self.live:
            try:
                import rich.progress  # noqa: F401 - a dependency; plain lines if it is missing anyway
            except ImportError:
                self.live = False
        self._console = console
        self._rich = None
        if self.live:
            try:
                ctx = click.get_current_context(silent=True)
                if ctx is not None:
                    ctx.call_on_close(self.close)
            except RuntimeError:
                pass

    def __call__(self, msg: str) -> None:
        if self.quiet:
            return
        if self._rich is not None:
            self._rich.console.print(msg, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(msg, err=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def _display(self):
        if self._rich is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, SpinnerColumn, \
                TextColumn, TimeElapsedColumn
            console = self._console or Console(stderr=True)
            self._rich = RichProgress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=30),
                                      MofNCompleteColumn(), TextColumn("{task.fields[unit]}"), TimeElapsedColumn(),
                                      _eta_column(), console=console, transient=True, redirect_stdout=False,
                                      redirect_stderr=True, refresh_per_second=8, speed_estimate_period=60.0)
            self._rich.start()
        return self._rich

    def bar(self, description: str, total: int | None = None, unit: str = "") -> "Bar":
        """A bar of ``total`` items (None: not known yet, drawn as a pulse); drawn only live."""
        if not self.live:
            return Bar(None, None)
        rp = self._display()
        return Bar(rp, rp.add_task(_fit(description), total=total, unit=unit, eta_at=None))

    def close(self) -> None:
        if self._rich is not None:
            rp, self._rich = self._rich, None
            try:
                rp.stop()
            except Exception:  # noqa: BLE001 - closing a display never fails a command
                pass


class Bar:
    """One live bar of a :class:`Progress` (does nothing when not live).

    ``update(eta=SECONDS)`` sets a steady-state estimate (e.g. from the proofs made so far,
    leaving out the one that compiled the kernels) that counts down from now; without
    one the ETA column shows rich's own estimate from the recent speed."""

    def __init__(self, rp, task):
        self._rp, self._task = rp, task

    def update(self, *, completed=None, total=None, description=None, advance=None, eta=False) -> None:
        if self._rp is None:
            return
        kw = {}
        if completed is not None:
            kw["completed"] = completed
        if advance is not None:
            kw["advance"] = advance
        if description is not None:
            kw["description"] = _fit(description)
        if eta is not False:
            kw["eta_at"] = None if eta is None else time.monotonic() + eta
        if total is not None:
            kw["total"] = total
        self._rp.update(self._task, **kw)

    def advance(self, n: int = 1) -> None:
        self.update(advance=n)

    def done(self, remove: bool = True) -> None:
        if self._rp is None:
            return
        if remove:
            self._rp.remove_task(self._task)
        else:
            self._rp.stop_task(self._task)
        self._rp = None


def _fit(text: str, width: int = 40) -> str:
    """A bar's description at a fixed width, so that the bars do not jump sideways."""
    return text[:width].ljust(width)


def _stderr_is_terminal() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


def _eta_column():
    """The ETA column (built on first use: rich is imported only when bars are drawn)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class _EtaColumn(ProgressColumn):
        """ETA: the bar's steady-state estimate when it has one, else rich's speed estimate."""
        max_refresh = 0.5

        def render(self, task):
            if task.finished:
                return Text("")
            at = task.fields.get("eta_at")
            if at is not None:
                left = max(0.0, at - time.monotonic())
            elif task.total is not None and task.time_remaining is not None:
                left = task.time_remaining
            else:
                return Text("ETA -", style="progress.remaining")
            return Text(f"ETA {fmt_seconds(left)}", style="progress.remaining")
    return _EtaColumn()


def steady_eta(durations: list[float], remaining: int, skip_first: bool = True) -> float | None:
    """Seconds left for ``remaining`` more items like the ones that took ``durations``
    (seconds each): their mean times ``remaining``. The steady state: with ``skip_first``
    the first item is left out (it may include compiling kernels or importing the
    verifier), so there is no estimate until a second one is done. 0.0 when nothing is
    left; None when no duration is usable yet."""
    if remaining <= 0:
        return 0.0
    usable = durations[1:] if skip_first else list(durations)
    if not usable:
        return None
    return sum(usable) / len(usable) * remaining


def eta_text(seconds: float | None) -> str:
    """', ETA 12.0s' for a progress line, '' when there is no estimate."""
    return "" if seconds is None else f", ETA {fmt_seconds(seconds)}"


def context_quiet() -> bool:
    """The ``quiet`` parameter (``--quiet``) of the running zkdl command; False outside a
    command or for a command without one."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.params.get("quiet"))


def fmt_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f}s"
    m, s = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def fmt_bytes(n: int) -> str:
    for unit, k in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n} B"


def encodable(text: str) -> str:
    """``text`` with every character stdout cannot encode (a lone surrogate, non-ASCII on an
    ASCII terminal) replaced by its backslash escape, so printing it cannot fail."""
    enc = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        return text.encode(enc, "backslashreplace").decode(enc)
    except LookupError:
        return text.encode("ascii", "backslashreplace").decode("ascii")


def write_json(path: str, obj, mode: int = 0o644) -> None:
    from zkdl.api import atomic_write
    atomic_write(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode(), mode)


# ============================================================================ options
def config_options(f):
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


def anchor_options(f):
    from zkdl.circuits.builder import DEFAULT_RANGE, RANGE_STRATEGIES
    opts = [
        click.option("--public-data", is_flag=True,
                     help="Commit the dataset deterministically (no blinds) so that anyone holding the data "
                          "file can check it (`zkdl audit --data`). Use only for public data."),
        click.option("--public-init", is_flag=True,
                     help="Commit W[0] deterministically: the public initialization from the seed, which an "
                          "auditor recomputes."),
        click.option("--public-base", is_flag=True,
                     help="Commit a method's frozen base model deterministically (lora: the base from the "
                          "seed), so that an auditor recomputes it. Use only for a public base."),
        click.option("--prove-loss", is_flag=True,
                     help="Make each step's training loss a public output of the proofs, and prove it."),
        click.option("--range", "range_strategy", type=click.Choice(list(RANGE_STRATEGIES)), default=None,
                     help=f"How range checks are proven: bits (committed bit decompositions, zkDL) or logup "
                          f"(LogUp-GKR lookups of 16-bit limbs; docs/PROTOCOL.md) [default: {DEFAULT_RANGE}]."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def publish_metrics_option(f):
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


def make_config(width, layers, batch_size, lr_num, lr_shift, R, Q, seed, steps=None, lr=None, update_bits=None):
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


def load_data(spec: str, label_column: str, R: int | None, scaling=None):
    """The dataset of a data spec (``scaling``: a training set's zkdl.data.Scaling, for
    an eval or test set)."""
    from zkdl import data as D
    return D.load_spec(spec, label_column, R=R, scaling=scaling)


def parse_steps(spec: str | None, n: int) -> tuple[int, int]:
    """The steps (t0, t1), t1 exclusive, that ``--steps A:B`` selects of a run of ``n`` steps."""
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


# ============================================================================ --ray
RAY_LOCAL = "local"


def ray_option(what: str):
    """``--ray [ADDRESS]``: do the work as Ray tasks (zkdl.distributed), on the cluster at
    ADDRESS or, with ``--ray`` alone (or ``--ray local``), on a local Ray instance."""
    return click.option("--ray", "ray_address", is_flag=False, flag_value=RAY_LOCAL, default=None,
                        metavar="[ADDRESS]",
                        help=f"{what} as Ray tasks: on the Ray cluster at ADDRESS ('auto', 'HOST:6379', "
                             f"'ray://HOST:10001'), or, given alone or as 'local', on a local Ray instance on this "
                             f"machine. Needs `pip install 'zkdl[distributed]'` (README: Running on a cluster).")


def check_ray(ray_address: str | None) -> str | None:
    """None (no --ray), "" (a local Ray instance) or the address; exit 2 with how to
    install Ray when --ray is given and Ray is not installed."""
    if ray_address is None:
        return None
    import importlib.util
    try:
        found = importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise Fail("--ray: Ray is not installed; install it with `pip install 'zkdl[distributed]'` "
                   "(or `pip install ray`) on this machine and on every worker", EXIT_USAGE)
    address = ray_address.strip()
    if not address:
        raise Fail("--ray: an empty address (give --ray alone for a local Ray instance)", EXIT_USAGE)
    return "" if address == RAY_LOCAL else address
