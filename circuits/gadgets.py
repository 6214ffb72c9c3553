"""Gadgets: reusable pieces that add tensors and relation families to a builder (pure Python).

Each gadget is a function of a :class:`~zkdl.circuits.builder.CircuitBuilder`. Other
gadgets never look at how a range check is realized: they ask :func:`range_value` for "a
range-checked tensor of n bits with offset o" and use the stacks it declares.

* :func:`range_value` / :func:`range_check` -- strategy ``bits`` (zkDL): commit the bit
  decomposition ``base.bits`` (bit axis last), prove it boolean (``b (Ind - b) = 0``,
  which also forces zero padding) and define the value by recomposition
  ``v = sum_k 2^k b_k - o Ind``; the value itself is NOT committed. Strategy ``logup``
  (LogUp-GKR, Papini-Haboeck 2023; :mod:`zkdl.circuits.lookup`): commit the value (unless
  a relation defines it) and its limbs above the lowest; :func:`lookup_tables` adds the
  tables and their multiplicities.
* :func:`zkrelu_forward` / :func:`zkrelu_backward` -- zkReLU (zkDL section 3): sign bits S
  committed once; ``U = Z' + 2^(Q-1) S`` in ``[0, 2^(Q-1))`` (so S is the sign of Z');
  ``A = (1 - S) * Z'``; backward ``G_Z = (1 - S) * G_A'`` with the same S.
* :func:`gather` -- a stack whose instances are instances of other stacks (the inputs
  A[l-1], W[l+1], G_Z[l+1] of a layer run), defined by an instance map.
* :func:`rescaled_matmul` -- ``coef * op(X) @ op(Y) = 2^s Q + rem`` (forward, backward,
  weight gradient with the learning rate a / 2^k folded into coef and s).
* :func:`mse_gradient` -- ``G_Z_L = Z'_L - Y``.
* :func:`mse_loss_output` -- optional public output ``loss[t] = sum G_Z_L[t]^2``.
* :func:`initial_weights`, :func:`weight_chain` -- W[t0] in the statement (range-checked
  once unless inherited) and ``W[t] = W[t0] - sum_{s<t} dW[s]`` (Pedersen homomorphism),
  plus ``W_final = W[t0+T]``.
* :func:`data_selection` -- ``A_0[t] = Sel[t] X`` and ``Y[t] = Sel[t] Ydata`` for the
  committed dataset (X, one-hot targets times 2^R Ydata) and the public batch schedule Sel.
"""

from __future__ import annotations

import dataclasses

from zkdl.circuits.builder import CircuitBuilder, Op
from zkdl.circuits.ir import CircuitError, next_pow2
from zkdl.circuits.lookup import LIMB_BITS, limb_widths

__all__ = ["range_value", "range_check", "zkrelu_forward", "zkrelu_backward", "rescaled_matmul",
           "mse_gradient", "mse_loss_output", "initial_weights", "weight_chain", "data_selection", "zero_padding",
           "gather", "selection_indices", "lookup_tables"]


def _instances(b: CircuitBuilder, layers, steps=None):
    steps = range(b.T) if steps is None else steps
    return [(t, l) for t in steps for l in layers]


def _range_relations(b: CircuitBuilder, base: str, layers, shape, n: int, offset: int, *, scope: str,
                     steps, role):
    """Bits or limbs plus the range family for existing value stacks ``base``."""
    if not 1 <= n or not 0 <= offset < (1 << n) + 1:
        raise CircuitError(f"range for {base}: need n >= 1 and 0 <= offset <= 2^n, got n={n}, offset={offset}")
    insts = _instances(b, layers, steps)
    step_fn = None if steps is None else (lambda t: [t])
    if b.range_strategy == "bits":
        b.stacks(f"{base}.bits", layers, lambda l: (*shape(l), n), kind="committed", scope=scope,
                 steps=steps, role=role, lo=0, hi=1, nbits=n, bit_of=base)
        b.relation(f"bool:{base}.bits", "booleanity", insts, [Op("bits", f"{base}.bits", steps=step_fn)])
        b.relation(f"range:{base}", "range", insts,
                   [Op("value", base, steps=step_fn), Op("bits", f"{base}.bits", steps=step_fn)],
                   {"n": n, "offset": offset, "strategy": "bits"})
    elif b.range_strategy == "logup":
        ops = [Op("value", base, steps=step_fn)]
        lb = b.options.get("limb_bits", LIMB_BITS)
        for k, w in enumerate(limb_widths(n, lb)[1:], 1):   # the lowest limb is derived (circuits.lookup)
            b.stacks(f"{base}.limb{k}", layers, shape, kind="committed", scope=scope, steps=steps, role=role,
                     lo=0, hi=(1 << w) - 1, nbits=w, bit_of=base, source=f"limb.{k}")
            ops.append(Op("limb", f"{base}.limb{k}", steps=step_fn))
        b.relation(f"range:{base}", "range", insts, ops,
                   {"n": n, "offset": offset, "strategy": "logup", "limb_bits": lb})
    else:
        raise CircuitError(f"unknown range strategy {b.range_strategy!r}")


