"""FAC4DNN circuit: builder, IR bytes, witness checker on honest and corrupted traces."""

import io
import json
import subprocess
import sys
import types

import numpy as np
import pytest

import zkdl
from zkdl.circuits import (METHODS, Circuit, CircuitError, Method, build_circuit, check_witness, emit,
                           SGDMLPMethod, register_method, summary, witness)
from zkdl.circuits.builder import Op
from zkdl.config import TrainConfig
from zkdl.data import synthetic
from zkdl.tracer import StepTrace

DATA = synthetic(R=16)


def _train(cfg, steps):
    return zkdl.train(cfg, DATA, steps=steps, keep_in_memory=True)


@pytest.fixture(scope="module")
def small():
    """L = 3, hidden widths (8, 4), batch 4, 4 steps."""
    return _train(TrainConfig(width=(8, 4), batch_size=4), 4)


@pytest.fixture(scope="module")
def deep():
    """Default L = 8, width 16, batch 8, 5 steps."""
    return _train(TrainConfig(width=16, batch_size=8), 5)


def _copy_run(run, t0, T, edit=None):
    """A run-like object whose window(t0, T) returns copies; edit(list_of_traces) mutates them."""
    traces = [StepTrace(st.t, {k: np.array(v, copy=True) for k, v in st.tensors.items()}, st.loss, st.accuracy)
              for st in run.window(t0, T)]
    if edit is not None:
        edit(traces)

    def window(a, b):
        assert (a, b) == (t0, T)
        return traces
    return types.SimpleNamespace(config=run.config, data=run.data, n_steps=run.n_steps, window=window)


def _keys(fails):
    return {(f.kind, f.relation.split("[")[0], f.step, f.layer, f.index) for f in fails}


# ----------------------------------------------------------------------------- honest
@pytest.mark.parametrize("which,T,t0", [("small", 1, 0), ("small", 4, 0), ("small", 2, 2),
                                        ("deep", 1, 3), ("deep", 4, 1)])
def test_honest_trace_passes(which, T, t0, request):
    run = request.getfixturevalue(which)
    c = build_circuit(run.config, steps=T, n_samples=run.data.n_samples)
    assert check_witness(c, run, (t0, T), bits=True) == []


def test_honest_other_shapes():
    # widths that are not powers of two and a batch of 5 (every axis padded), T = 3 (instances padded)
    run = _train(TrainConfig(width=(5, 12, 3), batch_size=5, lr_num=3, lr_shift=10), 3)
    c = build_circuit(run.config, steps=3)
    assert check_witness(c, run, (0, 3), bits=True) == []
    lg = build_circuit(run.config, steps=3, range_strategy="logup")
    assert check_witness(lg, run, (0, 3)) == []


def test_padding_is_zero_and_instances_are_padded(small):
    c = build_circuit(small.config, steps=3)
    w = witness(c, small, 1)
    offsets = {r.operand("value").tensor: r.params["offset"] for r in c.relations_of("range")}
    for t in c.tensors:
        X = w[t.name]
        assert X.shape[0] == t.stack
        n = len(t.instances)
        if t.bit_of is not None:   # bits of value + offset everywhere: they recompose to 0 in the padding
            X = np.tensordot(X[..., :t.nbits].astype(object), [1 << k for k in range(t.nbits)], axes=([-1], [0]))
            X = X - offsets[t.bit_of]
            shp = [small.data.n_samples if s is None else s for s in t.shape[:-1]]
        else:
            shp = [small.data.n_samples if s is None else s for s in t.shape]
        assert not X[n:].any(), t.name                     # zero instances
        mask = np.ones(X.shape, dtype=bool)
        mask[(slice(0, n),) + tuple(slice(0, s) for s in shp)] = False
        assert not X[mask].any(), t.name                   # zero entries outside the logical box
    assert any(t.stack > len(t.instances) for t in c.tensors)
    assert any(p != s for t in c.tensors for p, s in zip(t.padded, t.shape) if s is not None)


# ----------------------------------------------------------------------------- corruptions
T0, TW = 1, 3          # window checked in the corruption tests; corrupt step 2 (= t0 + 1)
STEP = 2


