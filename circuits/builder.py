"""Circuit builder: stacks tensors and groups relation instances into families (pure Python).

A training method (:class:`Method`; built-in: :mod:`zkdl.circuits.sgd_mlp`) describes its
per-(step, layer) tensors and relations through a :class:`CircuitBuilder`, mostly via the
gadgets of :mod:`zkdl.circuits.gadgets`. The builder

* groups the instances of each base tensor into stacks by (layer run, role, padded shape),
  named ``base[layers]`` (e.g. ``Zp[1-4]``, ``Zp[5-6]``, ``Zp[7]`` and ``Zp[8]`` for the
  default MLP; the method sets the runs, :meth:`CircuitBuilder.set_layer_runs`);
* turns a relation over a list of (t, l) instances into families, one per distinct tuple
  of operand stacks (e.g. ``forward[1-4]``), with explicit source tables for the index
  maps; a gathering relation (``gather=True``) reads several stacks into one;
* derives value bounds of derived tensors by interval arithmetic and refuses a matmul
  whose integer value could wrap around the field modulus.

Plugins register their method with :func:`register_method`, or declare it in the
entry-point group ``zkdl.methods`` of their distribution (:func:`discover_methods`, called
when :func:`build_circuit` meets an unknown name); :func:`build_circuit` picks it by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from zkdl.config import TrainConfig
from zkdl.errors import ConfigError
from zkdl.field import P

from zkdl.circuits.ir import (Circuit, CircuitError, Operand, Relation, Tensor, _tupled, fmt_layers,
                              log2, next_pow2)

__all__ = ["CircuitBuilder", "Op", "Method", "METHODS", "register_method", "method_class",
           "build_circuit", "RANGE_STRATEGIES", "DEFAULT_RANGE", "discover_methods", "ENTRY_POINT_GROUP"]

RANGE_STRATEGIES = ("bits", "logup")
MAX_TABLE = 1 << 12   # entries of a linear relation's public table (the verifier evaluates it in O(size))
DEFAULT_RANGE = "logup"  # what zkdl.prove / zkdl train|prove use: faster from width 64 on (README, measured)
_DEFINING = {"linear": "out", "chain": "out", "hadamard": "out", "data": "out", "range": "value", "entries": "out",
             "broadcast": "out"}


@dataclass(frozen=True)
class Op:
    """Operand spec for :meth:`CircuitBuilder.relation`: base tensor, ``layer(l)`` the
    source layer of relation instance (t, l) (default l), ``steps(t)`` the source steps
    (summed; default [t]), or ``steps_at(t, l)`` where they depend on the layer too.
    ``optional``: source layers without a ``base`` tensor contribute nothing (zero)."""

    role: str
    base: str
    coef: int = 1
    transpose: bool = False
    layer: Callable | None = None
    steps: Callable | None = None
    steps_at: Callable | None = None
    optional: bool = False

    def sources(self, t: int, l: int) -> list:
        """The source steps of relation instance (t, l)."""
        if self.steps_at is not None:
            return list(self.steps_at(t, l))
        return list(self.steps(t)) if self.steps else [t]


class _MutTensor:
    __slots__ = ("name", "base", "kind", "scope", "instances", "shape", "lo", "hi", "source",
                 "bit_of", "nbits", "defined_by")

    def freeze(self) -> Tensor:
        return Tensor(name=self.name, base=self.base, kind=self.kind, scope=self.scope,
                      instances=tuple(self.instances), shape=tuple(self.shape), lo=self.lo, hi=self.hi,
                      source=_tupled(self.source), bit_of=self.bit_of, nbits=self.nbits,
                      defined_by=tuple(self.defined_by))


class CircuitBuilder:
    """Collects stacks and relation families for one circuit."""

    def __init__(self, config: TrainConfig, steps: int, options: dict):
        self.config = config
        self.T = steps
        self.options = options
        self.range_strategy = options["range_strategy"]
        self.dims = tuple(options["dims"])
        self.n_samples = options["n_samples"]
        self._tensors: dict[str, _MutTensor] = {}
        self._loc: dict[tuple, str] = {}          # (base, layer) -> stack name
        self._relations: list[Relation] = []
        self.layer_runs: dict[int, int] = {}      # layer -> its stacking run (set by the method)

    def set_layer_runs(self, runs) -> None:
        """Stack only layers of the same run together (runs: lists of layers, e.g. from
        :func:`mlp_layer_runs`): tensors of one run share padded shapes and instance axis."""
        self.layer_runs = {l: i for i, run in enumerate(runs) for l in run}

    # ------------------------------------------------------------------ tensors
    def stacks(self, base: str, layers, shape: Callable, *, kind: str, scope: str = "step",
               steps=None, role: Callable | None = None, lo=None, hi=None, source=None,
               nbits: int | None = None, bit_of: str | None = None) -> list[str]:
        """Declare base tensor ``base`` for ``layers`` (per-instance shape ``shape(l)``) at
        ``steps`` (default 0..T-1), grouped into stacks by (layer run, role(l), padded shape).
        Returns the stack names. ``bit_of``: base of the value tensor (bit tensors)."""
        steps = list(range(self.T)) if steps is None else list(steps)
        groups: dict[tuple, list[int]] = {}
        for l in layers:
            if (base, l) in self._loc:
                raise CircuitError(f"tensor {base} for layer {l} declared twice")
            shp = tuple(shape(l))
            key = (self.layer_runs.get(l), role(l) if role else None,
                   tuple(None if s is None else next_pow2(s) for s in shp))
            groups.setdefault(key, []).append(l)
        names = []
        for key, ls in groups.items():
            shapes = {tuple(shape(l)) for l in ls}
            if len(shapes) != 1 and scope == "statement":
                # a statement tensor's logical box is proven (padding relation): one box per
                # stack, so layers of different logical shapes get stacks of their own
                sub: dict[tuple, list[int]] = {}
                for l in ls:
                    sub.setdefault(tuple(shape(l)), []).append(l)
                parts = list(sub.values())
            else:
                parts = [ls]
            for part in parts:
                name = f"{base}[{fmt_layers(part)}]"
                if name in self._tensors:
                    raise CircuitError(f"duplicate stack {name}")
                m = _MutTensor()
                m.name, m.base, m.kind, m.scope = name, base, kind, scope
                m.instances = [(t, l) for t in steps for l in part]
                m.shape = _max_shape([tuple(shape(l)) for l in part])
                m.lo, m.hi, m.source, m.nbits = lo, hi, source, nbits
                m.bit_of = None if bit_of is None else self._loc[(bit_of, part[0])]
                m.defined_by = []
                self._tensors[name] = m
                for l in part:
                    self._loc[(base, l)] = name
                names.append(name)
        return names

    def relations(self) -> list[Relation]:
        """The relation families added so far, in order."""
        return list(self._relations)

    def stack_of(self, base: str, layer: int) -> str:
        try:
            return self._loc[(base, layer)]
        except KeyError:
            raise CircuitError(f"no tensor {base} for layer {layer}") from None

    def _stack_or_none(self, o: Op, l: int) -> str | None:
        """The stack operand spec ``o`` reads for relation layer l (None: an optional
        operand whose source layer has no such tensor)."""
        ll = o.layer(l) if o.layer else l
        if o.optional and (o.base, ll) not in self._loc:
            return None
        return self.stack_of(o.base, ll)

    def tensor(self, name: str) -> _MutTensor:
        return self._tensors[name]

    def padded_entries(self, name: str) -> int | None:
        """Entries of stack ``name`` with every axis padded (None: a size not known yet)."""
        m = self._tensors[name]
        if any(s is None for s in m.shape):
            return None
        n = next_pow2(len(m.instances))
        for s in m.shape:
            n *= next_pow2(s)
        return n

    def bound(self, name: str) -> tuple[int, int]:
        m = self._tensors[name]
        if m.lo is None or m.hi is None:
            raise CircuitError(f"tensor {name} is used before its bound is known (define it first)")
        return m.lo, m.hi

    # ------------------------------------------------------------------ relations
    def relation(self, name: str, kind: str, instances, ops: list[Op], params: dict | None = None, *,
                 gather: bool = False) -> list[Relation]:
        """Add relation ``name`` over ``instances`` ((t, l) pairs, relative t); one family
        per distinct tuple of operand stacks. Returns the families.

        ``gather`` (linear relations): one family per stack of the first (``out``) operand;
        a term whose instances lie in several stacks becomes one operand per stack, with
        empty source rows (zero) for the instances it does not serve. This is how a stack
        gathers instances of other stacks, e.g. the inputs A[l-1] of a layer run, which
        come from the data for l = 1 and from the previous layers otherwise."""
        params = dict(params or {})
        groups: dict[tuple, list] = {}
        for (t, l) in instances:
            key = tuple(self._stack_or_none(o, l) for o in ops)
            groups.setdefault(key[:1] if gather else key, []).append((t, l))
        fams = []
        for key, insts in groups.items():
            insts = sorted(insts)
            fname = f"{name}[{fmt_layers(l for _, l in insts)}]"
            operands = []
            for o in ops:
                operands.extend(self._operands(fname, o, insts))
            rel = self._finish(Relation(name=fname, kind=kind, instances=tuple(insts),
                                        operands=tuple(operands), params=dict(params)))
            if any(r.name == rel.name for r in self._relations):
                raise CircuitError(f"duplicate relation family {rel.name}")
            self._relations.append(rel)
            fams.append(rel)
        return fams

    def _operands(self, fname: str, o: Op, insts) -> list[Operand]:
        """The operand(s) of spec ``o`` for relation instances ``insts``: one per stack the
        instances read (one, unless the relation gathers), with explicit source rows."""
        stacks: dict[str, list] = {}
        for (t, l) in insts:
            sname = self._stack_or_none(o, l)
            if sname is not None:
                stacks.setdefault(sname, [])
        for sname in stacks:
            index = {inst: i for i, inst in enumerate(self._tensors[sname].instances)}
            for (t, l) in insts:
                ll = o.layer(l) if o.layer else l
                if self._stack_or_none(o, l) != sname:
                    stacks[sname].append(())
                    continue
                row = []
                for u in o.sources(t, l):
                    if (u, ll) not in index:
                        raise CircuitError(f"relation {fname}: tensor {sname} has no instance (t={u}, l={ll})")
                    row.append(index[(u, ll)])
                stacks[sname].append(tuple(row))
        return [Operand(role=o.role, tensor=sname, src=tuple(src), coef=o.coef, transpose=o.transpose)
                for sname, src in stacks.items()]

    def _finish(self, r: Relation) -> Relation:
        """Fill degree/num_vars, propagate bounds to the defined tensor, check wraparound."""
        k = r.kind
        inst_vars = log2(r.stack)
        params = dict(r.params)
        tens = {o.role: self._tensors[o.tensor] for o in r.operands}
        if k == "matmul":
            left = r.operand("left")
            lt = self._tensors[left.tensor]
            kdim = lt.shape[0] if left.transpose else lt.shape[1]
            params["contract"] = kdim
            degree, nv = 3, inst_vars + log2(next_pow2(kdim))
            rt = self._tensors[r.operand("right").tensor]
            lhs = abs(left.coef) * kdim * _absmax(self.bound(lt.name)) * _absmax(self.bound(rt.name))
            rhs = sum(abs(o.coef) * _absmax(self.bound(o.tensor)) for o in r.operands_with("out"))
            params["bound_bits"] = max(lhs, rhs).bit_length()
            if lhs + rhs >= P:
                raise CircuitError(
                    f"relation {r.name}: |lhs| + |rhs| may reach 2^{(lhs + rhs).bit_length()}, which "
                    f"is not below the field modulus: the integer relation could wrap around")
        elif k == "hadamard":
            out = tens["out"]
            degree, nv = 3, _vars(inst_vars, out)
            m_lo, m_hi = self.bound(tens["mask"].name)
            c0, c1 = params["c0"], params["c1"]
            f = sorted((c0 + c1 * m_lo, c0 + c1 * m_hi))
            x = self.bound(tens["x"].name)
            cands = [a * b for a in f for b in x]
            self._set_bound(out, min(cands), max(cands))
        elif k in ("linear", "chain") and params.get("check"):
            degree, nv = 1, 0      # a constraint sum_i c_i term_i + const = out, out defined elsewhere
            clo, chi = self._check_const(r)
            top = sum(abs(o.coef) * _absmax(self.bound(o.tensor)) for o in r.operands) + max(-clo, chi)
            if top >= P // 2:
                raise CircuitError(f"relation {r.name}: |terms| may reach 2^{top.bit_length()}: the integer "
                                   f"relation could wrap around the field modulus")
        elif k in ("linear", "chain"):
            degree, nv = 1, 0
            clo, chi = self._check_const(r)
            lo = hi = 0
            for i in range(len(r.instances)):     # per instance: a gathered term serves only some
                ilo = ihi = 0
                for o in r.operands_with("term"):
                    n = len(o.src[i])
                    a, b = self.bound(o.tensor)
                    c = sorted((o.coef * a * n, o.coef * b * n, 0))
                    ilo, ihi = ilo + c[0], ihi + c[-1]
                lo, hi = min(lo, ilo + clo), max(hi, ihi + chi)
            self._set_bound(tens["out"], lo, hi)
        elif k == "booleanity":
            bt = tens["bits"]
            degree, nv = 3, _vars(inst_vars, bt)
        elif k == "range":
            if params["strategy"] == "bits":
                degree, nv = 2, log2(next_pow2(params["n"]))
            else:   # logup: its limbs are leaves of the lookup trees (relation kind lookup)
                degree, nv = 0, 0
        elif k == "lookup":
            degree, nv = 3, None  # one GKR per table over every lookup of its width
        elif k == "sum_squares":
            x = tens["x"]
            degree, nv = 3, _vars(inst_vars, x)
            entries = 1
            for d in x.shape:
                entries *= d
            hi = entries * _absmax(self.bound(x.name)) ** 2
            if hi >= P // 2:
                raise CircuitError(f"relation {r.name}: a sum of squares may reach 2^{hi.bit_length()}: "
                                   f"it could wrap around the field modulus")
            self._set_bound(tens["out"], 0, hi)
        elif k == "padding":
            degree, nv = 3, _vars(inst_vars, tens["x"])
        elif k == "row_sum":
            degree, nv = 1, 0   # one evaluation claim at (tau, 1/2, ..., 1/2): no sumcheck
        elif k == "broadcast":
            x = tens["x"]
            if x.shape != (1,):
                raise CircuitError(f"relation {r.name}: a broadcast reads one value per instance (shape (1,)), "
                                   f"not {x.shape}")
            degree, nv = 1, 0   # the claim moves to x, divided by the box indicator: no sumcheck
            self._set_bound(tens["out"], *self.bound(x.name))
        elif k == "entries":
            tt = tens["table"]
            degree, nv = 2, _vars(log2(next_pow2(len(tt.instances))), tt)
            self._set_bound(tens["out"], *self.bound(tt.name))
        elif k == "data":
            n = self.n_samples
            degree, nv = 2, (None if n is None else log2(next_pow2(n)))
            a, b = self.bound(tens["table"].name)
            co = params["coef"]
            vals = sorted((co * a, co * b, 0))
            self._set_bound(tens["out"], vals[0], vals[-1])
        else:
            raise CircuitError(f"unknown relation kind {k!r}")
        role = _DEFINING.get(k)
        if k == "range" and params["strategy"] != "bits":
            role = None     # logup: the value is committed, or defined by another relation
        if params.get("check"):
            role = None     # a constraint: its output is defined (or committed) elsewhere
        if role is not None:
            t = tens[role]
            if t.kind != "committed" and t.kind != "public":
                t.defined_by.append(r.name)
        if k == "matmul":   # a derived output nothing else defines (logup remainders) is defined here
            for o in r.operands_with("out"):
                t = self._tensors[o.tensor]
                if t.kind == "derived_product" and not t.defined_by:
                    t.defined_by.append(r.name)
        return Relation(name=r.name, kind=k, instances=r.instances, operands=r.operands, params=params,
                        degree=degree, num_vars=nv)

    def _check_const(self, r: Relation) -> tuple[int, int]:
        """A linear relation's public term: ``const`` (added on the output's logical box)
        and ``table`` (a public integer per entry of one instance's logical box, row-major,
        the same for every instance; at most :data:`MAX_TABLE` entries). Either needs terms
        read instance by instance (the verifier adds the term's multilinear extension at
        the claim's point). Returns the range [lo, hi] the public term adds."""
        const, table = r.params.get("const", 0), r.params.get("table")
        if const or table is not None:
            out = self._tensors[r.operand("out").tensor]
            if any(s is None for s in out.shape) or any(
                    len(o.src) != len(r.instances) or len(self._tensors[o.tensor].instances) != len(r.instances)
                    or any(s != (i,) for i, s in enumerate(o.src))
                    for o in r.operands):
                raise CircuitError(f"relation {r.name}: a constant needs operands read instance by instance "
                                   f"and an output of known size")
        if table is None:
            return min(const, 0), max(const, 0)
        size = 1
        for s in self._tensors[r.operand("out").tensor].shape:
            size *= s
        if not (isinstance(table, list) and len(table) == size <= MAX_TABLE
                and all(type(v) is int and abs(v) < (1 << 62) for v in table)):
            raise CircuitError(f"relation {r.name}: a table is a list of one int (|v| < 2^62) per entry of the "
                               f"output's logical box ({size} entries, at most {MAX_TABLE})")
        return min(const + min(table), 0), max(const + max(table), 0)

    def _set_bound(self, t: _MutTensor, lo: int, hi: int) -> None:
        lo, hi = min(lo, 0), max(hi, 0)   # padding is zero
        if t.kind == "committed":
            return
        t.lo = lo if t.lo is None else min(t.lo, lo)
        t.hi = hi if t.hi is None else max(t.hi, hi)

    # ------------------------------------------------------------------ result
    def circuit(self, method: str) -> Circuit:
        for m in self._tensors.values():
            if m.kind in ("derived_linear", "derived_product") and not m.defined_by:
                raise CircuitError(f"derived tensor {m.name} is defined by no relation")
            if m.lo is None or m.hi is None:
                raise CircuitError(f"tensor {m.name} has no bound")
        return Circuit(method=method, config=self.config, steps=self.T, options=dict(self.options),
                       tensors=tuple(m.freeze() for m in self._tensors.values()),
                       relations=tuple(self._relations))


def _max_shape(shapes) -> tuple:
    """The smallest box holding every instance's logical shape (None: unknown size)."""
    return tuple(None if any(s[k] is None for s in shapes) else max(s[k] for s in shapes)
                 for k in range(len(shapes[0])))


def _padded(t: _MutTensor) -> tuple:
    return tuple(None if s is None else next_pow2(s) for s in t.shape)


def _vars(inst_vars: int, t: _MutTensor):
    pad = _padded(t)
    if any(p is None for p in pad):
        return None
    return inst_vars + sum(log2(p) for p in pad)


def _absmax(b) -> int:
    return max(abs(b[0]), abs(b[1]))


# ----------------------------------------------------------------------------- methods
class Method:
    """A training method: adds its tensors and relations to a builder.

    Subclasses set ``name`` and :attr:`statement`, implement :meth:`build`, and name their
    exact-integer tracer step in ``tracer_step`` (``"module:function"``, imported only by
    the tracer, so this module stays verifier-safe; :func:`zkdl.tracer.step_function`);
    :meth:`validate` may reject a config. Register with :func:`register_method`, or from
    an installed distribution through the entry-point group ``zkdl.methods``
    (:func:`discover_methods`). docs/METHODS.md has a worked example."""

    name = "abstract"

    #: The statement: base names of the committed statement tensors, by role. ``dataset``:
    #: the committed data (the same commitments in every proof of a claim); ``initial`` /
    #: ``final``: the state before / after the window, ``final[i]`` chaining to the next
    #: proof's ``initial[i]``; ``frozen`` (optional): tensors that are the same commitment in
    #: every proof of a claim, like the dataset (a frozen base model); ``outputs``: public
    #: output base -> statement field. Per-instance commitments are in this order in the
    #: proof body (dataset, frozen, initial, final; within a base, its stacks in IR order,
    #: then instance order).
    statement = {"dataset": [], "initial": [], "final": [], "outputs": {}}

    #: Statement base -> the name of the state list it commits (``initial_state`` hook's
    #: dict keys; SGD's state is ``{"W": weights}``): how anchors recompute a public
    #: initialization and export a model.
    state_of = {"W0": "W", "W_final": "W"}

    #: State names that never change during training (a frozen base): kept once per run,
    #: not in every step file.
    constant_state: tuple = ()

    #: The circuit depends on the window's first step (a public per-step schedule read in
    #: ``build`` from ``b.options["t0"]``; None there means the smallest step circuit,
    #: which must be a lower bound of every window's sizes).
    window_dependent: bool = False

    #: The method's own parameters and their defaults (ints, e.g. ``{"frozen_layers": 1}``);
    #: the values a run uses are in ``self.params``, the circuit's options and the header.
    params: dict = {}

    #: The initial state (``"module:function"``, ``fn(config, **params) -> weights``),
    #: imported by the tracer only; default: the tracer's deterministic initialization.
    initial_state = "zkdl.tracer:init_weights"

    def __init__(self, params: dict | None = None):
        self.params = method_params(self, params)

    def validate(self, config: TrainConfig, steps: int) -> None:
        pass

    def build(self, b: CircuitBuilder) -> None:
        raise NotImplementedError


METHODS: dict[str, type] = {}


ENTRY_POINT_GROUP = "zkdl.methods"


def discover_methods() -> list[str]:
    """Register every method that an installed distribution declares in the entry-point
    group ``zkdl.methods`` (``name = "package.module:MethodClass"``); returns the names
    registered now. A plugin whose entry point fails to load, or names something that is
    not a :class:`Method`, is an error that names it (never silently skipped)."""
    from importlib.metadata import entry_points
    added = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in METHODS:
            continue
        try:
            cls = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure of third-party code is reported
            raise CircuitError(f"training-method plugin {ep.name!r} ({ep.value}) failed to load: "
                               f"{type(exc).__name__}: {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Method)):
            raise CircuitError(f"training-method plugin {ep.name!r} ({ep.value}) is not a Method subclass")
        register_method(cls)
        if cls.name != ep.name:
            METHODS.pop(cls.name, None)
            raise CircuitError(f"training-method plugin {ep.name!r} ({ep.value}) is named {cls.name!r}: "
                               f"the entry-point name must be the method's name")
        added.append(ep.name)
    return added


MAX_PARAM = 1 << 62


def method_params(m, given: dict | None) -> dict:
    """The defaults of method ``m`` overridden by ``given``: every key declared, every
    value an int in [-2^62, 2^62] (a clear error otherwise); sorted by name."""
    declared = dict(getattr(m, "params", {}) or {})
    given = dict(given or {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise CircuitError(f"training method {m.name!r} has no parameter {', '.join(map(repr, unknown))} "
                           f"(known: {', '.join(sorted(declared)) or 'none'})")
    out = {**declared, **given}
    for k, v in out.items():
        if type(v) is not int or abs(v) > MAX_PARAM:
            raise CircuitError(f"training method {m.name!r}: parameter {k!r} must be an int, got {str(v)[:40]!r}")
    return dict(sorted(out.items()))


def method_class(name: str) -> type:
    """The registered :class:`Method` subclass called ``name`` (installed plugins found
    through the entry-point group on first use)."""
    if name not in METHODS:
        discover_methods()
    if name not in METHODS:
        raise CircuitError(f"unknown training method {name!r} (known: {', '.join(sorted(METHODS))})")
    return METHODS[name]


def register_method(cls: type) -> type:
    """Register a :class:`Method` subclass under ``cls.name`` (usable as a decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise CircuitError(f"{cls!r} is not a Method subclass")
    METHODS[cls.name] = cls
    return cls


def build_circuit(config: TrainConfig, steps: int = 1, range_strategy: str = "bits",
                  check_initial_weights: bool = True, *, check_dataset: bool = True,
                  n_samples: int | None = None, method: str | Method = "sgd_mlp",
                  prove_loss: bool = False, method_params: dict | None = None, t0: int | None = None) -> Circuit:
    """The FAC4DNN circuit for ``steps`` consecutive training steps under ``config``.

    ``config`` must have ``n_features``/``n_classes`` (a run's config does).
    ``range_strategy``: ``"bits"`` (committed bit decompositions) or ``"logup"`` (LogUp-GKR
    lookups of 16-bit limbs, :mod:`zkdl.circuits.lookup`). ``check_initial_weights``:
    range-check W[t0] in this proof (False: the bound is inherited from a chained proof
    and the statement must say so). ``check_dataset``: range-check the committed dataset
    features once per proof. ``n_samples``: dataset rows (fixes the shape of the data
    relation; None leaves it to the statement). ``prove_loss``: the per-step sum of squared
    output errors is a public output (relation ``loss``). ``method_params``: the method's
    parameters (default: its declared defaults; recorded in the options, so the digest
    covers them). The circuit does not depend on t0, unless the method is
    ``window_dependent`` (its circuit follows a public per-step schedule, e.g. which layers
    update): then ``t0`` is recorded in the options (so the digest covers it), and
    ``t0=None`` asks for the method's smallest step circuit (the verifier's size bound).
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise CircuitError(f"steps must be a positive int, got {steps!r}")
    if range_strategy not in RANGE_STRATEGIES:
        raise CircuitError(f"unknown range strategy {range_strategy!r} (known: {', '.join(RANGE_STRATEGIES)})")
    if n_samples is not None and (not isinstance(n_samples, int) or n_samples < config.batch_size):
        raise CircuitError(f"n_samples must be an int >= batch_size, got {n_samples!r}")
    m = method_class(method)(method_params) if isinstance(method, str) else method
    try:
        dims = config.dims()
    except ConfigError as e:
        raise CircuitError(f"config lacks the data dimensions ({e})") from None
    m.validate(config, steps)
    options = {"range_strategy": range_strategy, "check_initial_weights": bool(check_initial_weights),
               "check_dataset": bool(check_dataset), "prove_loss": bool(prove_loss), "n_samples": n_samples, "dims": list(dims),
               "batch_size": config.batch_size, "layers": config.layers,
               "schedule": {"version": 1, "batch_seed": config.batch_seed},
               "statement": _statement_spec(m), "method_params": dict(m.params)}
    if getattr(m, "window_dependent", False):
        if t0 is not None and (type(t0) is not int or t0 < 0):
            raise CircuitError(f"t0 must be a non-negative int, got {t0!r}")
        options["t0"] = t0
    if range_strategy == "logup":
        options["limb_bits"] = _limb_bits(m, config, options)
    b = CircuitBuilder(config, steps, options)
    m.build(b)
    if range_strategy == "logup":
        from zkdl.circuits.gadgets import lookup_tables
        lookup_tables(b)
    c = b.circuit(m.name)
    _check_statement(c)
    return c


def _limb_bits(m: Method, config, options: dict) -> int:
    """16-bit limbs, or 8-bit ones when one step of the circuit has fewer than SMALL_BELOW
    lookups of 16-bit limbs (then the 2^16-entry table would cost more than the lookups).
    Decided on the one-step circuit, so that every window length of a config agrees (the
    verifier bounds a proof by its one-step circuit); an unknown dataset size counts as the
    batch."""
    from zkdl.circuits.lookup import LIMB_BITS, SMALL_BELOW, SMALL_LIMB_BITS, lookup_blocks
    trial = CircuitBuilder(config, 1, {**options, "limb_bits": LIMB_BITS,
                                       "n_samples": options["n_samples"] or config.batch_size,
                                       **({"t0": None} if "t0" in options else {})})
    m.build(trial)
    count = sum(trial.padded_entries(blk.layout) for blocks in lookup_blocks(trial.relations()).values()
                for blk in blocks)
    return LIMB_BITS if count >= SMALL_BELOW else SMALL_LIMB_BITS


STATEMENT_ROLES = ("dataset", "frozen", "initial", "final")  # body and transcript order


def _statement_spec(m: Method) -> dict:
    spec = getattr(m, "statement", None)
    if isinstance(spec, dict) and "frozen" not in spec:
        spec = {**spec, "frozen": []}
    roles = STATEMENT_ROLES
    if not (isinstance(spec, dict) and set(spec) == set(roles) | {"outputs"}
            and all(isinstance(spec[r], (list, tuple)) and all(isinstance(x, str) for x in spec[r]) for r in roles)
            and isinstance(spec["outputs"], dict)):
        raise CircuitError(f"method {m.name!r}: statement must be a dict of lists 'dataset', 'initial', "
                           f"'final', optionally 'frozen', and a dict 'outputs'")
    if len(spec["final"]) > len(spec["initial"]):
        raise CircuitError(f"method {m.name!r}: every final state tensor chains to one initial tensor "
                           f"(final[i] -> initial[i])")
    out = {r: list(spec[r]) for r in roles}
    if not out["frozen"]:
        del out["frozen"]       # (so that the circuits, and digests, of methods without one are unchanged)
    return {**out, "outputs": dict(spec["outputs"])}


def _check_statement(c: Circuit) -> None:
    """Every committed statement tensor has exactly one role, and every role names one."""
    spec = c.options["statement"]
    named = [b for r in STATEMENT_ROLES for b in spec.get(r, [])]
    stmt = {t.base for t in c.tensors if t.kind == "committed" and t.scope == "statement" and t.bit_of is None}
    if sorted(named) != sorted(stmt):
        raise CircuitError(f"method {c.method!r}: the statement names {sorted(named)}, the circuit commits "
                           f"statement tensors {sorted(stmt)}")
    public = {t.base for t in c.tensors if t.is_public_output}
    if not set(public) <= set(spec["outputs"]):
        raise CircuitError(f"method {c.method!r}: public outputs {sorted(public - set(spec['outputs']))} "
                           f"have no statement field")
