"""The ``cuda`` prover backend without a GPU.

1. Selection and fallback: without CuPy, without a device, or without the kernel
   sources, ``get_backend("cuda")`` raises BackendUnavailable naming what is missing.
2. Emulated: with tests/cuda_emulation.py's stand-in for CuPy (numpy arrays as device
   memory, the real kernels compiled for the host and run block by block),
   CudaBackend must match CpuBackend value for value, commit rows exactly as the CPU
   Hyrax code does, and prove a tiny run byte-identically. This exercises
   prover/cuda_backend.py, prover/cuda_msm.py and cuda/*.cu together; what it cannot
   check (NVRTC compilation, real launches, speed) is left to tests/test_cuda_gpu.py.
"""

from __future__ import annotations

import random
import re
import sys
import types

import cuda_emulation as E
import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.config import TrainConfig
from zkdl.errors import BackendUnavailable, ZkdlError
from zkdl.field import P
from zkdl.prover import cuda_backend as CB
from zkdl.prover import hyrax
from zkdl.prover.backend import get_backend
from zkdl.transcript import Transcript


# ------------------------------------------------------------------ fallback messages
def test_no_cupy_is_a_clear_typed_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    with pytest.raises(BackendUnavailable, match=r"needs CuPy and an NVIDIA GPU: CuPy is not installed "
                                                 r"\(pip install 'zkdl\[gpu\]'") as exc:
        get_backend("cuda")
    assert isinstance(exc.value, ZkdlError)


def _cupy_with_devices(count):
    cp = types.ModuleType("cupy")

    def get_count():
        if isinstance(count, Exception):
            raise count
        return count
    cp.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=get_count))
    return cp


@pytest.mark.parametrize("count", [0, RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")])
def test_no_device_is_a_clear_typed_error(monkeypatch, count):
    monkeypatch.setitem(sys.modules, "cupy", _cupy_with_devices(count))
    with pytest.raises(BackendUnavailable, match="no CUDA device found"):
        get_backend("cuda")


def test_missing_kernel_directory_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "cupy", _cupy_with_devices(1))
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("ZKDL_CUDA_DIR", str(missing))
    with pytest.raises(BackendUnavailable, match=re.escape(f"kernel directory {missing} not found (set ZKDL_CUDA_DIR)")):
        get_backend("cuda")
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "field_kernels.cu").write_text("// only one file\n")
    monkeypatch.setenv("ZKDL_CUDA_DIR", str(tmp_path / "partial"))
    with pytest.raises(BackendUnavailable, match="msm.cu missing"):
        get_backend("cuda")


def test_default_kernel_directory_is_the_repo_cuda_folder(monkeypatch):
    monkeypatch.delenv("ZKDL_CUDA_DIR", raising=False)
    assert CB.kernel_dir() == E.CUDA_DIR
    assert all((E.CUDA_DIR / s).is_file() for s in CB.SOURCES)
    assert not (E.CUDA_DIR / "__init__.py").exists()


def test_unknown_backend_lists_cuda():
    with pytest.raises(ValueError, match=r"\(cpu, reference, cuda\)"):
        get_backend("tpu")


# ------------------------------------------------------------------ emulated device
@pytest.fixture(scope="module")
def lib():
    lib = E.host_library()
    if lib is None:
        pytest.skip("g++ not found: the emulated cuda backend needs the host build of cuda/*.cu")
    return lib


@pytest.fixture
def launches():
    return []


@pytest.fixture
def be(lib, monkeypatch, launches):
    monkeypatch.setitem(sys.modules, "cupy", E.fake_cupy(lib, launches))
    monkeypatch.setattr(CB, "BLOCK", 8)  # fewer emulated threads per block
    return get_backend("cuda")


def test_every_kernel_has_an_emulation_launcher(lib):
    for src in sorted(E.CUDA_DIR.glob("*.cu")):
        for name in re.findall(r'extern "C" __global__ void (\w+)\(', src.read_text()):
            assert hasattr(lib, "launch_" + name), name


