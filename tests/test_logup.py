"""LogUp-GKR range checks (strategy ``logup``): the tree of fractions, completeness, soundness.

Soundness tests turn the prover's own witness check off (``check_witness=False``) and
corrupt one relation the lookups enforce; each proof must be rejected with a typed error.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from zkdl import curve
from zkdl.channel import PlainChannel, ZkChannel
from zkdl.circuits.check import check_witness
from zkdl.encoding import Writer
from zkdl.errors import VerificationError
from zkdl.field import P, inv
from zkdl import logup as L
from zkdl.logup import LogupError, forest_layout, verify_fraction_tree
from zkdl.poly import evaluate
from zkdl.prover import logup as PL
from zkdl.prover.aggregate import prove_window
from zkdl.prover.backend import get_backend
from zkdl.prover.channel import PlainProverChannel, ZkProverChannel
from zkdl.transcript import Transcript
from zkdl.verifier.verify import circuit_for, verify

from test_protocol import make_run

SEED = 20261201


# ----------------------------------------------------------------- the tree of fractions
def _leaves(rnd, n, balanced=True):
    """2^n leaves: lookups of values in [0, 16), the table with their multiplicities, filler."""
    k = (1 << n) - 16 - rnd.randrange(4)
    vals = [rnd.randrange(16) for _ in range(k)]
    m = [vals.count(j) for j in range(16)]
    if not balanced:
        m[rnd.randrange(16)] += 1
    alpha = rnd.randrange(1 << 16, P)
    p = [1] * k + [(-x) % P for x in m]
    q = [(alpha - v) % P for v in vals] + [(alpha - j) % P for j in range(16)]
    return p + [0] * ((1 << n) - len(p)), q + [1] * ((1 << n) - len(q))


def _prove_tree(p, q, zk, be_name="cpu", seed=1):
    be = get_backend(be_name)
    w, t = Writer(), Transcript(b"test")
    ch = (ZkProverChannel if zk else PlainProverChannel)(t, w, be, random.Random(seed))
    out = PL.prove_fraction_tree(ch, b"T", be.from_ints(p), be.from_ints(q))
    return w.getvalue(), out[:3]


def _verify_tree(body, n, zk):
    r, t = curve.Reader(body, "tree"), Transcript(b"test")
    deferred = curve.DeferredChecks() if zk else None
    ch = ZkChannel(t, r, deferred) if zk else PlainChannel(t, r)
    out = verify_fraction_tree(ch, b"T", n)[:3]
    r.finish()
    if zk:
        deferred.verify(b"\x07" * 32)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_tree_root_is_the_sum_of_the_fractions(seed):
    rnd = random.Random(seed)
    n = 5 + seed % 3
    p = [rnd.randrange(P) for _ in range(1 << n)]
    q = [rnd.randrange(1, P) for _ in range(1 << n)]
    be = get_backend("reference")
    layers = PL.build_layers(be, p, q)
    top_p, top_q = layers[-1]
    root_p = (top_p[0] * top_q[1] + top_p[1] * top_q[0]) % P
    root_q = top_q[0] * top_q[1] % P
    direct = sum(a * inv(b) for a, b in zip(p, q)) % P
    assert root_p * inv(root_q) % P == direct


@pytest.mark.parametrize("zk", [False, True], ids=["plain", "zk"])
@pytest.mark.parametrize("be_name", ["reference", "cpu"])
def test_tree_proof_ends_in_the_leaves_mle(zk, be_name):
    p, q = _leaves(random.Random(3), 6)
    body, (z, pc, qc) = _prove_tree(p, q, zk, be_name)
    z2, pv, qv = _verify_tree(body, 6, zk)
    assert list(z) == list(z2)
    want = (evaluate(p, list(z)), evaluate(q, list(z)))
    got = (pc.v, qc.v) if zk else (pv, qv)
    assert got == want
    if zk:
        assert (pv, qv) == (pc.com(), qc.com())
    else:
        assert (pc, qc) == (pv, qv)


@pytest.mark.parametrize("zk", [False, True], ids=["plain", "zk"])
def test_tree_proofs_of_reference_and_cpu_backends_are_byte_identical(zk):
    p, q = _leaves(random.Random(9), 7)
    assert _prove_tree(p, q, zk, "reference")[0] == _prove_tree(p, q, zk, "cpu")[0]


@pytest.mark.parametrize("zk", [False, True], ids=["plain", "zk"])
def test_tree_with_nonzero_sum_is_rejected(zk):
    p, q = _leaves(random.Random(4), 6, balanced=False)
    body, _ = _prove_tree(p, q, zk)
    with pytest.raises(VerificationError):
        _verify_tree(body, 6, zk)


def test_tampered_layer_claim_is_rejected(monkeypatch):
    p, q = _leaves(random.Random(5), 6)
    real = PL.build_layers

    def corrupt(be, p, q):
        layers = real(be, p, q)
        lp, lq = layers[2]
        vals = be.to_ints(lp)
        vals[1] = (vals[1] + 1) % P
        layers[2] = (be.from_ints(vals), lq)
        return layers
    monkeypatch.setattr(PL, "build_layers", corrupt)
    body, _ = _prove_tree(p, q, zk=False)
    with pytest.raises(VerificationError):
        _verify_tree(body, 6, zk=False)


def test_forest_layout_aligns_blocks_and_bounds_trees():
    assert forest_layout([3, 5, 3, 4], 8) == [(6, [(1, 0), (3, 32), (0, 48), (2, 56)])]
    trees = forest_layout([3, 5, 3, 4], 5)           # at most 2^5 leaves per tree
    assert trees == [(5, [(1, 0)]), (5, [(3, 0), (0, 16), (2, 24)])]
    assert forest_layout([7, 2], 5) == [(7, [(0, 0)]), (2, [(1, 0)])]   # a block larger than the cap


@pytest.mark.parametrize("zk", [False, True], ids=["plain", "zk"])
def test_sent_root_tree_ends_in_the_leaves_mle(zk):
    rnd = random.Random(8)
    p = [rnd.randrange(P) for _ in range(32)]
    q = [rnd.randrange(1, P) for _ in range(32)]
    be = get_backend("cpu")
    w, t = Writer(), Transcript(b"test")
    ch = (ZkProverChannel if zk else PlainProverChannel)(t, w, be, random.Random(1))
    z, pc, qc, root = PL.prove_fraction_tree(ch, b"T", be.from_ints(p), be.from_ints(q), send_root=True)
    r, tv = curve.Reader(w.getvalue(), "tree"), Transcript(b"test")
    deferred = curve.DeferredChecks() if zk else None
    vch = ZkChannel(tv, r, deferred) if zk else PlainChannel(tv, r)
    z2, pv, qv, sent = verify_fraction_tree(vch, b"T", 5, send_root=True)
    r.finish()
    if zk:
        deferred.verify(b"\x07" * 32)
    assert list(z) == list(z2)
    vals = (pc.v, qc.v) if zk else (pc, qc)
    assert vals == (evaluate(p, list(z)), evaluate(q, list(z)))
    direct = sum(a * inv(b) for a, b in zip(p, q)) % P
    rp, rq = (root[0].v, root[1].v) if zk else root
    assert rp * inv(rq) % P == direct


# ----------------------------------------------------------------- proofs of training
@pytest.fixture(scope="module")
def run():
    return make_run()


def prove(run, t0=1, T=2, **kw):
    kw.setdefault("range_strategy", "logup")
    return prove_window(run, t0, T, rng=random.Random(SEED), **kw)[0]


@pytest.mark.parametrize("zk", [True, False], ids=["zk", "plain"])
def test_logup_proof_verifies(run, zk):
    st = verify(prove(run, zk=zk))
    assert st.zk is zk and (st.t0, st.T) == (1, 2)


@pytest.mark.parametrize("zk", [False], ids=["plain"])   # ZK: the tree tests above (the code is channel-generic)
def test_logup_proof_with_several_trees_per_table(run, zk, monkeypatch):
    """Trees of at most 2^10 leaves: every table's lookups span several trees whose roots a
    last tree sums; a wrong multiplicity is still rejected."""
    monkeypatch.setattr(L, "TREE_CAP_BITS", 6)
    c = circuit_for(run.config, 2, run.data.n_samples, range_strategy="logup")
    lb = c.options["limb_bits"]
    blocks = [c.tensor(b.layout).num_vars for b in L_blocks(c)[lb]] + [lb]
    assert len(forest_layout(blocks, 6)) > 1
    assert verify(prove(run, zk=zk)).T == 2

    def tamper(stage, obj):
        if stage == "tables":
            m = obj[f"logup.m{lb}[0]"].copy()
            m[0, 3] += 1
            obj[f"logup.m{lb}[0]"] = m
    _bad(run, tamper, zk=zk)


def test_limb_width_follows_the_circuit_size():
    """8-bit limbs below 2^17 lookups per step (the 2^16-entry table would cost more than
    the lookups), 16-bit ones above; the choice is the same for every window length."""
    import dataclasses
    from zkdl.config import TrainConfig
    small = dataclasses.replace(TrainConfig(width=8, layers=3, batch_size=4), n_features=4, n_classes=2)
    big = dataclasses.replace(TrainConfig(width=64, batch_size=64), n_features=16, n_classes=4)
    for cfg, lb, widths in ((small, 8, {1, 7, 8}), (big, 16, {9, 15, 16})):
        for T in (1, 3):
            c = circuit_for(cfg, T, 64, range_strategy="logup")
            assert c.options["limb_bits"] == lb
            assert {r.params["table_bits"] for r in c.relations_of("lookup")} == widths


def L_blocks(c):
    from zkdl.circuits.lookup import lookup_blocks
    return lookup_blocks(c.relations)


def test_logup_first_proof_and_chain(run):
    first, secrets = prove_window(run, 0, 1, rng=random.Random(SEED), range_strategy="logup", zk=False)
    a = verify(first)
    chained = dict(secrets, initial=secrets["final"])
    second, _ = prove_window(run, 1, 2, secrets=chained, check_initial_weights=False, check_dataset=False,
                             rng=random.Random(SEED), range_strategy="logup", zk=False)
    b = verify(second, expect_initial=a.final_weights_digest)
    assert b.initial_weights_digest == a.final_weights_digest


def test_honest_logup_witness_checks(run):
    c = circuit_for(run.config, 2, run.data.n_samples, range_strategy="logup")
    assert check_witness(c, run, (1, 2)) == []


def _bad(run, tamper, **kw):
    proof = prove(run, tamper=tamper, check_witness=False, **kw)
    with pytest.raises(VerificationError):
        verify(proof)


@pytest.mark.parametrize("zk", [False, True], ids=["plain", "zk"])
def test_value_past_its_range_with_identity_kept_is_rejected(run, zk):
    """dW - 1 and remW + 2^(R+k) at the window's last step keep a A^T G_Z = 2^(R+k) dW + remW
    and the chain (W_final + 1); remW is then past its range. The witness's limbs and
    multiplicities are recomputed from the tampered trace (the best a cheating prover can do)."""
    cfg = run.config
    shift = cfg.R + cfg.lr_shift

    def tamper(stage, obj):
        if stage == "trace":
            tr = obj[-1].tensors
            tr["dW_2"] = np.array(tr["dW_2"]); tr["remW_2"] = np.array(tr["remW_2"])
            tr["W_next_2"] = np.array(tr["W_next_2"])
            tr["dW_2"][0, 0] -= 1
            tr["remW_2"][0, 0] += 1 << shift
            tr["W_next_2"][0, 0] += 1
    _bad(run, tamper, zk=zk)


def _recount(run, tables):
    """Multiplicities recomputed from (tampered) tables, as a cheating prover would."""
    from zkdl.circuits.lookup import lookup_blocks
    c = circuit_for(run.config, 2, run.data.n_samples, range_strategy="logup")
    for w, blocks in lookup_blocks(c.relations).items():
        m = np.zeros(1 << w, dtype=np.int64)
        for blk in blocks:
            x = sum(coef * tables[name].astype(np.int64) for coef, name in blk.terms) + blk.const
            x = x.reshape(-1)
            m += np.bincount(x[(x >= 0) & (x < (1 << w))], minlength=1 << w)
        tables[f"logup.m{w}[0]"] = m.reshape(1, -1)


@pytest.mark.parametrize("delta", [1, -1])
def test_limb_recomposition_off_by_one_is_rejected(run, delta):
    def tamper(stage, obj):
        if stage == "tables":
            obj["remW.limb1[1]"] = obj["remW.limb1[1]"].copy()
            obj["remW.limb1[1]"][0, 0, 0] += delta
            _recount(run, obj)
    _bad(run, tamper, zk=False)


@pytest.mark.parametrize("change", [(5, 1, None), (5, 1, 6)], ids=["one-more", "moved"])
def test_wrong_multiplicity_is_rejected(run, change):
    j, d, k = change
    name = f"logup.m{circuit_for(run.config, 2, run.data.n_samples, range_strategy='logup').options['limb_bits']}[0]"

    def tamper(stage, obj):
        if stage == "tables":
            m = obj[name].copy()
            m[0, j] += d
            if k is not None:
                m[0, k] -= d
            obj[name] = m
    _bad(run, tamper, zk=False)


def test_alpha_in_the_table_is_rejected(run, monkeypatch):
    proof = prove(run, zk=False)
    real = Transcript.challenge_scalars

    def fixed(self, label, n):
        out = real(self, label, n)
        return [7] if label == b"logup/alpha" else out
    monkeypatch.setattr(Transcript, "challenge_scalars", fixed)
    with pytest.raises(LogupError):
        verify(proof)


def test_bits_and_logup_proofs_differ_in_header(run):
    from zkdl.prooffile import unpack
    a = unpack(prove(run, zk=False))[0]
    b = unpack(prove(run, zk=False, range_strategy="bits"))[0]
    assert (a["range"], b["range"]) == ("logup", "bits") and a["circuit_digest"] != b["circuit_digest"]


@pytest.mark.parametrize("value", ["bits", "magic", None, 1])
def test_header_range_edits_are_rejected(run, value):
    from zkdl.prooffile import pack, unpack
    from zkdl.verifier.verify import StatementError
    header, body = unpack(prove(run, zk=False))
    header = dict(header)
    if value is None:
        del header["range"]
    else:
        header["range"] = value
    with pytest.raises(StatementError):
        verify(pack(header, body))


LOGUP_TRACE_CASES = ["forward output Z'", "forward remainder", "backward G_A'", "backward remainder",
                     "weight update dW", "update remainder"]


@pytest.mark.parametrize("what", LOGUP_TRACE_CASES)
def test_corrupted_trace_rejected_under_logup(run, what):
    """The corruptions of tests/test_protocol.py that touch range-checked values and the
    remainders (derived from their matmul under logup): the witness check refuses, and
    with it off the verifier rejects."""
    from test_protocol import TRACE_TAMPERS, TamperedRun
    from zkdl.prover.aggregate import WitnessError
    bad = TamperedRun(run, TRACE_TAMPERS[what])
    with pytest.raises(WitnessError):
        prove(bad, zk=False)
    with pytest.raises(VerificationError):
        verify(prove(bad, check_witness=False, zk=False))


def test_flipped_sign_bit_rejected_under_logup(run):
    from test_protocol import flip_sign_bit
    _bad(run, flip_sign_bit, zk=False)


def test_range_option_on_the_command_line(tmp_path):
    """zkdl train --range bits, zkdl prove --range logup onto it (a chain may mix them),
    verify --chain; a bad value is a usage error; --resume keeps the run's strategy."""
    import json as _json
    from test_cli import SMALL, invoke, output
    out = tmp_path / "run"
    res = invoke("train", "--out", out, "--steps", 2, *SMALL, "--range", "bits", "--no-zk", "-q")
    assert res.exit_code == 0, output(res)
    summary = _json.loads((out / "summary.json").read_text())
    assert [e["range"] for e in summary["proofs"]] == ["bits", "bits"]
    assert summary["train_options"]["range"] == "bits"
    res = invoke("prove", out, "--steps", "1:2", "--force", "--range", "logup", "--no-zk", "-q")
    assert res.exit_code == 0, output(res)
    proofs = sorted((out / "proofs").glob("*.zkdl"))
    from zkdl.prooffile import unpack
    assert [unpack(p.read_bytes())[0]["range"] for p in proofs] == ["bits", "logup"]
    res = invoke("verify", "--chain", *proofs)
    assert res.exit_code == 0, output(res)
    res = invoke("inspect", proofs[1])
    assert res.exit_code == 0 and "range checks  logup" in res.stdout, output(res)
    res = invoke("train", "--out", tmp_path / "x", "--steps", 1, *SMALL, "--range", "magic")
    assert res.exit_code == 2 and "Traceback" not in output(res)
    res = invoke("train", "--out", out, "--resume", "--range", "logup", "-q")
    assert res.exit_code == 2 and "range bits (given logup)" in output(res), output(res)


def test_every_region_of_a_logup_body_is_checked(run):
    """Flipped bits anywhere in a logup proof's body (the trees included) are rejected."""
    from zkdl.prooffile import pack, unpack
    header, body = unpack(prove(run, zk=False))
    rng = random.Random(SEED)
    for off in sorted({0, len(body) - 1} | {rng.randrange(len(body)) for _ in range(10)}):
        bad = bytearray(body)
        bad[off] ^= 1 << rng.randrange(8)
        with pytest.raises(VerificationError):
            verify(pack(header, bytes(bad)))
