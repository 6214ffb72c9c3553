"""Multilinear and univariate polynomials over Fr, on Python ints.

This is the reference implementation (and what the verifier uses on its small
tables); the prover's fast versions over limb arrays are in :mod:`zkdl.prover.mle`.

Index convention (used everywhere in zkdl; DESIGN.md section 3)
---------------------------------------------------------------
A table of 2^n values is the multilinear extension f over {0,1}^n with

    f(x_1, ..., x_n) = table[i],   i = sum_k x_k * 2^(n-k),

i.e. **variable 1 is the most significant bit of the index**. A row-major tensor of
shape (2^a, 2^b, ...) therefore has its first axis' bits first: fixing the leading
variables selects a block, and a stacked tensor T[t, l, i, j] has t's bits first,
then l's, then i's, then j's. A point for a tensor is the concatenation of the
per-axis points in axis order.

eq(r, x) = prod_k (r_k x_k + (1 - r_k)(1 - x_k)), so f(r) = sum_x eq(r, x) f(x).
"""

from __future__ import annotations

from zkdl.field import P


def eq_eval(r, x) -> int:
    """eq(r, x) for two points of equal length (any field values)."""
    if len(r) != len(x):
        raise ValueError(f"eq of points of different lengths {len(r)} and {len(x)}")
    acc = 1
    for a, b in zip(r, x):
        acc = acc * ((a * b + (1 - a) * (1 - b)) % P) % P
    return acc


def eq_table(r) -> list[int]:
    """[eq(r, x) for x in {0,1}^n] in index order (variable 1 = most significant bit)."""
    table = [1]
    for rk in r:
        rk %= P
        one_minus = (1 - rk) % P
        # The new variable is less significant than all previous ones: each entry
        # splits into (x_k = 0, x_k = 1) adjacent children.
        table = [v for t in table for v in (t * one_minus % P, t * rk % P)]
    return table


def fold(table, r: int) -> list[int]:
    """Fix the leading variable to r: new[i] = t[i] + r (t[i + h] - t[i]), h = len/2."""
    n = len(table)
    if n < 2 or n & (n - 1):
        raise ValueError(f"fold needs a table of 2^k >= 2 entries, got {n}")
    h = n // 2
    return [(table[i] + r * (table[i + h] - table[i])) % P for i in range(h)]


def evaluate(table, point) -> int:
    """f(point) for the multilinear extension of ``table`` (len must be 2^len(point))."""
    if len(table) != 1 << len(point):
        raise ValueError(f"table of {len(table)} entries cannot be evaluated at {len(point)} variables")
    t = [v % P for v in table]
    for r in point:
        t = fold(t, r)
    return t[0]


def partial_evaluate(tensor, shape, points: dict) -> tuple[list[int], tuple[int, ...]]:
    """Evaluate the axes named in ``points`` ({axis: point}) of a row-major tensor.

    ``shape`` gives power-of-two axis sizes; the point of axis k has log2(shape[k])
    coordinates. Returns the remaining tensor (flattened) and its shape. Evaluating
    all axes leaves a single value equal to evaluate(tensor, concatenated points).
    """
    shape = tuple(shape)
    size = 1
    for s in shape:
        if s < 1 or s & (s - 1):
            raise ValueError(f"axis sizes must be powers of two, got {shape}")
        size *= s
    if len(tensor) != size:
        raise ValueError(f"tensor of {len(tensor)} entries does not have shape {shape}")
    data = [v % P for v in tensor]
    cur = list(shape)
    # Process axes from last to first so earlier axis indices stay valid.
    for axis in sorted(points, reverse=True):
        if not 0 <= axis < len(cur):
            raise ValueError(f"axis {axis} out of range for shape {shape}")
        w = eq_table(points[axis])
        if len(w) != cur[axis]:
            raise ValueError(f"point for axis {axis} has {len(points[axis])} coordinates, axis size {cur[axis]}")
        outer = 1
        for s in cur[:axis]:
            outer *= s
        inner = 1
        for s in cur[axis + 1:]:
            inner *= s
        n = cur[axis]
        out = [0] * (outer * inner)
        for o in range(outer):
            base = o * n * inner
            for j in range(n):
                wj = w[j]
                if wj == 0:
                    continue
                row = base + j * inner
                for i in range(inner):
                    out[o * inner + i] += wj * data[row + i]
        data = [v % P for v in out]
        del cur[axis]
    return data, tuple(cur)


def poly_eval(coeffs, x: int) -> int:
    """Evaluate a univariate polynomial given by coefficients (constant term first)."""
    acc = 0
    for c in reversed(coeffs):
        acc = (acc * x + c) % P
    return acc


_LAGRANGE: dict[int, list[list[int]]] = {}


def _lagrange_basis(d: int) -> list[list[int]]:
    """Coefficients of the Lagrange basis polynomials on the nodes 0..d-1 (cached)."""
    if d not in _LAGRANGE:
        rows = []
        for i in range(d):
            basis = [1]
            denom = 1
            for j in range(d):
                if j == i:
                    continue
                # multiply by (x - j)
                basis = [((basis[k - 1] if k > 0 else 0) - j * (basis[k] if k < len(basis) else 0)) % P
                         for k in range(len(basis) + 1)]
                denom = denom * (i - j) % P
            scale = pow(denom, P - 2, P)
            rows.append([b * scale % P for b in basis])
        _LAGRANGE[d] = rows
    return _LAGRANGE[d]


def interpolate(evals) -> list[int]:
    """Coefficients (constant first) of the polynomial of degree < len(evals)
    through (0, evals[0]), (1, evals[1]), ... (Lagrange on 0..d, exact over Fr)."""
    d = len(evals)
    basis = _lagrange_basis(d)
    return [sum(evals[i] * basis[i][k] for i in range(d)) % P for k in range(d)]


def prefix_mle(d: int, x) -> int:
    """sum_{i < d} eq(x, i): the multilinear extension of the indicator [i < d] over
    len(x) variables, in O(len(x)) (recursion on the most significant bit)."""
    n = len(x)
    if d <= 0:
        return 0
    if d >= 1 << n:
        return 1
    half = 1 << (n - 1)
    x1 = x[0] % P
    if d <= half:
        return (1 - x1) * prefix_mle(d, x[1:]) % P
    return ((1 - x1) + x1 * prefix_mle(d - half, x[1:])) % P
