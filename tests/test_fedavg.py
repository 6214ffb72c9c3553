"""Federated averaging (FedAvg) and FedStale (zkdl.federated*): the public schedule, the
aggregation's integer rule and circuit, an honest federated claim (plain and ZK) that
audits, each corruption of issue 17 rejected with its own finding, an aggregation relation
corrupted with the prover's check off rejected by the verifier, the CLI, the float fidelity."""

import copy
import json
import os
import random
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from zkdl import data as D
from zkdl.audit import audit_claim
from zkdl.cli import cli
from zkdl.config import TrainConfig
from zkdl.errors import VerificationError
from zkdl.federated import aggregation_inputs, aggregation_params, coefficients, participants, stale_sources
from zkdl.federated_sim import normalize_federation, run_federated
from zkdl.federated_trace import aggregate, fidelity, integer_federated
from zkdl.report import html_report, text_report

CFG = TrainConfig(width=(6, 5), batch_size=4, lr_shift=7)
# seed 1: participants [0, 2], [1, 2], [0, 1]; client 0 stale in round 1 (from 0), client 2 in round 2 (from 1)
FED = {"clients": 3, "rounds": 3, "local_steps": 1, "participants": 2, "participation_seed": 1, "beta_num": 2,
       "beta_shift": 2}


@pytest.fixture(scope="module")
def data():
    return D.synthetic(n_samples=60, n_features=3, n_classes=3)


@pytest.fixture(scope="module")
def fed(data):
    return normalize_federation(FED, data)


def simulate(tmp, data, fed, name, **kw):
    out = os.path.join(tmp, name)
    run_federated(CFG, data, fed, out, zk=kw.pop("zk", False), **kw)
    return os.path.join(out, "claim")


@pytest.fixture(scope="module")
def honest(tmp_path_factory, data, fed):
    return simulate(str(tmp_path_factory.mktemp("fed")), data, fed, "honest")


def codes(report):
    return {f["code"] for f in report["failures"]}


def test_the_schedule_is_public_and_fedstale_uses_the_last_update(fed):
    assert [participants(1, r, 3, 2) for r in range(3)] == [[0, 2], [1, 2], [0, 1]]
    assert stale_sources(fed, 0) == {} and stale_sources(fed, 1) == {0: 0} and stale_sources(fed, 2) == {2: 1}
    assert stale_sources({**fed, "beta_num": 0}, 2) == {}            # FedAvg: no stale updates
    fresh, stale = coefficients(fed, 1)
    # u = 20 * 4 for participants, 20 * 2 for the stale client: e = 2^12 u / sum u (rounded)
    assert fresh == {1: 1638, 2: 1638} and stale == {0: 819}
    inputs = aggregation_inputs(fed, 1)
    assert [src for src, _ in inputs] == [("global", 1), ("client", 1, 1), ("client", 1, 2), ("client", 0, 0),
                                          ("global", 0)]
    assert [c for _, c in inputs] == [4096 - 3276, 1638, 1638, 819, -819]
    p = aggregation_params(fed, 1)
    assert p["inputs"] == 5 and p["shift"] == 12 and p["c4"] == -819


def test_aggregation_integer_rule():
    rng = np.random.default_rng(0)
    xs = [[rng.integers(-1000, 1000, (3, 4))] for _ in range(3)]
    coefs, s = [2048, 1365, -683], 12
    (w,), (rem,) = aggregate(xs, coefs, s, 32)
    acc = sum(c * x[0] for c, x in zip(coefs, xs))
    assert np.array_equal((w << s) + rem, acc)
    assert rem.min() >= -(1 << (s - 1)) and rem.max() < 1 << (s - 1)


def test_honest_federated_claim_audits(honest, data, fed):
    rep = audit_claim(honest, jobs=2)
    assert rep["ok"], rep["failures"]
    assert rep["summary"]["method"] == "fedstale" and rep["summary"]["n_proofs"] == 9
    assert all(c["link_ok"] for row in rep["rounds"] for c in row["clients"])
    assert all(row["aggregation"]["links_ok"] for row in rep["rounds"])
    assert "HOLDS" in text_report(rep) and "Federated claim: HOLDS" in html_report(rep)
    # the proven global model is the exact-integer rule's (zkdl.federated_trace)
    got = np.load(os.path.join(os.path.dirname(honest), "run", "global_final.npz"))
    want = integer_federated(CFG, data, fed)[-1]
    assert all(np.array_equal(got[f"W{l + 1}"], w) for l, w in enumerate(want))
    # secrets stay out of the claim
    assert not any("secret" in p for _, _, fs in os.walk(honest) for p in fs)