def _check_edit(run, edit, config=None):
    cfg = config or run.config
    c = build_circuit(cfg, steps=TW, n_samples=run.data.n_samples)
    fake = _copy_run(run, T0, TW, edit)
    return check_witness(c, fake, (T0, TW))


def _edit(name, idx, delta):
    def f(traces):
        traces[STEP - T0].tensors[name][idx] += delta
    return f


@pytest.mark.parametrize("name,layer,idx,kind,rel", [
    ("Zp_2", 2, (1, 2), "matmul", "forward"),
    ("Zp_3", 3, (0, 1), "matmul", "forward"),
    ("remZ_1", 1, (3, 7), "matmul", "forward"),
    ("G_Ap_1", 1, (2, 5), "matmul", "backward"),
    ("remGA_2", 2, (1, 3), "matmul", "backward"),
    ("dW_2", 2, (6, 1), "matmul", "update"),
    ("remW_3", 3, (2, 0), "matmul", "update"),
    ("A_1", 1, (0, 0), "hadamard", "relu_fwd"),
    ("G_Z_2", 2, (3, 2), "hadamard", "relu_bwd"),
    ("G_Z_3", 3, (1, 1), "linear", "mse_grad"),
])
def test_one_entry_changed(small, name, layer, idx, kind, rel):
    fails = _check_edit(small, _edit(name, idx, 1))
    assert (kind, rel, STEP, layer, idx) in _keys(fails)
    assert all(f.step is not None for f in fails)          # nothing blamed on padding


def test_dw_change_breaks_the_chain_of_later_steps(small):
    fails = _check_edit(small, _edit("dW_2", (6, 1), 1))
    keys = _keys(fails)
    assert ("chain", "chain", STEP + 1, 2, (6, 1)) in keys
    assert ("chain", "chain_final", T0 + TW - 1, 2, (6, 1)) in keys


def test_flipped_sign_bit(small):
    def flip(traces):
        S = traces[STEP - T0].tensors["S_1"]
        S[2, 3] = 1 - S[2, 3]
    fails = _check_edit(small, flip)
    assert ("range", "range:U", STEP, 1, (2, 3)) in _keys(fails)


def test_non_binary_sign(small):
    fails = _check_edit(small, _edit("S_2", (0, 0), 2))
    assert ("booleanity", "bool:S", STEP, 2, (0, 0)) in _keys(fails)


def test_wrong_rounding_is_a_range_failure(small):
    R = small.config.R

    def shift(traces):
        tz = traces[STEP - T0].tensors
        tz["remZ_3"][1, 2] += 1 << R      # remainder shifted by 2^R, quotient adjusted by 1:
        tz["Zp_3"][1, 2] -= 1             # the matmul relation still holds
    fails = _check_edit(small, shift)
    keys = _keys(fails)
    assert ("range", "range:remZ", STEP, 3, (1, 2)) in keys
    assert not any(k[0] == "matmul" for k in keys)


def test_wrong_update_rounding_is_a_range_failure(small):
    s = small.config.R + small.config.lr_shift

    def shift(traces):
        tz = traces[STEP - T0].tensors
        tz["remW_1"][0, 0] -= 1 << s
        tz["dW_1"][0, 0] += 1
        for t in range(STEP - T0 + 1, TW):     # keep the chain consistent
            traces[t].tensors["W_1"][0, 0] -= 1
        traces[-1].tensors["W_next_1"][0, 0] -= 1
    fails = _check_edit(small, shift)
    keys = _keys(fails)
    assert ("range", "range:remW", STEP, 1, (0, 0)) in keys
    assert not any(k[0] in ("matmul", "chain") and k[2] == STEP for k in keys)


def test_wrong_learning_rate(small):
    cfg = small.config.replace(lr_num=small.config.lr_num + 1)
    fails = _check_edit(small, None, config=cfg)
    assert fails
    assert {(f.kind, f.relation.split("[")[0]) for f in fails} == {("matmul", "update")}
    assert {f.step for f in fails} == set(range(T0, T0 + TW))


def test_batch_from_wrong_rows(small):
    X = small.data.X

    def other_rows(traces):
        tz = traces[STEP - T0].tensors
        tz["A_0"][...] = X[(tz["batch"] + 1) % len(X)]
    fails = _check_edit(small, other_rows)
    keys = _keys(fails)
    assert any(k[:4] == ("data", "data_X", STEP, 0) for k in keys)