def range_value(b: CircuitBuilder, base: str, layers, shape, n: int, offset: int, *, scope: str = "step",
                steps=None, role=None, source=None, defined: bool = False) -> list[str]:
    """Declare ``base`` as a range-checked tensor: every entry v has ``v + offset`` in
    ``[0, 2^n)``. Returns its stack names. Strategy ``bits``: derived from its bits.
    Strategy ``logup``: committed, unless ``defined`` (another relation the caller adds
    next defines it, e.g. the remainder of a rescaled matmul: then nothing is committed
    for it, and its lookup claims reduce through that relation)."""
    if b.range_strategy == "bits":
        kind = "derived_linear"
    else:
        kind = "derived_product" if defined else "committed"
    names = b.stacks(base, layers, shape, kind=kind, scope=scope, steps=steps, role=role,
                     lo=-offset, hi=(1 << n) - 1 - offset, source=source)
    _range_relations(b, base, layers, shape, n, offset, scope=scope, steps=steps, role=role)
    return names


def range_check(b: CircuitBuilder, base: str, layers, shape, n: int, offset: int, *, scope: str = "step",
                steps=None, role=None) -> None:
    """Range-check an already declared committed tensor ``base`` (e.g. W[t0], the dataset)."""
    _range_relations(b, base, layers, shape, n, offset, scope=scope, steps=steps, role=role)


def lookup_tables(b: CircuitBuilder) -> None:
    """One table per limb width of the circuit's ``logup`` range relations: its committed
    multiplicities ``logup.m<w>`` (one instance per proof) and the relation ``lookup:T<w>``
    that proves every lookup of that width (circuits.lookup)."""
    from zkdl.circuits.lookup import lookup_blocks
    blocks = lookup_blocks(b.relations())
    for w in sorted(blocks):
        sizes = [b.padded_entries(blk.layout) for blk in blocks[w]]
        count = None if None in sizes else sum(sizes)       # None: the dataset size is not known yet
        b.stacks(f"logup.m{w}", [0], lambda l: (1 << w,), kind="committed", scope="proof", steps=[0],
                 lo=0, hi=(1 << 62) if count is None else count, source="lookup.multiplicity")
        b.relation(f"lookup:T{w}", "lookup", [(0, 0)], [Op("mult", f"logup.m{w}")], {"table_bits": w})


def zkrelu_forward(b: CircuitBuilder, layers, shape, Q: int) -> None:
    """Sign bits S, range-checked U = Z' + 2^(Q-1) S, Z' = U - 2^(Q-1) S, A = (1 - S) * Z'."""
    if not layers:
        return
    half = 1 << (Q - 1)
    insts = _instances(b, layers)
    b.stacks("S", layers, shape, kind="committed", lo=0, hi=1, source=[[1, "S_{l}"]])
    b.relation("bool:S", "booleanity", insts, [Op("bits", "S")])
    range_value(b, "U", layers, shape, Q - 1, 0, source=[[1, "Zp_{l}"], [half, "S_{l}"]])
    b.stacks("Zp", layers, shape, kind="derived_linear", role=lambda l: "hidden", source=[[1, "Zp_{l}"]])
    b.relation("zkrelu_sign", "linear", insts, [Op("out", "Zp"), Op("term", "U"), Op("term", "S", coef=-half)])
    b.stacks("A", layers, shape, kind="derived_product", source=[[1, "A_{l}"]])
    b.relation("relu_fwd", "hadamard", insts, [Op("out", "A"), Op("mask", "S"), Op("x", "Zp")],
               {"c0": 1, "c1": -1})


def zkrelu_backward(b: CircuitBuilder, layers, shape) -> None:
    """G_Z = (1 - S) * G_A' with the forward sign bits S."""
    if not layers:
        return
    b.stacks("G_Z", layers, shape, kind="derived_product", role=lambda l: "hidden", source=[[1, "G_Z_{l}"]])
    b.relation("relu_bwd", "hadamard", _instances(b, layers),
               [Op("out", "G_Z"), Op("mask", "S"), Op("x", "G_Ap")], {"c0": 1, "c1": -1})


