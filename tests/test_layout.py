"""The circuit IR and the proof layout stack the same committed tensors (issue 14, step 1).

Every committed stack of the proof (``verifier/plan.py`` ``Plan.committed()`` and the
statement commitments) is one stack of the FAC4DNN circuit whose digest the proof
carries: same layers (the power-of-two runs of ``mlp_layer_runs``), same padded shape
with the bit axis last, same instance order (t 2^k + lf), and the targets committed as
one-hot times 2^R. Known remaining difference, for the compiler step: where two layers of
one run have different logical shapes (per-layer widths that pad alike) the IR keeps one
stack per logical shape."""

import pytest

from zkdl.config import TrainConfig
from zkdl.verifier.plan import make_plan
from zkdl.verifier.verify import circuit_for

BASE = {"S": "S", "RZ": "remZ.bits", "GA": "G_Ap.bits", "RG": "remGA.bits", "DW": "dW.bits",
        "RW": "remW.bits", "W0B": "W0.bits", "XB": "Xdata.bits"}

CONFIGS = [
    dict(width=32, batch_size=32, n_features=16, n_classes=4),           # the default job
    dict(width=16, batch_size=8, n_features=16, n_classes=4),
    dict(width=(6, 5), batch_size=3, n_features=3, n_classes=3),
    dict(width=8, layers=3, batch_size=5, n_features=7, n_classes=2),
]


def ir_stack(circuit, base, layer):
    (t,) = [t for t in circuit.tensors if t.base == base and any(l == layer for _, l in t.instances)]
    return t


def cases():
    for i, kw in enumerate(CONFIGS):
        for T in (1, 3):
            for first in (True, False):
                yield pytest.param(kw, T, first, id=f"cfg{i}-T{T}-{'first' if first else 'chained'}")


@pytest.mark.parametrize("kw,T,first", list(cases()))
def test_committed_stacks_agree(kw, T, first):
    cfg = TrainConfig(lr_shift=9, **kw)
    N = 40
    plan = make_plan(cfg, 1, T, N, first, first)
    c = circuit_for(plan, cfg)
    seen = set()
    for kind, fam, shape in plan.committed():
        base = BASE.get(kind) or ("U.bits" if fam.relu else "Zp.bits")
        if kind == "XB":   # the dataset's bits (reported under family 0)
            t = ir_stack(c, base, 0)
            seen.add(t.name)
            assert t.padded == shape
            continue
        t = ir_stack(c, base, fam.layers[0])
        seen.add(t.name)
        assert {l for _, l in t.instances} == set(fam.layers), (kind, t.name)
        assert (t.stack, *t.padded) == shape, (kind, t.name)
        steps = [0] if kind == "W0B" else range(T)
        for tt in steps:
            for lf, layer in enumerate(fam.layers):
                assert t.index(tt, layer) == plan.inst(fam, tt, lf)
    ir_committed = {t.name for t in c.tensors if t.kind == "committed" and t.base.endswith((".bits", "S"))}
    assert ir_committed == seen


@pytest.mark.parametrize("kw", CONFIGS)
def test_statement_stacks_agree(kw):
    cfg = TrainConfig(lr_shift=9, **kw)
    plan = make_plan(cfg, 0, 2, 40)
    c = circuit_for(plan, cfg)
    for fam in plan.families:
        for base in ("W0", "W_final"):      # the statement's W[t0] and W[t0+T] commitments
            t = ir_stack(c, base, fam.layers[0])
            assert t.kind == "committed" and t.scope == "statement"
            assert [l for _, l in t.instances] == list(fam.layers)
            assert (t.stack, *t.padded) == (fam.Lp, fam.din, fam.dout)
    X, Y = ir_stack(c, "Xdata", 0), ir_stack(c, "Ydata", plan.L)
    assert X.padded == (1 << plan.nbits_log, plan.pdims[0]) and Y.padded == (1 << plan.nbits_log, plan.pdims[-1])
    assert (Y.lo, Y.hi) == (0, 1 << cfg.R)               # committed as one-hot times 2^R, as the proof does
    bools = {r.name: r.params for r in c.relations if r.kind == "booleanity"}
    assert bools["bool:Ydata[3]" if plan.L == 3 else f"bool:Ydata[{plan.L}]"] == {"one": 1 << cfg.R}


@pytest.mark.parametrize("kw,T,first", list(cases()))
def test_relation_families_agree(kw, T, first):
    """One forward, backward (ReLU families) and update matmul per family of the proof,
    over the same instances, on gathered operand stacks of the proof's derived shapes."""
    from zkdl.verifier.flow import stack_shape
    cfg = TrainConfig(lr_shift=9, **kw)
    plan = make_plan(cfg, 1, T, 40, first, first)
    c = circuit_for(plan, cfg)
    expected = set()
    for fam in plan.families:
        insts = [(t, l) for t in range(T) for l in fam.layers]
        for rel in ("forward", "update") + (("backward",) if fam.relu else ()):
            r = [r for r in c.relations_of("matmul") if r.name.split("[")[0] == rel and r.instances[0] == insts[0]]
            assert len(r) == 1 and list(r[0].instances) == insts, (rel, fam)
            expected.add(r[0].name)
        for base, name in (("Ain", "Ain"), ("Wn", "Wn"), ("GZn", "GZn")):
            if base != "Ain" and not fam.relu:
                continue
            t = ir_stack(c, base, fam.layers[0])
            assert (t.stack, *t.padded) == stack_shape(plan, f"{name}/{fam.index}")
    assert {r.name for r in c.relations_of("matmul")} == expected
