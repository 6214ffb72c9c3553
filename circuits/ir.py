"""FAC4DNN circuit IR: stacked tensors and relation families (pure Python).

The circuit is data (DESIGN.md section 4). It lists

* **tensors** -- each a *stack*: the per-(step, layer) instances of one base tensor that
  share a role and a padded shape, laid out as ``X[inst, *axes]`` with the instance axis
  (t-major order: ``(t, l)`` sorted by t, then l) padded to a power of two and every
  per-instance axis padded to a power of two. Instance steps ``t`` are relative to the
  window start ``t0`` (the statement says t0; the circuit does not depend on it).
  Bit tensors of the ``bits`` range strategy carry the bit axis last:
  ``B[inst, *axes, k]`` (k = 0 is the least significant bit).
* **relations** -- each a *family*: the instances of one relation with identical operand
  stacks, provable by ONE sumcheck over the stacked instances. Every operand has an
  explicit source table ``src[i]`` (relation instance i -> list of operand-stack instance
  indices, summed; an empty list is zero) so that "layer l-1", "layer l+1" and
  "sum over earlier steps" are data the verifier can tabulate (T and L are small).

Tensor kinds: ``committed`` (witness, or commitment in the statement when scope is
``statement``; scope ``proof``: one instance per proof, e.g. the lookup multiplicities), ``derived_linear`` (a linear function of committed tensors: its claims are
reduced by linearity or Pedersen homomorphism, never committed), ``derived_product`` (a
Hadamard product or the remainder of a matmul: reduced by a sumcheck), ``public`` (computed by the verifier).
``defined_by`` names the relation families whose ``out``/``value`` operand defines a
derived tensor.

Padding semantics. Every relation holds over the FULL padded stacked domain (padded
instances and padded entries included), with ``Ind_X`` the 0/1 indicator of the logical
instances and logical box of tensor X (public; its multilinear extension is a product of
prefix indicators, cheap for the verifier):

=============  ===============================================================
kind           relation (operand roles in brackets)
=============  ===============================================================
matmul         coef * op(left) @ op(right) = sum_i c_i out_i   (op = transpose
               if the operand says so; batched over the instance axis)
hadamard       out = (c0 + c1 * mask) * x           (element-wise)
linear, chain  out = sum_i c_i term_i [+ const]     (element-wise; a term with
               several sources is their sum; ``const`` (params) on out's logical
               box, terms then read instance by instance; ``check``: a
               constraint on an out defined elsewhere)
broadcast      out = x[i] at every entry of out's logical box, 0 outside (x:
               one value per instance, shape (1,): a scalar spread over a tensor)
booleanity     bits * (one - bits) = 0               (every entry, padding
               included, is 0 or ``one``, default 1)
range          value + offset in [0, 2^n) inside the logical box, value = 0
               outside. Strategy ``bits``: value = sum_{k<n} 2^k bits[..., k] -
               offset at every position (an honest witness holds the bits of
               the offset in the padding, where the value is 0; the zero padding
               of values follows from the relations that use them, see
               docs/PROTOCOL.md "Padding"). Strategy ``logup``: every limb of
               value + offset (operands ``limb``: the committed limbs above
               the lowest, zkdl.circuits.lookup) is a leaf of the lookup of
               its width, over the whole padded stack
lookup         the multiplicities ``mult`` of the table [0, 2^table_bits) count
               every limb of that width (LogUp-GKR, zkdl.logup)
data           out = coef * select @ table  (select: public 0/1 batch selection)
entries        out = a public sparse 0/1 map of table: ``scatter`` (the count x 1
               values of a sparse matrix into the dense rows x cols out) or
               ``gather`` (dense table entries at the support into count x 1 out);
               the support from :func:`zkdl.support.support_positions` (params)
sum_squares    out = sum over the instance's entries of x^2 (out: a public
               output of the statement, or a committed tensor, one value per
               instance)
padding        (1 - Ind_x) * x = 0                   (a statement tensor is zero
               outside its logical box, e.g. dataset rows >= N; emitted where the
               box is smaller than the padded shape)
row_sum        sum_j x[i, r, j] = value * Ind_rows(r) (every logical row of a
               matrix sums to ``value``, padded rows to 0: with booleanity, the
               one-hot targets)
=============  ===============================================================

An honest witness is the zero-padded trace (bit tensors: the bits of value + offset at
every position). Statement tensors are proven zero outside their box (``padding``); every
other tensor is pinned to zero there by the relations that use it (a rescaled matmul of
zero-padded operands has a zero quotient and remainder in its padding, and so on, step by
step from W[t0] and the dataset; docs/PROTOCOL.md, "Padding").

Canonical bytes: JSON with sorted keys, no whitespace, ASCII, of :meth:`Circuit.to_dict`
(every field, including the config); the digest is SHA-256 of the domain tag
``b"zkdl/circuit/v2\\0"`` followed by those bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from zkdl.config import TrainConfig
from zkdl.errors import ZkdlError

__all__ = ["CircuitError", "Tensor", "Operand", "Relation", "Circuit", "FORMAT",
           "TENSOR_KINDS", "SCOPES", "RELATION_KINDS", "next_pow2", "log2", "fmt_layers"]

FORMAT = "zkdl-circuit/v2"
_DIGEST_TAG = b"zkdl/circuit/v2\x00"
TENSOR_KINDS = ("committed", "derived_linear", "derived_product", "public")
SCOPES = ("step", "statement", "proof")
RELATION_KINDS = ("matmul", "hadamard", "linear", "chain", "booleanity", "range", "data", "sum_squares",
                  "padding", "row_sum", "lookup", "entries", "broadcast")


class CircuitError(ZkdlError, ValueError):
    """A circuit that cannot be built, decoded or checked (message names what and why)."""


def next_pow2(n: int) -> int:
    if not isinstance(n, int) or n < 1:
        raise CircuitError(f"dimension must be a positive int, got {n!r}")
    return 1 << (n - 1).bit_length()


def log2(n: int) -> int:
    """log2 of a power of two."""
    if n < 1 or n & (n - 1):
        raise CircuitError(f"{n} is not a power of two")
    return n.bit_length() - 1


def fmt_layers(layers) -> str:
    """Compact layer set: [1,2,3,5] -> '1-3,5'."""
    ls = sorted(set(layers))
    parts, i = [], 0
    while i < len(ls):
        j = i
        while j + 1 < len(ls) and ls[j + 1] == ls[j] + 1:
            j += 1
        parts.append(str(ls[i]) if i == j else f"{ls[i]}-{ls[j]}")
        i = j + 1
    return ",".join(parts)


def _prod(xs) -> int:
    p = 1
    for x in xs:
        p *= x
    return p


# ----------------------------------------------------------------------------- tensors
@dataclass(frozen=True)
class Tensor:
    """One stacked tensor (see the module docstring).

    ``shape``: logical per-instance shape (``None`` for an axis whose size the statement
    gives, e.g. the dataset rows when ``n_samples`` was not given). ``lo``/``hi``:
    inclusive bounds of every entry (range-checked, or derived by interval arithmetic from
    range-checked inputs). ``source``: how a witness generator reads the tensor from a
    trace: a list of ``[coef, name]`` with ``{l}`` standing for the layer (e.g.
    ``[[1, "Zp_{l}"], [2^(Q-1), "S_{l}"]]``; ``{prev}``/``{next}`` stand for l - 1 / l + 1), a string for special sources
    (``dataset.X``, ``dataset.targets`` (one-hot times 2^R), ``schedule``), or ``None`` for bit tensors
    (generated from ``bit_of``). ``nbits``: logical bit count of a bit tensor (its last axis).
    """

    name: str
    base: str
    kind: str
    scope: str
    instances: tuple
    shape: tuple
    lo: int | None
    hi: int | None
    source: Any = None
    bit_of: str | None = None
    nbits: int | None = None
    defined_by: tuple = ()

    @property
    def padded(self) -> tuple:
        return tuple(None if s is None else next_pow2(s) for s in self.shape)

    @property
    def stack(self) -> int:
        return next_pow2(len(self.instances))

    @property
    def is_public_output(self) -> bool:
        """A public value the statement states and the proof proves (source ``output.*``)."""
        return self.kind == "public" and isinstance(self.source, str) and self.source.startswith("output.")

    @property
    def num_vars(self) -> int | None:
        if any(s is None for s in self.shape):
            return None
        return log2(self.stack) + sum(log2(p) for p in self.padded)

    @property
    def size(self) -> int | None:
        """Logical entries over all instances (bits: logical bits)."""
        if any(s is None for s in self.shape):
            return None
        return len(self.instances) * _prod(self.shape)

    @property
    def padded_size(self) -> int | None:
        if any(s is None for s in self.shape):
            return None
        return self.stack * _prod(self.padded)

    def index(self, t: int, l: int) -> int:
        """Stack index of instance (t, l)."""
        try:
            return self.instances.index((t, l))
        except ValueError:
            raise CircuitError(f"tensor {self.name} has no instance (t={t}, l={l})") from None

    def to_dict(self) -> dict:
        return {
            "name": self.name, "base": self.base, "kind": self.kind, "scope": self.scope,
            "instances": [list(i) for i in self.instances], "stack": self.stack,
            "shape": list(self.shape), "padded": list(self.padded), "num_vars": self.num_vars,
            "lo": self.lo, "hi": self.hi, "source": _jsonable(self.source),
            "bit_of": self.bit_of, "nbits": self.nbits, "defined_by": list(self.defined_by),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Tensor":
        try:
            t = cls(name=d["name"], base=d["base"], kind=d["kind"], scope=d["scope"],
                    instances=tuple(tuple(i) for i in d["instances"]), shape=tuple(d["shape"]),
                    lo=d["lo"], hi=d["hi"], source=_tupled(d["source"]), bit_of=d["bit_of"],
                    nbits=d["nbits"], defined_by=tuple(d["defined_by"]))
        except (KeyError, TypeError) as e:
            raise CircuitError(f"malformed tensor entry: {e!r}") from None
        if t.to_dict() != d:
            raise CircuitError(f"tensor {d.get('name')!r}: derived fields do not match (stack/padded/num_vars)")
        return t


# ----------------------------------------------------------------------------- relations
@dataclass(frozen=True)
class Operand:
    """A tensor used by a relation family: ``src[i]`` lists the operand-stack instances
    (summed) feeding relation instance i; ``coef`` its integer coefficient."""

    role: str
    tensor: str
    src: tuple
    coef: int = 1
    transpose: bool = False

    def to_dict(self) -> dict:
        return {"role": self.role, "tensor": self.tensor, "coef": self.coef,
                "transpose": self.transpose, "src": [list(s) for s in self.src]}

    @classmethod
    def from_dict(cls, d: dict) -> "Operand":
        return cls(role=d["role"], tensor=d["tensor"], coef=d["coef"], transpose=d["transpose"],
                   src=tuple(tuple(s) for s in d["src"]))


@dataclass(frozen=True)
class Relation:
    """One relation family (see the module docstring for the semantics of each kind).

    ``degree``/``num_vars``: the sumcheck that proves the family over the stacked
    instances (num_vars 0: no sumcheck, claims move by linearity)."""

    name: str
    kind: str
    instances: tuple
    operands: tuple
    params: dict = field(default_factory=dict)
    degree: int = 0
    num_vars: int | None = 0

    @property
    def stack(self) -> int:
        return next_pow2(len(self.instances))

    def operand(self, role: str) -> Operand:
        for o in self.operands:
            if o.role == role:
                return o
        raise CircuitError(f"relation {self.name} has no operand with role {role!r}")

    def operands_with(self, role: str) -> list:
        return [o for o in self.operands if o.role == role]

    @property
    def layers(self) -> tuple:
        return tuple(sorted({l for _, l in self.instances}))

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "instances": [list(i) for i in self.instances],
                "stack": self.stack, "operands": [o.to_dict() for o in self.operands],
                "params": dict(self.params), "degree": self.degree, "num_vars": self.num_vars}

    @classmethod
    def from_dict(cls, d: dict) -> "Relation":
        try:
            r = cls(name=d["name"], kind=d["kind"], instances=tuple(tuple(i) for i in d["instances"]),
                    operands=tuple(Operand.from_dict(o) for o in d["operands"]), params=dict(d["params"]),
                    degree=d["degree"], num_vars=d["num_vars"])
        except (KeyError, TypeError) as e:
            raise CircuitError(f"malformed relation entry: {e!r}") from None
        if r.to_dict() != d:
            raise CircuitError(f"relation {d.get('name')!r}: derived fields do not match")
        return r


def _jsonable(x):
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def _tupled(x):
    if isinstance(x, list):
        return tuple(_tupled(v) for v in x)
    return x


# ----------------------------------------------------------------------------- circuit
@dataclass(frozen=True)
class Circuit:
    """A whole circuit: the method, the config, options, tensors and relation families."""

    method: str
    config: TrainConfig
    steps: int
    options: dict
    tensors: tuple
    relations: tuple

    def __post_init__(self):
        names = [t.name for t in self.tensors]
        if len(set(names)) != len(names):
            raise CircuitError("duplicate tensor names")
        rnames = [r.name for r in self.relations]
        if len(set(rnames)) != len(rnames):
            raise CircuitError("duplicate relation names")
        object.__setattr__(self, "_tix", {t.name: t for t in self.tensors})
        object.__setattr__(self, "_rix", {r.name: r for r in self.relations})
        for r in self.relations:
            if r.kind not in RELATION_KINDS:
                raise CircuitError(f"relation {r.name}: unknown kind {r.kind!r}")
            for o in r.operands:
                if o.tensor not in self._tix:
                    raise CircuitError(f"relation {r.name}: unknown tensor {o.tensor!r}")
                if len(o.src) != len(r.instances):
                    raise CircuitError(f"relation {r.name}: operand {o.role} src has {len(o.src)} rows, "
                                       f"expected {len(r.instances)}")
                n = len(self._tix[o.tensor].instances)
                for s in o.src:
                    for j in s:
                        if not 0 <= j < n:
                            raise CircuitError(f"relation {r.name}: operand {o.role} source {j} outside "
                                               f"tensor {o.tensor} ({n} instances)")

    @property
    def T(self) -> int:
        return self.steps

    @property
    def dims(self) -> tuple:
        return tuple(self.options["dims"])

    def tensor(self, name: str) -> Tensor:
        try:
            return self._tix[name]
        except KeyError:
            raise CircuitError(f"no tensor named {name!r}") from None

    def relation(self, name: str) -> Relation:
        try:
            return self._rix[name]
        except KeyError:
            raise CircuitError(f"no relation named {name!r}") from None

    def relations_of(self, kind: str) -> list:
        return [r for r in self.relations if r.kind == kind]

    # ------------------------------------------------------------ bytes
    def to_dict(self) -> dict:
        return {"format": FORMAT, "method": self.method, "config": self.config.to_dict(),
                "config_digest": self.config.digest(), "steps": self.steps,
                "options": dict(self.options),
                "tensors": [t.to_dict() for t in self.tensors],
                "relations": [r.to_dict() for r in self.relations]}

    def canonical_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=True).encode("ascii")

    def digest(self) -> str:
        """SHA-256 hex digest of the tag and the canonical bytes (absorbed by the transcript)."""
        return hashlib.sha256(_DIGEST_TAG + self.canonical_bytes()).hexdigest()

    def to_json(self, indent: int | None = 1, stats: bool = True) -> str:
        """Readable JSON: the canonical dict plus ``digest`` and (optionally) ``stats``."""
        d = self.to_dict()
        d["digest"] = self.digest()
        if stats:
            d["stats"] = self.stats()
        return json.dumps(d, sort_keys=True, indent=indent)

    @classmethod
    def from_dict(cls, d: dict) -> "Circuit":
        if not isinstance(d, dict):
            raise CircuitError("circuit must be a JSON object")
        if d.get("format") != FORMAT:
            raise CircuitError(f"unknown circuit format {d.get('format')!r}")
        try:
            cfg = TrainConfig.from_dict(d["config"])
            c = cls(method=d["method"], config=cfg, steps=d["steps"], options=dict(d["options"]),
                    tensors=tuple(Tensor.from_dict(t) for t in d["tensors"]),
                    relations=tuple(Relation.from_dict(r) for r in d["relations"]))
        except KeyError as e:
            raise CircuitError(f"circuit JSON lacks {e}") from None
        if cfg.digest() != d.get("config_digest"):
            raise CircuitError("config_digest does not match the config")
        if "digest" in d and d["digest"] != c.digest():
            raise CircuitError("digest does not match the circuit")
        return c

    @classmethod
    def from_json(cls, text: str | bytes) -> "Circuit":
        try:
            d = json.loads(text)
        except ValueError as e:
            raise CircuitError(f"circuit is not valid JSON: {e}") from None
        if isinstance(d, dict):
            d.pop("stats", None)
        return cls.from_dict(d)

    # ------------------------------------------------------------ cost
    def stats(self) -> dict:
        """Committed volume and range-check bits.

        ``committed_per_step``: committed witness values (bits count one each) per
        training step, total and by base tensor (logical entries; all steps are alike).
        ``range_bits_per_step``: bits range-checked per step (by value tensor base).
        ``statement_committed``/``statement_range_bits``: once per proof (W[t0] bits,
        dataset bits), ``None`` where the dataset size is unknown.
        ``committed_padded``: stacked padded size of every committed step tensor (what the
        commitments actually hold, per proof)."""
        T = self.steps
        per, stmt, padded = {}, {}, 0
        for t in self.tensors:
            if t.kind != "committed":
                continue
            if t.scope == "step":
                per[t.base] = per.get(t.base, 0) + t.size // T
                padded += t.padded_size
            else:
                stmt[t.base] = None if (t.size is None or stmt.get(t.base, 0) is None) \
                    else stmt.get(t.base, 0) + t.size
        rb, srb = {}, {}
        for r in self.relations_of("range"):
            v = self.tensor(r.operand("value").tensor)
            n = r.params["n"]
            if v.scope == "step":
                rb[v.base] = rb.get(v.base, 0) + n * v.size // T
            else:
                srb[v.base] = None if (v.size is None or srb.get(v.base, 0) is None) \
                    else srb.get(v.base, 0) + n * v.size
        # values of the statement itself (W[t0], dataset) are committed by whoever made the
        # statement; the proof commits the bits that range-check them
        proof_stmt = {k: v for k, v in stmt.items() if k.endswith(".bits") or ".limb" in k or k.startswith("logup.")}

        def total(d):
            return None if any(v is None for v in d.values()) else sum(d.values())

        counts = {}
        for r in self.relations:
            counts[r.kind] = counts.get(r.kind, 0) + 1
        return {
            "committed_per_step": {"total": sum(per.values()), "by_tensor": dict(sorted(per.items()))},
            "range_bits_per_step": {"total": sum(rb.values()), "by_tensor": dict(sorted(rb.items()))},
            "statement_committed": {"total": total(proof_stmt), "by_tensor": dict(sorted(proof_stmt.items()))},
            "statement_range_bits": {"total": total(srb), "by_tensor": dict(sorted(srb.items()))},
            "committed_padded": padded,
            "relation_families": dict(sorted(counts.items())),
            "tensors": len(self.tensors),
        }
