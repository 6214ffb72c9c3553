"""Distributed proving and auditing (issue 19): sequential vs a process pool vs Ray, side by side.

    python benchmarks/distributed.py                       # 8 windows of 1 step, width 64, 2 workers
    python benchmarks/distributed.py --windows 4 --width 32 --workers 2

Records one run (`zkdl train --no-prove`: --windows steps, 8 layers of --width, batch 32,
synthetic data), then proves its windows three ways, with one run seed, so all three
give the same statements (checked):

- sequential: ``zkdl.prove(run, executor="sequential")`` in this process (all cores);
- process pool: ``concurrent.futures.ProcessPoolExecutor`` (forkserver) with --workers
  processes, each running the window task of ``zkdl.distributed`` (1 thread each,
  NUMBA_NUM_THREADS=1 as zkdl sets it for its Ray workers);
- Ray: ``zkdl.distributed.prove_jobs`` on a local Ray instance with --workers CPUs
  (one task per window, 1 thread each).

Then audits the proofs three ways: ``verify_pool.verify_files`` with 1 job (one after
the other in this process), with --workers worker processes (``zkdl audit --jobs``),
and as Ray tasks (``zkdl audit --ray``). Every prover process (this one, each pool
process, each Ray worker) first proves the first window once, untimed (kernels loaded,
generator tables built), and Ray's start-up is shown apart, so the times compare steady
states. The audit's process pool starts its workers as `zkdl audit --jobs` does (their
start-up included); Ray's workers are those that proved.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor


def _warm(trace, data, job, seed) -> int:
    """Warm a worker process: one untimed proof of the first window (numba kernels
    loaded, generator tables of this size built)."""
    from zkdl.distributed import prove_window_task
    prove_window_task(trace, data, job, seed, "cpu", 1)
    return os.getpid()


def statement(data: bytes) -> dict:
    from zkdl.prooffile import unpack
    h = unpack(data)[0]
    return {k: h[k] for k in ("config", "circuit_digest", "statement")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=8)
    ap.add_argument("--window", type=int, default=1, help="steps per window")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    import ray

    import zkdl
    from zkdl.blinds import new_seed
    from zkdl.distributed import WindowJob, WindowTrace, prove_jobs, prove_window_task, verify_files_ray
    from zkdl.verify_pool import verify_files

    tmp = tempfile.mkdtemp(prefix="zkdl-dist-bench-")
    steps = args.windows * args.window
    out = os.path.join(tmp, "run")
    subprocess.run([sys.executable, "-m", "zkdl", "train", "--out", out, "--steps", str(steps), "--no-prove",
                    "--width", str(args.width), "--lr-shift", "10", "-q"], check=True, capture_output=True)
    run = zkdl.Run.load(os.path.join(out, "run"))
    seed = new_seed()
    bounds = [(a, a + args.window) for a in range(0, steps, args.window)]
    jobs = [WindowJob.plan(a, b, starts_chain=(a == 0)) for a, b in bounds]
    print(f"{args.windows} windows of {args.window} step(s), width {args.width}, 8 layers, batch 32; "
          f"{args.workers} workers; {os.cpu_count()} cores")
    results: dict = {}

    # ---- proving
    warm_args = (WindowTrace.of(run, jobs[0].t0, jobs[0].t1), run.data, jobs[0], seed)
    _warm(*warm_args)
    t = time.perf_counter()
    seq = zkdl.prove(run, steps=(0, steps), executor="sequential", window=args.window, run_seed=seed)
    results["prove", "sequential"] = time.perf_counter() - t
    ref = [statement(p.data) for p in seq]

    os.environ["NUMBA_NUM_THREADS"] = "1"   # one numba thread per worker process, as zkdl gives Ray's workers
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
        [f.result() for f in [pool.submit(_warm, *warm_args) for _ in range(args.workers)]]
        t = time.perf_counter()
        futs = [pool.submit(prove_window_task, WindowTrace.of(run, j.t0, j.t1), run.data, j, seed, "cpu", 1)
                for j in jobs]
        pooled = [f.result()[0] for f in futs]
        results["prove", "process pool"] = time.perf_counter() - t

    t = time.perf_counter()
    rtmp = tempfile.mkdtemp(prefix="zr", dir="/tmp")
    from zkdl.distributed import LOCAL_SYSTEM_CONFIG   # what `zkdl prove --ray` starts: workers at nice 0
    ray.init(address="local", num_cpus=args.workers, include_dashboard=False, _temp_dir=rtmp,
             _system_config=LOCAL_SYSTEM_CONFIG,
             log_to_driver=False, logging_level="ERROR")
    ray_start = time.perf_counter() - t
    try:
        prove_jobs(run, [jobs[0]] * args.workers, seed, threads=1, on_done=lambda *a: None)   # warm workers
        done: dict = {}
        t = time.perf_counter()
        prove_jobs(run, jobs, seed, threads=1, on_done=lambda job, proof, info: done.__setitem__(job.t0, proof))
        results["prove", "Ray"] = time.perf_counter() - t
        rayed = [done[a].data for a, _ in bounds]
        same = [statement(d) for d in pooled] == ref == [statement(d) for d in rayed]

        # ---- auditing
        pdir = os.path.join(tmp, "proofs")
        os.makedirs(pdir)
        paths = []
        for (a, b), p in zip(bounds, seq):
            paths.append(os.path.join(pdir, f"steps_{a:06d}-{b:06d}.zkdl"))
            p.save(paths[-1])
        verify_files(paths[:1], 1)   # this process warm
        t = time.perf_counter()
        r1 = verify_files(paths, 1)
        results["audit", "sequential"] = time.perf_counter() - t
        t = time.perf_counter()
        r2 = verify_files(paths, args.workers)
        results["audit", "process pool"] = time.perf_counter() - t
        verify_files_ray(paths[:args.workers])   # warm the workers' verifier
        t = time.perf_counter()
        r3 = verify_files_ray(paths)
        results["audit", "Ray"] = time.perf_counter() - t
        valid = all(r["valid"] for r in r1 + r2 + r3)
    finally:
        ray.shutdown()
        shutil.rmtree(rtmp, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"statements identical (sequential / pool / Ray): {'yes' if same else 'NO'}; "
          f"all proofs verified: {'yes' if valid else 'NO'}; Ray start-up {ray_start:.1f} s (not included)")
    print(f"| {'':<6} | {'sequential s':>12} | {'process pool s':>14} | {'Ray s':>7} | {'pool / seq':>10} | "
          f"{'Ray / seq':>9} |")
    print(f"|{'-' * 8}|{'-' * 14}|{'-' * 16}|{'-' * 9}|{'-' * 12}|{'-' * 11}|")
    for what in ("prove", "audit"):
        s, p, r = (results[what, k] for k in ("sequential", "process pool", "Ray"))
        print(f"| {what:<6} | {s:>12.1f} | {p:>14.1f} | {r:>7.1f} | {p / s:>9.2f}x | {r / s:>8.2f}x |")


if __name__ == "__main__":
    main()