def gather(b: CircuitBuilder, base: str, src: str, layers, shape, layer_of, source) -> None:
    """Derived stacks ``base[t, l] = src[t, layer_of(l)]``, stacked by the layer runs of
    ``layers`` (e.g. the inputs A[l-1] of each run, which come from the data for l = 1):
    one ``linear`` family per stack, a term per source stack (an instance map)."""
    b.stacks(base, layers, shape, kind="derived_linear", source=source)
    b.relation(f"gather:{base}", "linear", _instances(b, layers),
               [Op("out", base), Op("term", src, layer=layer_of)], gather=True)


def rescaled_matmul(b: CircuitBuilder, name: str, instances, *, left: Op, right: Op, quotient: str,
                    remainder: str, shift: int, coef: int = 1) -> None:
    """``coef * op(left) @ op(right) = 2^shift * quotient + remainder`` (round half up
    rescale when remainder is range-checked to ``[-2^(shift-1), 2^(shift-1))``)."""
    ops = [dataclasses.replace(left, role="left", coef=coef), dataclasses.replace(right, role="right", coef=1),
           Op("out", quotient, coef=1 << shift), Op("out", remainder, coef=1)]
    b.relation(name, "matmul", instances, ops, {"shift": shift, "coef": coef})


def mse_gradient(b: CircuitBuilder, L: int, shape) -> None:
    """Output gradient of 0.5 ||Z'_L - Y||^2: G_Z_L = Z'_L - Y."""
    b.stacks("G_Z", [L], shape, kind="derived_linear", role=lambda l: "out", source=[[1, "G_Z_{l}"]])
    b.relation("mse_grad", "linear", _instances(b, [L]),
               [Op("out", "G_Z"), Op("term", "Zp"), Op("term", "Y", coef=-1)])


def mse_loss_output(b: CircuitBuilder, L: int) -> None:
    """Public output ``loss[t] = sum_{b,j} G_Z_L[t, b, j]^2`` (twice the summed MSE loss at
    scale 2^(2R)); the statement carries the values, one sumcheck proves them."""
    b.stacks("loss", [L], lambda l: (1,), kind="public", lo=0, hi=0, source="output.loss")
    b.relation("loss", "sum_squares", _instances(b, [L]), [Op("out", "loss"), Op("x", "G_Z")])


def zero_padding(b: CircuitBuilder, stacks) -> None:
    """Statement tensors are zero outside their logical box (relation kind ``padding``),
    checked in every proof wherever the box is smaller than the padded shape (an unknown
    dataset size counts as smaller): the claimed architecture and dataset size cannot hide
    extra units or rows in the padding."""
    for name in stacks:
        t = b.tensor(name)
        if any(s is None or s != next_pow2(s) for s in t.shape):
            b.relation(f"pad:{t.base}", "padding", [(0, l) for _, l in t.instances],
                       [Op("x", t.base, steps=lambda _t: [0])])


def initial_weights(b: CircuitBuilder, base: str, layers, shape, Q: int, *, check: bool,
                    trace: str = "W") -> None:
    """W[t0] (statement commitment), range-checked to Q bits here unless inherited, and zero
    outside the logical layer shapes (every proof). ``trace``: the tracer's name of the
    state (``{trace}_{l}`` at the window's first step)."""
    half = 1 << (Q - 1)
    names = b.stacks(base, layers, shape, kind="committed", scope="statement", steps=[0], lo=-half,
                     hi=half - 1, source=[[1, trace + "_{l}"]])
    zero_padding(b, names)
    if check:
        range_check(b, base, layers, shape, Q, half, scope="statement", steps=[0])


