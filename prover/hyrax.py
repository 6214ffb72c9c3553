"""Hyrax matrix-Pedersen commitments: prover side (commit, open plain / ZK).

See :mod:`zkdl.hyrax` for the scheme, the point convention and the wire formats.

Commit fast path (small signed integers, the common case)
---------------------------------------------------------
Negative scalars are full 255-bit MSM lanes (~10x the cost of a 16-bit lane), so
an int64 tensor is committed in offset-binary form: with o = min(0, min M),
u = M - o >= 0 and

    C_i = sum_j u_ij G_j + o S + rho_i H,      S = sum_j G_j (public, cached),

which equals sum_j M_ij G_j + rho_i H: the public commitment is the plain Pedersen
commitment to M, the offset is invisible to the verifier. When max u < 2^16 the
Scalar objects come from a lookup table (numpy object-array fancy indexing). The
blind term rho_i H is not an MSM lane (one 255-bit lane would double the row's MSM,
sixteen 16-bit limb lanes still cost ~20% at 256 columns) but a fixed-base comb over
a table of d 2^(8k) H (31 point additions per row). Rows are spread over a thread
pool (the arkworks MSM releases the GIL).

Field-element tensors (FrVec or Python ints) take the general path with full scalars.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zkdl import curve
from zkdl.curve import G1Point
from zkdl.field import P, is_canonical
from zkdl.field.vector import FrVec, default_threads, vecmat_small
from zkdl.hyrax import (MODE_PLAIN, MODE_ZK, MODE_ZK_LOG, Commitment, EvalProof, ZkEvalProof, absorb_statement,
                        batch_weights, check_statement, combined_row_scalars, default_col_bits,
                        split_point)
from zkdl.poly import eq_table
from zkdl.prover.sigma import prove_dot_product, prove_dot_product_log, random_scalar

__all__ = ["Opening", "ZkEvalResult", "commit", "commit_value", "commit_vector", "evaluate", "row_combination",
           "prove_eval", "prove_eval_zk"]

LIMB_BITS = curve.SMALL_BITS
COMB_BITS = 8  # fixed-base comb for rho H: 32 windows of 8 bits

_gen_sums: dict[int, G1Point] = {}


def _comb_table():
    return curve.FIXED_H.table()


def blind_point(rho: int) -> G1Point:
    """rho H by the fixed-base comb of zkdl.curve (rho canonical)."""
    return curve.FIXED_H.mul(rho)


def _generator_sum(cols: int) -> G1Point:
    if cols not in _gen_sums:
        _gen_sums[cols] = curve.msm(curve.generators(cols), [1] * cols, "arkworks")
    return _gen_sums[cols]


@dataclass(eq=False)
class Opening:
    """Prover-side data of a commitment: the matrix and the row blinds (never serialized)."""

    commitment: Commitment
    matrix: object  # int64 ndarray (rows, cols) or FrVec of rows*cols entries (row-major)
    blinds: list[int]
    _field: FrVec | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (f"Opening(num_vars={self.commitment.num_vars}, col_bits={self.commitment.col_bits}, "
                f"blinds=<{len(self.blinds)} hidden>)")

    def field_matrix(self) -> FrVec:
        if self._field is None:
            self._field = (self.matrix if isinstance(self.matrix, FrVec)
                           else FrVec.from_int64(self.matrix.reshape(-1)))
        return self._field


def _shape(size: int, col_bits: int | None) -> tuple[int, int]:
    if size < 1 or size & (size - 1):
        raise ValueError(f"a committed tensor must have 2^n entries, got {size}")
    n = size.bit_length() - 1
    c = default_col_bits(n) if col_bits is None else col_bits
    if not 0 <= c <= n:
        raise ValueError(f"col_bits={c} out of range for a tensor of 2^{n} entries")
    return n, c


def _blinds(count: int, blinds, rng) -> list[int]:
    if blinds is None:
        return [random_scalar(rng) for _ in range(count)]
    blinds = list(blinds)
    if len(blinds) != count or not all(is_canonical(b) for b in blinds):
        raise ValueError(f"need {count} canonical blinds, got {len(blinds)}")
    return blinds


def _chunks(rows: int, threads: int) -> list[tuple[int, int]]:
    step = max(1, rows // (4 * threads)) if threads > 1 else rows
    return [(i, min(rows, i + step)) for i in range(0, rows, step)]


_table_array: np.ndarray | None = None


def _scalar_table_array() -> np.ndarray:
    """The small-Scalar table as a numpy object array: fancy indexing builds a row of
    Scalar references in C (~0.02 us/value vs ~0.07 for a Python-level lookup)."""
    global _table_array
    if _table_array is None:
        arr = np.empty(1 << LIMB_BITS, dtype=object)
        arr[:] = curve.small_scalar_table()
        _table_array = arr
    return _table_array


def _commit_small(u: np.ndarray, blinds, extra: G1Point | None, threads) -> list[G1Point]:
    """Rows of sum_j u_ij G_j + rho_i H (+ extra) for 0 <= u < 2^63 on arkworks."""
    rows, cols = u.shape
    small = int(u.max()) < 1 << LIMB_BITS
    table_arr = _scalar_table_array() if small else None
    gens = curve.generators(cols)
    _comb_table()

    def work(lo_hi):
        lo, hi = lo_hi
        block = table_arr[u[lo:hi]] if small else None
        out = []
        for i in range(lo, hi):
            sc = block[i - lo].tolist() if small else [curve.to_scalar(x) for x in u[i].tolist()]
            point = G1Point.multiexp_unchecked(gens, sc) + blind_point(blinds[i])
            out.append(point if extra is None else point + extra)
        return out

    parts = _chunks(rows, threads)
    if len(parts) == 1:
        return work(parts[0])
    return [p for res in curve.thread_pool().map(work, parts) for p in res]


def commit(tensor, col_bits: int | None = None, *, blinds=None, rng=None, backend=None,
           threads: int | None = None) -> tuple[Commitment, Opening]:
    """Commit a tensor of 2^n entries (flattened row-major) as a 2^(n-c) x 2^c matrix.

    ``tensor``: an integer numpy array (small signed values; fast path), an FrVec, or a
    sequence of Python ints (field elements, reduced mod P). ``blinds``: one per row
    (default: fresh from ``secrets``; ``rng`` with ``randrange`` is for tests).
    Returns the public commitment and the prover's opening."""
    threads = threads or default_threads()
    be = curve.get_backend(backend)
    if isinstance(tensor, np.ndarray) and tensor.dtype.kind == "u" and tensor.size \
            and int(tensor.max()) >= 1 << 63:
        tensor = [int(x) for x in tensor.reshape(-1)]  # would wrap in int64: field path
    if isinstance(tensor, np.ndarray) and tensor.dtype.kind in "iub":
        flat = np.ascontiguousarray(tensor.reshape(-1), dtype=np.int64)
        n, c = _shape(flat.size, col_bits)
        rows, cols = 1 << (n - c), 1 << c
        matrix = flat.reshape(rows, cols)
        rho = _blinds(rows, blinds, rng)
        offset = min(int(flat.min()), 0)
        if isinstance(be, curve.ArkworksBackend) and int(flat.max()) - offset < 1 << 62:
            corr = _generator_sum(cols) * curve.to_scalar(offset) if offset else None
            points = _commit_small(matrix - offset, rho, corr, threads)
        elif hasattr(be, "commit_rows_small") and int(flat.max()) - offset < 1 << 32:
            # a GPU MSM backend (zkdl.prover.cuda_msm): row MSMs on the device, blinds here
            corr = _generator_sum(cols) * curve.to_scalar(offset) if offset else None
            points = [p + blind_point(r) for p, r in zip(be.commit_rows_small(matrix - offset), rho)]
            points = points if corr is None else [p + corr for p in points]
        else:
            points = _commit_general(be, [r.tolist() for r in matrix], rho, cols, threads)
        return Commitment(tuple(points), n, c), Opening(Commitment(tuple(points), n, c), matrix, rho)
    vec = tensor if isinstance(tensor, FrVec) else FrVec.from_ints(list(tensor))
    n, c = _shape(len(vec), col_bits)
    rows, cols = 1 << (n - c), 1 << c
    rho = _blinds(rows, blinds, rng)
    data = vec.to_bytes()
    width = 32 * cols
    if isinstance(be, curve.ArkworksBackend):
        bases = curve.generators(cols) + [curve.blinding_generator()]
        from_le = curve.Scalar.from_le_bytes

        def work(i):
            row = data[i * width:(i + 1) * width]
            sc = [from_le(row[j:j + 32]) for j in range(0, width, 32)] + [curve.to_scalar(rho[i])]
            return G1Point.multiexp_unchecked(bases, sc)

        points = list(curve.thread_pool().map(work, range(rows))) if threads > 1 else [work(i) for i in range(rows)]
    else:
        ints = [[int.from_bytes(data[i * width + j:i * width + j + 32], "little") for j in range(0, width, 32)]
                for i in range(rows)]
        points = _commit_general(be, ints, rho, cols, threads)
    com = Commitment(tuple(points), n, c)
    return com, Opening(com, vec, rho)


