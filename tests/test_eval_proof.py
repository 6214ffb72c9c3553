"""Proven test accuracy (zkdl.methods.eval_accuracy, zkdl.eval_prove, zkdl.eval_claim).

An evaluation proof states that committed weights classify a committed test set with k of
its n rows right. Honest witnesses hold under both range strategies and their proofs
verify with the count of an independent integer reference of the quantized forward pass
(first argmax on ties); every corrupted argmax witness (another class, the tie broken
upwards, two ones, non-boolean entries, a one in the padding, each derived tensor bumped)
is named by the witness checker and rejected by the verifier, and so is a false count; a
valid proof about another model does not link to the claim; a Pred without padding (a
power-of-two test set and class count) proves; the API (zkdl.prove_eval)
writes claim/eval/<name>.zkdl and refuses bad inputs with EvalError; biases (sgd_bias)
are evaluated too."""

import random

import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.anchors import last_proof
from zkdl.circuits.check import check_witness
from zkdl.circuits.ir import CircuitError
from zkdl.config import TrainConfig
from zkdl.errors import VerificationError
from zkdl.evaluate import scores
from zkdl.eval_claim import EvalLinkError, check_evaluation
from zkdl.eval_prove import EvalError
from zkdl.prover.aggregate import prove_window
from zkdl.tracer import Run
from zkdl.verifier.verify import circuit_for, verify
from tests.method_cases import assert_rejected, bump

SEED = 20261230
NAME = "eval_accuracy"
CFG = TrainConfig(width=(6, 5), batch_size=4, lr_shift=7)
C = 3                      # classes: padded to 4 columns in the circuit
N_TEST = 12                # test rows: padded to 16


# ----------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def trained():
    data = D.synthetic(n_samples=40, n_features=3, n_classes=C)
    run = zkdl.train(CFG, data, steps=4, keep_in_memory=True)
    test = D.synthetic(n_samples=N_TEST, n_features=3, n_classes=C, seed=5, scaling=data.scaling)
    return run, test


def random_weights(cfg, seed, scale=1 << 15):
    """Integer weights of cfg's shapes (large enough for scores of every class to vary)."""
    rng = np.random.default_rng(seed)
    d = cfg.dims()
    return [rng.integers(-scale, scale + 1, size=(d[l], d[l + 1])).astype(np.int64) for l in range(len(d) - 1)]


def eval_run(cfg, W, test, b=None):
    ecfg = cfg.replace(batch_size=test.n_samples, steps=1)
    state = {"W": [np.array(w) for w in W]}
    if b is not None:
        state["b"] = [np.array(x) for x in b]
    er = Run(ecfg, test, state, method=NAME, method_params={"biases": int(b is not None)}, keep_in_memory=True)
    er.resume(1)
    return er


def prove(run, t0=0, T=1, **kw):
    """Plain mode unless told (the corruptions: the same relations, faster)."""
    kw.setdefault("range_strategy", "bits")
    kw.setdefault("zk", False)
    return prove_window(run, t0, T, rng=random.Random(SEED), **kw)


def reference_scores(W, X, R, b=None):
    """Independent exact forward pass on Python ints: Z' = floor((A W + 2^R b + 2^(R-1)) / 2^R)
    (round half up), ReLU on the hidden layers."""
    A = np.asarray(X).astype(object)
    for l, w in enumerate(W):
        Z = A.dot(np.asarray(w).astype(object))
        if b is not None:
            Z = Z + np.asarray(b[l]).astype(object) * (1 << R)
        Zp = (Z + (1 << (R - 1))) // (1 << R)
        A = np.where(Zp > 0, Zp, 0) if l < len(W) - 1 else Zp
    return np.asarray(Zp, dtype=np.int64)


def reference_count(W, test, R, b=None):
    return int(np.sum(np.argmax(reference_scores(W, test.X, R, b), axis=1) == test.y))