def test_field_operations_match_cpu(be):
    cpu = get_backend("cpu")
    rng = np.random.default_rng(921)
    a = rng.integers(-(1 << 40), 1 << 40, size=64)
    b = rng.integers(-5, 6, size=64)
    ints = [int(x) for x in rng.integers(0, 1 << 62, size=64)] + [P - 1]
    s = 0x1234567 * P // 7
    assert be.to_ints(be.vec(a)) == cpu.to_ints(cpu.vec(a))
    assert be.to_ints(be.from_ints(ints)) == [v % P for v in ints]
    assert be.to_ints(be.add(a, b)) == cpu.to_ints(cpu.add(a, b))
    assert be.to_ints(be.scale(a, s)) == cpu.to_ints(cpu.scale(a, s))
    assert be.to_ints(be.add_scalar(b, -3)) == cpu.to_ints(cpu.add_scalar(b, -3))
    assert be.length(be.vec(a)) == 64 == be.length(a)
    r = [int(x) for x in rng.integers(0, 1 << 60, size=5)]
    assert be.to_ints(be.eq_table(r)) == cpu.to_ints(cpu.eq_table(r))
    assert be.to_ints(be.repeat_each(b[:8], 4)) == cpu.to_ints(cpu.repeat_each(b[:8], 4))


@pytest.mark.parametrize("kind", ["small", "large", "field"])
def test_partial_evaluate_matches_cpu(be, kind):
    cpu = get_backend("cpu")
    rng = np.random.default_rng(922)
    shape = (4, 8, 2)
    t = rng.integers(-(1 << 20), 1 << 20, size=64)
    if kind == "large":
        t[3] = (1 << 40) + 5  # beyond the small-int kernel: field path
    pts = {a: [int(x) for x in rng.integers(0, 1 << 60, size=s.bit_length() - 1)] for a, s in enumerate(shape)}
    src_be = be.vec(t) if kind == "field" else t
    src_cpu = cpu.vec(t) if kind == "field" else t
    for fixed in ({0: pts[0]}, {2: pts[2]}, {1: pts[1], 2: pts[2]}, pts, {}):
        got, gshape = be.partial_evaluate(src_be, shape, fixed)
        ref, rshape = cpu.partial_evaluate(src_cpu, shape, fixed)
        assert gshape == rshape and be.to_ints(got) == cpu.to_ints(ref), fixed
    point = [int(x) for x in rng.integers(0, 1 << 60, size=6)]
    assert be.evaluate(t, point) == cpu.evaluate(t, point)
    with pytest.raises(ValueError, match="does not have shape"):
        be.partial_evaluate(t, (4, 4), {})


@pytest.mark.parametrize("k,eq", [(1, False), (2, False), (2, True), (3, True)])
def test_sumcheck_matches_cpu(be, k, eq):
    cpu = get_backend("cpu")
    rng = np.random.default_rng(923 + k)
    tabs = [rng.integers(-1000, 1000, size=32) for _ in range(k)]
    point = [int(x) for x in rng.integers(0, 1 << 60, size=5)] if eq else None
    results = []
    for backend in (cpu, be):
        t = Transcript(b"cuda-parity")
        res = backend.sumcheck(t, tabs, eq_point=point)
        results.append((res, t.challenge_scalar(b"after")))
    (rc, tc), (rg, tg) = results
    assert rg.proof == rc.proof and rg.point == rc.point and tg == tc
    assert rg.table_evals == rc.table_evals and rg.eq_eval == rc.eq_eval and rg.claim == rc.claim


def test_sum_of_products_sumcheck_matches_cpu(be):
    """The LogUp-GKR layer sumcheck (zkdl.prover.logup): two product terms and eq."""
    cpu = get_backend("cpu")
    rng = np.random.default_rng(925)
    tabs = [rng.integers(-1000, 1000, size=16) for _ in range(4)]
    point = [int(x) for x in rng.integers(0, 1 << 60, size=4)]
    results = []
    for backend in (cpu, be):
        t = Transcript(b"cuda-parity")
        res = backend.sumcheck(t, tabs, eq_point=point, terms=[(1, [0, 1]), (5, [2, 3])])
        results.append((res, t.challenge_scalar(b"after")))
    (rc, tc), (rg, tg) = results
    assert rg.proof == rc.proof and rg.point == rc.point and tg == tc and rg.table_evals == rc.table_evals