def test_a_client_starting_from_a_stale_global_model_is_rejected(tmp_path, data, fed):
    rep = audit_claim(simulate(str(tmp_path), data, fed, "stale_start", faults={"stale_start": {(2, 1)}}), jobs=2)
    assert not rep["ok"]
    bad = [f for f in rep["failures"] if f["code"] == "global_link"]
    assert bad and bad[0]["location"].startswith("round 2 client 1") and "stale global model W_1" in bad[0]["message"]


def test_a_dropped_client_is_rejected(tmp_path, data, fed):
    rep = audit_claim(simulate(str(tmp_path), data, fed, "drop", faults={"drop": {(1, 2)}}), jobs=2)
    assert {"client_missing", "aggregation_weights"} <= codes(rep)
    assert any(f["location"] == "round 1 client 2" for f in rep["failures"] if f["code"] == "client_missing")


def test_a_changed_aggregation_weight_is_rejected(tmp_path, data, fed):
    rep = audit_claim(simulate(str(tmp_path), data, fed, "weight", faults={"weight": {1: (1, 7)}}), jobs=2)
    assert codes(rep) == {"aggregation_weights"}
    assert "c1 = 1645 (public schedule: 1638)" in rep["failures"][0]["message"]


def test_a_stale_update_from_the_wrong_round_is_rejected(tmp_path, data, fed):
    # client 2's last update before round 2 is of round 1; the server takes round 0's
    rep = audit_claim(simulate(str(tmp_path), data, fed, "wrong", faults={"stale_round": {(2, 2): 0}}), jobs=2)
    assert "stale_update" in codes(rep) and codes(rep) <= {"stale_update", "global_link", "manifest_field"}
    assert any("client 2's final weights of round 1" in f["message"] for f in rep["failures"])


def test_a_client_proof_reused_in_another_round_is_rejected(tmp_path, honest):
    claim = str(tmp_path / "claim")
    shutil.copytree(honest, claim)
    mpath = os.path.join(claim, "manifest.json")
    m = json.load(open(mpath))
    old = next(e for e in m["rounds"][0]["client_proofs"] if e["client"] == 0)
    new = next(e for e in m["rounds"][2]["client_proofs"] if e["client"] == 0)
    shutil.copy(os.path.join(claim, old["file"]), os.path.join(claim, new["file"]))
    new["sha256"] = old["sha256"]
    json.dump(m, open(mpath, "w"))
    rep = audit_claim(claim, jobs=2)
    assert {"proof_reused", "config_mismatch", "global_link"} <= codes(rep)
    assert any("another round" in f["message"] for f in rep["failures"] if f["code"] == "config_mismatch")


def test_manifest_statements_are_checked(tmp_path, honest):
    claim = str(tmp_path / "claim")
    shutil.copytree(honest, claim)
    mpath = os.path.join(claim, "manifest.json")
    m = json.load(open(mpath))
    m2 = copy.deepcopy(m)
    m2["rounds"][1]["participants"] = [0, 1]
    m2["globals"][2] = m2["globals"][1]
    json.dump(m2, open(mpath, "w"))
    rep = audit_claim(claim, jobs=2)
    assert {"participation_mismatch", "global_link"} <= codes(rep)
    from zkdl.audit import ClaimError
    for bad in ({**m, "rounds": m["rounds"][:2]}, {**m, "federation": {**m["federation"], "clients": 999}},
                {**m, "globals": m["globals"][:-1]}, {**m, "clients": "x"}):
        json.dump(bad, open(mpath, "w"))
        with pytest.raises(ClaimError):
            audit_claim(claim)
    res = CliRunner().invoke(cli, ["audit", claim])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_a_corrupted_aggregation_is_rejected_by_the_verifier(tmp_path, data, fed):
    """The aggregation's remainder moved (the linear constraint then fails), proven with the
    prover's own check off: the aggregation proof is invalid; with the check on, the
    witness checker names the relation first."""
    from zkdl.circuits.check import check_witness
    from zkdl.federated_sim import _placeholder_data
    from zkdl.prover.aggregate import prove_window
    from zkdl.tracer import Run, init_weights
    from zkdl.verifier.verify import circuit_for, verify
    from tests.test_protocol import TamperedRun
    from tests.method_cases import bump

    cfg = CFG.for_data(data)
    w = init_weights(cfg)
    params = {"shift": 4, "inputs": 2, "c0": 8, "c1": 8}
    run = Run(cfg.replace(steps=1), _placeholder_data(cfg), {"fi0": w, "fi1": [x + 3 for x in w]},
              method="fedavg_agg", method_params=params, keep_in_memory=True)
    run.resume(1)
    for rs in ("bits", "logup"):
        c = circuit_for(run.config, 1, run.data.n_samples, True, True, False, "fedavg_agg", run.method_params, rs)
        assert check_witness(c, run, (0, 1)) == []
        bad = TamperedRun(run, bump("fi_next0_1", delta=1))
        assert any(f.relation.startswith("aggregate[") for f in check_witness(c, bad, (0, 1)))
        proof, _ = prove_window(bad, 0, 1, zk=False, range_strategy=rs, check_witness=False,
                                rng=random.Random(1))
        with pytest.raises(VerificationError):
            verify(proof)
    # the same inside a federated claim: the audit reports the invalid aggregation proof
    claim = simulate(str(tmp_path), data, {**fed, "rounds": 1}, "tampered", faults={"agg_tamper": {0: _tamper_rem}})
    rep = audit_claim(claim, jobs=2)
    assert "invalid_proof" in codes(rep)
    assert any(f["location"].startswith("round 0 aggregation") for f in rep["failures"])


