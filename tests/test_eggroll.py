"""Training method ``eggroll`` (zkdl.methods.eggroll): integer evolution strategies with
low-rank public perturbations, no backward pass.

The integer rule holds on the trace (public factors from the seed, each member's forward
pass, the fitness signs, the thresholded one-quantum moves); honest proofs verify (ZK and
plain), chain and audit; the circuit follows its window's t0 (the perturbations are per
step); each new relation corrupted with the prover's check off is named by the witness
checker and rejected by the verifier; the integer rule is measured against its float64
reference."""

import json
import random

import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.circuits.check import check_witness
from zkdl.config import TrainConfig
from zkdl.errors import VerificationError
from zkdl.methods.eggroll import fitness_id, member_id, pair_id
from zkdl.methods.eggroll_trace import factors, fidelity, float_train
from zkdl.prooffile import pack, unpack
from zkdl.prover.aggregate import prove_window
from zkdl.verifier.verify import circuit_for, verify
from tests.method_cases import assert_honest_chain, assert_rejected

SEED = 20261204
NAME = "eggroll"
CFG = TrainConfig(width=(6,), batch_size=4)
PARAMS = {"pairs": 2, "rank": 2}


@pytest.fixture(scope="module")
def run():
    return zkdl.train(CFG, D.synthetic(n_samples=40, n_features=3, n_classes=3), steps=3, keep_in_memory=True,
                      method=NAME, method_params=PARAMS)


def prove(run, t0=0, T=1, **kw):
    return prove_window(run, t0, T, rng=random.Random(SEED), **kw)


def test_the_integer_rule_holds_on_the_trace(run):
    p = run.method_params
    N, R, L = p["pairs"], run.config.R, run.config.layers
    dims = list(run.config.dims())
    step = 1 << (R - p["step_shift"])
    for t in range(run.n_steps):
        tr = run.step(t).tensors
        fac = factors(dims, t, N, p["rank"], p["density_permille"], p["seed"])
        assert fac.keys() == {(i, l) for i in range(N) for l in range(1, L + 1)}
        assert not np.array_equal(fac[(0, 1)][0], factors(dims, t + 1, N, 2, 500, 0)[(0, 1)][0])  # per step
        f = []
        for i in range(N):
            lp, lm = (int(tr[f"Lm_{member_id(2 * i + s, L)}"][0]) for s in (0, 1))
            assert int(tr[f"Sf_{fitness_id(i)}"][0]) == int(lm - lp < 0)      # ties: f = +1
            f.append(1 if lm >= lp else -1)
        for l in range(1, L + 1):
            A = [fac[(i, l)][0] for i in range(N)]
            B = [fac[(i, l)][1] for i in range(N)]
            assert set(np.unique(A[0])) <= {-1, 0, 1} and set(np.unique(B[0])) <= {0, 1}
            Z = sum(f[i] * A[i] @ B[i].T for i in range(N))
            assert np.array_equal(tr[f"ZS_{l}"], Z)
            move = (Z > p["threshold"]).astype(int) - (Z < -p["threshold"]).astype(int)
            assert np.array_equal(run.state(t + 1)["W"][l - 1] - run.state(t)["W"][l - 1], step * move)
            assert np.array_equal(tr[f"Pa_{member_id(1, l)}"], A[0])   # both members of a pair share A_i
    for rs in ("bits", "logup"):
        c = circuit_for(run.config, 2, 40, method=NAME, method_params=run.method_params, range_strategy=rs, t0=0)
        assert check_witness(c, run, (0, 2)) == []
    # no backward pass: nothing of a gradient in the circuit
    assert not any(t.base in ("G_Z", "G_Ap") for t in c.tensors)
    c1 = circuit_for(run.config, 2, 40, method=NAME, method_params=run.method_params, t0=1)
    assert c1.digest() != c.digest() and check_witness(c1, run, (1, 2)) == []


def test_tracer_against_the_float_reference():
    """Step by step from the same state, the integer and float64 steps agree on almost
    every fitness sign and weight move; from the same start, both trajectories learn."""
    data = D.synthetic(n_samples=200, n_features=8, n_classes=3)
    cfg = TrainConfig(width=16, layers=3, batch_size=16)
    r = zkdl.train(cfg, data, steps=30, method=NAME)
    fid = fidelity(r)
    assert fid["sign_agreement"] >= 0.9 and fid["move_agreement"] >= 0.9, fid
    assert fid["max_loss_gap"] < 0.01, fid
    losses, _, _ = float_train(r.config, data, 30, r.state(0), **r.method_params)
    assert np.mean(r.losses[-5:]) < np.mean(r.losses[:5]) and np.mean(losses[-5:]) < np.mean(losses[:5])


@pytest.mark.parametrize("zk", [True, False], ids=["zk", "plain"])
def test_honest_proofs_verify_and_chain(run, zk):
    assert_honest_chain(prove, run, NAME, zk)


def test_a_proof_restated_at_another_step_is_rejected(run):
    """The perturbations are per step: the circuit of a window depends on its t0."""
    proof, _ = prove(run, 0, 1)
    header, body = unpack(proof)
    header["statement"]["steps"] = [1, 2]
    with pytest.raises(VerificationError):
        verify(pack(header, body))