def test_fraction_tree_is_byte_identical_to_cpu(be):
    """The LogUp-GKR tree (zkdl.prover.logup) on the emulated device: the same bytes."""
    from zkdl.encoding import Writer
    from zkdl.prover.channel import PlainProverChannel
    from zkdl.prover.logup import prove_fraction_tree
    rng = np.random.default_rng(926)
    p = [int(x) for x in rng.integers(0, 5, size=64)]
    q = [int(x) for x in rng.integers(1, 1 << 40, size=64)]
    out = []
    for backend in (get_backend("cpu"), be):
        w = Writer()
        ch = PlainProverChannel(Transcript(b"cuda-parity"), w, backend)
        prove_fraction_tree(ch, b"T", backend.from_ints(p), backend.from_ints(q))
        out.append(w.getvalue())
    assert out[0] == out[1]


def test_row_commitments_match_cpu_hyrax(be, launches, monkeypatch):
    from zkdl.prover import cuda_msm
    monkeypatch.setattr(cuda_msm, "ROW_BATCH", 3)  # 4 rows: two launches
    rng = np.random.default_rng(924)
    m = rng.integers(-300, 300, size=(4, 8))
    m[1, :] = 0
    blinds = [int(x) for x in rng.integers(1, 1 << 62, size=4)]
    com_cpu, _ = hyrax.commit(m.reshape(-1), 3, blinds=blinds)
    com_gpu, _ = hyrax.commit(m.reshape(-1), 3, blinds=blinds, backend=be.msm_backend)
    assert com_gpu.to_bytes() == com_cpu.to_bytes()
    assert launches.count("msm_bucket_sums") == 2 and launches.count("msm_reduce") == 2
    u = np.abs(m)
    assert be.commit_rows_small(u) == [sum((g * zkdl.curve.to_scalar(int(x)) for g, x in
                                            zip(zkdl.curve.generators(8), row)), zkdl.curve.identity())
                                       for row in u]
    with pytest.raises(ValueError, match="0 <= u < 2"):
        be.commit_rows_small(m)


def test_tiny_proof_is_byte_identical_to_cpu(be, launches):
    from zkdl.prover.aggregate import prove_window
    from zkdl.verifier.verify import verify
    run = zkdl.train(TrainConfig(width=(6, 5), batch_size=3, lr_shift=9),
                     D.synthetic(n_samples=32, n_features=3, n_classes=3), steps=2, keep_in_memory=True)
    proofs = {name: prove_window(run, 1, 1, rng=random.Random(7), backend=name, range_strategy="bits")[0]
              for name in ("cpu", "cuda")}
    assert proofs["cuda"] == proofs["cpu"]
    assert {"fr_round_sums", "fr_fold_stack", "fr_vecmat_small"} <= set(launches)
    assert verify(proofs["cuda"]).T == 1


def test_partial_evaluate_long_axis_uses_row_chunks(be, launches):
    cpu = get_backend("cpu")
    rng = np.random.default_rng(925)
    t = rng.integers(-(1 << 30), 1 << 30, size=2 * 1024)
    q = [int(x) for x in rng.integers(0, 1 << 60, size=10)]
    got, _ = be.partial_evaluate(t, (2, 1024), {1: q})  # 1024 rows x 2 columns: 4 chunks of 256 rows
    ref, _ = cpu.partial_evaluate(t, (2, 1024), {1: q})
    assert be.to_ints(got) == cpu.to_ints(ref)
    assert "fr_sum_chunks" in launches


def test_device_copies_follow_views_not_just_buffers(be):
    m = np.arange(16, dtype=np.int64).reshape(4, 4)
    assert be.to_ints(be.vec(m.reshape(-1))) == list(range(16))
    assert be.to_ints(be.vec(m.T)) == [int(x) for x in m.T.reshape(-1)]  # same buffer, other order
    assert be.to_ints(be.vec(m[:2].reshape(-1))) == list(range(8))
