"""Fast multilinear-table operations on FrVec (the prover's side of zkdl.poly).

Same index convention as :mod:`zkdl.poly` (variable 1 = most significant index
bit); results equal the pure-Python reference there (tests check it).
"""

from __future__ import annotations

import numpy as np

from zkdl.field.vector import FrVec, run_chunks, scalar_limbs, vecmat_small
from zkdl.prover import kernels as PK


def _check_pow2(n: int, what: str) -> int:
    if n < 1 or n & (n - 1):
        raise ValueError(f"{what} must be a power of two, got {n}")
    return n.bit_length() - 1


def eq_table(r, threads: int | None = None) -> FrVec:
    """[eq(r, x) for x in {0,1}^n] as an FrVec (2^n entries, 2^n multiplications)."""
    table = FrVec.from_ints([1])
    for rk in r:
        out = FrVec.empty(2 * len(table))
        run_chunks(PK.k_eq_expand, len(table), threads, table.limbs, scalar_limbs(rk), out.limbs)
        table = out
    return table


def fold_stack(stack: np.ndarray, r: int, threads: int | None = None) -> np.ndarray:
    """Fix the leading variable of every table of a (k, 8, n) stack to r."""
    k, _, n = stack.shape
    _check_pow2(n, "table length")
    if n < 2:
        raise ValueError("cannot fold a table of one entry")
    out = np.empty((k, 8, n // 2), np.uint32)
    run_chunks(PK.k_fold_stack, n // 2, threads, stack, scalar_limbs(r), out)
    return out


def fold(table: FrVec, r: int, threads: int | None = None) -> FrVec:
    """Fix the leading variable (most significant index bit) to r."""
    return FrVec(fold_stack(table.limbs[None], r, threads)[0])


def evaluate(table: FrVec, point, threads: int | None = None) -> int:
    """The multilinear extension of ``table`` at ``point``."""
    if len(table) != 1 << len(point):
        raise ValueError(f"table of {len(table)} entries cannot be evaluated at {len(point)} variables")
    for r in point:
        table = fold(table, r, threads)
    return table.to_ints()[0]


def axis_point(points: dict, axis: int, shape) -> list:
    """``points[axis]`` as a list, checked against ``shape`` (ValueError otherwise)."""
    if not 0 <= axis < len(shape):
        raise ValueError(f"axis {axis} out of range for shape {tuple(shape)}")
    pt = list(points[axis])
    if 1 << len(pt) != shape[axis]:
        raise ValueError(f"point for axis {axis} has {len(pt)} coordinates, axis size {shape[axis]}")
    return pt


def partial_evaluate(tensor, shape, points: dict, threads: int | None = None):
    """Evaluate the axes named in ``points`` ({axis: point}) of a row-major tensor.

    ``tensor`` is an FrVec or a signed int64 array (small-int tensors use the fast
    vecmat_small kernel for their first contraction). Returns (FrVec, remaining shape).
    """
    shape = [int(s) for s in shape]
    for s in shape:
        _check_pow2(s, "axis size")
    size = int(np.prod(shape)) if shape else 1
    data = tensor
    if isinstance(data, np.ndarray):
        data = np.asarray(data, dtype=np.int64).reshape(-1)
        if data.size != size:
            raise ValueError(f"tensor of {data.size} entries does not have shape {tuple(shape)}")
        if data.size and int(np.abs(data).max()) >= 1 << 31:
            data = FrVec.from_int64(data, threads)
    elif len(data) != size:
        raise ValueError(f"tensor of {len(data)} entries does not have shape {tuple(shape)}")
    for axis in sorted(points, reverse=True):
        pt = axis_point(points, axis, shape)
        if isinstance(data, np.ndarray):
            moved = np.moveaxis(data.reshape(shape), axis, 0).reshape(shape[axis], -1)
            data = vecmat_small(eq_table(pt, threads), moved, threads)
        else:
            limbs = data.limbs.reshape([8] + shape)
            v = FrVec(np.ascontiguousarray(np.moveaxis(limbs, axis + 1, 1)).reshape(8, -1))
            for r in pt:
                v = fold(v, r, threads)
            data = v
        del shape[axis]
    if isinstance(data, np.ndarray):
        data = FrVec.from_int64(data, threads)
    return data, tuple(shape)
