"""GPU parity tests of the ``cuda`` backend (marker ``gpu``; run by scripts/gpu-check.sh).

cuda vs cpu: identical field results (element-wise ops, eq tables, folds, partial
evaluations), identical sumcheck proofs, row commitments identical to the CPU Hyrax
commitments, and byte-identical end-to-end proofs under a fixed rng seed.

Without CuPy or a GPU these tests skip with the backend's own reason -- unless
ZKDL_REQUIRE_GPU=1 (set by scripts/gpu-check.sh), where that is a failure.
"""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

import zkdl
from zkdl import curve
from zkdl import data as D
from zkdl.config import TrainConfig
from zkdl.curve import G1Point
from zkdl.errors import BackendUnavailable
from zkdl.field import P
from zkdl.prover import hyrax
from zkdl.prover.backend import get_backend
from zkdl.transcript import Transcript

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def gpu():
    try:
        return get_backend("cuda")
    except BackendUnavailable as exc:
        if os.environ.get("ZKDL_REQUIRE_GPU") == "1":
            pytest.fail(f"ZKDL_REQUIRE_GPU=1 but the cuda backend is unavailable: {exc}")
        pytest.skip(f"cuda backend unavailable: {exc}")


@pytest.fixture(scope="module")
def cpu():
    return get_backend("cpu")


def _ints(rng, n, lo=-(1 << 40), hi=1 << 40):
    return rng.integers(lo, hi, size=n, dtype=np.int64)


def test_field_ops_identical(gpu, cpu):
    rng = np.random.default_rng(931)
    n = 1 << 20
    a, b = _ints(rng, n), _ints(rng, n, -(1 << 62), 1 << 62)
    s = int(rng.integers(1, 1 << 62)) * 0x1F3 % P
    assert gpu.to_ints(gpu.vec(a)) == cpu.to_ints(cpu.vec(a))
    assert gpu.to_ints(gpu.add(a, b)) == cpu.to_ints(cpu.add(a, b))
    assert gpu.to_ints(gpu.scale(a, s)) == cpu.to_ints(cpu.scale(a, s))
    assert gpu.to_ints(gpu.add_scalar(b, s)) == cpu.to_ints(cpu.add_scalar(b, s))
    assert gpu.to_ints(gpu.mul(a, b)) == cpu.vec(a).mul(cpu.vec(b)).to_ints()
    vals = [int(x) for x in rng.integers(0, 1 << 63, size=1000)] + [P - 1, 0]
    assert gpu.to_ints(gpu.from_ints(vals)) == [v % P for v in vals]
    r = [int(x) for x in rng.integers(0, 1 << 63, size=18)]
    assert gpu.to_ints(gpu.eq_table(r)) == cpu.to_ints(cpu.eq_table(r))
    assert gpu.to_ints(gpu.repeat_each(a[:4096], 8)) == cpu.to_ints(cpu.repeat_each(a[:4096], 8))


def test_fold_and_partial_evaluate_identical(gpu, cpu):
    rng = np.random.default_rng(932)
    shape = (8, 256, 512)
    small = rng.integers(-(1 << 30), 1 << 30, size=int(np.prod(shape)))
    big = small.copy()
    big[7] = 1 << 50
    pts = {a: [int(x) for x in rng.integers(0, 1 << 63, size=s.bit_length() - 1)] for a, s in enumerate(shape)}
    for t in (small, big, "field"):
        src_g, src_c = (gpu.vec(small), cpu.vec(small)) if isinstance(t, str) else (t, t)
        for fixed in ({0: pts[0]}, {2: pts[2]}, {1: pts[1]}, {0: pts[0], 2: pts[2]}, pts):
            got, gs = gpu.partial_evaluate(src_g, shape, fixed)
            ref, rs = cpu.partial_evaluate(src_c, shape, fixed)
            assert gs == rs and gpu.to_ints(got) == cpu.to_ints(ref), (fixed.keys(), type(t))
    point = [int(x) for x in rng.integers(0, 1 << 63, size=20)]
    assert gpu.evaluate(small[:1 << 20], point) == cpu.evaluate(small[:1 << 20], point)