def _commit_general(be, rows_ints, rho, cols, threads) -> list[G1Point]:
    bases = curve.generators(cols) + [curve.blinding_generator()]
    return be.msm_many(bases, [[x % P for x in r] + [b] for r, b in zip(rows_ints, rho)], threads)


def commit_value(y: int, blind: int | None = None, *, rng=None) -> tuple[G1Point, int]:
    """Com(y) = y G_s + r H for a scalar claim (ZK mode); returns (point, r)."""
    r = random_scalar(rng) if blind is None else blind
    return curve.commit_scalar(y, r), r


def commit_vector(values, blind: int | None = None, *, rng=None, backend=None) -> tuple[G1Point, int]:
    """Pedersen vector commitment <values, G> + r H (any length; e.g. ZK sumcheck messages)."""
    values = [x % P for x in values]
    r = random_scalar(rng) if blind is None else blind
    bases = curve.generators(len(values)) + [curve.blinding_generator()]
    return curve.msm(bases, values + [r], backend), r


def row_combination(opening: Opening, e: FrVec) -> FrVec:
    """v = e^T M (e = eq(x_row) as an FrVec of 2^(n-c) entries)."""
    m = opening.matrix
    if isinstance(m, np.ndarray) and (m.size == 0 or int(np.abs(m).max()) < 1 << 31):
        return vecmat_small(e, m)
    com = opening.commitment
    cols = com.num_cols
    prod = FrVec(np.ascontiguousarray(np.repeat(e.limbs, cols, axis=1))).mul(opening.field_matrix())
    while len(prod) > cols:  # fold row halves: sum over rows
        h = len(prod) // 2
        prod = prod[:h].add(prod[h:])
    return prod


