"""Helpers of the commands that read proof files: ``zkdl verify`` (each file, and the
chain the files form), ``zkdl inspect`` (reading the file) and ``zkdl circuit emit
--from-proof`` (a proof's circuit rebuilt from its header). Light: the verifier is
imported inside the functions.
"""

from __future__ import annotations

import time

from zkdl.cli_common import (EXIT_REJECTED, EXIT_USAGE, Fail, Progress, context_quiet, eta_text, first_line,
                             fmt_seconds, steady_eta)
from zkdl.errors import VerificationError


def check_files(files, expect_initial: str | None, chain: bool, say=None) -> list[dict]:
    """Verify each proof file of ``zkdl verify`` and, with ``chain``, that each continues the
    previous one. One result per file: file, ok, reason (why it is invalid), statement,
    describe, zk, and unreadable (True when the file cannot be read).

    Progress of several files goes to stderr through ``say`` (a :class:`Progress`; default:
    one made for the running command, quiet with its ``--quiet``): a line as each file
    starts (with a steady-state ETA from the files verified so far, less the first) and
    ends, and on a terminal a bar of the files. One file alone: no progress."""
    from zkdl.api import verify as _verify
    from zkdl.prooffile import unpack

    own = say is None
    if own:
        say = Progress(quiet=len(files) <= 1 or context_quiet())
    results = []
    state = {"prev": None, "prev_ok": True}  # prev: (header statement dict, config dict) of the previous file
    ranges = [_header_steps(f) for f in files] if chain else []

    def check(i: int, path: str) -> dict:
        res = {"file": path, "ok": False, "reason": None, "statement": None, "zk": None}
        prev, prev_ok = state["prev"], state["prev_ok"]
        try:
            data = _read(path)
        except (OSError, VerificationError) as exc:  # VerificationError: not a regular file, too large
            res["reason"] = f"cannot read: {getattr(exc, 'strerror', None) or exc}"
            res["unreadable"] = True
            state["prev"], state["prev_ok"] = None, False
            return res
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
                if st.frozen_digest != prev.get("frozen_digest"):
                    raise VerificationError("chain broken: a different frozen-base commitment than the previous proof")
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
            res["reason"] = first_line(exc)
        if res["ok"]:
            state["prev"], state["prev_ok"] = res["statement"], True
        else:
            state["prev_ok"] = False
            state["prev"] = None
            if header is not None and isinstance(header.get("statement"), dict):
                try:
                    hst = header["statement"]
                    from zkdl.config import TrainConfig
                    state["prev"] = {"steps": hst["steps"], "final_weights_digest": hst["final_weights_digest"],
                                     "dataset_digest": hst["dataset_digest"], "n_samples": hst["n_samples"],
                                     "frozen_digest": hst.get("frozen_digest"),
                                     "config_digest": TrainConfig.from_dict(header.get("config")).digest()}
                except Exception:  # noqa: BLE001 - a malformed header just breaks the chain
                    state["prev"] = None
        return res

    n = len(files)
    durations: list[float] = []   # seconds of each file verified so far
    bar = say.bar("verifying proofs" + (" (chain)" if chain else ""), total=n, unit="proofs")
    try:
        for i, path in enumerate(files):
            tag = f"verify {i + 1}/{n}: {path}"
            left = steady_eta(durations, n - i)
            say(f"{tag}: verifying{eta_text(left)}")
            bar.update(completed=i, description=f"verify {i + 1}/{n}", eta=left)
            started = time.monotonic()
            res = check(i, path)
            seconds = time.monotonic() - started
            durations.append(seconds)
            results.append(res)
            verdict = "valid" if res["ok"] else ("cannot read" if res.get("unreadable") else "INVALID")
            say(f"{tag}: {verdict} in {fmt_seconds(seconds)}")
            bar.update(completed=i + 1)
    finally:
        bar.done()
        if own:
            say.close()
    return results


def _header_steps(path: str) -> tuple[int, int] | None:
    """The step range [t0, t1) a proof file's header states (unverified), or None."""
    from zkdl.prooffile import unpack
    try:
        steps = unpack(_read(path))[0]["statement"]["steps"]
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
    # the first break of the order: name the file that starts the chain when it is not given first
    first_break = all(ranges[k] is not None and ranges[k - 1] is not None and ranges[k][0] == ranges[k - 1][1]
                      for k in range(1, i))
    known = [j for j in range(len(files)) if ranges[j] is not None]
    start = min(known, key=lambda j: ranges[j][0])
    if first_break and ranges[0] is not None and ranges[start][0] < ranges[0][0]:
        x, y = ranges[start]
        starts = f"; the chain starts with {files[start]} (steps {x}..{y - 1}): give it first"
    else:
        starts = ""
    nxt = next((j for j in range(i + 1, len(files)) if ranges[j] is not None and ranges[j][0] == at), None)
    if nxt is not None:
        x, y = ranges[nxt]
        return f"steps out of order: {here}; {files[nxt]} (steps {x}..{y - 1}) should come next{starts}"
    before = next((j for j in range(i) if ranges[j] is not None and ranges[j][0] >= b), None)
    if before is not None:
        x, y = ranges[before]
        return (f"steps out of order: {here}; it comes before {files[before]} (steps {x}..{y - 1}), "
                f"given earlier{starts}")
    if a < at:
        return f"chain broken: {here} (it overlaps the previous proof)"
    return f"chain broken: {here}; no file given covers steps {at}..{a - 1}"


def read_proof_file(path: str) -> bytes:
    """The bytes of a proof file named on the command line; exit 2 when it cannot be read."""
    try:
        return _read(path)
    except (OSError, VerificationError) as exc:  # VerificationError: not a regular file, too large
        raise Fail(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})", EXIT_USAGE) from None


def _read(path: str) -> bytes:
    from zkdl.prooffile import read_proof_file as read
    return read(path)


def circuit_of_proof(path: str):
    """(circuit, digest) rebuilt from a proof file's header; exit 2 when the file is not a
    proof, 1 when its header does not define the circuit its digest names."""
    from zkdl.prooffile import unpack
    from zkdl.verifier.verify import PROOF_KIND, parse_header
    try:
        header, body = unpack(read_proof_file(path))
    except VerificationError as exc:
        msg = first_line(exc)
        raise Fail(f"{path}: {msg}" if "not a zkdl proof file" in msg else f"{path}: not a zkdl proof file ({msg})",
                   EXIT_USAGE) from None
    if not isinstance(header, dict) or header.get("kind") != PROOF_KIND:
        kind = header.get("kind") if isinstance(header, dict) else None
        raise Fail(f"{path}: not a zkdl training proof (kind {kind!r}, expected {PROOF_KIND!r})", EXIT_USAGE)
    try:
        _config, c, _st = parse_header(header, len(body))   # sizes bounded by the file; digest checked
    except VerificationError as exc:
        raise Fail(f"{path}: {first_line(exc)}", EXIT_REJECTED) from None
    return c, c.digest()
