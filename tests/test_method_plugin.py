"""A second training method without touching prover/, verifier/ or the circuit rules
(issue 14): tests/frozen_method.py (SGD with the first layer frozen) is registered,
trained, proven (ZK and plain), chained, verified and audited; each of its new relations,
corrupted with the prover's own check off, is rejected."""

import json
import random
import sys
import pathlib

import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.circuits.builder import METHODS, register_method
from zkdl.circuits.check import check_witness
from zkdl.config import TrainConfig
from zkdl.errors import ConfigError, VerificationError
from zkdl.prover.aggregate import WitnessError, prove_window
from zkdl.verifier.verify import ChainError, circuit_for, verify

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from frozen_method import FrozenFirstLayer  # noqa: E402
from tests.test_protocol import TamperedRun  # noqa: E402

NAME = FrozenFirstLayer.name
SEED = 20261201


@pytest.fixture(scope="module", autouse=True)
def registered():
    register_method(FrozenFirstLayer)
    yield
    METHODS.pop(NAME, None)


@pytest.fixture(scope="module")
def run(registered):
    cfg = TrainConfig(width=(6, 5), batch_size=3, lr_shift=9)
    return zkdl.train(cfg, D.synthetic(n_samples=50, n_features=3, n_classes=3), steps=4, keep_in_memory=True,
                      method=NAME)


def prove(run, t0=0, T=2, **kw):
    return prove_window(run, t0, T, rng=random.Random(SEED), **kw)


def test_the_first_layer_is_frozen_and_the_rest_trains(run):
    assert run.method == NAME
    assert all(np.array_equal(run.weights(t)[0], run.weights(0)[0]) for t in range(5))
    assert not np.array_equal(run.weights(4)[1], run.weights(0)[1])
    c = circuit_for(run.config, 2, 50, method=NAME)
    assert check_witness(c, run, (0, 2)) == []
    assert {"frozen[1]", "frozen_final[1]"} <= {r.name for r in c.relations}
    assert not any(r.name == "update[1]" for r in c.relations)


@pytest.mark.parametrize("zk", [True, False], ids=["zk", "plain"])
def test_honest_proofs_verify_and_chain(run, zk):
    first, sec = prove(run, 0, 2, zk=zk)
    second, _ = prove(run, 2, 2, zk=zk, secrets=dict(sec, initial=sec["final"]), check_initial_weights=False,
                      check_dataset=False)
    s1 = verify(first)
    s2 = verify(second, expect_initial=s1.final_weights_digest)
    assert s1.method == s2.method == NAME and s1.zk is zk
    assert NAME in s1.describe()
    with pytest.raises(ChainError):
        verify(second, expect_initial=s1.initial_weights_digest)


def test_method_parameters_are_part_of_the_statement(registered):
    """frozen_layers = 2 of 3: a different circuit (digest), named in the header; the
    same proof stated with another parameter value is rejected."""
    from zkdl.prooffile import pack, unpack
    cfg = TrainConfig(width=(6, 5), batch_size=3, lr_shift=9)
    run2 = zkdl.train(cfg, D.synthetic(n_samples=50, n_features=3, n_classes=3), steps=2, keep_in_memory=True,
                      method=NAME, method_params={"frozen_layers": 2})
    assert all(np.array_equal(run2.weights(2)[i], run2.weights(0)[i]) for i in (0, 1))
    assert not np.array_equal(run2.weights(2)[2], run2.weights(0)[2])
    proof, _ = prove(run2)
    header, body = unpack(proof)
    assert header["method_params"] == {"frozen_layers": 2}
    assert verify(proof).method == NAME
    c1, c2 = (circuit_for(cfg.for_data(run2.data), 2, 50, method=NAME, method_params={"frozen_layers": k},
                          range_strategy=header["range"]) for k in (1, 2))
    assert c1.digest() != c2.digest() and header["circuit_digest"] == c2.digest()
    for bad in ({"frozen_layers": 1}, {}, {"frozen_layers": 3}, {"frozen_layers": 2, "x": 1}):
        with pytest.raises(VerificationError):
            verify(pack(dict(header, method_params=bad), body))
    with pytest.raises(ConfigError, match="no parameter 'depth'"):
        zkdl.train(cfg, run2.data, steps=1, method=NAME, method_params={"depth": 1})