def weight_chain(b: CircuitBuilder, base: str, initial: str, update: str, layers, shape, *,
                 trace: str = "W") -> None:
    """W[t] = W[t0] - sum_{s<t} dW[s] for t < T, and the statement's output W_final =
    W[t0+T] (committed, like W[t0]; the next proof of a chain starts from it) =
    W[t0] - sum_{s<T} dW[s]. ``trace``: the tracer's name of the chained state (its
    tensors ``{trace}_{l}`` before and ``{trace}_next_{l}`` after each step)."""
    T = b.T
    b.stacks(base, layers, shape, kind="derived_linear", source=[[1, trace + "_{l}"]])
    name = "chain" if trace == "W" else f"chain:{base}"
    b.relation(name, "chain", _instances(b, layers),
               [Op("out", base), Op("term", initial, steps=lambda t: [0]),
                Op("term", update, coef=-1, steps=lambda t: list(range(t)))], gather=True)
    lo = min(b.bound(b.stack_of(initial, l))[0] for l in layers)
    hi = max(b.bound(b.stack_of(initial, l))[1] for l in layers)
    du = max(max(abs(v) for v in b.bound(b.stack_of(update, l))) for l in layers)
    b.stacks(f"{base}_final", layers, shape, kind="committed", scope="statement", steps=[T - 1],
             lo=lo - T * du, hi=hi + T * du, source=[[1, trace + "_next_{l}"]])
    b.relation(name + "_final" if trace == "W" else f"chain_final:{base}", "chain", _instances(b, layers, [T - 1]),
               [Op("out", f"{base}_final", steps=lambda t: [t]), Op("term", initial, steps=lambda t: [0]),
                Op("term", update, coef=-1, steps=lambda t: list(range(T)))], gather=True)


def data_selection(b: CircuitBuilder, *, check: bool) -> None:
    """Committed dataset (X: N x d_0, Ydata: N x d_L one-hot targets times 2^R), public
    selection Sel[t] (B x N, row b has a 1 at column batch_indices(seed, N, B, t0 + t)[b]);
    A_0[t] = Sel[t] X, Y[t] = Sel[t] Ydata. Both are zero outside N x d (rows >= N included)
    in every proof. ``check``: range-check X to Q bits and prove Ydata one-hot times 2^R
    (every entry 0 or 2^R, each of the N rows summing to 2^R) in this proof; otherwise both
    are inherited from a chained proof."""
    cfg = b.config
    L, R, Q, B = cfg.layers, cfg.R, cfg.Q, cfg.batch_size
    d = b.dims
    N = b.n_samples
    half = 1 << (Q - 1)
    b.stacks("Xdata", [0], lambda l: (N, d[0]), kind="committed", scope="statement", steps=[0],
             lo=-half, hi=half - 1, source="dataset.X")
    if check:
        range_check(b, "Xdata", [0], lambda l: (N, d[0]), Q, half, scope="statement", steps=[0])
    b.stacks("Ydata", [L], lambda l: (N, d[L]), kind="committed", scope="statement", steps=[0],
             lo=0, hi=1 << R, source="dataset.targets")
    zero_padding(b, [b.stack_of("Xdata", 0), b.stack_of("Ydata", L)])
    if check:
        b.relation("bool:Ydata", "booleanity", [(0, L)], [Op("bits", "Ydata")], {"one": 1 << R})
        b.relation("onehot:Ydata", "row_sum", [(0, L)], [Op("x", "Ydata")], {"value": 1 << R})
    b.stacks("Sel", [0], lambda l: (B, N), kind="public", lo=0, hi=1, source="schedule")
    b.stacks("A", [0], lambda l: (B, d[0]), kind="derived_linear", source=[[1, "A_{l}"]])
    b.stacks("Y", [L], lambda l: (B, d[L]), kind="derived_linear", source=[[1, "Y"]])
    sched = {"schedule": "zkdl/schedule/v1", "batch_seed": cfg.batch_seed, "batch_size": B}
    b.relation("data_X", "data", _instances(b, [0]),
               [Op("out", "A"), Op("select", "Sel"), Op("table", "Xdata", steps=lambda t: [0])],
               {"coef": 1, **sched})
    b.relation("data_Y", "data", _instances(b, [L]),
               [Op("out", "Y"), Op("select", "Sel", layer=lambda l: 0), Op("table", "Ydata", steps=lambda t: [0])],
               {"coef": 1, **sched})


def selection_indices(circuit, n_samples: int, t0: int = 0) -> list[list[int]]:
    """The public selection of the data relations: for each step t of the window, the
    dataset rows ``batch_indices(batch_seed, n_samples, B, t0 + t)`` (row b of Sel[t] has
    its single 1 in that column). Pure Python, for the verifier."""
    from zkdl.schedule import batch_indices

    n = circuit.options.get("n_samples")
    if n is not None and n != n_samples:
        raise CircuitError(f"the circuit was built for {n} dataset rows, not {n_samples}")
    sched = circuit.options["schedule"]
    B = circuit.options["batch_size"]
    try:
        return [batch_indices(sched["batch_seed"], n_samples, B, t0 + t) for t in range(circuit.steps)]
    except ValueError as e:
        raise CircuitError(f"batch schedule: {e}") from None
