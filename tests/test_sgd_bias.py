"""Training method ``sgd_bias`` (zkdl.methods.sgd_bias): SGD of a ReLU MLP with bias terms,
every bias proven with its own update.

The witness satisfies the circuit under both range strategies; honest proofs verify and
chain (plain and ZK); each new relation corrupted with the prover's check off is named by
the witness checker and rejected by the verifier; the tracer follows its float64
reference."""

import random

import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.circuits.check import check_witness
from zkdl.config import TrainConfig
from zkdl.methods.sgd_bias_trace import float_train, initial_state, predict
from zkdl.prover.aggregate import prove_window
from zkdl.verifier.verify import circuit_for, verify
from tests.method_cases import assert_follows, assert_honest_chain, assert_rejected, bump

SEED = 20261218
NAME = "sgd_bias"
CFG = TrainConfig(width=(6, 5), batch_size=4, lr_shift=7)


def _biases(cfg, scale=3000, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(-scale, scale + 1, size=b.shape).astype(np.int64) for b in initial_state(cfg)["b"]]


@pytest.fixture(scope="module")
def run():
    data = D.synthetic(n_samples=40, n_features=3, n_classes=3)
    return zkdl.train(CFG, data, steps=4, keep_in_memory=True, method=NAME,
                      initial={"b": _biases(CFG.for_data(data))})


def prove(run, t0=0, T=2, **kw):
    return prove_window(run, t0, T, rng=random.Random(SEED), **kw)


def test_the_biases_train_and_the_witness_holds(run):
    b0, b4 = run.state(0)["b"], run.state(4)["b"]
    assert all(x.shape == (1, w.shape[1]) for x, w in zip(b0, run.state(0)["W"]))
    assert all(not np.array_equal(x, y) for x, y in zip(b0, b4))        # every bias moved
    tr = run.step(0)
    assert np.array_equal(tr["BZ_1"], np.repeat(b0[0] << run.config.R, run.config.batch_size, axis=0))
    # the step's output is the quantized forward pass with biases
    assert np.array_equal(tr[f"Zp_{run.config.layers}"], predict(run.state(0)["W"], b0, tr["A_0"], run.config.R))
    for rs in ("bits", "logup"):
        c = circuit_for(run.config, 2, 40, method=NAME, method_params={}, range_strategy=rs)
        assert check_witness(c, run, (0, 2)) == []
        assert {"ones", "bias_rows", "update_b", "chain:b", "chain_final:b"} <= {r.name.split("[")[0]
                                                                                   for r in c.relations}


def test_tracer_follows_the_float_reference():
    data = D.synthetic(n_samples=200, n_features=8, n_classes=3)
    cfg = TrainConfig(width=16, layers=3, batch_size=16, lr_shift=9)
    r = zkdl.train(cfg, data, steps=40, method=NAME, initial={"b": _biases(cfg.for_data(data), 6000, 1)})
    losses, _, W, bs = float_train(r.config, data, 40, r.state(0))
    assert_follows(r.losses, losses)
    assert np.mean(r.losses[-5:]) < np.mean(r.losses[:5])
    sc = float(1 << cfg.R)
    for b, bf in zip(r.final_state["b"], bs):
        assert np.abs(b / sc - bf).max() < 0.02


def test_honest_proofs_verify_and_chain(run):
    """A ZK chain (two one-step proofs, on a smaller network for the suite's time); a
    plain two-step window verifies too."""
    data = D.synthetic(n_samples=16, n_features=2, n_classes=2)
    cfg = TrainConfig(width=(4,), batch_size=2, lr_shift=7)
    small = zkdl.train(cfg, data, steps=2, keep_in_memory=True, method=NAME,
                       initial={"b": _biases(cfg.for_data(data))})
    assert_honest_chain(prove, small, NAME, True)
    proof, _ = prove(run, 0, 2, zk=False)
    st = verify(proof)
    assert st.method == NAME and st.zk is False


TAMPERS = {   # relation broken -> (trace corruption, window length)
    "ones": (bump("ONE", 0), 2),                                   # the all-ones column changed
    "bias_rows": (bump("BZ_1", 1), 2),                             # a bias row not ONE b
    "forward": (bump("Zp_3", 0), 2),                               # an output off the biased forward pass
    "update_b": (bump("db_2", 0, also=("b_next_2", -1)), 1),       # a bias update off by one, b' consistent
    "chain:b": (bump("b_1", 1), 2),                                # a bias moved without its update
    "chain_final:b": (bump("b_next_1", 1), 2),                     # ... in the statement's final state
}


@pytest.mark.parametrize("what", sorted(TAMPERS))
def test_each_relation_corrupted_is_rejected(run, what):
    tamper, T = TAMPERS[what]
    assert_rejected(prove, run, tamper, what, T=T)


def test_accuracy_and_prediction_use_the_biases(run):
    """run.accuracy / run.evaluate and zkdl.predict(run) include the biases."""
    W, b = run.state(4)["W"], run.state(4)["b"]
    ids = np.argmax(predict(W, b, run.data.X, run.config.R), axis=1)
    assert run.accuracy() == float(np.mean(ids == run.data.y))
    assert np.array_equal(zkdl.predict(run, run.data.X), ids)
    assert run.evaluate(run.data)[1] == run.accuracy()


def test_a_released_model_file_predicts_with_its_biases(tmp_path):
    """export-model's file of an sgd_bias run holds the opened b; zkdl.predict reads it."""
    from tests.test_cli import invoke, output
    from zkdl.tracer import Run
    res = invoke("train", "--out", tmp_path / "r", "--method", NAME, "--width", "6", "--layers", "2",
                 "--batch-size", "4", "--data", "synthetic:24", "--steps", "2", "--window", "2", "--no-zk", "-q")
    assert res.exit_code == 0, output(res)
    res = invoke("export-model", tmp_path / "r", "--out", tmp_path / "m.npz")
    assert res.exit_code == 0, output(res)
    r = Run.load(tmp_path / "r" / "run")
    b = r.state(r.n_steps)["b"]
    assert any(x.any() for x in b)
    from zkdl.evaluate import Model
    assert all(np.array_equal(x, y) for x, y in zip(Model.load(tmp_path / "m.npz").biases, b))
    want = np.argmax(predict(r.final_weights, b, r.data.X, r.config.R), axis=1)
    assert np.array_equal(zkdl.predict(tmp_path / "m.npz", r.data.X), want)
