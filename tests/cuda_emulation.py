"""Host build of the CUDA sources, and a stand-in for CuPy that runs them on the CPU.

:func:`host_library` compiles tests/cuda_host_harness.cpp (which includes
cuda/*.cu under the emulation shim tests/cuda_host_shim.h) with g++ into a shared
library, cached in the temp directory under a hash of the sources and flags.

:func:`fake_cupy` returns a module object with the small part of CuPy's API that
zkdl.prover.cuda_backend / cuda_msm use: "device" arrays are numpy arrays (copied
on asarray, as a host-to-device transfer would), and ``RawModule.get_function(name)``
calls the library's ``launch_<name>``. Tests install it as ``sys.modules["cupy"]``
to run the cuda backend's host logic and kernels together without a GPU.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import types
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parent
CUDA_DIR = TESTS.parent / "cuda"
FLAGS = ["-O1", "-std=c++17", "-shared", "-fPIC", "-pthread", "-Wall", "-Wno-unknown-pragmas"]


def sources() -> list[Path]:
    return sorted(CUDA_DIR.glob("*.cu")) + sorted(CUDA_DIR.glob("*.cuh")) + [
        TESTS / "cuda_host_shim.h", TESTS / "cuda_host_harness.cpp"]


def host_library():
    """The ctypes library, or None when g++ is absent (callers skip with a reason)."""
    gxx = shutil.which("g++")
    if gxx is None:
        return None
    h = hashlib.sha256(" ".join(FLAGS).encode())
    for src in sources():
        h.update(src.name.encode() + b"\0" + src.read_bytes())
    out = Path(tempfile.gettempdir()) / f"zkdl-cuda-host-{h.hexdigest()[:16]}" / "harness.so"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"harness.{os.getpid()}.so")
        cmd = [gxx, *FLAGS, "-include", str(TESTS / "cuda_host_shim.h"), "-I", str(CUDA_DIR),
               str(TESTS / "cuda_host_harness.cpp"), "-o", str(tmp)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"host build failed:\n{' '.join(cmd)}\n{res.stderr[-4000:]}")
        os.replace(tmp, out)
    return ctypes.CDLL(str(out))


def c_arg(a):
    """A kernel argument as CuPy would pass it: arrays by pointer, numpy scalars by value."""
    if isinstance(a, np.ndarray):
        if not a.flags.c_contiguous:
            raise ValueError("kernel arrays must be C-contiguous")
        return ctypes.c_void_p(a.ctypes.data)
    if isinstance(a, np.uint64):
        return ctypes.c_uint64(int(a))
    if isinstance(a, np.int32):
        return ctypes.c_int(int(a))
    raise TypeError(f"kernel argument of type {type(a).__name__}: pass numpy scalars with a dtype")


def launch(lib, name: str, grid, block, args) -> None:
    grid = tuple(grid) + (1,) * (2 - len(grid))
    getattr(lib, "launch_" + name)(ctypes.c_uint(grid[0]), ctypes.c_uint(grid[1]), ctypes.c_uint(block[0]),
                                   *[c_arg(a) for a in args])


def fake_cupy(lib, launches: list | None = None) -> types.ModuleType:
    """A module standing in for ``cupy``; ``launches`` (if given) records kernel names."""
    cp = types.ModuleType("cupy")
    cp.uint32, cp.int64 = np.uint32, np.int64

    def asarray(x, dtype=None):
        return np.array(x, dtype=dtype, copy=True)

    def empty(shape, dtype=np.float64):
        out = np.empty(shape, dtype=dtype)
        if out.dtype.kind in "ui":
            out.fill(0x5A)  # device memory is not zeroed: make stray reads visible
        return out

    cp.asarray, cp.empty = asarray, empty
    cp.ascontiguousarray = lambda x, dtype=None: np.ascontiguousarray(x, dtype=dtype)
    cp.asnumpy = lambda x: np.array(x, copy=True)
    cp.stack, cp.repeat, cp.moveaxis = np.stack, np.repeat, np.moveaxis

    class Function:
        def __init__(self, name):
            self.name = name

        def __call__(self, grid, block, args):
            if launches is not None:
                launches.append(self.name)
            launch(lib, self.name, grid, block, args)

    class RawModule:
        def __init__(self, code=None, options=(), **kw):
            self.code, self.options = code, options

        def get_function(self, name):
            if f" {name}(" not in self.code:
                raise AttributeError(f"no kernel {name} in this module")
            return Function(name)

    cp.RawModule = RawModule
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, deviceSynchronize=lambda: None,
                                    getDeviceProperties=lambda i: {"name": b"CPU emulation (tests/cuda_emulation.py)"})
    device = types.SimpleNamespace(id=0, synchronize=lambda: None)
    cp.cuda = types.SimpleNamespace(runtime=runtime, Device=lambda *a: device)
    return cp
