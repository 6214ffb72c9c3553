"""The ``cuda`` prover backend: Fr tables on an NVIDIA GPU through CuPy.

Same interface and results as :class:`zkdl.prover.backend.CpuBackend` (byte-identical
proofs): every method computes the same field values, only where differs. Vectors are
:class:`CuVec` objects holding a device uint32 array of shape (8, n) -- FrVec's
layout (Montgomery limbs, structure of arrays), so conversion is a copy. Tables stay
on the device between calls; only round sums, challenges and final values cross.

Kernels: ``cuda/field_kernels.cu`` and ``cuda/msm.cu`` (headers pasted in by
:func:`expand_source`) compiled once per process with ``cupy.RawModule`` (NVRTC;
CuPy caches the binaries on disk, keyed by the text). The kernel directory
is ``<repo>/cuda`` (``Path(zkdl.__file__).parent.parent / "cuda"``) unless
``ZKDL_CUDA_DIR`` names another. When CuPy, a device or the sources are missing,
:func:`load_kernels` raises :class:`~zkdl.errors.BackendUnavailable` saying which.

The sumcheck is :func:`zkdl.prover.sumcheck.prove_sumcheck` on this backend's
primitives: the stack is a device array (k, 8, n); g(0), g(2..d) come from per-block
partial sums (fr_round_sums + fr_reduce_rows), g(1) = claim - g(0), the coefficients
are interpolated on the host, then one fold kernel folds the whole stack per round.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np

import zkdl
from zkdl.errors import BackendUnavailable
from zkdl.field import P
from zkdl.field.vector import FrVec, scalar_limbs
from zkdl.prover.backend import SumcheckBackend
from zkdl.prover.mle import _check_pow2, axis_point

ENV_DIR = "ZKDL_CUDA_DIR"
SOURCES = ("field_kernels.cu", "msm.cu")
BLOCK = 256  # threads per block (reductions need a power of two <= FR_MAX_BLOCK = 256)
MAX_GRID = 65535
MAX_REDUCE_BLOCKS = 1024
RCHUNK = 1 << 16  # rows per lazy-accumulation chunk of fr_vecmat_small (exactness bound)
MAX_K = 9  # tables per sumcheck (FR_MAXK - 1 in the kernels)
CACHE_BYTES = 2 << 30  # device copies of int64 host tensors kept (LRU)
HINT = "pip install 'zkdl[gpu]'"


def kernel_dir() -> Path:
    env = os.environ.get(ENV_DIR)
    return Path(env) if env else Path(zkdl.__file__).resolve().parent.parent / "cuda"


def load_kernels():
    """(cupy, {source name: RawModule}); BackendUnavailable with the reason otherwise."""
    need = "the cuda backend needs CuPy and an NVIDIA GPU"
    try:
        import cupy as cp
    except ImportError as exc:
        raise BackendUnavailable(f"{need}: CuPy is not installed ({HINT}; import said: {exc})") from None
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError when the driver is absent
        raise BackendUnavailable(f"{need}: no CUDA device found ({exc})") from None
    if count < 1:
        raise BackendUnavailable(f"{need}: no CUDA device found")
    d = kernel_dir()
    missing = [s for s in SOURCES if not (d / s).is_file()]
    if not d.is_dir() or missing:
        what = f"kernel directory {d} not found" if not d.is_dir() else f"{', '.join(missing)} missing in {d}"
        raise BackendUnavailable(f"the cuda backend cannot load its kernels: {what} (set {ENV_DIR})")
    key = (id(cp), str(d.resolve()), tuple(expand_source(d / s) for s in SOURCES))
    if key not in _loaded:  # one compilation per process and source version
        opts = ("--std=c++17",)
        # the value holds cp itself, so its id cannot be reused by another module object
        _loaded[key] = (cp, {s: cp.RawModule(code=text, options=opts) for s, text in zip(SOURCES, key[2])})
    return cp, _loaded[key][1]


_loaded: dict = {}
_msm_backends: dict = {}


_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$')


def expand_source(path: Path, _seen: set | None = None) -> str:
    """The text of a kernel file with its ``#include "..."`` headers pasted in (each
    once; ``#pragma once`` dropped). CuPy keys its compile cache on the source text
    and options only, so a self-contained text is what keeps an edited header from
    reusing a stale cached binary."""
    seen = set() if _seen is None else _seen
    out = []
    for line in path.read_text().splitlines():
        m = _INCLUDE.match(line)
        if m:
            inc = (path.parent / m.group(1)).resolve()
            if inc not in seen:
                seen.add(inc)
                out.append(f"// ---- {m.group(1)}")
                out.append(expand_source(inc, seen))
            continue
        if line.strip() == "#pragma once":
            continue
        out.append(line)
    return "\n".join(out) + "\n"


class CuVec:
    """A vector of Fr on the device: ``limbs`` is a CuPy uint32 array (8, n), Montgomery form."""

    __slots__ = ("limbs",)

    def __init__(self, limbs):
        self.limbs = limbs

    def __len__(self) -> int:
        return int(self.limbs.shape[1])

    def __repr__(self) -> str:
        return f"CuVec(n={len(self)})"


class CudaBackend(SumcheckBackend):
    name = "cuda"

    def __init__(self, threads=None):
        self.threads = threads
        self.block = BLOCK
        self.cp, mods = load_kernels()
        self._fk = mods["field_kernels.cu"]
        self._msm_mod = mods["msm.cu"]
        self._k = {}
        self._msm = None
        self._ints: OrderedDict = OrderedDict()  # device copies of int64 tensors
        self._int_bytes = 0

    # ------------------------------------------------------------ plumbing
    def _kern(self, name):
        if name not in self._k:
            self._k[name] = self._fk.get_function(name)
        return self._k[name]

    def _launch(self, name, n, *args, grid=None):
        blocks = grid if grid is not None else max(1, min(MAX_GRID, -(-int(n) // self.block)))
        self._kern(name)((blocks,), (self.block,), args)

    def _scalar(self, x: int):
        return self.cp.asarray(scalar_limbs(x % P))

    def _empty(self, n: int) -> CuVec:
        return CuVec(self.cp.empty((8, n), dtype=self.cp.uint32))

    def _device_ints(self, arr: np.ndarray):
        """(device int64 copy, max |entry|) of a host array, cached by its buffer (the
        prover's tables are not modified once proving starts)."""
        root = arr
        while isinstance(root.base, np.ndarray):
            root = root.base
        key = (id(root), arr.__array_interface__["data"][0], arr.shape, arr.strides, arr.dtype.str)
        hit = self._ints.get(key)
        if hit is not None:
            self._ints.move_to_end(key)
            return hit[1], hit[2]
        flat = np.ascontiguousarray(arr.reshape(-1), dtype=np.int64)
        dev = self.cp.asarray(flat)
        amax = int(abs(flat).max()) if flat.size else 0
        self._ints[key] = (root, dev, amax)
        self._int_bytes += flat.nbytes
        while self._int_bytes > CACHE_BYTES and len(self._ints) > 1:
            _, (_, old, _) = self._ints.popitem(last=False)
            self._int_bytes -= old.nbytes
        return dev, amax

    def _from_dev_ints(self, dev) -> CuVec:
        out = self._empty(int(dev.size))
        self._launch("fr_vec_from_i64", dev.size, dev, out.limbs, np.uint64(dev.size))
        return out

    # ------------------------------------------------------------ interface
    def vec(self, t) -> CuVec:
        if isinstance(t, CuVec):
            return t
        if isinstance(t, FrVec):
            return CuVec(self.cp.asarray(t.limbs))
        dev, _ = self._device_ints(np.asarray(t))
        return self._from_dev_ints(dev)

    def from_ints(self, values) -> CuVec:
        return CuVec(self.cp.asarray(FrVec.from_ints(values).limbs))

    def to_ints(self, v) -> list[int]:
        return self._host(self.vec(v)).to_ints()

    def _host(self, v: CuVec) -> FrVec:
        return FrVec(np.ascontiguousarray(self.cp.asnumpy(v.limbs)))

    def length(self, v) -> int:
        return len(v) if isinstance(v, (CuVec, FrVec)) else int(np.asarray(v).size)

    def _binary(self, name, a: CuVec, b: CuVec) -> CuVec:
        if len(a) != len(b):
            raise ValueError("field vectors must have the same length")
        out = self._empty(len(a))
        self._launch(name, len(a), a.limbs, b.limbs, out.limbs, np.uint64(len(a)))
        return out

    def add(self, v, w) -> CuVec:
        return self._binary("fr_vec_add", self.vec(v), self.vec(w))

    def sub(self, v, w) -> CuVec:
        return self._binary("fr_vec_sub", self.vec(v), self.vec(w))

    def mul(self, v, w) -> CuVec:
        return self._binary("fr_vec_mul", self.vec(v), self.vec(w))

    def _with_scalar(self, name, v, c: int) -> CuVec:
        a = self.vec(v)
        out = self._empty(len(a))
        self._launch(name, len(a), a.limbs, self._scalar(c), out.limbs, np.uint64(len(a)))
        return out

    def scale(self, v, c: int) -> CuVec:
        return self._with_scalar("fr_vec_scale", v, c)

    def add_scalar(self, v, c: int) -> CuVec:
        return self._with_scalar("fr_vec_add_scalar", v, c)

    def eq_table(self, r) -> CuVec:
        table = self.from_ints([1])
        for rk in r:
            h = len(table)
            out = self._empty(2 * h)
            self._launch("fr_eq_expand", h, table.limbs, self._scalar(rk), out.limbs, np.uint64(h))
            table = out
        return table

    def repeat_each(self, v, times: int) -> CuVec:
        return CuVec(self.cp.ascontiguousarray(self.cp.repeat(self.vec(v).limbs, times, axis=1)))

    def fold_stack(self, stack, r: int):
        """Fix the leading variable of every table of a (k, 8, n) device stack to r."""
        k, _, n = (int(s) for s in stack.shape)
        if n < 2:
            raise ValueError("cannot fold a table of one entry")
        out = self.cp.empty((k, 8, n // 2), dtype=self.cp.uint32)
        self._launch("fr_fold_stack", k * (n // 2), stack, self._scalar(r), out, np.int32(k), np.uint64(n))
        return out

    def fold(self, v: CuVec, r: int) -> CuVec:
        return CuVec(self.fold_stack(v.limbs[None], r)[0])

    def vecmat_small(self, v: CuVec, m) -> CuVec:
        """sum_i v[i] m[i, :] for a device int64 matrix m (rows x cols, |m| < 2^31)."""
        rows, cols = (int(s) for s in m.shape)
        if rows != len(v):
            raise ValueError(f"vecmat_small: vector of {len(v)} against matrix of shape {m.shape}")
        # one thread per (column, chunk of rows): short chunks when there are few columns
        # (eq^T M along a long last axis), at most RCHUNK rows (lazy-sum exactness) and
        # at most MAX_GRID chunks
        rchunk = min(RCHUNK, max(256, -(-rows * cols // (1 << 17)), -(-rows // MAX_GRID)))
        nchunks = max(1, -(-rows // rchunk))
        partial = self.cp.empty((8, nchunks * cols), dtype=self.cp.uint32)
        grid = (max(1, -(-cols // self.block)), nchunks)
        self._kern("fr_vecmat_small")(grid, (self.block,), (v.limbs, self.cp.ascontiguousarray(m), np.uint64(rows),
                                                        np.uint64(cols), np.uint64(rchunk), partial))
        if nchunks == 1:
            return CuVec(partial)
        out = self._empty(cols)
        self._launch("fr_sum_chunks", cols, partial, np.uint64(nchunks), np.uint64(cols), out.limbs)
        return out

    def partial_evaluate(self, t, shape, points):
        """Same contract as zkdl.prover.mle.partial_evaluate; returns (CuVec, shape)."""
        cp = self.cp
        shape = [int(s) for s in shape]
        for s in shape:
            _check_pow2(s, "axis size")
        size = int(np.prod(shape)) if shape else 1
        if self.length(t) != size:
            raise ValueError(f"tensor of {self.length(t)} entries does not have shape {tuple(shape)}")
        if isinstance(t, (CuVec, FrVec)):
            data = self.vec(t)
        else:
            data, amax = self._device_ints(np.asarray(t))
            if amax >= 1 << 31:
                data = self._from_dev_ints(data)
        for axis in sorted(points, reverse=True):
            pt = axis_point(points, axis, shape)
            if isinstance(data, CuVec):
                limbs = data.limbs.reshape([8] + shape)
                v = CuVec(cp.ascontiguousarray(cp.moveaxis(limbs, axis + 1, 1)).reshape(8, -1))
                for r in pt:
                    v = self.fold(v, r)
                data = v
            else:
                moved = cp.ascontiguousarray(cp.moveaxis(data.reshape(shape), axis, 0)).reshape(shape[axis], -1)
                data = self.vecmat_small(self.eq_table(pt), moved)
            del shape[axis]
        if not isinstance(data, CuVec):
            data = self._from_dev_ints(data.reshape(-1))
        return data, tuple(shape)

    def evaluate(self, t, point) -> int:
        out, _ = self.partial_evaluate(t, (self.length(t),), {0: list(point)})
        return self.to_ints(out)[0]

    # ------------------------------------------------------------ sumcheck primitives
    def stack_tables(self, tables):
        """The device stack (k, 8, n) of a sumcheck's tables (fold_stack is above)."""
        if len(tables) > MAX_K:
            raise ValueError(f"the cuda sumcheck supports at most {MAX_K} tables, got {len(tables)}")
        return self.cp.ascontiguousarray(self.cp.stack([t.limbs for t in tables]))

    def slice(self, v, lo: int, hi: int) -> CuVec:
        return CuVec(self.cp.ascontiguousarray(self.vec(v).limbs[:, lo:hi]))

    def substack(self, stack, idx):
        """The device stack of tables ``idx`` of ``stack`` (a sum-of-products sumcheck)."""
        return self.cp.ascontiguousarray(stack[self.cp.asarray(list(idx), dtype=self.cp.int64)])

    def _finish_partials(self, partial, rows: int, m: int) -> list[int]:
        out = self.cp.empty((8, rows), dtype=self.cp.uint32)
        self._kern("fr_reduce_rows")((rows,), (self.block,), (partial, np.uint64(m), out))
        return self._host(CuVec(out)).to_ints()

    def product_sum(self, stack) -> int:
        """sum_e prod_j stack[j][e] (the claim of a sumcheck without given claim)."""
        k, _, n = (int(s) for s in stack.shape)
        grid = max(1, min(MAX_REDUCE_BLOCKS, -(-n // self.block)))
        partial = self.cp.empty((8, grid), dtype=self.cp.uint32)
        self._launch("fr_product_sums", n, stack, np.int32(k), np.uint64(n), partial, grid=grid)
        return self._finish_partials(partial, 1, grid)[0]

    def round_evals(self, stack, deg: int, claim: int) -> list[int]:
        """g(0..deg) of a sumcheck round over the device stack; g(1) = claim - g(0)."""
        k, _, n = (int(s) for s in stack.shape)
        h = n // 2
        grid = max(1, min(MAX_REDUCE_BLOCKS, -(-h // self.block)))
        partial = self.cp.empty((deg + 1, 8, grid), dtype=self.cp.uint32)
        self._launch("fr_round_sums", h, stack, np.int32(k), np.uint64(n), np.int32(deg), partial, grid=grid)
        evals = self._finish_partials(partial, deg + 1, grid)
        evals[1] = (claim - evals[0]) % P
        return evals

    def final_evals(self, stack) -> list[int]:
        return FrVec(np.ascontiguousarray(self.cp.asnumpy(stack)[:, :, 0].T)).to_ints()

    # ------------------------------------------------------------ commitments
    @property
    def msm_backend(self):
        """A zkdl.curve.MSMBackend whose ``commit_rows_small`` runs on this GPU (for
        ``zkdl.prover.hyrax.commit(..., backend=...)``)."""
        if self._msm is None:
            from zkdl.prover.cuda_msm import CudaMSMBackend
            key = id(self._msm_mod)  # one generator cache per loaded module
            if key not in _msm_backends:
                _msm_backends[key] = CudaMSMBackend(self.cp, self._msm_mod)
            self._msm = _msm_backends[key]
        return self._msm

    def commit_rows_small(self, u) -> list:
        """[sum_j u[i, j] G_j] per row of a non-negative integer matrix u < 2^32."""
        return self.msm_backend.commit_rows_small(u)
