"""cuda/*.cuh and cuda/*.cu on the host: no GPU needed.

The headers' __host__ __device__ arithmetic and the kernels themselves are compiled
with g++ (tests/cuda_host_shim.h emulates blocks, threads, __syncthreads and
__shared__ on the CPU) into a shared library driven through ctypes
(tests/cuda_host_harness.cpp), and checked against the Python/numba reference:
zkdl.field, FrVec kernels, zkdl.prover.mle / sumcheck, and arkworks G1 arithmetic.
A last test compiles every kernel file to PTX for sm_90 with nvcc when present.
The build (tests/cuda_emulation.py) is cached in the temp directory, keyed by a hash
of the sources.
"""

from __future__ import annotations

import ctypes
import random
import re
import shutil
import subprocess
from pathlib import Path

import cuda_emulation as E
import numpy as np
import pytest

from zkdl import curve
from zkdl.curve import G1Point, Scalar
from zkdl.field import P
from zkdl.field.vector import FrVec, scalar_limbs, vecmat_small
from zkdl.prover import cuda_msm as CM
from zkdl.prover.cuda_backend import expand_source
from zkdl.prover import mle
from zkdl.prover import sumcheck as SC

R_FR = (1 << 256) % P
CUDA_DIR = E.CUDA_DIR


@pytest.fixture(scope="module")
def lib():
    lib = E.host_library()
    if lib is None:
        pytest.skip("g++ not found: the host build of cuda/*.cu needs a C++17 compiler")
    return lib


def limbs(x: int, n: int = 8) -> np.ndarray:
    return CM.int_to_limbs(x, n)


def val(a) -> int:
    return CM.limbs_to_int(a)


def ptr(a: np.ndarray):
    assert a.flags.c_contiguous
    return a.ctypes.data_as(ctypes.c_void_p)


def call(fn, *args):
    """Call fn(*inputs, out) for 8/12/36-word outputs; numpy arrays passed as pointers."""
    conv = [ptr(a) if isinstance(a, np.ndarray) else a for a in args]
    fn(*conv)


