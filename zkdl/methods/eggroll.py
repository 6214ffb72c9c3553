"""Training method ``eggroll``: integer evolution strategies with low-rank perturbations
(pure Python, verifier-safe).

EGGROLL (evolution strategies with low-rank perturbations; ../shared/REFERENCES.md) in
exact integers, with no backward pass. At step t, for each of N antithetic pairs i and
each layer l, the public factors (from the method's ``seed``, the absolute step, i and l;
:func:`factor_supports`)

    A_i = 1[S_A+] - 1[S_A-]   (d_{l-1} x r, entries in {-1, 0, 1})
    B_i = 1[S_B]              (d_l x r, entries in {0, 1})

are scatters of a public all-ones vector onto random supports of
``floor(rows r density / 1000)`` entries (:func:`zkdl.support.support_positions`; the
entries relation). Member (i, +) runs the model with W + 2^(R-ks) A_i B_i^T, member
(i, -) with W - 2^(R-ks) A_i B_i^T (sigma = 2^-ks), each its own forward pass on the
step's batch (integers at scale 2^R, round half up, remainders range-checked):

    ZW = Ain W;  F = Ain A_i;  2^R Z' + rem = ZW +- 2^(R-ks) F B_i^T   (zkReLU on hidden layers)
    loss_m = sum (Z'_L - Y)^2                                          (committed, sum_squares)
    d_i = loss_(i,-) - loss_(i,+);  S_i = [d_i < 0];  f_i = 1 - 2 S_i  (ties: f_i = +1)
    Z = sum_i f_i A_i B_i^T                                            (per layer, |Z| <= N r)
    move = [Z > thr] - [Z < -thr];  W' = W + 2^(R-ke) move             (step 2^-ke)

The signs are zkReLU's pattern: d_i + 2^62 S_i in [0, 2^62) (range check; S_i boolean)
and, per weight, Z - thr - 1 + 2^(n-1) Sa and -Z - thr - 1 + 2^(n-1) Sb in [0, 2^(n-1))
(linear constraints with a constant, range checks), so move = Sb - Sa.

Instances of the per-member, per-pair and per-fitness tensors use *virtual layer ids*
(:func:`member_id`, :func:`pair_id`, :func:`fitness_id`) next to the real layers 1..L;
the supports are keyed by the pair id, per step through the entries relation's seed (the
circuit of a window depends on its t0: ``window_dependent``). Parameters: ``pairs`` N (4),
``rank`` r (2), ``density_permille`` (500), ``sigma_shift`` ks (5), ``step_shift`` ke
(8), ``threshold`` thr (0), ``seed`` (0).
"""

from __future__ import annotations

import hashlib
import json

from zkdl.circuits.builder import CircuitBuilder, Method, Op, register_method
from zkdl.circuits.ir import CircuitError
from zkdl.circuits.sgd_mlp import mlp_layer_runs
from zkdl.methods.lora import _product_bound
from zkdl.support import SUPPORT_VERSION, support_count, support_positions

__all__ = ["EggrollMethod", "member_id", "pair_id", "fitness_id", "layer_of", "perturbation_seed",
           "factor_supports", "FACTORS", "FIT_SHIFT"]

MEMBER, PAIR, FIT = 100000, 200000, 300000
MAX_PAIRS = 256
MAX_LAYERS = 99
MAX_RANK = 64
FIT_SHIFT = 62            # d_i + 2^62 S_i in [0, 2^62): every honest |d_i| < 2^62
FACTORS = ("A+", "A-", "B")


def member_id(m: int, l: int) -> int:
    """Virtual layer id of member m (pair m // 2, sign + for even m, - for odd) at layer l."""
    return MEMBER + 100 * m + l


def pair_id(i: int, l: int) -> int:
    """Virtual layer id of pair i's perturbation factors at layer l."""
    return PAIR + 100 * i + l


def fitness_id(i: int) -> int:
    """Virtual layer id of pair i's fitness (d_i, S_i)."""
    return FIT + i


def layer_of(v: int) -> int:
    """The real layer of a (virtual) layer id."""
    return v % 100


def perturbation_seed(seed: int, step: int, which: str) -> int:
    """The support seed of factor ``which`` (A+, A-, B) at absolute step ``step``: the
    first 8 bytes of SHA-256("zkdl/eggroll/v1|[seed, step, which]") shifted down to 62 bits."""
    h = hashlib.sha256(b"zkdl/eggroll/v1|" + json.dumps([int(seed), int(step), which]).encode()).digest()
    return int.from_bytes(h[:8], "big") >> 2


