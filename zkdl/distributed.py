"""Distributed proving and auditing on Ray (``zkdl prove --ray``, ``zkdl audit --ray``,
``zkdl.prove(..., executor="ray")``).

Once a run is recorded, the windows of its proof are independent: the blinds of every
statement commitment at a window boundary are derived from the secret run seed
(:mod:`zkdl.blinds`), so window k needs only its own steps, not window k-1's proof.
Each window is one Ray task:

- **What travels.** The driver (the machine running ``zkdl prove``) reads the recorded
  steps of a window and hands them, with the dataset (``ray.put`` once), the run seed
  and the window's options, to the task through Ray's object store. A worker needs no
  shared file system and no copy of the run: only zkdl (and the same training-method
  plugins) installed, the same version as the driver. The trace and the seed are
  private, so the cluster must be one you trust (as the machine that recorded the run).
- **What comes back.** The proof bytes and its statement blinds; the driver writes them
  into the output directory (``zkdl.api.atomic_write``: a temporary name, then a
  rename) as each window finishes, so a crash leaves only complete files, and a
  resumed prove reuses them (:func:`zkdl.rundir.prove_windows`).
- **Failures.** A task whose worker process or node dies is retried by Ray
  (``max_retries``); an error of the proof itself (a trace that violates the circuit)
  is not retried and is raised on the driver.
- **Warm workers.** Ray reuses a worker process for the next task of the same job, so
  the numba kernels it loaded, the generator tables and, with ``--backend cuda``
  (one GPU per task), the CUDA context stay warm across windows (``max_calls=0``).
  Each task gets ``num_cpus`` cores and proves with that many threads (numba's pool
  included: NUMBA_NUM_THREADS in the workers' environment).

Auditing: each proof file is read on the driver and verified by a task
(:func:`zkdl.verify_pool.verify_data`; the verifier only).

``ray`` is the optional extra ``zkdl[distributed]``; nothing here imports it before it
is needed, and :func:`require_ray` says how to install it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from zkdl.errors import ZkdlError

INSTALL_HINT = "pip install 'zkdl[distributed]'"
TASK_RETRIES = 3          # re-executions of a window whose worker died
IN_FLIGHT_PER_CPU = 2     # windows handed to Ray at once, per cluster CPU (bounds the driver's memory)
# a local instance's workers run at normal priority: Ray starts workers at nice 15, which on a
# machine doing other work made the Ray prove up to 2x slower than the same work in a process pool
LOCAL_SYSTEM_CONFIG = {"worker_niceness": 0}


def require_ray():
    """The ``ray`` module, or ZkdlError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ZkdlError(f"Ray is not installed: distributed proving and auditing need it ({INSTALL_HINT})") from None
    return ray


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """ZkdlError at once when ``address`` (HOST:PORT or ray://HOST:PORT; "auto" is Ray's to
    resolve) takes no TCP connection: ray.init would retry it for minutes."""
    import socket
    hostport = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = hostport.rpartition(":")
    if not sep:
        if address != "auto":
            raise ZkdlError(f"--ray {address}: expected 'auto', HOST:PORT or ray://HOST:PORT")
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except ValueError:
        raise ZkdlError(f"--ray {address}: the port is not a number") from None
    except OSError as exc:
        raise ZkdlError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); "
                        f"start one with `ray start --head` or check the address") from None


class _Session:
    """Connected to Ray for the duration of a ``with``: to ``address`` (a running cluster,
    e.g. "auto" or "ray://head:10001"), or without one to a new local Ray instance on this
    machine (shut down at the end). A process already connected (ray.init done by the
    caller) keeps its connection."""

    def __init__(self, address: str | None, num_cpus: int | None = None):
        self.address, self.num_cpus, self.started = address, num_cpus, False

    def __enter__(self):
        ray = self.ray = require_ray()
        if not ray.is_initialized():
            if self.address:
                _check_reachable(self.address)
            kw = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
            try:
                if self.address:
                    ray.init(address=self.address, **kw)
                else:   # workers at the priority of the zkdl process, not Ray's default nice 15
                    ray.init(address="local", num_cpus=self.num_cpus, _system_config=LOCAL_SYSTEM_CONFIG, **kw)
            except (ConnectionError, ValueError) as exc:
                raise ZkdlError(f"cannot connect to the Ray cluster at {self.address}: {exc}") from None
            self.started = True
        return ray

    def __exit__(self, *exc):
        if self.started:
            self.ray.shutdown()
        return False


