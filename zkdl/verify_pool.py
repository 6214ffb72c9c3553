"""Verification of many proof files in worker processes (``zkdl audit --jobs N``).

A worker is a fresh interpreter that gets the parent's sys.path (so that it imports this
same zkdl) and runs :mod:`zkdl._verify_worker`. Not multiprocessing: its spawn and
forkserver start methods re-import the caller's ``__main__`` (an unguarded script would
train and prove again in every worker), and fork copies locks held by the parent's threads.

Verifier side: imports only the verifier and core pieces, never the prover.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from zkdl.errors import VerificationError


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_for_verify(path: str) -> tuple[bytes | None, dict | None]:
    """(the bytes of proof file ``path``, None), or (None, the result of a file that cannot
    be read: missing, not a regular file, over the format's size limit)."""
    res = {"sha256": None, "valid": False, "reason": None, "statement": None, "missing": True,
           "verify_seconds": None}
    from zkdl.prooffile import read_proof_file
    try:
        return read_proof_file(path), None  # bounded: a regular file within the format's size limit
    except FileNotFoundError:
        res["reason"] = "file missing"
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path; EncodingError: not a proof file
        res["reason"] = f"cannot read ({getattr(exc, 'strerror', None) or exc})"
    return None, res


def verify_file(path: str) -> dict:
    """Read, hash and verify one proof file (runs in a worker process)."""
    started = time.perf_counter()
    data, res = read_for_verify(path)
    return res if res is not None else verify_data(data, started)


def verify_data(data: bytes, started: float) -> dict:
    """Hash and verify the bytes of one proof file (``started``: perf_counter at the start)."""
    res = {"sha256": hashlib.sha256(data).hexdigest(), "valid": False, "reason": None, "statement": None,
           "missing": False, "verify_seconds": None}
    from zkdl.api import verify
    try:
        st = verify(data)
        res["valid"] = True
        res["statement"] = st.to_dict()
    except VerificationError as exc:
        res["reason"] = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    except Exception as exc:  # noqa: BLE001 - any crash on a hostile file is a rejection, not an abort
        res["reason"] = f"verifier error on this file: {type(exc).__name__}: {exc}"
    res["verify_seconds"] = round(time.perf_counter() - started, 4)
    return res


_WORKER_BOOT = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
                "from zkdl._verify_worker import main; main()")


def _worker_env(msm_threads: int) -> dict:
    # the verifier splits its large MSMs over all cores; with one process per core that only
    # adds contention, so each worker gets its share of the cores
    env = dict(os.environ)
    env["ZKDL_MSM_THREADS"] = str(msm_threads)
    return env


class _Worker:
    """One verifier subprocess: ``ask(path)`` returns its result dict, or None when the
    process died or answered garbage (it is then dead: ``death()`` says how)."""

    def __init__(self, env: dict):
        import subprocess
        import sys
        import tempfile
        self.err = tempfile.TemporaryFile()  # its stderr: shown in the reason if it dies
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", _WORKER_BOOT, json.dumps(sys.path)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                         env=env, text=True, encoding="utf-8")
        except BaseException:
            self.err.close()
            raise

    def ask(self, path: str) -> dict | None:
        try:
            self.proc.stdin.write(json.dumps(path) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            res = json.loads(line) if line else None
        except (OSError, ValueError):  # a broken pipe, a line that is not JSON
            return None
        keys = {"sha256", "valid", "reason", "statement", "missing", "verify_seconds"}
        return res if isinstance(res, dict) and keys <= set(res) else None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def death(self) -> str:
        """Stop the process (if it still runs) and say how it ended."""
        import signal
        self.kill()
        rc = self.proc.wait()
        if rc < 0:
            try:
                how = f"killed by {signal.Signals(-rc).name}"
            except ValueError:
                how = f"killed by signal {-rc}"
        else:
            how = f"exit status {rc}"
        try:
            self.err.seek(0)
            lines = [ln.strip() for ln in self.err.read()[-4096:].decode("utf-8", "replace").splitlines()]
        except OSError:
            lines = []
        lines = [ln for ln in lines if ln]
        self._close_files()
        return how + (f": {lines[-1][:200]}" if lines else "")

    def close(self) -> None:
        import subprocess
        try:
            self.proc.stdin.close()  # end of input: the worker exits
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._close_files()

    def _close_files(self) -> None:
        for fh in (self.proc.stdin, self.proc.stdout, self.err):
            try:
                fh.close()
            except OSError:
                pass


def died_on(path: str, how: str) -> dict:
    """The result of a file whose verifier worker died: a rejection with the reason."""
    res = {"sha256": None, "valid": False, "reason": f"the verifier process died on this file ({how})",
           "statement": None, "missing": False, "verify_seconds": None}
    try:
        res["sha256"] = sha256_file(path)
    except FileNotFoundError:
        res.update(missing=True, reason="file missing")
    except (OSError, ValueError) as exc:
        res.update(missing=True, reason=f"cannot read ({getattr(exc, 'strerror', None) or exc})")
    return res


def verify_files(paths: list[str], jobs: int, progress=None, ray: str | bool | None = None) -> list[dict]:
    """verify_file on each path, in ``jobs`` worker processes (1: in this process), or,
    with ``ray`` (True: a local Ray instance; a string: the address of a Ray cluster), as
    Ray tasks (:func:`zkdl.distributed.verify_files_ray`; imported only then).
    ``progress(done, total)``, when given, is called (from this process) once before the
    first file and after each file is verified.

    Each worker is a subprocess running ``zkdl._verify_worker`` (it never imports the
    caller's ``__main__``) and takes the next path when it is done with one. A worker
    that dies makes its file's result a rejection with the reason; a new worker takes
    the remaining paths."""
    if ray:
        from zkdl.distributed import verify_files_ray
        return verify_files_ray(paths, None if ray is True else ray, progress)
    import sys
    import threading
    report = progress or (lambda done, total: None)
    counter = {"done": 0}
    report(0, len(paths))
    if jobs <= 1 or len(paths) <= 1 or not sys.executable:
        out = []
        for p in paths:
            out.append(verify_file(p))
            report(len(out), len(paths))
        return out
    workers = min(jobs, len(paths))
    env = _worker_env(max(1, (os.cpu_count() or 1) // workers))
    results: list[dict | None] = [None] * len(paths)
    lock = threading.Lock()
    stop = threading.Event()
    todo = iter(range(len(paths)))
    live: set = set()

    def serve() -> None:
        worker = None
        try:
            while not stop.is_set():
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                if worker is None:
                    try:
                        worker = _Worker(env)
                    except OSError:
                        return  # results[i] stays None: verified in this process below
                    with lock:
                        live.add(worker)
                res = worker.ask(paths[i])
                if res is None:
                    if stop.is_set():
                        return
                    with lock:
                        live.discard(worker)
                    results[i] = died_on(paths[i], worker.death())
                    worker = None
                    continue
                results[i] = res
                with lock:
                    counter["done"] += 1
                    report(counter["done"], len(paths))
        finally:
            if worker is not None:
                with lock:
                    live.discard(worker)
                worker.close()

    threads = [threading.Thread(target=serve, name=f"zkdl-verify-{k}", daemon=True) for k in range(workers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop.set()
        with lock:
            for w in live:
                w.kill()
    out = []
    for p, res in zip(paths, results):
        if res is None:
            res = verify_file(p)
            counter["done"] += 1
            report(counter["done"], len(paths))
        out.append(res)
    return out