def recomputed(edit):
    """Trace corruption: Pred edited by ``edit(P, tensors)`` (in place) and Picked, RowMax,
    Gap, Hits recomputed from it, so only what Pred itself breaks is broken."""
    def tamper(stage, steps):
        T = steps[0].tensors
        P = np.array(T["Pred"])
        edit(P, T)
        picked = P * T["Ranked"]
        row_max = np.repeat(picked.sum(axis=1, keepdims=True), P.shape[1], axis=1)
        T.update(Pred=P, Picked=picked, RowMax=row_max, Gap=row_max - T["Ranked"], Hits=P * T["Y"])
    return tamper


def _pred(T):
    return np.argmax(T["Pred"], axis=1)


def move_one(P, T, row=0):
    j = int(_pred(T)[row])
    P[row, j], P[row, (j + 1) % P.shape[1]] = 0, 1


def two_ones(P, T, row=0):
    P[row, (int(_pred(T)[row]) + 1) % P.shape[1]] = 1


def two_and_minus_one(P, T, row=0):
    j = int(_pred(T)[row])
    P[row, j], P[row, (j + 1) % P.shape[1]] = 2, -1


def tie_model(cfg, seed=3):
    """Random weights whose last layer's columns 1 and 2 are equal (class 1 and 2 always
    tie) and column 0 pushed down (so the tie is the maximum of most rows)."""
    W = random_weights(cfg, seed)
    W[-1][:, 2] = W[-1][:, 1]
    W[-1][:, 0] = -np.abs(W[-1][:, 0])
    return W


# ----------------------------------------------------------------------------- honest

def test_honest_proofs_verify_with_the_reference_count(trained):
    """The trained model and a random one (mixed predictions): the witness holds under both
    range strategies, plain proofs verify under both, the stated count is k 2^(2R) for the
    reference's k; the tracer's scores are the reference's."""
    run, test = trained
    R = run.config.R
    models = {"trained": run.final_state["W"], "random": random_weights(run.config, 1)}
    preds = set()
    for what, W in models.items():
        er = eval_run(run.config, W, test)
        tr = er.window(0, 1)[0].tensors
        want = reference_scores(W, test.X, R)
        assert np.array_equal(tr[f"Zp_{run.config.layers}"], want[tr["batch"]]), what
        assert np.array_equal(scores(list(W), test.X, R=R), want), what
        k = reference_count(W, test, R)
        preds |= set(np.argmax(want, axis=1).tolist())
        for rs in ("bits", "logup"):
            c = circuit_for(er.config, 1, test.n_samples, method=NAME, method_params={"biases": 0},
                            range_strategy=rs)
            assert check_witness(c, er, (0, 1)) == [], (what, rs)
            proof, _ = prove(er, zk=False, range_strategy=rs)
            st = verify(proof)
            assert st.method == NAME and st.zk is False and st.n_samples == N_TEST
            assert st.outputs["correct"][0] == k << (2 * R), (what, rs)
    assert len(preds) >= 2                               # the random model predicts several classes


@pytest.mark.parametrize("n", [4, 5])
def test_no_padding_in_pred(n):
    """4 classes and a power-of-two test set: Pred (n x 4) has no padding at all (5 rows:
    padded rows only); the proof verifies with the reference count."""
    data = D.synthetic(n_samples=16, n_features=2, n_classes=4)
    cfg = TrainConfig(width=(4,), batch_size=4, lr_shift=7).for_data(data)
    test = D.synthetic(n_samples=n, n_features=2, n_classes=4, seed=9, scaling=data.scaling)
    W = random_weights(cfg, 4)
    er = eval_run(cfg, W, test)
    st = verify(prove(er)[0])
    assert st.outputs["correct"][0] == reference_count(W, test, cfg.R) << (2 * cfg.R)


def test_an_eval_proof_has_one_step(trained):
    run, test = trained
    with pytest.raises(CircuitError):
        circuit_for(run.config.replace(batch_size=N_TEST, steps=2), 2, N_TEST, method=NAME,
                    method_params={"biases": 0}, range_strategy="bits")