# ============================================================================ proving
@dataclass
class WindowJob:
    """One window t0..t1-1 to prove: the keyword arguments of :func:`zkdl.prove` that make
    its statement the one a sequential, chained prove gives it (``opts``: anchors, range
    checks, mode) and the statement blinds it reuses (``inherit``)."""

    t0: int
    t1: int
    opts: dict = field(default_factory=dict)
    inherit: dict | None = None

    @classmethod
    def plan(cls, t0: int, t1: int, *, prev=None, starts_chain: bool = False, base=None,
             anchors: dict | None = None, zk: bool = True) -> "WindowJob":
        """The job of window t0..t1-1 of a chain. ``prev``: the proof (with secrets) ending
        at t0 when it is at hand: its final, dataset and frozen blinds are reused (as
        ``zkdl.prove(chain=prev)`` does). Else ``starts_chain``: the window starts a new
        chain (it range-checks W[t0] and the dataset; the anchors apply). Else its
        predecessor is being proven too: W[t0]'s blinds are derived from the run seed
        and the dataset / frozen blinds come from ``base`` (any proof of the chain at
        hand) or, without one, from the seed or the public anchors, as for the chain's
        first window."""
        a = dict(anchors or {})
        opts = {"zk": bool(zk), "prove_loss": bool(a.get("prove_loss")), "range": a.get("range"),
                "public_data": bool(a.get("public_data"))}
        inherit = None
        if prev is not None:
            inherit = {k: v for k, v in prev.secrets.items() if k in ("dataset", "frozen")}
            inherit["initial"] = prev.secrets["final"]
            opts.update(public_init=False, public_base=False, check_initial_weights=False, check_dataset=False)
        elif starts_chain:
            opts.update(public_init=bool(a.get("public_init")) and t0 == 0, public_base=bool(a.get("public_base")),
                        check_initial_weights=True, check_dataset=True)
        else:
            if base is not None:
                inherit = {k: v for k, v in base.secrets.items() if k in ("dataset", "frozen")}
            opts.update(public_init=False, public_base=bool(a.get("public_base")) and base is None,
                        check_initial_weights=False, check_dataset=False)
        return cls(int(t0), int(t1), opts, inherit)


@dataclass
class WindowTrace:
    """What a worker needs of the run to prove one window: the config, the method, the
    losses and the window's recorded steps (the dataset travels separately, once)."""

    config: dict
    method: str
    method_params: dict
    initial_state: dict
    losses: list
    accuracies: list
    steps: list

    @classmethod
    def of(cls, run, t0: int, t1: int) -> "WindowTrace":
        return cls(run.config.to_dict(), getattr(run, "method", "sgd_mlp"), getattr(run, "method_params", {}),
                   run.initial_state, list(run.losses), list(run.accuracies), run.window(t0, t1 - t0))

    def to_run(self, data):
        from zkdl.config import TrainConfig
        from zkdl.tracer import Run
        run = Run(TrainConfig.from_dict(self.config), data, self.initial_state, keep_in_memory=True,
                  method=self.method, method_params=self.method_params)
        run.losses, run.accuracies = list(self.losses), list(self.accuracies)
        run._mem = {tr.t: tr for tr in self.steps}
        return run


def prove_window_task(trace: WindowTrace, data, job: WindowJob, seed: bytes, backend: str, threads):
    """A Ray task (imported by module name on the worker, never the caller's ``__main__``):
    prove one window through :func:`zkdl.prove`, the same path as a sequential prove.
    Returns (proof bytes, secrets, info)."""
    import zkdl
    if threads:
        os.environ["ZKDL_MSM_THREADS"] = str(threads)   # the MSMs' share of the cores Ray gave this task
    started = time.monotonic()
    proof = zkdl.prove(trace.to_run(data), steps=(job.t0, job.t1 - job.t0), backend=backend, threads=threads,
                       run_seed=seed, inherit=job.inherit, **job.opts)
    return proof.data, proof.secrets, {"seconds": time.monotonic() - started, "pid": os.getpid()}