def _tamper_rem(stage, obj):
    if stage == "tables":
        name = next(n for n in obj if n.split("[")[0] == "FW_final")
        a = np.array(obj[name], copy=True)
        a.reshape(-1)[0] += 1
        obj[name] = a


def test_zero_knowledge_federated_claim_through_the_api(tmp_path, data):
    import zkdl
    out = str(tmp_path / "zk")
    m = zkdl.train_federated(CFG, data, out, method="fedstale", params={"clients": 2, "rounds": 2, "participants": 1})
    assert m["federation"]["beta_num"] == 2 and m["zk"] is True
    rep = zkdl.audit_claim(os.path.join(out, "claim"), jobs=2)
    assert rep["ok"] and rep["summary"]["zk"] is True and rep["summary"]["method"] == "fedstale", rep["failures"]


def test_cli_train_and_audit(tmp_path):
    out = str(tmp_path / "fedrun")
    runner = CliRunner()
    res = runner.invoke(cli, ["train", "--method", "fedavg", "--method-param", "clients=3,rounds=2",
                              "--method-param", "participants=2", "--width", "6", "--layers", "2",
                              "--batch-size", "4", "--data", "synthetic:40", "--no-zk", "--out", out, "--quiet"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["audit", out, "--html", str(tmp_path / "a.html")])
    assert res.exit_code == 0 and "federated claim" in res.output and "HOLDS" in res.output, res.output
    assert "Federated claim: HOLDS" in open(tmp_path / "a.html").read()
    m = json.load(open(os.path.join(out, "claim", "manifest.json")))     # FedAvg, partial participation
    assert m["federation"]["beta_num"] == 0 and all(len(rd["participants"]) == 2 and not rd["stale"]
                                                    for rd in m["rounds"])
    for args, msg in ((["--method-param", "clients=0"], "clients must be in"),
                      (["--method-param", "colour=3"], "no such parameter"),
                      (["--method-param", "clients"], "expected KEY=INT"),
                      (["--steps", "3"], "do(es) not apply"),
                      (["--method-param", "clients=16"], "fewer than the batch")):
        res = runner.invoke(cli, ["train", "--method", "fedavg", "--data", "synthetic:40", "--batch-size", "4",
                                  "--width", "6", "--layers", "2", "--no-zk", "--out", str(tmp_path / "x")] + args)
        assert res.exit_code == 2 and msg in res.output and "Traceback" not in res.output, (args, res.output)
        assert not os.path.exists(tmp_path / "x")
    res = runner.invoke(cli, ["audit", out, "--model", str(tmp_path / "a.html")])
    assert res.exit_code == 2


def test_float_fidelity():
    data = D.synthetic(n_samples=256, n_features=8, n_classes=3)
    cfg = TrainConfig(width=16, layers=3, batch_size=16, lr_shift=7)
    for beta in (0, 2):
        fed = normalize_federation({"clients": 4, "rounds": 4, "local_steps": 2, "participants": 2,
                                    "beta_num": beta, "participation_seed": 1}, data)
        rows = fidelity(cfg, data, fed)
        assert rows[-1]["loss_float"] < rows[0]["loss_float"]          # it trains
        assert max(r["rel_gap"] for r in rows) < 0.01, rows
