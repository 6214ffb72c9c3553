"""GPU row commitments for the cuda backend, and the host-side point conversions.

The kernels (cuda/msm.cu, bucket method over 8-bit windows) compute, for every row
i of a non-negative small-integer matrix u (rows x cols, u < 2^32),

    C_i = sum_j u_ij G_j        (G_j = zkdl.curve.generators(cols)[j]),

the MSM part of a Hyrax row commitment (:mod:`zkdl.prover.hyrax`). Points cross the
host/device boundary as Montgomery-form limbs: an affine generator is 24 uint32
words (x, y; 12 little-endian limbs each, times R = 2^384 mod q) and a result is a
Jacobian triple (X, Y, Z) of 36 words with affine point (X / Z^2, Y / Z^3) (Z = 0:
infinity). The conversions here are pure Python/numpy (the host tests use them
without CuPy); results become ``G1Point`` objects via arkworks' 96-byte x||y
encoding, so they are in the project's usual point type and encoding.
"""

from __future__ import annotations

import time

import numpy as np

from zkdl import curve
from zkdl.curve import G1Point

Q = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB
"""The BLS12-381 base-field modulus."""
FP_LIMBS = 12
R_FP = (1 << 384) % Q
R_FP_INV = pow(R_FP, -1, Q)
AFF_WORDS, JAC_WORDS = 24, 36
MAX_BITS = 32
ROW_BATCH = 4096  # rows per launch at most
BUCKET_BYTES = 1 << 30  # bucket scratch per launch
SLICE_COLS = 1024  # longest column slice of one bucket-sum block


def int_to_limbs(x: int, n: int) -> np.ndarray:
    return np.frombuffer(x.to_bytes(4 * n, "little"), dtype="<u4").astype(np.uint32)


def limbs_to_int(a) -> int:
    return int.from_bytes(np.ascontiguousarray(a, dtype="<u4").tobytes(), "little")


def point_to_affine_limbs(point: G1Point) -> np.ndarray:
    """24 uint32 words: x R, y R mod q (little-endian limbs); zeros for infinity."""
    xy = point.to_xy_bytes_le()
    x, y = int.from_bytes(xy[:48], "little"), int.from_bytes(xy[48:], "little")
    return np.concatenate([int_to_limbs(x * R_FP % Q, FP_LIMBS), int_to_limbs(y * R_FP % Q, FP_LIMBS)])


def _batch_inverse(values: list[int]) -> list[int]:
    """Inverses mod q of nonzero values (Montgomery's trick: one exponentiation)."""
    prefix, acc = [], 1
    for v in values:
        prefix.append(acc)
        acc = acc * v % Q
    inv = pow(acc, -1, Q) if values else 1
    out = [0] * len(values)
    for i in range(len(values) - 1, -1, -1):
        out[i] = inv * prefix[i] % Q
        inv = inv * values[i] % Q
    return out


def jacobian_limbs_to_points(arr: np.ndarray) -> list[G1Point]:
    """G1Points from an (m, 36) uint32 array of Montgomery Jacobian triples."""
    arr = np.ascontiguousarray(np.asarray(arr, dtype=np.uint32).reshape(-1, JAC_WORDS))
    coords = []
    for row in arr:
        x, y, z = (limbs_to_int(row[k * FP_LIMBS:(k + 1) * FP_LIMBS]) * R_FP_INV % Q for k in range(3))
        coords.append((x, y, z))
    nonzero = [z for _, _, z in coords if z]
    invs = iter(_batch_inverse(nonzero))
    out = []
    for x, y, z in coords:
        if z == 0:
            out.append(G1Point.identity())
            continue
        zi = next(invs)
        zi2 = zi * zi % Q
        ax, ay = x * zi2 % Q, y * zi2 * zi % Q
        out.append(G1Point.from_xy_bytes_unchecked_le(ax.to_bytes(48, "little") + ay.to_bytes(48, "little")))
    return out


def point_to_jacobian_limbs(point: G1Point) -> np.ndarray:
    """36 words (X, Y, Z) with Z = 1 (R mod q in Montgomery form); Z = 0 for infinity."""
    aff = point_to_affine_limbs(point)
    if not aff.any():
        return np.concatenate([int_to_limbs(R_FP, FP_LIMBS)] * 2 + [np.zeros(FP_LIMBS, np.uint32)])
    return np.concatenate([aff, int_to_limbs(R_FP, FP_LIMBS)])