def factor_shape(dims, l: int, rank: int, which: str) -> tuple:
    return (dims[l - 1] if which != "B" else dims[l], rank)


def factor_supports(seed: int, step: int, i: int, l: int, dims, rank: int, permille: int) -> dict:
    """which -> (rows, cols, sorted flat positions) of pair i's factors at layer l, step."""
    out = {}
    for which in FACTORS:
        rows, cols = factor_shape(dims, l, rank, which)
        count = support_count(rows, cols, permille)
        out[which] = (rows, cols, support_positions(perturbation_seed(seed, step, which), pair_id(i, l),
                                                    rows, cols, count))
    return out


def _insts(b: CircuitBuilder, layers, steps=None):
    return [(t, l) for t in (range(b.T) if steps is None else steps) for l in layers]


class EggrollMethod(Method):
    """Integer EGGROLL evolution strategies of the bias-free ReLU MLP (module docstring)."""

    name = "eggroll"
    params = {"pairs": 4, "rank": 2, "density_permille": 500, "sigma_shift": 5, "step_shift": 8,
              "threshold": 0, "seed": 0}
    tracer_step = "zkdl.methods.eggroll_trace:trace_step"
    statement = {"dataset": ["Xdata", "Ydata"], "initial": ["W0"], "final": ["W_final"], "outputs": {}}
    window_dependent = True

    def validate(self, config, steps: int) -> None:
        p = self.params
        if config.loss != "mse":
            raise CircuitError(f"eggroll supports loss 'mse' only, got {config.loss!r}")
        if config.layers > MAX_LAYERS:
            raise CircuitError(f"eggroll: at most {MAX_LAYERS} layers, got {config.layers}")
        checks = [("pairs", 1, MAX_PAIRS), ("rank", 1, MAX_RANK), ("density_permille", 1, 1000),
                  ("sigma_shift", 0, config.R), ("step_shift", 0, config.R), ("threshold", 0, 1 << 20),
                  ("seed", 0, (1 << 62) - 1)]
        for k, lo, hi in checks:
            if not lo <= p[k] <= hi:
                raise CircuitError(f"eggroll: {k} must be in {lo}..{hi}, got {p[k]}")

    def build(self, b: CircuitBuilder) -> None:
        from zkdl.circuits import gadgets as g
        # (no public loss output: each member's loss is committed and proven; ``prove_loss``
        # adds nothing)
        cfg, T, d, B = b.config, b.T, b.dims, b.config.batch_size
        L, R, Q = cfg.layers, cfg.R, cfg.Q
        p = self.params
        N, r, ks, ke, thr = p["pairs"], p["rank"], p["sigma_shift"], p["step_shift"], p["threshold"]
        t0 = b.options.get("t0") or 0
        ALL = list(range(1, L + 1))
        MEM = [member_id(m, l) for m in range(2 * N) for l in ALL]
        HID = [v for v in MEM if layer_of(v) < L]
        OUT = [v for v in MEM if layer_of(v) == L]
        PAIRS = [pair_id(i, l) for i in range(N) for l in ALL]
        FITS = [fitness_id(i) for i in range(N)]
        lay = layer_of
        wshape = lambda l: (d[lay(l) - 1], d[lay(l)])  # noqa: E731
        act = lambda v: (B, d[lay(v)])  # noqa: E731
        pair_of = lambda v: pair_id((v - MEMBER) // 100 // 2, lay(v))  # noqa: E731
        shape = {w: (lambda u, w=w: factor_shape(d, lay(u), r, w)) for w in FACTORS}
        counts = {(w, u): support_count(*shape[w](u), p["density_permille"]) for w in FACTORS for u in PAIRS}
        b.set_layer_runs(mlp_layer_runs(d)
                         + [[member_id(m, l) for m in range(s, 2 * N, 2)] for s in (0, 1) for l in ALL]
                         + [[pair_id(i, l) for i in range(N)] for l in ALL] + [FITS])

        # statement: W0 and the dataset
        g.initial_weights(b, "W0", ALL, wshape, Q, check=b.options["check_initial_weights"])
        g.data_selection(b, check=b.options["check_dataset"])

        # the update's sign bits and the weight chain W[t] = W0 - sum dW, dW = 2^(R-ke) (Sa - Sb)
        nz = (N * r + thr + 1).bit_length() + 1
        hz = 1 << (nz - 1)
        for s in ("Sa", "Sb"):
            b.stacks(s, ALL, wshape, kind="committed", lo=0, hi=1, source=[[1, s + "_{l}"]])
            b.relation(f"bool:{s}", "booleanity", _insts(b, ALL), [Op("bits", s)])
        step = 1 << (R - ke)
        b.stacks("dW", ALL, wshape, kind="derived_linear", source=[[1, "dW_{l}"]])
        b.relation("move", "linear", _insts(b, ALL),
                   [Op("out", "dW"), Op("term", "Sa", coef=step), Op("term", "Sb", coef=-step)])
        g.weight_chain(b, "W", "W0", "dW", ALL, wshape)

        # the public perturbation factors: per step, scatters of a public all-ones vector
        cmax = max(counts.values())
        b.stacks("ONE", [0], lambda l: (cmax, 1), kind="derived_linear", steps=[0], source=[[1, "ONE"]])
        b.relation("ones", "linear", [(0, 0)], [Op("out", "ONE")], {"const": 1})
        trace = {"A+": "PA", "A-": "NA", "B": "PB"}
        for t in range(T):
            for w in FACTORS:
                base = f"{trace[w]}{t}"
                b.stacks(base, PAIRS, shape[w], kind="derived_linear", steps=[t],
                         source=[[1, trace[w] + "_{l}"]])
                b.relation(f"perturb_{trace[w]}:{t}", "entries", _insts(b, PAIRS, [t]),
                           [Op("out", base), Op("table", "ONE", layer=lambda u: 0, steps=lambda t: [0])],
                           {"support": SUPPORT_VERSION, "seed": perturbation_seed(p["seed"], t0 + t, w),
                            "layers": {str(u): [*shape[w](u), counts[(w, u)]] for u in PAIRS},
                            "direction": "scatter"})

        def at(s):
            return lambda t, s=s: [t] if t == s else []
        b.stacks("Ap", PAIRS, shape["A+"], kind="derived_linear", source=[[1, "Ap_{l}"]])
        b.relation("factor_A", "linear", _insts(b, PAIRS),
                   [Op("out", "Ap")] + [Op("term", f"PA{s}", steps=at(s)) for s in range(T)]
                   + [Op("term", f"NA{s}", coef=-1, steps=at(s)) for s in range(T)], gather=True)
        b.stacks("Bp", PAIRS, shape["B"], kind="derived_linear", source=[[1, "Bp_{l}"]])
        b.relation("factor_B", "linear", _insts(b, PAIRS),
                   [Op("out", "Bp")] + [Op("term", f"PB{s}", steps=at(s)) for s in range(T)], gather=True)

        # every member's forward pass: its inputs, W, its pair's factors gathered per member
        g.zkrelu_forward(b, HID, act, Q)
        g.range_value(b, "Zp", OUT, act, Q, 1 << (Q - 1), role=lambda v: "out", source=[[1, "Zp_{l}"]])
        g.range_value(b, "remZ", MEM, act, R, 1 << (R - 1), source=[[1, "remZ_{l}"]], defined=True)
        g.gather(b, "Ain", "A", MEM, lambda v: (B, d[lay(v) - 1]), lambda v: v - 1 if lay(v) > 1 else 0,
                 [[1, "Ain_{l}"]])
        g.gather(b, "Wg", "W", MEM, wshape, lay, [[1, "Wg_{l}"]])
        g.gather(b, "Pa", "Ap", MEM, shape["A+"], pair_of, [[1, "Pa_{l}"]])
        g.gather(b, "Pb", "Bp", MEM, shape["B"], pair_of, [[1, "Pb_{l}"]])
        zb = _product_bound(b, "Ain", "Wg", MEM, lambda v: d[lay(v) - 1])
        b.stacks("ZW", MEM, act, kind="derived_product", lo=-zb, hi=zb, source=[[1, "ZW_{l}"]])
        b.relation("member_base", "matmul", _insts(b, MEM),
                   [Op("left", "Ain"), Op("right", "Wg"), Op("out", "ZW")], {"shift": 0, "coef": 1})
        fb = _product_bound(b, "Ain", "Pa", MEM, lambda v: d[lay(v) - 1])
        b.stacks("F", MEM, lambda v: (B, r), kind="derived_product", lo=-fb, hi=fb, source=[[1, "F_{l}"]])
        b.relation("member_down", "matmul", _insts(b, MEM),
                   [Op("left", "Ain"), Op("right", "Pa"), Op("out", "F")], {"shift": 0, "coef": 1})
        for sign in (0, 1):
            c = (1 << (R - ks)) * (1 - 2 * sign)
            b.relation("member_forward", "matmul", _insts(b, [v for v in MEM if (v - MEMBER) // 100 % 2 == sign]),
                       [Op("left", "F", coef=c), Op("right", "Pb", transpose=True), Op("out", "Zp", coef=1 << R),
                        Op("out", "remZ"), Op("out", "ZW", coef=-1)], {"shift": R, "coef": c})

        # scores: loss_m = sum (Z'_L - Y)^2, committed per member
        b.stacks("Gm", OUT, act, kind="derived_linear", source=[[1, "Gm_{l}"]])
        b.relation("member_error", "linear", _insts(b, OUT),
                   [Op("out", "Gm"), Op("term", "Zp"), Op("term", "Y", coef=-1, layer=lambda v: L)], gather=True)
        gmax = max(abs(x) for x in b.bound(b.stack_of("Gm", OUT[0])))
        b.stacks("Lm", OUT, lambda v: (1,), kind="committed", lo=0, hi=B * d[L] * gmax * gmax,
                 source=[[1, "Lm_{l}"]])
        b.relation("member_loss", "sum_squares", _insts(b, OUT), [Op("out", "Lm"), Op("x", "Gm")])

        # fitness: d_i = loss_- - loss_+, its sign bit S_i (d_i + 2^62 S_i in [0, 2^62))
        one = lambda v: (1,)  # noqa: E731
        b.stacks("Dd", FITS, one, kind="derived_linear", source=[[1, "Dd_{l}"]])
        b.relation("fitness_gap", "linear", _insts(b, FITS),
                   [Op("out", "Dd"), Op("term", "Lm", layer=lambda q: member_id(2 * (q - FIT) + 1, L)),
                    Op("term", "Lm", coef=-1, layer=lambda q: member_id(2 * (q - FIT), L))], gather=True)
        b.stacks("Sf", FITS, one, kind="committed", lo=0, hi=1, source=[[1, "Sf_{l}"]])
        b.relation("bool:Sf", "booleanity", _insts(b, FITS), [Op("bits", "Sf")])
        g.range_value(b, "Uf", FITS, one, FIT_SHIFT, 0, source=[[1, "Uf_{l}"]])
        b.relation("fitness_sign", "linear", _insts(b, FITS),
                   [Op("out", "Dd"), Op("term", "Uf"), Op("term", "Sf", coef=-(1 << FIT_SHIFT))], {"check": True})

        # the update: Z = sum_i (1 - 2 S_i) A_i B_i^T, per layer
        b.stacks("SG", PAIRS, one, kind="derived_linear", source=[[1, "SG_{l}"]])
        b.relation("gather:SG", "linear", _insts(b, PAIRS),
                   [Op("out", "SG"), Op("term", "Sf", layer=lambda u: fitness_id((u - PAIR) // 100))], gather=True)
        b.stacks("SB", PAIRS, shape["A+"], kind="derived_linear", source=[[1, "SB_{l}"]])
        b.relation("fitness_spread", "broadcast", _insts(b, PAIRS), [Op("out", "SB"), Op("x", "SG")])
        b.stacks("Fa", PAIRS, shape["A+"], kind="derived_product", source=[[1, "Fa_{l}"]])
        b.relation("fitness_apply", "hadamard", _insts(b, PAIRS),
                   [Op("out", "Fa"), Op("mask", "SB"), Op("x", "Ap")], {"c0": 1, "c1": -2})
        b.stacks("Zi", PAIRS, wshape, kind="derived_product", lo=-r, hi=r, source=[[1, "Zi_{l}"]])
        b.relation("pair_update", "matmul", _insts(b, PAIRS),
                   [Op("left", "Fa"), Op("right", "Bp", transpose=True), Op("out", "Zi")], {"shift": 0, "coef": 1})
        b.stacks("ZS", ALL, wshape, kind="derived_linear", source=[[1, "ZS_{l}"]])
        b.relation("update_sum", "linear", _insts(b, ALL),
                   [Op("out", "ZS")] + [Op("term", "Zi", layer=lambda l, i=i: pair_id(i, l)) for i in range(N)],
                   gather=True)
        # move = [Z > thr] - [Z < -thr]: Ua = Z - thr - 1 + 2^(n-1) Sa, Ub = -Z - thr - 1 + 2^(n-1) Sb
        for u, s, c in (("Ua", "Sa", 1), ("Ub", "Sb", -1)):
            g.range_value(b, u, ALL, wshape, nz - 1, 0, source=[[1, u + "_{l}"]])
            b.relation(f"threshold_{'pos' if c == 1 else 'neg'}", "linear", _insts(b, ALL),
                       [Op("out", u), Op("term", "ZS", coef=c), Op("term", s, coef=hz)],
                       {"check": True, "const": -(thr + 1)})


register_method(EggrollMethod)