def poke(name, delta=1, flip=False, also=None):
    """Trace corruption of step 0: entry 0 of tensor ``name`` += delta (or 0 <-> 1)."""
    def tamper(stage, steps):
        for n, d, fl in [(name, delta, flip)] + ([also] if also else []):
            a = steps[0].tensors[n].copy()
            i = (0,) * a.ndim
            a[i] = 1 - a[i] if fl else a[i] + d
            steps[0].tensors[n] = a
    return tamper


M_OUT, M_HID, U0, Q0 = member_id(1, 2), member_id(0, 1), pair_id(1, 1), fitness_id(0)
TAMPERS = {   # relation broken -> trace corruption (step 0)
    "ones": poke("ONE"),                                   # the public all-ones vector
    "perturb_PA:0": poke(f"PA_{U0}", flip=True),           # a public perturbation factor changed
    "perturb_PB:0": poke(f"PB_{U0}", flip=True),
    "perturb_NA:0": poke(f"NA_{U0}", flip=True),
    "factor_A": poke(f"Ap_{U0}"),
    "factor_B": poke(f"Bp_{U0}"),
    "gather:Pa": poke(f"Pa_{M_HID}"),                      # a member reading another pair's factor
    "gather:Wg": poke(f"Wg_{M_HID}"),                      # ... or other weights
    "member_base": poke(f"ZW_{M_HID}"),                    # a member's forward pass
    "member_down": poke(f"F_{M_HID}"),
    "member_forward": poke(f"Zp_{M_OUT}"),
    "member_error": poke(f"Gm_{M_OUT}"),
    "member_loss": poke(f"Lm_{M_OUT}"),                    # a member's score
    "fitness_gap": poke(f"Dd_{Q0}"),
    "fitness_sign": poke(f"Sf_{Q0}", flip=True),           # a fitness sign flipped
    "gather:SG": lambda stage, steps: steps[0].tensors.update(     # a pair's fitness read flipped
        {f"SG_{U0}": 1 - steps[0].tensors[f"SG_{U0}"], f"SB_{U0}": 1 - steps[0].tensors[f"SB_{U0}"]}),
    "fitness_spread": poke(f"SB_{U0}"),
    "fitness_apply": poke(f"Fa_{U0}"),
    "pair_update": poke(f"Zi_{U0}"),
    "update_sum": poke("ZS_1"),
    "threshold_pos": poke("Sa_1", flip=True),              # a weight moved the wrong way
    "threshold_neg": poke("Sb_2", flip=True),
    "move": poke("dW_1"),
    "chain_final": poke("W_next_2", 1),                    # the statement's final weights
}


@pytest.mark.parametrize("what,zk", [(w, w == "fitness_sign") for w in sorted(TAMPERS)])
def test_each_relation_corrupted_is_rejected(run, what, zk):
    """Plain mode (the same relations, checked faster at these sizes), one of them in ZK."""
    assert_rejected(prove, run, TAMPERS[what], what, T=1, zk=zk)


def test_a_fitness_sign_with_its_range_value_shifted_is_rejected(run):
    """Claim the other sign and move U = d + 2^62 S with it: the range check fails."""
    def tamper(stage, steps):
        tr = steps[0].tensors
        q = f"_{Q0}"
        s = 1 - int(tr["Sf" + q][0])
        tr["Sf" + q] = np.array([s], dtype=np.int64)
        tr["Uf" + q] = np.array([int(tr["Dd" + q][0]) + (s << 62)], dtype=np.int64)
    assert_rejected(prove, run, tamper, "range:Uf", T=1)


def test_train_and_audit_from_the_command_line(tmp_path):
    from tests.test_cli import invoke, output
    res = invoke("train", "--out", tmp_path / "r", "--method", NAME, "--method-param", "pairs=2",
                 "--method-param", "rank=1", "--width", "6", "--layers", "2", "--batch-size", "4",
                 "--data", "synthetic:40", "--steps", "2", "--window", "1", "--no-zk", "-q")
    assert res.exit_code == 0, output(res)
    res = invoke("audit", tmp_path / "r" / "claim", "--jobs", 1, "--json")
    assert res.exit_code == 0, output(res)
    assert json.loads(res.stdout)["summary"]["method_params"] == {
        "density_permille": 500, "pairs": 2, "rank": 1, "seed": 0, "sigma_shift": 5, "step_shift": 8,
        "threshold": 0}
    res = invoke("export-model", tmp_path / "r", "--out", tmp_path / "m.npz")
    assert res.exit_code == 0, output(res)
    res = invoke("audit", tmp_path / "r" / "claim", "--jobs", 1, "--model", tmp_path / "m.npz")
    assert res.exit_code == 0, output(res)
    res = invoke("train", "--out", tmp_path / "bad", "--method", NAME, "--method-param", "pairs=0",
                 "--steps", "1", "-q")
    assert res.exit_code == 2 and "pairs" in output(res) and "Traceback" not in output(res), output(res)
    assert not (tmp_path / "bad").exists()