def plan_launch(rows: int, cols: int, bits: int, target_blocks: int = 528) -> tuple[int, int]:
    """(windows, slices): 8-bit windows covering ``bits``; column slices so that the
    bucket kernel has about ``target_blocks`` blocks (4 per SM of an H100) and no
    slice is longer than SLICE_COLS columns (with skewed digits -- weights near the
    offset -- one bucket thread may have to add its whole slice), but at least 64
    columns per slice (each slice costs the reduction 255 more additions a window)."""
    windows = max(1, -(-bits // 8))
    want = max(-(-target_blocks // max(1, rows * windows)), -(-cols // SLICE_COLS))
    slices = max(1, min(want, cols // 64, 65535 // windows))
    return windows, slices


def rows_per_batch(windows: int, slices: int) -> int:
    """Rows per launch so that the bucket scratch stays within BUCKET_BYTES."""
    per_row = windows * slices * 256 * JAC_WORDS * 4
    return max(1, min(ROW_BATCH, BUCKET_BYTES // per_row))


class CudaMSMBackend(curve.MSMBackend):
    """Row commitments on the GPU (``commit_rows_small``); any other MSM (full-size
    scalars) goes to arkworks on the CPU."""

    name = "cuda"

    def __init__(self, cp, module):
        self.cp, self.mod = cp, module
        self._gens: dict[int, object] = {}
        self._cpu = curve.get_backend("arkworks")
        self.stats = {"rows": 0, "lanes": 0, "kernel_s": 0.0, "convert_s": 0.0}  # for benchmarks

    def msm(self, points, scalars) -> G1Point:
        return self._cpu.msm(points, scalars)

    def msm_many(self, points, rows, threads: int | None = None) -> list[G1Point]:
        return self._cpu.msm_many(points, rows, threads)

    def generators(self, cols: int):
        """The first ``cols`` column generators on the device, (cols, 24) uint32."""
        if cols not in self._gens:
            host = np.stack([point_to_affine_limbs(g) for g in curve.generators(cols)])
            self._gens[cols] = self.cp.asarray(host)
        return self._gens[cols]

    def commit_rows_small(self, u) -> list[G1Point]:
        """[sum_j u[i, j] G_j for each row i] for an integer matrix 0 <= u < 2^32
        (numpy or CuPy, shape (rows, cols))."""
        cp = self.cp
        rows, cols = (int(s) for s in u.shape)
        du = cp.asarray(u)
        if rows == 0:
            return []
        lo, hi = int(du.min()), int(du.max())
        if lo < 0 or hi >= 1 << MAX_BITS:
            raise ValueError(f"commit_rows_small needs 0 <= u < 2^{MAX_BITS}, got range [{lo}, {hi}]")
        du = cp.ascontiguousarray(du, dtype=cp.uint32)
        gens = self.generators(cols)
        windows, slices = plan_launch(min(rows, ROW_BATCH), cols, max(1, hi.bit_length()))
        batch = rows_per_batch(windows, slices)
        bucket_sums = self.mod.get_function("msm_bucket_sums")
        reduce = self.mod.get_function("msm_reduce")
        out = []
        for r0 in range(0, rows, batch):
            part = du[r0:r0 + batch]
            n = int(part.shape[0])
            buckets = cp.empty(n * windows * slices * 256 * JAC_WORDS, dtype=cp.uint32)
            res = cp.empty(n * JAC_WORDS, dtype=cp.uint32)
            t0 = time.perf_counter()
            bucket_sums((n, windows * slices), (256,),
                        (gens, part, np.uint64(cols), np.int32(windows), np.int32(slices), buckets))
            reduce((n,), (256,), (buckets, np.int32(windows), np.int32(slices), res))
            host = cp.asnumpy(res)  # waits for the kernels
            t1 = time.perf_counter()
            out.extend(jacobian_limbs_to_points(host))
            self.stats["kernel_s"] += t1 - t0
            self.stats["convert_s"] += time.perf_counter() - t1
        self.stats["rows"] += rows
        self.stats["lanes"] += rows * cols
        return out