@pytest.mark.parametrize("k,eq", [(1, True), (2, False), (2, True), (3, True), (4, False)])
def test_sumcheck_proofs_identical(gpu, cpu, k, eq):
    rng = np.random.default_rng(933 + k)
    n = 1 << 16
    tabs = [rng.integers(-(1 << 20), 1 << 20, size=n) for _ in range(k)]
    point = [int(x) for x in rng.integers(0, 1 << 63, size=16)] if eq else None
    out = []
    for be in (cpu, gpu):
        t = Transcript(b"gpu-parity")
        res = be.sumcheck(t, tabs, eq_point=point)
        out.append((res.proof.to_bytes(), res.point, res.table_evals, res.eq_eval, res.claim,
                    t.challenge_scalar(b"after")))
    assert out[0] == out[1]


def test_sum_of_products_sumcheck_identical(gpu, cpu):
    """The LogUp-GKR layer sumcheck: two product terms and eq (zkdl.prover.logup)."""
    rng = np.random.default_rng(936)
    n = 1 << 16
    tabs = [rng.integers(-(1 << 20), 1 << 20, size=n) for _ in range(4)]
    point = [int(x) for x in rng.integers(0, 1 << 63, size=16)]
    out = []
    for be in (cpu, gpu):
        t = Transcript(b"gpu-parity")
        res = be.sumcheck(t, tabs, eq_point=point, terms=[(1, [0, 1]), (3, [2, 3])])
        out.append((res.proof.to_bytes(), res.point, res.table_evals, t.challenge_scalar(b"after")))
    assert out[0] == out[1]


@pytest.mark.parametrize("shape,lo,hi", [((64, 64), -(1 << 15), 1 << 15), ((256, 1024), -300, 300),
                                         ((16, 32), 0, 1 << 31)])
def test_row_commitments_identical(gpu, shape, lo, hi):
    rng = np.random.default_rng(934)
    m = rng.integers(lo, hi, size=shape)
    m[0, :] = 0
    m[1, :] = hi - 1
    blinds = [int(x) for x in rng.integers(1, 1 << 62, size=shape[0])]
    cb = shape[1].bit_length() - 1
    com_cpu, _ = hyrax.commit(m.reshape(-1), cb, blinds=blinds)
    com_gpu, _ = hyrax.commit(m.reshape(-1), cb, blinds=blinds, backend=gpu.msm_backend)
    assert com_gpu.to_bytes() == com_cpu.to_bytes()


def test_msm_16bit_matches_arkworks(gpu):
    rng = np.random.default_rng(935)
    rows, cols = 64, 1024
    u = rng.integers(0, 1 << 16, size=(rows, cols))
    gens = curve.generators(cols)
    table = curve.small_scalar_table()
    ref = [G1Point.multiexp_unchecked(gens, [table[int(x)] for x in row]) for row in u]
    assert gpu.commit_rows_small(u) == ref


@pytest.mark.parametrize("kw,t0,T,zk,strategy", [
    (dict(width=(6, 5), batch_size=3), 1, 2, True, "logup"),
    (dict(width=(6, 5), batch_size=3), 1, 2, True, "bits"),
    (dict(width=4, layers=4, batch_size=2), 0, 4, True, "logup"),
    (dict(width=16, batch_size=8), 1, 1, False, "logup"),
    (dict(width=256, layers=3, batch_size=16), 1, 1, False, "logup"),   # 16-bit limbs
])
def test_proofs_byte_identical_to_cpu(gpu, kw, t0, T, zk, strategy):
    from zkdl.prover.aggregate import prove_window
    from zkdl.verifier.verify import verify
    run = zkdl.train(TrainConfig(lr_shift=9, **kw), D.synthetic(n_samples=32, n_features=3, n_classes=3),
                     steps=t0 + T, keep_in_memory=True)
    proofs = {be: prove_window(run, t0, T, rng=random.Random(7), backend=be, zk=zk, range_strategy=strategy)[0]
              for be in ("cpu", "cuda")}
    assert proofs["cuda"] == proofs["cpu"]
    assert verify(proofs["cuda"]).T == T