FR_EDGES = [0, 1, 2, P - 1, P - 2, (1 << 255) % P, R_FR, P // 2]


def _fr_pairs(rng, n):
    vals = FR_EDGES + [rng.randrange(P) for _ in range(n)]
    return [(a, b) for a in vals[:len(FR_EDGES)] for b in vals[:len(FR_EDGES)]] + \
        [(rng.randrange(P), rng.randrange(P)) for _ in range(n)]


def test_fr_scalar_arithmetic_matches_python(lib):
    rng = random.Random(901)
    out = np.zeros(8, np.uint32)
    for a, b in _fr_pairs(rng, 150):
        am, bm = limbs(a * R_FR % P), limbs(b * R_FR % P)
        call(lib.h_fr_mul, am, bm, out)
        assert val(out) == a * b * R_FR % P
        call(lib.h_fr_add, am, bm, out)
        assert val(out) == (a + b) * R_FR % P
        call(lib.h_fr_sub, am, bm, out)
        assert val(out) == (a - b) * R_FR % P
        call(lib.h_fr_to_mont, limbs(a), out)
        assert np.array_equal(out, FrVec.from_ints([a]).limbs[:, 0])  # FrVec's limb convention
        call(lib.h_fr_from_mont, am, out)
        assert val(out) == a


def test_fr_from_i64_matches_frvec(lib):
    rng = random.Random(902)
    xs = [0, 1, -1, (1 << 63) - 1, -(1 << 63) + 1, 1 << 32, -(1 << 32)] + \
        [rng.randrange(-(1 << 63) + 1, 1 << 63) for _ in range(60)]
    lib.h_fr_from_i64.argtypes = [ctypes.c_int64, ctypes.c_void_p]
    ref = FrVec.from_int64(np.array(xs, dtype=np.int64)).limbs
    out = np.zeros(8, np.uint32)
    for i, x in enumerate(xs):
        lib.h_fr_from_i64(x, ptr(out))
        assert np.array_equal(out, ref[:, i]), x


def test_fr_lazy_sum_reduction(lib):
    rng = random.Random(903)
    out = np.zeros(8, np.uint32)
    cases = [[0] * 16, [(1 << 64) - 1] * 16] + [[rng.randrange(1 << 64) for _ in range(16)] for _ in range(40)]
    for words in cases:
        lo, hi = np.array(words[:8], np.uint64), np.array(words[8:], np.uint64)
        X = sum((int(lo[k]) + (int(hi[k]) << 16)) << (32 * k) for k in range(8))
        lib.h_fr_from_lazy_sums(ptr(lo), ptr(hi), ptr(out))
        assert val(out) == X % P


def test_fp_arithmetic_matches_python(lib):
    rng = random.Random(904)
    Q, R = CM.Q, CM.R_FP
    out = np.zeros(12, np.uint32)
    vals = [0, 1, Q - 1, Q - 2, R] + [rng.randrange(Q) for _ in range(120)]
    for a in vals:
        b = rng.choice(vals)
        am, bm = limbs(a * R % Q, 12), limbs(b * R % Q, 12)
        call(lib.h_fp_mul, am, bm, out)
        assert val(out) == a * b * R % Q
        call(lib.h_fp_add, am, bm, out)
        assert val(out) == (a + b) * R % Q
        call(lib.h_fp_sub, am, bm, out)
        assert val(out) == (a - b) * R % Q
        call(lib.h_fp_to_mont, limbs(a, 12), out)
        assert val(out) == a * R % Q
        call(lib.h_fp_from_mont, am, out)
        assert val(out) == a


def _jac(p: G1Point) -> np.ndarray:
    return CM.point_to_jacobian_limbs(p)


def _pt(a: np.ndarray) -> G1Point:
    return CM.jacobian_limbs_to_points(a)[0]


def test_g1_arithmetic_matches_arkworks(lib):
    rng = random.Random(905)
    gens = curve.generators(6)
    inf = G1Point.identity()
    out = np.zeros(36, np.uint32)
    lib.h_g1_mul.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    for p in gens[:4]:
        call(lib.h_g1_dbl, _jac(p), out)
        assert _pt(out) == p + p
        for q in gens + [p, -p, inf]:
            call(lib.h_g1_add, _jac(p), _jac(q), out)
            assert _pt(out) == p + q
            call(lib.h_g1_add, _jac(q), _jac(p), out)
            assert _pt(out) == p + q
            call(lib.h_g1_madd, _jac(q), CM.point_to_affine_limbs(p), out)
            assert _pt(out) == p + q
        # a Jacobian input with Z != 1: 3p computed on the host side
        call(lib.h_g1_dbl, _jac(p), out)
        two = out.copy()
        call(lib.h_g1_madd, two, CM.point_to_affine_limbs(p), out)
        assert _pt(out) == p + p + p
        for k in [0, 1, 2, P - 1, rng.randrange(P)]:
            lib.h_g1_mul(ptr(_jac(p)), ptr(limbs(k)), 256, ptr(out))
            assert _pt(out) == p * Scalar(k)
    call(lib.h_g1_dbl, _jac(inf), out)
    assert _pt(out) == inf


def _launch(lib, name, grid, block, *args):
    E.launch(lib, name, grid if isinstance(grid, tuple) else (grid,), (block,), args)


def _rand_vec(rng, n) -> FrVec:
    return FrVec.from_ints([rng.randrange(P) for _ in range(n)])


U64, I32 = np.uint64, np.int32


def test_elementwise_kernels_match_frvec(lib):
    rng = random.Random(906)
    n = 77  # not a multiple of the block: grid-stride tails
    a, b = _rand_vec(rng, n), _rand_vec(rng, n)
    out = np.zeros((8, n), np.uint32)
    for op, ref in enumerate([a.add(b), a.sub(b), a.mul(b)]):
        _launch(lib, ["fr_vec_add", "fr_vec_sub", "fr_vec_mul"][op], 2, 16, a.limbs, b.limbs, out, U64(n))
        assert np.array_equal(out, ref.limbs), op
    s = rng.randrange(P)
    for op, ref in enumerate([a.scale(s), a.add_scalar(s)]):
        _launch(lib, ["fr_vec_scale", "fr_vec_add_scalar"][op], 3, 8, a.limbs, scalar_limbs(s), out, U64(n))
        assert np.array_equal(out, ref.limbs), op
    v = np.array([rng.randrange(-(1 << 40), 1 << 40) for _ in range(n)], dtype=np.int64)
    _launch(lib, "fr_vec_from_i64", 2, 32, v, out, U64(n))
    assert np.array_equal(out, FrVec.from_int64(v).limbs)


def test_eq_table_and_fold_kernels_match_mle(lib):
    rng = random.Random(907)
    r = [rng.randrange(P) for _ in range(5)]
    table = FrVec.from_ints([1]).limbs
    for rk in r:
        h = table.shape[1]
        out = np.zeros((8, 2 * h), np.uint32)
        _launch(lib, "fr_eq_expand", 2, 4, table, scalar_limbs(rk), out, U64(h))
        table = out
    assert np.array_equal(table, mle.eq_table(r).limbs)
    k, n = 3, 32
    stack = np.ascontiguousarray(np.stack([_rand_vec(rng, n).limbs for _ in range(k)]))
    s = rng.randrange(P)
    out = np.zeros((k, 8, n // 2), np.uint32)
    _launch(lib, "fr_fold_stack", 3, 8, stack, scalar_limbs(s), out, I32(k), U64(n))
    assert np.array_equal(out, mle.fold_stack(stack, s))


def _sum_partials(lib, partial: np.ndarray, rows: int, m: int) -> list[int]:
    out = np.zeros((8, rows), np.uint32)
    _launch(lib, "fr_reduce_rows", rows, 8, np.ascontiguousarray(partial), U64(m), out)
    return FrVec(out).to_ints()


@pytest.mark.parametrize("k", [1, 2, 4])
def test_round_sum_kernels_match_cpu_sumcheck(lib, k):
    rng = random.Random(908 + k)
    n, grid, block = 64, 3, 8
    tabs = [_rand_vec(rng, n) for _ in range(k)]
    stack = np.ascontiguousarray(np.stack([t.limbs for t in tabs]))
    deg = k
    partial = np.zeros((deg + 1, 8, grid), np.uint32)
    _launch(lib, "fr_round_sums", grid, block, stack, I32(k), U64(n), I32(deg), partial)
    got = _sum_partials(lib, partial, deg + 1, grid)
    ref = SC._round_evals(stack, deg, 0, None)
    assert got[0] == ref[0] and got[2:] == ref[2:] and got[1] == 0
    partial = np.zeros((8, grid), np.uint32)
    _launch(lib, "fr_product_sums", grid, block, stack, I32(k), U64(n), partial)
    assert _sum_partials(lib, partial, 1, grid) == [SC.product_sum(tabs)]


def test_vecmat_small_kernel_matches_cpu(lib):
    rng = random.Random(910)
    rows, cols, rchunk = 37, 10, 8
    v = _rand_vec(rng, rows)
    m = np.array([[rng.randrange(-(1 << 31) + 1, 1 << 31) for _ in range(cols)] for _ in range(rows)], np.int64)
    m[0, :] = (1 << 31) - 1
    m[1, :] = -(1 << 31) + 1
    m[2, :3] = 0
    nchunks = -(-rows // rchunk)
    partial = np.zeros((8, nchunks * cols), np.uint32)
    _launch(lib, "fr_vecmat_small", (2, nchunks), 8, v.limbs, m, U64(rows), U64(cols), U64(rchunk), partial)
    out = np.zeros((8, cols), np.uint32)
    _launch(lib, "fr_sum_chunks", 2, 4, partial, U64(nchunks), U64(cols), out)
    assert np.array_equal(out, vecmat_small(v, m).limbs)


@pytest.mark.parametrize("bits,slices", [(16, 1), (16, 3), (32, 2)])
def test_msm_kernels_match_arkworks(lib, bits, slices):
    rng = random.Random(911 + bits + slices)
    rows, cols = 3, 13
    u = np.array([[rng.randrange(1 << bits) for _ in range(cols)] for _ in range(rows)], dtype=np.uint32)
    u[1, :] = 0  # an all-zero row commits to infinity
    u[2, :] = (1 << bits) - 1  # a skewed row: every digit in one bucket
    u[2, 5] = 1
    gens = curve.generators(cols)
    g = np.ascontiguousarray(np.stack([CM.point_to_affine_limbs(p) for p in gens]))
    windows = bits // 8
    buckets = np.zeros(rows * windows * slices * 256 * 36, np.uint32)
    out = np.zeros(rows * 36, np.uint32)
    _launch(lib, "msm_bucket_sums", (rows, windows * slices), 256, g, u, U64(cols), I32(windows), I32(slices),
            buckets)
    _launch(lib, "msm_reduce", rows, 256, buckets, I32(windows), I32(slices), out)
    got = CM.jacobian_limbs_to_points(out.reshape(rows, 36))
    for i in range(rows):
        ref = G1Point.multiexp_unchecked(gens, [Scalar(int(x)) for x in u[i]])
        assert got[i] == ref, i
    assert got[1] == G1Point.identity()


def test_point_conversions_round_trip():
    pts = curve.generators(3) + [G1Point.identity(), -curve.generators(1)[0]]
    arr = np.stack([CM.point_to_jacobian_limbs(p) for p in pts])
    assert CM.jacobian_limbs_to_points(arr) == pts
    assert CM.plan_launch(4096, 4096, 16) == (2, 4)  # slices of at most 1024 columns
    assert CM.plan_launch(4096, 512, 16) == (2, 1)
    assert CM.plan_launch(1, 4096, 16) == (2, 64)  # few rows: more slices, >= 64 columns each
    assert CM.plan_launch(8, 100, 9) == (2, 1)
    assert CM.plan_launch(8, 100, 32) == (4, 1)
    assert CM.rows_per_batch(2, 4) * 2 * 4 * 256 * 36 * 4 <= CM.BUCKET_BYTES
    assert CM.rows_per_batch(4, 65535 // 4) == 1


@pytest.mark.slow   # ~12 s of nvcc; the g++ host-harness tests compile the same sources by default
def test_kernels_compile_to_ptx_for_sm90(tmp_path):
    nvcc = shutil.which("nvcc") or ("/usr/local/cuda/bin/nvcc" if Path("/usr/local/cuda/bin/nvcc").exists() else None)
    if nvcc is None:
        pytest.skip("nvcc not found: cannot check that cuda/*.cu compile for the GPU")
    for src in sorted(CUDA_DIR.glob("*.cu")):
        # the self-contained text the cuda backend hands to NVRTC, compiled without -I
        flat = tmp_path / src.name
        flat.write_text(expand_source(src))
        assert "#include" not in flat.read_text()
        out = tmp_path / (src.stem + ".ptx")
        res = subprocess.run([nvcc, "-ptx", "-arch=sm_90", "-std=c++17", str(flat), "-o", str(out)],
                             capture_output=True, text=True)
        assert res.returncode == 0, f"{src.name} does not compile:\n{res.stderr[-4000:]}"
        text = out.read_text()
        for name in _kernel_names(src):
            assert f".entry {name}(" in text, name


def _kernel_names(src: Path) -> list[str]:
    return re.findall(r'extern "C" __global__ void (\w+)\(', src.read_text())