def test_wrong_labels(small):
    def other_labels(traces):
        Y = traces[STEP - T0].tensors["Y"]
        Y[...] = np.roll(Y, 1, axis=1)
    fails = _check_edit(small, other_labels)
    assert any(k[:4] == ("data", "data_Y", STEP, 3) for k in _keys(fails))


def test_w_chain_broken(small):
    fails = _check_edit(small, _edit("W_2", (3, 1), 1))
    keys = _keys(fails)
    assert ("chain", "chain", STEP, 2, (3, 1)) in keys


def test_initial_weights_out_of_range(small):
    Q = small.config.Q

    def big(traces):
        traces[0].tensors["W_1"][0, 0] += 1 << Q
    fails = _check_edit(small, big)
    assert ("range", "range:W0", T0, 1, (0, 0)) in _keys(fails)
    c = build_circuit(small.config, steps=TW, check_initial_weights=False)
    assert not any(r.name.startswith("range:W0") for r in c.relations)


def test_limit(small):
    cfg = small.config.replace(lr_num=small.config.lr_num + 1)
    c = build_circuit(cfg, steps=1)
    fails = check_witness(c, small, (0, 1), limit=1)
    assert len(fails) == len({f.relation for f in fails})
    assert "update" in str(fails[0])


# ----------------------------------------------------------------------------- IR bytes
def _cfg():
    return TrainConfig(width=(8, 4), batch_size=4, n_features=16, n_classes=4)


def test_build_is_deterministic_and_round_trips():
    a, b = build_circuit(_cfg(), steps=4), build_circuit(_cfg(), steps=4)
    assert a.canonical_bytes() == b.canonical_bytes() and a.digest() == b.digest()
    back = Circuit.from_json(a.to_json())
    assert back == a and back.canonical_bytes() == a.canonical_bytes()
    f = io.StringIO()
    emit(a, f)
    assert Circuit.from_json(f.getvalue()).digest() == a.digest()
    assert json.loads(a.to_json())["digest"] == a.digest()


def test_emit_to_path_and_tamper(tmp_path):
    c = build_circuit(_cfg(), steps=2)
    p = tmp_path / "c.json"
    emit(c, p)
    d = json.loads(p.read_text())
    assert d["stats"]["committed_per_step"]["total"] == c.stats()["committed_per_step"]["total"]
    d["relations"][0]["operands"][0]["coef"] += 1
    with pytest.raises(CircuitError):
        Circuit.from_json(json.dumps(d))


def test_golden_digest():
    # pins the canonical bytes; update deliberately when the IR changes
    c = build_circuit(_cfg(), steps=2, n_samples=64)
    assert c.digest() == GOLDEN


GOLDEN = "e60957fdb30a21a3a67ecdfcef30844817b3de4dcda3d5021e4727ebd924e433"  # zkdl-circuit/v2 (issue 14: compiled schedule, offset-bit padding)


@pytest.mark.parametrize("change", [
    dict(width=(8, 8)), dict(width=(8, 4, 4), layers=4), dict(batch_size=8), dict(R=15), dict(Q=30),
    dict(update_bits=12), dict(lr_num=3), dict(lr_shift=8), dict(batch_seed=1), dict(init_seed=1),
    dict(n_features=12), dict(n_classes=3), dict(steps=10),
])
def test_digest_changes_with_config(change):
    assert build_circuit(_cfg().replace(**change), steps=2).digest() != build_circuit(_cfg(), steps=2).digest()


@pytest.mark.parametrize("kw", [dict(steps=3), dict(range_strategy="logup"), dict(check_initial_weights=False),
                                dict(check_dataset=False), dict(n_samples=100)])
def test_digest_changes_with_options(kw):
    base = dict(steps=2)
    assert build_circuit(_cfg(), **{**base, **kw}).digest() != build_circuit(_cfg(), **base).digest()