def test_ties_predict_the_lowest_class(trained):
    """A zero last layer: every score 0, every row predicts class 0. Equal columns 1 and 2:
    the tie rows predict class 1 (the lower index), and that changes the count."""
    run, test = trained
    R, L = run.config.R, run.config.layers
    W = [np.array(w) for w in run.final_state["W"]]
    W[-1][:] = 0
    er = eval_run(run.config, W, test)
    tr = er.window(0, 1)[0].tensors
    assert not tr[f"Zp_{L}"].any() and np.all(_pred(tr) == 0)
    st = verify(prove(er, zk=False)[0])
    assert st.outputs["correct"][0] == int(np.sum(test.y == 0)) << (2 * R)

    W = tie_model(run.config)
    er = eval_run(run.config, W, test)
    Z = reference_scores(W, test.X, R)
    top = Z.max(axis=1, keepdims=True)
    tie = (Z[:, 1] == Z[:, 2]) & (Z[:, 1] == top[:, 0]) & (Z[:, 0] < top[:, 0])
    assert tie.any()
    low = np.argmax(Z, axis=1)
    high = np.where(tie, 2, low)
    assert np.all(low[tie] == 1)
    k_low, k_high = int(np.sum(low == test.y)), int(np.sum(high == test.y))
    assert k_low != k_high                              # the tie rule decides the count here
    st = verify(prove(er, zk=False)[0])
    assert st.outputs["correct"][0] == k_low << (2 * R)


# ----------------------------------------------------------------------------- soundness

@pytest.fixture(scope="module")
def er(trained):
    run, test = trained
    return eval_run(run.config, random_weights(run.config, 1), test)


TAMPERS = {   # relation the checker names -> trace corruption
    "range:Gap": recomputed(move_one),            # Pred on another class, the rest consistent: a negative gap
    "onehot:Pred": recomputed(two_ones),          # two ones in a row
    "bool:Pred": recomputed(two_and_minus_one),   # 2 and -1: the row still sums to 1
    "row_ones": bump("RowOne"),
    "class_index": bump("ClassIndex"),            # the public index table changed
    "index_rows": bump("IndexRows"),
    "ranked": bump("Ranked"),
    "picked": bump("Picked"),
    "all_ones": bump("AllOnes"),
    "row_max": bump("RowMax"),
    "argmax": bump("Gap"),                        # a gap that is not RowMax - Ranked
    "hits": bump("Hits"),
    "forward": bump("Zp_3"),
}


@pytest.mark.parametrize("what", sorted(TAMPERS))
def test_each_relation_corrupted_is_rejected(er, what):
    assert_rejected(prove, er, TAMPERS[what], what)


def test_wrong_argmax_rejected_under_logup(er):
    def prove_logup(run, t0=0, T=1, **kw):
        return prove(run, t0, T, range_strategy="logup", **kw)
    assert_rejected(prove_logup, er, recomputed(move_one), "range:Gap")


def test_tie_broken_upwards_rejected(trained):
    """A tie row whose Pred marks the higher of the two tied classes (all else recomputed)."""
    run, test = trained
    er = eval_run(run.config, tie_model(run.config), test)
    tr = er.window(0, 1)[0].tensors
    Z = tr[f"Zp_{run.config.layers}"]
    rows = np.flatnonzero((Z[:, 1] == Z[:, 2]) & (Z[:, 1] == Z.max(axis=1)))
    assert len(rows) and np.all(_pred(tr)[rows] == 1)
    r = int(rows[0])

    def upwards(P, T):
        P[r, 1], P[r, 2] = 0, 1
    assert_rejected(prove, er, recomputed(upwards), "range:Gap")


def _table_failures(circuit, run, tables):
    """Relations of ``circuit`` that fail on witness tables (the checker run on the padded
    tables themselves, which no trace can change)."""
    from zkdl.circuits.check import _Assignment, _check
    a = _Assignment(circuit, run, 0, True)
    a._cache.update(tables)
    return {f.relation.split("[")[0] for r in circuit.relations for f in _check(a, r, None)}