def _cause(exc):
    """The exception a task raised (not Ray's wrapper)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def prove_jobs(run, jobs: list[WindowJob], seed: bytes, *, on_done, address: str | None = None,
               backend: str = "cpu", threads: int | None = None, cpus_per_task: int = 1,
               num_cpus: int | None = None, on_start=None, warn=None) -> None:
    """Prove ``jobs`` of ``run`` as Ray tasks; ``on_done(job, proof, info)`` (a Proof with
    its secrets; info: seconds, pid of the worker) is called on this process as each one
    finishes, in completion order; ``on_start(job)`` when a job is handed to Ray.
    ``address``: a running cluster (default: a new local instance with ``num_cpus``
    CPUs, default all). ``threads``: CPUs each task takes and the threads it proves
    with (default ``cpus_per_task``, 1). Raises ZkdlError when a window's worker died more than
    TASK_RETRIES times, and a window's own error (e.g. WitnessError) as it is.
    ``backend="cuda"``: one GPU per task (Ray schedules the tasks on the cluster's GPUs);
    a cluster without GPUs proves with "cpu" instead, said through ``warn(message)``
    (default a RuntimeWarning)."""
    from zkdl.api import Proof
    cpus_per_task = threads or cpus_per_task   # --threads N: each task takes N CPUs and proves with N threads
    with _Session(address, num_cpus) as ray:
        gpu = backend == "cuda"
        if gpu and not ray.cluster_resources().get("GPU"):
            msg = "the Ray cluster has no GPU (`ray status`); proving with the cpu backend (same proofs, slower)"
            if warn is None:
                import warnings
                warnings.warn(msg, RuntimeWarning, stacklevel=2)
            else:
                warn(msg)
            backend, gpu = "cpu", False
        task = ray.remote(num_cpus=cpus_per_task, num_gpus=1 if gpu else 0, max_retries=TASK_RETRIES,
                          retry_exceptions=False, max_calls=0)(prove_window_task)
        threads = threads or cpus_per_task
        # numba's thread pool is sized when numba is imported: a worker started for these
        # tasks gets one thread per core it was given (all cores, in every one of several
        # workers on a machine, made them 2-3x slower on 2 cores)
        task = task.options(name="zkdl_prove_window",
                            runtime_env={"env_vars": {"NUMBA_NUM_THREADS": str(threads)}})
        cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
        limit = max(1, IN_FLIGHT_PER_CPU * cluster_cpus // max(1, cpus_per_task))
        data_ref = ray.put(run.data)
        queue, pending = list(jobs), {}
        try:
            while queue or pending:
                while queue and len(pending) < limit:
                    job = queue.pop(0)
                    ref = task.remote(WindowTrace.of(run, job.t0, job.t1), data_ref, job, seed, backend, threads)
                    pending[ref] = job
                    if on_start is not None:
                        on_start(job)
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    job = pending.pop(ref)
                    try:
                        data, secrets, info = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        raise _cause(exc) from None
                    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                            ray.exceptions.ObjectLostError) as exc:
                        raise ZkdlError(f"window {job.t0}..{job.t1 - 1}: its Ray worker died "
                                        f"{TASK_RETRIES + 1} times ({type(exc).__name__})") from None
                    on_done(job, Proof(data, secrets), info)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


# ============================================================================ auditing
def verify_task(data: bytes) -> dict:
    """A Ray task: verify one proof file's bytes (the verifier only), its MSMs on the one
    core the task was given (as ``zkdl audit --jobs`` workers share the cores)."""
    from zkdl.verify_pool import verify_data
    os.environ["ZKDL_MSM_THREADS"] = "1"
    return verify_data(data, time.perf_counter())


def verify_files_ray(paths: list[str], address: str | None = None, progress=None,
                     num_cpus: int | None = None) -> list[dict]:
    """The results of :func:`zkdl.verify_pool.verify_file` for ``paths``, verified as Ray
    tasks (files read here, their bytes sent through the object store); a file whose
    worker died more than TASK_RETRIES times is a rejection with the reason.
    ``progress(done, total)`` as in verify_files."""
    from zkdl.verify_pool import died_on, read_for_verify
    report = progress or (lambda done, total: None)
    report(0, len(paths))
    results: list = [None] * len(paths)
    with _Session(address, num_cpus) as ray:
        task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=False)(verify_task)
        task = task.options(name="zkdl_verify_proof")
        pending = {}
        for i, path in enumerate(paths):
            data, res = read_for_verify(path)
            if res is not None:
                results[i] = res
            else:
                pending[task.remote(data)] = i
        done = len(paths) - len(pending)
        if done:
            report(done, len(paths))
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    results[i] = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    results[i] = died_on(paths[i], f"Ray: {type(_cause(exc)).__name__}")
                done += 1
                report(done, len(paths))
    return results