def evaluate(opening: Opening, point) -> int:
    """The committed tensor's multilinear extension at ``point``."""
    x_row, x_col = split_point(point, opening.commitment.col_bits)
    return row_combination(opening, FrVec.from_ints(eq_table(x_row))).dot(FrVec.from_ints(eq_table(x_col)))


def _combine(openings, point):
    coms = [o.commitment for o in openings]
    n, c = check_statement(coms, point)
    x_row, x_col = split_point(point, c)
    e_ints = eq_table(x_row)
    e, a = FrVec.from_ints(e_ints), FrVec.from_ints(eq_table(x_col))
    vs = [row_combination(o, e) for o in openings]
    return coms, x_row, e_ints, a, vs, [v.dot(a) for v in vs]


def _mix(gammas, vs, openings, e_ints):
    v = vs[0].scale(gammas[0])
    for g, vt in zip(gammas[1:], vs[1:]):
        v = v.add(vt.scale(g))
    blind = sum(g * sum(ei * r for ei, r in zip(e_ints, o.blinds)) for g, o in zip(gammas, openings)) % P
    return v, blind


def prove_eval(transcript, openings, point, backend=None) -> tuple[list[int], EvalProof]:
    """Plain (non-ZK) batched opening at ``point``: returns (values y_t, proof)."""
    openings = list(openings)
    coms, x_row, e_ints, a, vs, ys = _combine(openings, point)
    absorb_statement(transcript, MODE_PLAIN, coms, point)
    transcript.absorb_scalars(b"hyrax/values", ys)
    gammas = batch_weights(transcript, len(openings))
    v, blind = _mix(gammas, vs, openings, e_ints)
    proof = EvalProof(tuple(v.to_ints()), blind)
    transcript.absorb_scalars(b"hyrax/row", [*proof.v, proof.blind])
    return ys, proof


@dataclass
class ZkEvalResult:
    values: list[int]  # y_t: secret, for the caller's later protocols
    value_blinds: list[int]  # r_t
    value_commitments: list[G1Point]  # Com(y_t) = y_t G_s + r_t H: public
    proof: ZkEvalProof


def prove_eval_zk(transcript, openings, point, value_blinds=None, *, compact: bool = True, rng=None,
                  backend=None) -> ZkEvalResult:
    """ZK batched opening: the values stay committed as Com(y_t) = y_t G_s + r_t H.

    ``value_blinds`` are the r_t of commitments the caller already published (default:
    fresh ones, returned with the commitments). ``compact``: log-size proof of dot
    product (default) instead of the linear one."""
    openings = list(openings)
    coms, x_row, e_ints, a, vs, ys = _combine(openings, point)
    rs = _blinds(len(openings), value_blinds, rng)
    ycoms = [commit_value(y, r)[0] for y, r in zip(ys, rs)]
    absorb_statement(transcript, MODE_ZK_LOG if compact else MODE_ZK, coms, point)
    transcript.absorb_points(b"hyrax/value-commitments", ycoms)
    gammas = batch_weights(transcript, len(openings))
    v, blind = _mix(gammas, vs, openings, e_ints)
    tau = curve.msm(ycoms, gammas, backend)
    r_tau = sum(g * r for g, r in zip(gammas, rs)) % P
    gens = curve.generators(coms[0].num_cols)
    if compact:
        dot = prove_dot_product_log(transcript, gens, v, blind, r_tau, a, tau, rng=rng, backend=backend)
    else:
        rows = [r for com in coms for r in com.rows]
        xi = curve.msm_parallel(rows, combined_row_scalars(gammas, x_row), backend)
        dot = prove_dot_product(transcript, gens, v, blind, r_tau, a, xi, tau, rng=rng, backend=backend)
    return ZkEvalResult(ys, rs, ycoms, ZkEvalProof(dot))