def test_a_one_in_the_padding_rejected(trained):
    """Pred's one moved into the padded class column (3 classes: 4 columns) of a row whose
    ranked scores are all <= 0, with Picked, RowMax, Gap (and its bits), Hits and the
    count recomputed: rows sum to 1, gaps are >= 0, only ``pad:Pred`` fails. The trace
    arrays are (B, C), so this is a tamper of the witness tables."""
    run, test = trained
    W = random_weights(run.config, 2)
    W[-1] = -np.abs(W[-1]) - (1 << 14)                    # negative last layer: scores <= 0
    er = eval_run(run.config, W, test)
    tr = er.window(0, 1)[0].tensors
    ranked = tr["Ranked"]
    rows = np.flatnonzero(np.all(ranked <= 0, axis=1))
    assert len(rows)
    r, lay = int(rows[0]), run.config.layers
    circuit = circuit_for(er.config, 1, N_TEST, method=NAME, method_params={"biases": 0}, range_strategy="bits")
    seen = {}

    def tamper(stage, obj):
        if stage != "tables":
            return
        t = lambda name: obj[f"{name}[{lay}]"]               # noqa: E731
        P, Rk = t("Pred"), t("Ranked")
        assert P.shape[-1] == 4 and not Rk[0, r, C:].any()
        P[0, r, :] = 0
        P[0, r, C] = 1
        t("Picked")[0, r, :] = 0
        t("RowMax")[0, r, :] = 0
        t("Gap")[0, r, :] = -Rk[0, r, :]
        bits = t("Gap.bits")
        u = t("Gap")[0, r, :]
        for k in range(bits.shape[-1]):
            bits[0, r, :, k] = (u >> k) & 1
        t("Hits")[0, r, :] = 0
        h = np.asarray(t("Hits"), dtype=object)
        t("correct")[0, 0] = int(np.sum(h * h))
        seen["failures"] = _table_failures(circuit, er, obj)
    proof, _ = prove(er, tamper=tamper, check_witness=False)
    assert seen["failures"] == {"pad:Pred"}
    with pytest.raises(VerificationError) as err:
        verify(proof)
    assert "pad:Pred" in str(err.value)          # the verifier names it too


@pytest.mark.parametrize("delta", ["k+1", "+1"])
def test_false_count_rejected(er, delta):
    R = er.config.R
    d = 1 << (2 * R) if delta == "k+1" else 1

    def tamper(stage, obj):
        if stage == "outputs":
            obj["correct"] = [obj["correct"][0] + d]
    proof, _ = prove(er, tamper=tamper, check_witness=False)
    with pytest.raises(VerificationError, match="correct"):
        verify(proof)


# ----------------------------------------------------------------------------- link to a claim

def test_only_the_claims_final_model_links(trained):
    """The claim's last proof (training window 0..3) keeps its final blinds; an eval proof
    committing W[4] with them links (ZK) with the reference count; W[2] with the same blinds,
    or W[4] with fresh blinds, verifies but does not link."""
    run, test = trained
    R = run.config.R
    claim_last, sec = prove_window(run, 0, 4, zk=False, range_strategy="bits", rng=random.Random(SEED + 1))
    final = sec["final"]
    assert len(final) == run.config.layers
    W = run.final_state["W"]
    good, _ = prove(eval_run(run.config, W, test), zk=True, secrets={"initial": final})
    res = check_evaluation(good, claim_last)
    assert res["correct"] == reference_count(W, test, R) and res["n_samples"] == N_TEST
    assert res["zk"] is True and res["biases"] is False

    other_W = run.state(2)["W"]
    assert any(not np.array_equal(a, b) for a, b in zip(other_W, W))
    other, _ = prove(eval_run(run.config, other_W, test), zk=False, secrets={"initial": final})
    verify(other)
    with pytest.raises(EvalLinkError):
        check_evaluation(other, claim_last)
    fresh, _ = prove_window(eval_run(run.config, W, test), 0, 1, zk=False, range_strategy="bits",
                            rng=random.Random(SEED + 2))
    verify(fresh)
    with pytest.raises(EvalLinkError):
        check_evaluation(fresh, claim_last)