# ----------------------------------------------------------------------------- cost
def test_committed_values_hand_count():
    f, c_, h1, h2, B = 16, 4, 8, 4, 4
    cfg = _cfg()
    R, Q, ub, k = cfg.R, cfg.Q, cfg.update_bits, cfg.lr_shift
    st = build_circuit(cfg, steps=4).stats()
    act_h = B * (h1 + h2)                      # hidden activations per step
    act = act_h + B * c_
    wts = f * h1 + h1 * h2 + h2 * c_
    expect = {
        "S": act_h, "U.bits": (Q - 1) * act_h, "Zp.bits": Q * B * c_, "remZ.bits": R * act,
        "G_Ap.bits": Q * act_h, "remGA.bits": R * act_h, "dW.bits": ub * wts, "remW.bits": (R + k) * wts,
    }
    assert st["committed_per_step"]["by_tensor"] == expect
    assert st["committed_per_step"]["total"] == sum(expect.values())
    assert st["range_bits_per_step"]["total"] == sum(expect.values()) - act_h
    assert st["statement_committed"]["by_tensor"]["W0.bits"] == Q * wts
    assert st["statement_committed"]["total"] is None          # dataset size unknown
    st2 = build_circuit(cfg, steps=4, n_samples=100).stats()
    assert st2["statement_committed"]["total"] == Q * wts + Q * 100 * f
    # nothing derived is committed
    c = build_circuit(cfg, steps=1)
    committed = {t.base for t in c.tensors if t.kind == "committed" and t.scope == "step"}
    assert committed == set(expect)


def test_summary_and_families():
    c = build_circuit(TrainConfig(width=16, batch_size=8, n_features=16, n_classes=4), steps=4)
    s = summary(c)
    assert "committed values per step" in s and "range-checked bits" in s
    names = {r.name for r in c.relations}
    # stacks and relation families follow the power-of-two layer runs (mlp_layer_runs:
    # [1-4], [5-6], [7], [8]): one forward matmul per run, its inputs gathered
    assert {"forward[1-4]", "forward[5-6]", "forward[7]", "forward[8]"} <= names
    assert not any(n.startswith("forward[") and n not in ("forward[1-4]", "forward[5-6]", "forward[7]",
                                                           "forward[8]") for n in names)
    assert {t.name for t in c.tensors if t.base == "W"} == {"W[1-4]", "W[5-6]", "W[7]", "W[8]"}
    fw = c.relation("forward[1-4]")
    assert fw.operand("left").tensor == "Ain[1-4]"
    assert fw.num_vars == 4 + 4 and fw.degree == 3          # 16 instances, contraction 16
    # the gather of "layer l-1": instance (t, l) of Ain reads A[t, l-1] (the data A[0] for l = 1)
    ga = c.relation("gather:Ain[1-4]")
    for o in ga.operands_with("term"):
        A = c.tensor(o.tensor)
        for (t, l), src in zip(ga.instances, o.src):
            assert [A.instances[j] for j in src] == ([(t, l - 1)] if (l == 1) == (o.tensor == "A[0]") else [])
    ch = c.relation("chain[1-4]")                            # W_1 is 16 x 16 like the hidden ones
    dw = [o for o in ch.operands if o.tensor.startswith("dW")][0]
    assert dw.coef == -1
    for (t, l), src in zip(ch.instances, dw.src):             # W[t] = W[t0] - sum_{s<t} dW[s]
        assert [c.tensor(dw.tensor).instances[j] for j in src] == [(s, l) for s in range(t)]


def test_logup_commits_only_what_cannot_be_derived():
    c = build_circuit(TrainConfig(width=(256, 256), batch_size=64, n_features=16, n_classes=4), steps=1,
                      range_strategy="logup")     # 16-bit limbs (enough lookups)
    assert c.options["limb_bits"] == 16
    assert not any(t.base.endswith(".bits") for t in c.tensors)
    assert c.tensor("dW[1]").kind == "committed" and c.tensor("U[1]").kind == "committed"
    for rem, definer in (("remZ[1]", "forward"), ("remW[1]", "update"), ("remGA[1]", "backward")):
        t = c.tensor(rem)                   # remainders: defined by their matmul, never committed
        assert t.kind == "derived_product" and t.defined_by[0].startswith(definer)
    r = [r for r in c.relations if r.name.startswith("range:remW")][0]
    assert r.params["strategy"] == "logup" and [o.tensor for o in r.operands_with("limb")] == ["remW.limb1[1]"]
    widths = {t.name: t.shape for t in c.tensors if t.base.startswith("logup.m")}
    # R + k = 25 bits: limbs of 16 and 9; U (Q - 1 = 31 bits): 16 and 15; one table per width
    assert widths == {"logup.m9[0]": (512,), "logup.m15[0]": (1 << 15,), "logup.m16[0]": (1 << 16,)}