def test_the_sgd_verifier_does_not_accept_it_as_sgd(run):
    """The header names the method; the same bytes stated as sgd_mlp are rejected."""
    from zkdl.prooffile import pack, unpack
    proof, _ = prove(run)
    header, body = unpack(proof)
    header["method"] = "sgd_mlp"
    with pytest.raises(VerificationError):
        verify(pack(header, body))


def moved_frozen_weight(stage, steps):
    w = steps[1].tensors["W_1"].copy()      # (the honest steps share one W_1 array)
    w[0, 0] += 1                            # layer 1 changed at step 1: breaks `frozen`
    steps[1].tensors["W_1"] = w


@pytest.mark.parametrize("zk", [True, False], ids=["zk", "plain"])
def test_a_moved_frozen_weight_is_rejected(run, zk):
    bad = TamperedRun(run, moved_frozen_weight)
    with pytest.raises(WitnessError) as err:
        prove(bad, zk=zk)
    assert any(f.relation == "frozen[1]" for f in err.value.failures), {f.relation for f in err.value.failures}
    proof, _ = prove(bad, zk=zk, check_witness=False)
    with pytest.raises(VerificationError):
        verify(proof)


@pytest.mark.parametrize("zk", [True, False], ids=["zk", "plain"])
def test_a_changed_frozen_final_weight_is_rejected(run, zk):
    """The statement's W_final[1] differs from W0[1]: breaks `frozen_final` (its claim on
    W_final moves to W0 unchanged, so the opening of W0 fails)."""
    def tamper(stage, obj):
        if stage == "tables":
            obj["W_final[1]"][0, 0, 0] += 1
    proof, _ = prove(run, zk=zk, check_witness=False, tamper=tamper)
    with pytest.raises(VerificationError):
        verify(proof)


def test_prove_and_audit_from_the_command_line(registered, tmp_path):
    from tests.test_cli import invoke, output
    cfg = TrainConfig(width=(6, 5), batch_size=3, lr_shift=9)
    zkdl.train(cfg, D.synthetic(n_samples=50, n_features=3, n_classes=3), steps=4, out_dir=tmp_path / "run",
               method=NAME)
    assert zkdl.Run.load(tmp_path / "run").method == NAME
    res = invoke("prove", tmp_path / "run", "--out", tmp_path / "out", "--window", 2, "--no-zk", "-q")
    assert res.exit_code == 0, output(res)
    res = invoke("verify", *sorted((tmp_path / "out" / "proofs").iterdir()), "--chain")
    assert res.exit_code == 0, output(res)
    res = invoke("audit", tmp_path / "out" / "claim", "--jobs", 1, "--json")
    assert res.exit_code == 0, output(res)
    assert json.loads(res.stdout)["ok"] is True
    first = sorted((tmp_path / "out" / "proofs").iterdir())[0]
    res = invoke("inspect", first)
    assert res.exit_code == 0 and NAME in res.stdout, output(res)
    res = invoke("circuit", "emit", "--from-proof", first, "--output", tmp_path / "c.json")
    assert res.exit_code == 0, output(res)
    assert json.loads((tmp_path / "c.json").read_text())["method"] == NAME
    res = invoke("export-model", tmp_path / "out", "--out", tmp_path / "model.npz")
    assert res.exit_code == 0, output(res)
    res = invoke("audit", tmp_path / "out" / "claim", "--jobs", 1, "--model", tmp_path / "model.npz")
    assert res.exit_code == 0, output(res)


def test_train_with_method_from_the_command_line(registered, tmp_path):
    from tests.test_cli import invoke, output
    args = ["--width", "6", "--layers", "3", "--batch-size", "3", "--data", "synthetic:50", "--steps", "2", "-q"]
    res = invoke("train", "--out", tmp_path / "r", "--method", NAME, "--method-param", "frozen_layers=2", *args)
    assert res.exit_code == 0, output(res)
    run = zkdl.Run.load(tmp_path / "r" / "run")
    assert (run.method, run.method_params) == (NAME, {"frozen_layers": 2})
    res = invoke("audit", tmp_path / "r" / "claim", "--jobs", 1)
    assert res.exit_code == 0, output(res)
    # bad method / parameter: a message, exit 2, nothing written
    for bad in (["--method", "no_such"], ["--method", NAME, "--method-param", "depth=1"],
                ["--method", NAME, "--method-param", "frozen_layers"], ["--method-param", "x=1"]):
        res = invoke("train", "--out", tmp_path / "bad", *bad, *args)
        assert res.exit_code == 2 and "Traceback" not in output(res), output(res)
        assert not (tmp_path / "bad").exists()
