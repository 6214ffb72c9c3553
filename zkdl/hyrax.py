"""Hyrax matrix-Pedersen commitments to multilinear polynomials: verifier side.

(Wahby, Tzialla, shelat, Thaler, Walfish, "Doubly-efficient zkSNARKs without trusted
setup", IEEE S&P 2018, section 6; zkDL uses the same scheme.) Pure Python ints and
:mod:`zkdl.curve`; the prover is :mod:`zkdl.prover.hyrax`.

Commitment
----------
A table of 2^n entries (a flat tensor, row-major, any stacking of leading axes) is
the 2^(n-c) x 2^c matrix M[i, j] = table[i 2^c + j], c = ``col_bits`` (default
min(n, n // 2 + 1): fewer rows than columns, see ``default_col_bits``). Row i is committed as

    C_i = sum_j M[i, j] G_j + rho_i H,     rho_i uniform (the blinds, prover secret).

By the index convention of :mod:`zkdl.poly` (variable 1 = most significant bit) a
point splits as (x_row, x_col) = (first n - c coordinates, last c), and

    f(x_row, x_col) = eq(x_row)^T M eq(x_col).

A block of leading-axis entries (rows [t 2^(n-c-k), (t+1) 2^(n-c-k)) for a leading
axis of 2^k) is committed by exactly the matching slice of rows (:meth:`Commitment.block`),
so stacking concatenates row commitments.

Evaluation proofs (batched: k commitments with equal shape, one point)
----------------------------------------------------------------------
Transcript: label, mode, k, n, c; all commitments' bytes; the point; the claims
(values y_t in plain mode, Com(y_t) = y_t G_s + r_t H in ZK mode); then batch
weights gamma_1..gamma_k (gamma = [1] when k = 1). The verifier forms
C_L = sum_t gamma_t sum_i eq(x_row)_i C_{t,i} (one MSM).

* plain (:class:`EvalProof`, NOT zero knowledge): the prover sends
  v = sum_t gamma_t eq(x_row)^T M_t and the combined blind b; the verifier checks
  <v, G> + b H == C_L and <v, eq(x_col)> == sum_t gamma_t y_t.
* ZK (:class:`ZkEvalProof`): the claims stay committed; with
  tau = sum_t gamma_t Com(y_t), a proof of dot product (:mod:`zkdl.sigma`) shows that
  the vector committed in C_L has dot product eq(x_col) with the scalar in tau; either
  the log-size one (default: 2c + 1 points and 2 scalars) or the linear Sigma protocol
  (2 points, 2^c + 2 scalars).

Wire formats (exact lengths, canonical scalars, checked points, no trailing bytes):
  Commitment:  u8 n || u8 c || 2^(n-c) compressed points
  EvalProof:   u8 0 || u8 c || 2^c scalars v || scalar b
  ZkEvalProof: u8 2 || u8 c || DotProductLogProof over 2^c entries   (log size)
           or u8 1 || u8 c || DotProductProof over 2^c entries      (linear size)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zkdl import curve
from zkdl.curve import POINT_BYTES, G1Point, Reader
from zkdl.errors import CommitmentError, EncodingError, OpeningError
from zkdl.field import BYTES, P, encode_many, is_canonical
from zkdl.poly import eq_table
from zkdl.sigma import DotProductLogProof, DotProductProof, verify_dot_product, verify_dot_product_log

__all__ = ["MAX_NUM_VARS", "Commitment", "EvalProof", "ZkEvalProof", "default_col_bits",
           "split_point", "verify_eval", "verify_eval_zk", "batch_weights", "absorb_statement",
           "combined_row_scalars", "check_statement", "MODE_PLAIN", "MODE_ZK", "MODE_ZK_LOG"]

MAX_NUM_VARS = 48
"""Largest number of variables a commitment may declare (2^48 entries)."""

MODE_PLAIN = 0
MODE_ZK = 1  # linear-size proof of dot product
MODE_ZK_LOG = 2  # log-size proof of dot product (default)
_MODE_NAMES = {MODE_PLAIN: "plain", MODE_ZK: "zero-knowledge (linear)", MODE_ZK_LOG: "zero-knowledge (log)"}


def default_col_bits(num_vars: int) -> int:
    """Columns 2^(n // 2 + 1) (rows 2^(n - n // 2 - 1)): half the rows of the square
    split. A row costs the verifier a 48-byte point to decompress and subgroup-check
    (~90 us) and an MSM term; a column costs a 32-byte scalar of the linear-size ZK
    opening. Measured (benchmarks/prove.py setting, width 64 / 128, ZK, T = 1): verifier
    -24% / -29%, proof -2% / -3% against 2^(n // 2) columns."""
    return min(num_vars, num_vars // 2 + 1)


def commit_from_opening(values, num_vars: int, blinds=None, backend=None) -> Commitment:
    """Recompute a commitment from its opening: row i is sum_j M_ij G_j + r_i H for the
    2^(n-c) x 2^c matrix M of ``values`` (2^n integers, row-major, any sign) and blinds
    r_i (default all zero: the deterministic commitment of public data).

    An implementation independent of the prover's committer, for auditors: values are
    shifted to be non-negative (v - o, o = min(0, min v)) so that scalars stay small, and
    o * sum_j G_j is added back to every row."""
    ints = [int(v) for v in values]
    if len(ints) != 1 << num_vars or not 0 <= num_vars <= MAX_NUM_VARS:
        raise CommitmentError(f"an opening of a {num_vars}-variable commitment has {1 << num_vars} values, "
                              f"got {len(ints)}")
    c = default_col_bits(num_vars)
    rows, cols = 1 << (num_vars - c), 1 << c
    blinds = [0] * rows if blinds is None else [int(b) for b in blinds]
    if len(blinds) != rows or not all(is_canonical(b) for b in blinds):
        raise CommitmentError(f"need {rows} canonical blinds (one per row), got {len(blinds)}")
    off = min(min(ints), 0)
    bases = curve.generators(cols) + [curve.blinding_generator()]
    points = curve.msm_many(bases, [[v - off for v in ints[i * cols:(i + 1) * cols]] + [blinds[i]]
                                    for i in range(rows)], backend)
    if off:
        corr = curve.msm(bases[:cols], [off % P] * cols, backend)
        points = [p + corr for p in points]
    return Commitment(tuple(points), num_vars, c)


def split_point(point, col_bits: int):
    """(x_row, x_col): the row coordinates come first (most significant index bits)."""
    point = list(point)
    return point[:len(point) - col_bits], point[len(point) - col_bits:]


@dataclass(frozen=True)
class Commitment:
    """Public Hyrax commitment: one G1 point per matrix row."""

    rows: tuple[G1Point, ...]
    num_vars: int
    col_bits: int
    _encoded: bytes | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "rows", tuple(self.rows))
        n, c = self.num_vars, self.col_bits
        if type(n) is not int or type(c) is not int or not 0 <= c <= n <= MAX_NUM_VARS:
            raise CommitmentError(f"bad commitment shape: num_vars={n!r}, col_bits={c!r}")
        if len(self.rows) != 1 << (n - c):
            raise CommitmentError(f"commitment with num_vars={n}, col_bits={c} needs "
                                  f"{1 << (n - c)} rows, got {len(self.rows)}")
        if not all(isinstance(p, G1Point) for p in self.rows):
            raise CommitmentError("commitment rows must be G1 points")

    @property
    def row_bits(self) -> int:
        return self.num_vars - self.col_bits

    @property
    def num_rows(self) -> int:
        return len(self.rows)

    @property
    def num_cols(self) -> int:
        return 1 << self.col_bits

    def to_bytes(self) -> bytes:
        """Cached: compressing a projective point costs a field inversion (~13 us)."""
        if self._encoded is None:
            data = bytes([self.num_vars, self.col_bits]) + curve.encode_points(self.rows)
            object.__setattr__(self, "_encoded", data)
        return self._encoded

    @staticmethod
    def size(num_vars: int, col_bits: int) -> int:
        return 2 + POINT_BYTES * (1 << (num_vars - col_bits))

    @classmethod
    def read(cls, reader: Reader, num_vars: int | None = None, col_bits: int | None = None) -> "Commitment":
        n = reader.u8("commitment num_vars")
        c = reader.u8("commitment col_bits")
        if not 0 <= c <= n <= MAX_NUM_VARS:
            raise EncodingError(f"commitment header declares num_vars={n}, col_bits={c}")
        if (num_vars is not None and n != num_vars) or (col_bits is not None and c != col_bits):
            raise CommitmentError(f"commitment shape (num_vars={n}, col_bits={c}) differs from the "
                                  f"expected (num_vars={num_vars}, col_bits={col_bits})")
        start = reader.pos - 2
        rows = tuple(reader.points(1 << (n - c), "commitment rows"))
        return cls(rows, n, c, reader.data[start:reader.pos])

    @classmethod
    def from_bytes(cls, data: bytes, num_vars: int | None = None, col_bits: int | None = None) -> "Commitment":
        """Strict parse; ``num_vars``/``col_bits`` pin the expected shape when given."""
        reader = Reader(data)
        com = cls.read(reader, num_vars, col_bits)
        reader.finish()
        return com

    def block(self, lead_bits: int, index: int) -> "Commitment":
        """Commitment of block ``index`` along a leading axis of 2^lead_bits entries."""
        if not 0 <= lead_bits <= self.row_bits or not 0 <= index < 1 << lead_bits:
            raise CommitmentError(f"cannot take block {index} of 2^{lead_bits} from "
                                  f"{self.num_rows} rows")
        size = self.num_rows >> lead_bits
        return Commitment(self.rows[index * size:(index + 1) * size], self.num_vars - lead_bits,
                          self.col_bits)

    @classmethod
    def stack(cls, parts) -> "Commitment":
        """Commitment of the tensor stacking ``parts`` (2^k equal shapes) on a new leading axis."""
        parts = list(parts)
        k = len(parts).bit_length() - 1
        if not parts or len(parts) != 1 << k or len({(p.num_vars, p.col_bits) for p in parts}) != 1:
            raise CommitmentError("stack needs 2^k commitments of one shape")
        return cls(tuple(r for p in parts for r in p.rows), parts[0].num_vars + k, parts[0].col_bits)


@dataclass(frozen=True)
class EvalProof:
    """Plain (non-ZK) evaluation proof: the combined row v and blind. Reveals v."""

    v: tuple[int, ...]
    blind: int

    def __post_init__(self):
        object.__setattr__(self, "v", tuple(self.v))
        n = len(self.v)
        if n == 0 or n & (n - 1):
            raise EncodingError(f"evaluation proof row must have 2^c entries, got {n}")
        if not all(is_canonical(x) for x in (*self.v, self.blind)):
            raise EncodingError("evaluation proof holds a non-canonical scalar")

    @property
    def col_bits(self) -> int:
        return len(self.v).bit_length() - 1

    @staticmethod
    def size(col_bits: int) -> int:
        return 2 + BYTES * ((1 << col_bits) + 1)

    def to_bytes(self) -> bytes:
        return bytes([MODE_PLAIN, self.col_bits]) + encode_many(self.v) + encode_many([self.blind])

    @classmethod
    def read(cls, reader: Reader, col_bits: int | None = None) -> "EvalProof":
        _, c = _read_header(reader, (MODE_PLAIN,), col_bits)
        v = reader.scalars(1 << c, "evaluation proof row")
        return cls(tuple(v), reader.scalar("evaluation proof blind"))

    @classmethod
    def from_bytes(cls, data: bytes, col_bits: int | None = None) -> "EvalProof":
        reader = Reader(data)
        proof = cls.read(reader, col_bits)
        reader.finish()
        return proof


@dataclass(frozen=True)
class ZkEvalProof:
    """Zero-knowledge evaluation proof: a proof of dot product against committed claims,
    log-size (:class:`DotProductLogProof`, default) or linear (:class:`DotProductProof`)."""

    dot: DotProductProof | DotProductLogProof

    def __post_init__(self):
        if isinstance(self.dot, DotProductLogProof):
            return
        if not isinstance(self.dot, DotProductProof):
            raise EncodingError("a ZK evaluation proof wraps a DotProductProof or DotProductLogProof")
        n = len(self.dot.z)
        if n == 0 or n & (n - 1):
            raise EncodingError(f"ZK evaluation proof row must have 2^c entries, got {n}")

    @property
    def mode(self) -> int:
        return MODE_ZK_LOG if isinstance(self.dot, DotProductLogProof) else MODE_ZK

    @property
    def col_bits(self) -> int:
        if self.mode == MODE_ZK_LOG:
            return self.dot.rounds
        return len(self.dot.z).bit_length() - 1

    @staticmethod
    def size(col_bits: int, compact: bool = True) -> int:
        if compact:
            return 2 + DotProductLogProof.size(1 << col_bits)
        return 2 + DotProductProof.size(1 << col_bits)

    def to_bytes(self) -> bytes:
        return bytes([self.mode, self.col_bits]) + self.dot.to_bytes()

    @classmethod
    def read(cls, reader: Reader, col_bits: int | None = None) -> "ZkEvalProof":
        mode, c = _read_header(reader, (MODE_ZK_LOG, MODE_ZK), col_bits)
        if mode == MODE_ZK_LOG:
            return cls(DotProductLogProof.read(reader, 1 << c))
        return cls(DotProductProof.read(reader, 1 << c))

    @classmethod
    def from_bytes(cls, data: bytes, col_bits: int | None = None) -> "ZkEvalProof":
        reader = Reader(data)
        proof = cls.read(reader, col_bits)
        reader.finish()
        return proof


def _read_header(reader: Reader, modes, col_bits: int | None) -> tuple[int, int]:
    got = reader.u8("proof mode")
    if got not in modes:
        want = " or ".join(_MODE_NAMES[m] for m in modes)
        raise EncodingError(f"expected a {want} evaluation proof, got mode byte {got}")
    c = reader.u8("proof col_bits")
    if c > MAX_NUM_VARS or (col_bits is not None and c != col_bits):
        raise EncodingError(f"evaluation proof for 2^{c} columns, expected 2^{col_bits}")
    return got, c


# ------------------------------------------------------------------ shared transcript steps
def check_statement(commitments, point) -> tuple[int, int]:
    commitments = list(commitments)
    if not commitments or not all(isinstance(c, Commitment) for c in commitments):
        raise CommitmentError("an evaluation proof needs one or more Commitment objects")
    shapes = {(c.num_vars, c.col_bits) for c in commitments}
    if len(shapes) != 1:
        raise CommitmentError(f"batched commitments must share one shape, got {sorted(shapes)}")
    n, c = shapes.pop()
    point = list(point)
    if len(point) != n:
        raise CommitmentError(f"evaluation point has {len(point)} coordinates, commitment has {n} variables")
    if not all(is_canonical(x) for x in point):
        raise EncodingError("evaluation point coordinates must be canonical field elements")
    return n, c


def absorb_statement(transcript, mode: int, commitments, point) -> None:
    """Prover and verifier: bind the opening's mode, shapes, commitments and point."""
    n, c = commitments[0].num_vars, commitments[0].col_bits
    transcript.absorb_bytes(b"hyrax/open", bytes([mode, n, c]) + len(commitments).to_bytes(4, "little"))
    transcript.absorb_bytes(b"hyrax/commitments", b"".join(com.to_bytes() for com in commitments))
    transcript.absorb_scalars(b"hyrax/point", point)


def batch_weights(transcript, k: int) -> list[int]:
    """The random linear combination of the batched tensors ([1] for a single one)."""
    return [1] if k == 1 else transcript.challenge_scalars(b"hyrax/batch", k)


def combined_row_scalars(gammas, x_row) -> list[int]:
    """MSM scalars gamma_t * eq(x_row)_i for all rows of all batched commitments."""
    e = eq_table(x_row)
    return [g * ei % P for g in gammas for ei in e]


def _combined_row_commitment(commitments, gammas, x_row, backend) -> G1Point:
    rows = [r for com in commitments for r in com.rows]
    return curve.msm_parallel(rows, combined_row_scalars(gammas, x_row), backend)


# ------------------------------------------------------------------ verification
def verify_eval(transcript, commitments, point, values, proof: EvalProof, backend=None) -> None:
    """Plain mode: accept iff ``proof`` shows tensor t evaluates to values[t] at ``point``
    (raises a VerificationError subclass otherwise)."""
    commitments = list(commitments)
    n, c = check_statement(commitments, point)
    values = list(values)
    if len(values) != len(commitments):
        raise CommitmentError(f"{len(values)} claimed values for {len(commitments)} commitments")
    if not all(is_canonical(y) for y in values):
        raise EncodingError("claimed values must be canonical field elements")
    if not isinstance(proof, EvalProof):
        raise EncodingError("expected a plain EvalProof")
    if proof.col_bits != c:
        raise EncodingError(f"evaluation proof for 2^{proof.col_bits} columns, commitment has 2^{c}")
    absorb_statement(transcript, MODE_PLAIN, commitments, point)
    transcript.absorb_scalars(b"hyrax/values", values)
    gammas = batch_weights(transcript, len(commitments))
    transcript.absorb_scalars(b"hyrax/row", [*proof.v, proof.blind])
    x_row, x_col = split_point(point, c)
    y = sum(g * yt for g, yt in zip(gammas, values)) % P
    if sum(vj * aj for vj, aj in zip(proof.v, eq_table(x_col))) % P != y:
        raise OpeningError("evaluation proof: <v, eq(x_col)> differs from the claimed value(s)")
    # one MSM: <v, G> + b H - sum_t gamma_t sum_i eq(x_row)_i C_{t,i} must be the identity
    rows = [r for com in commitments for r in com.rows]
    points = curve.generators(1 << c) + [curve.blinding_generator()] + rows
    scalars = [*proof.v, proof.blind] + [(-s) % P for s in combined_row_scalars(gammas, x_row)]
    if curve.msm_parallel(points, scalars, backend) != curve.identity():
        raise OpeningError("evaluation proof: the combined row does not open the commitments")


def verify_eval_zk(transcript, commitments, point, value_commitments, proof: ZkEvalProof,
                   backend=None) -> None:
    """ZK mode: accept iff ``proof`` shows tensor t evaluates at ``point`` to the scalar
    committed in value_commitments[t] (Com(y) = y G_s + r H)."""
    commitments = list(commitments)
    n, c = check_statement(commitments, point)
    value_commitments = list(value_commitments)
    if len(value_commitments) != len(commitments):
        raise CommitmentError(f"{len(value_commitments)} value commitments for {len(commitments)} commitments")
    if not all(isinstance(p, G1Point) for p in value_commitments):
        raise EncodingError("value commitments must be G1 points")
    if not isinstance(proof, ZkEvalProof):
        raise EncodingError("expected a ZkEvalProof")
    if proof.col_bits != c:
        raise EncodingError(f"evaluation proof for 2^{proof.col_bits} columns, commitment has 2^{c}")
    absorb_statement(transcript, proof.mode, commitments, point)
    transcript.absorb_points(b"hyrax/value-commitments", value_commitments)
    gammas = batch_weights(transcript, len(commitments))
    x_row, x_col = split_point(point, c)
    tau = curve.msm(value_commitments, gammas, backend)
    gens = curve.generators(1 << c)
    if proof.mode == MODE_ZK_LOG:  # C_L enters the final MSM as terms (bound via the transcript)
        rows = [r for com in commitments for r in com.rows]
        verify_dot_product_log(transcript, gens, rows, combined_row_scalars(gammas, x_row), tau,
                               eq_table(x_col), proof.dot, backend)
    else:
        c_l = _combined_row_commitment(commitments, gammas, x_row, backend)
        verify_dot_product(transcript, gens, c_l, tau, eq_table(x_col), proof.dot, backend)