# ----------------------------------------------------------------------------- API, errors, purity
def test_errors(small):
    with pytest.raises(CircuitError):
        build_circuit(TrainConfig(), steps=1)                  # no data dims
    with pytest.raises(CircuitError):
        build_circuit(_cfg(), steps=0)
    with pytest.raises(CircuitError):
        build_circuit(_cfg(), range_strategy="magic")
    with pytest.raises(CircuitError):
        build_circuit(_cfg(), method="nope")
    c = build_circuit(small.config.replace(width=(8, 8)), steps=1)
    with pytest.raises(CircuitError):
        check_witness(c, small, (0, 1))
    c = build_circuit(small.config, steps=2)
    with pytest.raises(CircuitError):
        check_witness(c, small, (3, 2))                       # beyond the run
    with pytest.raises(CircuitError):
        check_witness(c, small, (0, 3))                       # T differs


def test_method_registry():
    @register_method
    class Frozen(Method):
        """Toy plugin: only the forward pass of the built-in method's gadgets."""
        name = "test_forward_only"
        statement = {"dataset": ["Xdata", "Ydata"], "initial": ["W0"], "final": [], "outputs": {}}

        def build(self, b):
            from zkdl.circuits import gadgets as g
            cfg, d = b.config, b.dims
            L, B = cfg.layers, cfg.batch_size
            ALL = list(range(1, L + 1))
            g.initial_weights(b, "W0", ALL, lambda l: (d[l - 1], d[l]), cfg.Q, check=True)
            g.data_selection(b, check=False)
            b.stacks("W", ALL, lambda l: (d[l - 1], d[l]), kind="derived_linear", source=[[1, "W_{l}"]])
            b.relation("frozen", "linear", [(t, l) for t in range(b.T) for l in ALL],
                       [Op("out", "W"), Op("term", "W0", steps=lambda t: [0])])
            g.zkrelu_forward(b, ALL[:-1], lambda l: (B, d[l]), cfg.Q)
            g.range_value(b, "Zp", [L], lambda l: (B, d[l]), cfg.Q, 1 << (cfg.Q - 1), source=[[1, "Zp_{l}"]])
            g.range_value(b, "remZ", ALL, lambda l: (B, d[l]), cfg.R, 1 << (cfg.R - 1), source=[[1, "remZ_{l}"]])
            g.rescaled_matmul(b, "forward", [(t, l) for t in range(b.T) for l in ALL],
                              left=Op("left", "A", layer=lambda l: l - 1), right=Op("right", "W"),
                              quotient="Zp", remainder="remZ", shift=cfg.R)
    try:
        c = build_circuit(_cfg(), steps=1, method="test_forward_only")
        assert c.method == "test_forward_only"
        assert not any(r.name.startswith("update") for r in c.relations)
        assert c.options["statement"]["initial"] == ["W0"]
        Frozen.statement = {"dataset": ["Xdata"], "initial": ["W0"], "final": [], "outputs": {}}
        with pytest.raises(CircuitError, match="statement names"):   # Ydata has no role
            build_circuit(_cfg(), steps=1, method="test_forward_only")
    finally:
        METHODS.pop("test_forward_only", None)