# ----------------------------------------------------------------------------- API

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from tests.test_cli import invoke, output
    out = tmp_path_factory.mktemp("eval") / "r"
    res = invoke("train", "--out", out, "--data", "synthetic:120", "--width", "8", "--layers", "2",
                 "--batch-size", "8", "--steps", "2", "--window", "2", "--eval-split", "0.25", "--no-zk", "-q")
    assert res.exit_code == 0, output(res)
    return out


def test_prove_eval_end_to_end(run_dir):
    r = Run.load(run_dir / "run")
    ev = D.Dataset.load_raw(run_dir / "run" / "eval.npz")
    want = int(np.sum(zkdl.predict(r, ev.X) == ev.y))
    assert want == reference_count(r.final_weights, ev, r.config.R)
    res = zkdl.prove_eval(run_dir, run_dir / "run" / "eval.npz", zk=False)
    assert res["correct"] == want and res["n_samples"] == ev.n_samples == 30
    path = run_dir / "claim" / "eval" / "eval.zkdl"
    assert path.is_file() and str(path) == res["proof"] and (run_dir / "claim" / "eval" / "eval.json").is_file()
    claim_last = last_proof(str(run_dir))[0].data
    assert check_evaluation(path.read_bytes(), claim_last)["correct"] == want
    with pytest.raises(EvalError, match="exists"):
        zkdl.prove_eval(run_dir, run_dir / "run" / "eval.npz", zk=False)
    again = zkdl.prove_eval(run_dir, run_dir / "run" / "eval.npz", zk=False, force=True)
    assert again["correct"] == want


@pytest.mark.parametrize("bad", ["features", "classes", "missing", "not a run"])
def test_prove_eval_bad_inputs(run_dir, tmp_path, bad):
    run_out, data = run_dir, "synthetic:50:5"            # 5 features: the model takes 16
    if bad == "classes":
        data = "synthetic:50:16:6"                       # labels 4 and 5: not training classes
    elif bad == "missing":
        data = str(tmp_path / "no-such-file.npz")
    elif bad == "not a run":
        run_out, data = tmp_path, run_dir / "run" / "eval.npz"
    with pytest.raises(EvalError) as err:
        zkdl.prove_eval(run_out, data, zk=False, name="bad")
    assert str(err.value)
    assert {"features": "features", "classes": "class", "missing": "no-such-file",
            "not a run": "manifest"}[bad] in str(err.value)
    assert not (run_dir / "claim" / "eval" / "bad.zkdl").exists()


# ----------------------------------------------------------------------------- biases

@pytest.fixture(scope="module")
def bias_eval():
    from zkdl.methods.sgd_bias_trace import initial_state
    data = D.synthetic(n_samples=40, n_features=3, n_classes=C)
    rng = np.random.default_rng(0)
    b0 = [rng.integers(-3000, 3001, size=b.shape).astype(np.int64) for b in initial_state(CFG.for_data(data))["b"]]
    run = zkdl.train(CFG, data, steps=4, keep_in_memory=True, method="sgd_bias", initial={"b": b0})
    test = D.synthetic(n_samples=N_TEST, n_features=3, n_classes=C, seed=5, scaling=data.scaling)
    W, b = run.final_state["W"], run.final_state["b"]
    assert all(x.any() for x in b)
    return run, test, eval_run(run.config, W, test, b)


def test_biases_are_evaluated(bias_eval):
    from zkdl.methods.sgd_bias_trace import predict
    run, test, er = bias_eval
    W, b, R = run.final_state["W"], run.final_state["b"], run.config.R
    k = int(np.sum(np.argmax(predict(W, b, test.X, R), axis=1) == test.y))
    assert k == reference_count(W, test, R, b)
    c = circuit_for(er.config, 1, N_TEST, method=NAME, method_params={"biases": 1}, range_strategy="bits")
    assert check_witness(c, er, (0, 1)) == []
    proof, _ = prove(er, zk=False)
    st = verify(proof)
    assert st.method == NAME and st.outputs["correct"][0] == k << (2 * R)


def test_a_bias_row_tamper_rejected(bias_eval):
    assert_rejected(prove, bias_eval[2], bump("BZ_1"), "bias_rows")