def test_pure_modules_import_no_numpy():
    code = ("import sys, json\n"
            "import zkdl.circuits, zkdl.circuits.ir, zkdl.circuits.builder, zkdl.circuits.gadgets, "
            "zkdl.circuits.emit\n"
            "from zkdl.config import TrainConfig\n"
            "c = zkdl.circuits.build_circuit(TrainConfig(width=4, batch_size=2, n_features=3, n_classes=2))\n"
            "zkdl.circuits.selection_indices(c, 10, 0)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = json.loads(out.stdout)
    assert not [m for m in loaded if m.split(".")[0] in ("numpy", "numba")
                or m.startswith(("zkdl.tracer", "zkdl.circuits.check"))]


def test_nonzero_padding_is_caught(small):
    from zkdl.circuits import check
    c = build_circuit(small.config, steps=3)
    a = check._Assignment(c, small, 0, True)
    S = a.get("S[1]")                                 # layer 1: B x 8 (no entry padding), stack of 3 -> 4
    S[3, 0, 0] = 1                                    # a padded instance
    U = a.get("U.bits[1]")
    U[0, 0, 0, 31] = 1                                # padded bit plane (n = 31 of 32): read by nothing
    U[0, 0, 0, 0] = 2                                 # a non-boolean bit
    fails = []
    for r in c.relations:
        fails += check._check(a, r, None)
    keys = {(f.relation, f.step, f.index) for f in fails}
    # Z' = U - 2^(Q-1) S is zero in the padded instance, so S = 1 there breaks the sign relation
    assert ("zkrelu_sign[1]", None, (0, 0)) in keys
    assert ("bool:U.bits[1]", 0, (0, 0, 0)) in keys
    assert not any(f.index == (0, 0, 31) for f in fails)


def test_methods_from_entry_points(monkeypatch):
    """A distribution's `zkdl.methods` entry point registers its method on first use."""
    import importlib.metadata as md
    import sys
    import types

    from zkdl.circuits import builder

    mod = types.ModuleType("zkdl_test_plugin")

    class Plugged(SGDMLPMethod):
        name = "test_plugged"
    mod.Plugged = Plugged
    mod.NotAMethod = object
    monkeypatch.setitem(sys.modules, "zkdl_test_plugin", mod)
    eps = [md.EntryPoint("test_plugged", "zkdl_test_plugin:Plugged", builder.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(md, "entry_points", lambda group=None: [e for e in eps if e.group == group])
    try:
        c = build_circuit(_cfg(), steps=1, method="test_plugged")
        assert c.method == "test_plugged"
        # a broken or misnamed plugin is an error that names it
        eps[:] = [md.EntryPoint("test_bad", "zkdl_test_plugin:NotAMethod", builder.ENTRY_POINT_GROUP)]
        with pytest.raises(CircuitError, match="test_bad"):
            build_circuit(_cfg(), steps=1, method="test_bad")
        eps[:] = [md.EntryPoint("test_missing", "no_such_module:X", builder.ENTRY_POINT_GROUP)]
        with pytest.raises(CircuitError, match="failed to load"):
            build_circuit(_cfg(), steps=1, method="test_missing")
    finally:
        METHODS.pop("test_plugged", None)


def test_constants_and_broadcasts_need_instance_by_instance_operands():
    """A linear relation's ``const`` is added on the output's box, which the verifier
    evaluates only for terms read instance by instance; a broadcast spreads one value
    per instance. The builder refuses anything else (a message, before any proof)."""
    from zkdl.circuits.builder import CircuitBuilder, Op
    from zkdl.circuits.ir import CircuitError
    from zkdl.config import TrainConfig
    cfg = TrainConfig(width=4, layers=2)
    b = CircuitBuilder(cfg, 2, {"range_strategy": "logup", "dims": [4, 4, 4], "n_samples": 8})
    b.set_layer_runs([[1, 2]])
    b.stacks("x", [1], lambda l: (2, 2), kind="committed", lo=-4, hi=4, source=[[1, "x_{l}"]])
    b.stacks("y", [1], lambda l: (2, 2), kind="derived_linear", steps=[0], source=[[1, "y_{l}"]])
    with pytest.raises(CircuitError, match="constant"):   # y[0] = x[0] + x[1] + 3: a gathered term
        b.relation("sum", "linear", [(0, 1)], [Op("out", "y"), Op("term", "x", steps=lambda t: [0, 1])],
                   {"const": 3})
    with pytest.raises(CircuitError, match="one value per instance"):
        b.stacks("z", [1], lambda l: (2, 2), kind="derived_linear", source=[[1, "z_{l}"]])
        b.relation("spread", "broadcast", [(0, 1), (1, 1)], [Op("out", "z"), Op("x", "x")])
