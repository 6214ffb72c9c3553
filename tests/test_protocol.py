"""End-to-end aggregated proofs: completeness, and the verifier (not the prover)
rejecting every class of corrupted witness, tampered byte, header or chain.

The full soundness suite runs in zero-knowledge mode (the default); the plain
(debugging) mode gets completeness and a representative subset."""

import copy
import json
import random

import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.config import TrainConfig
from zkdl.errors import VerificationError
from zkdl.prooffile import pack, unpack
from zkdl.prover.aggregate import WitnessError, prove_window
from zkdl.verifier.verify import ChainError, verify

SEED = 20261127


def make_run(width=(6, 5), batch=3, n=50, features=3, classes=3, steps=4, **kw):
    cfg = TrainConfig(width=width, batch_size=batch, lr_shift=9, **kw)
    return zkdl.train(cfg, D.synthetic(n_samples=n, n_features=features, n_classes=classes), steps=steps,
                      keep_in_memory=True)


@pytest.fixture(scope="module")
def run():
    return make_run()


def prove(run, t0=1, T=2, **kw):
    kw.setdefault("range_strategy", "bits")   # the bit-decomposition strategy (logup: tests/test_logup.py)
    return prove_window(run, t0, T, rng=random.Random(SEED), **kw)


@pytest.fixture(scope="module", params=[True, False], ids=["zk", "plain"])
def honest(run, request):
    return prove(run, zk=request.param)[0]


# ----------------------------------------------------------------- completeness

def test_honest_proof_verifies(run, honest):
    st = verify(honest)
    assert (st.t0, st.T) == (1, 2)
    assert st.zk is unpack(honest)[0]["zk"]
    assert ("PLAIN" in st.describe()) is (not st.zk)
    assert st.config == run.config


@pytest.mark.parametrize("kw,t0,T,zk", [
    (dict(width=8, layers=3, batch=4, n=64, features=4, classes=2, steps=1), 0, 1, True),
    (dict(width=4, layers=8, batch=2, n=16, features=4, classes=2, steps=4), 0, 4, True),
    (dict(width=4, layers=8, batch=2, n=16, features=4, classes=2, steps=4), 0, 4, False),
])
def test_other_shapes_verify(kw, t0, T, zk):
    r = make_run(**kw)
    proof, _ = prove(r, t0, T, zk=zk)
    assert verify(proof).T == T


def test_without_initial_weight_range_check(run):
    proof, _ = prove(run, check_initial_weights=False)
    st = verify(proof)
    assert not st.initial_weights_range_checked
    assert "inherited" in st.describe()


def test_chained_windows(run):
    first, sec = prove(run, 0, 2)
    nxt = dict(sec, initial=sec["final"])
    second, _ = prove_window(run, 2, 2, secrets=nxt, rng=random.Random(SEED + 1), check_initial_weights=False)
    s1, s2 = verify(first), verify(second, expect_initial=verify(first).final_weights_digest)
    assert s2.initial_weights_digest == s1.final_weights_digest
    assert s2.dataset_digest == s1.dataset_digest
    with pytest.raises(ChainError):
        verify(second, expect_initial=s1.initial_weights_digest)


@pytest.mark.slow   # (run with -m slow) the default suite has tests/test_zk_hiding.py's two-proofs check
def test_fresh_blinds_hide(run):
    """Without an injected rng, proving twice gives different commitments."""
    a, _ = prove_window(run, 1, 1)
    b, _ = prove_window(run, 1, 1)
    assert unpack(a)[0]["statement"]["dataset_digest"] != unpack(b)[0]["statement"]["dataset_digest"]
    verify(a)
    verify(b)


# ---------------------------------------------- corrupted witnesses (prover skips checks)

class TamperedRun:
    """A run whose window (as the witness checker and the prover read it) is corrupted."""

    def __init__(self, run, fn):
        self._run, self._fn = run, fn

    def __getattr__(self, name):
        return getattr(self._run, name)

    def window(self, t0, T):
        steps = copy.deepcopy(self._run.window(t0, T))
        self._fn("trace", steps)
        return steps


def bump(name, idx=(0, 0), delta=1, step=0):
    def tamper(stage, obj):
        if stage == "trace":
            obj[step].tensors[name][idx] += delta
    return tamper


def flip_sign_bit(stage, obj):
    """Claim a non-negative Z' is negative: S flipped, bits of U kept (wrapping)."""
    if stage == "tables":
        s = obj["S[1]"]
        zp = obj["Zp[1]"]
        i = int(np.argmax((zp >= 0) & (s == 0)))
        s.reshape(-1)[i] = 1


def non_boolean_bits(stage, obj):
    """Same recomposed value, but planes 0/1 hold 2 and -1: only booleanity catches it."""
    if stage == "tables":
        bits = obj["remZ.bits[2]"].reshape(-1, obj["remZ.bits[2]"].shape[-1])
        e = int(np.argmax(bits[:, 1] == 0))
        bits[e, 0] += 2
        bits[e, 1] -= 1


def wrong_rows(stage, obj):
    if stage == "trace":
        a0 = obj[0].tensors["A_0"]
        a0[0] = a0[1] + 1


def wrong_label(stage, obj):
    if stage == "trace":
        y = obj[1].tensors["Y"]
        y[0] = np.roll(y[0], 1)


TRACE_TAMPERS = {
    "forward output Z'": bump("Zp_1"),
    "forward remainder": bump("remZ_2", (1, 1)),
    "backward G_A'": bump("G_Ap_1", (0, 1)),
    "backward remainder": bump("remGA_2"),
    "weight update dW": bump("dW_2"),
    "update remainder": bump("remW_3", (1, 0)),
    "activation A": bump("A_1", (2, 0), 3),
    "output gradient": bump("G_Z_3", (0, 0), 1, 1),
    "weight chain": bump("W_2", (0, 0), 1, 1),
    "batch rows": wrong_rows,
    "labels": wrong_label,
}
TABLE_TAMPERS = {"sign bit": flip_sign_bit, "non-boolean bits": non_boolean_bits}


# every corruption in plain mode (the same relations, faster); three of them in ZK too
TRACE_CASES = [(w, False) for w in sorted(TRACE_TAMPERS)] + [
    (w, True) for w in ("forward output Z'", "weight update dW", "labels")]


@pytest.mark.parametrize("what,zk", TRACE_CASES)
def test_corrupted_trace_found_by_checker_and_rejected_by_verifier(run, what, zk):
    bad = TamperedRun(run, TRACE_TAMPERS[what])
    # the prover's own witness check refuses ...
    with pytest.raises(WitnessError) as err:
        prove(bad, zk=zk)
    assert err.value.failures
    # ... and when it is skipped, the verifier rejects the proof
    proof, _ = prove(bad, check_witness=False, zk=zk)
    with pytest.raises(VerificationError):
        verify(proof)


@pytest.mark.parametrize("what", sorted(TABLE_TAMPERS))
@pytest.mark.parametrize("zk", [True, False], ids=["zk", "plain"])
def test_corrupted_committed_bits_rejected(run, what, zk):
    """Lies that no integer trace can express (wrapped sign, non-boolean bit planes)."""
    proof, _ = prove(run, tamper=TABLE_TAMPERS[what], check_witness=False, zk=zk)
    with pytest.raises(VerificationError):
        verify(proof)


def test_wrong_learning_rate_rejected(run):
    proof, _ = prove(run, config=run.config.replace(lr_num=3), check_witness=False)
    with pytest.raises(VerificationError):
        verify(proof)


# --------------------------------------------------------- tampered proof files

def test_every_region_of_the_body_is_checked(honest):
    header, body = unpack(honest)
    rng = random.Random(SEED)
    offsets = sorted({0, 1, len(body) - 1} | {rng.randrange(len(body)) for _ in range(12)})
    for off in offsets:
        bad = bytearray(body)
        bad[off] ^= 1 << rng.randrange(8)
        with pytest.raises(VerificationError):
            verify(pack(header, bytes(bad)))


def test_truncated_and_extended(honest):
    header, body = unpack(honest)
    with pytest.raises(VerificationError):
        verify(pack(header, body[:-1]))
    with pytest.raises(VerificationError):
        verify(pack(header, body + b"\x00"))
    with pytest.raises(VerificationError):
        verify(honest[:100])
    with pytest.raises(VerificationError):
        verify(honest + b"\x00")
    with pytest.raises(VerificationError):
        verify(b"")


@pytest.mark.parametrize("edit", [
    lambda h: h["config"].update(lr_num=2),
    lambda h: h["config"].update(R=15),
    lambda h: h["statement"].update(steps=[0, 2]),
    lambda h: h["statement"].update(n_samples=49),
    lambda h: h["statement"].update(initial_weights_range_checked=False),
    lambda h: h["statement"].update(final_weights_digest="0" * 64),
    lambda h: h.update(zk=not h["zk"]),
    lambda h: h.update(kind="other"),
    lambda h: h.pop("method"),
    lambda h: h.update(method="no_such_method"),
    lambda h: h.update(method="sgd\nmlp"),
    lambda h: h.update(method=7),
    lambda h: h.pop("method_params"),
    lambda h: h.update(method_params={"lr": 1}),
    lambda h: h.update(method_params=[1]),
    lambda h: h.update(method_params={str(i): i for i in range(100)}),
    lambda h: h["config"].update(width="x"),
])
def test_tampered_header_rejected(honest, edit):
    header, body = unpack(honest)
    header = json.loads(json.dumps(header))
    edit(header)
    with pytest.raises(VerificationError):
        verify(pack(header, body))


def test_swapped_statement_between_proofs(run, honest):
    """Another proof of the same window (other blinds): its header does not fit this body."""
    other, _ = prove_window(run, 1, 2, rng=random.Random(SEED + 7), zk=unpack(honest)[0]["zk"], range_strategy="bits")
    h1, b1 = unpack(honest)
    h2, b2 = unpack(other)
    with pytest.raises(VerificationError):
        verify(pack(h2, b1))
    with pytest.raises(VerificationError):
        verify(pack(h1, b2))


@pytest.mark.parametrize("field,value", [
    ("n_samples", 1 << 40), ("n_samples", -5), ("n_samples", "50"), ("n_samples", None),
    ("steps", [1, 1]), ("steps", [3, 1]), ("steps", [0, 1 << 20]), ("steps", "0:2"), ("steps", [0.5, 2]),
    ("dataset_range_checked", 1), ("initial_weights_digest", 7),
])
def test_hostile_statement_values_rejected_quickly(honest, field, value):
    header, body = unpack(honest)
    header = json.loads(json.dumps(header))
    header["statement"][field] = value
    with pytest.raises(VerificationError):
        verify(pack(header, body))


@pytest.mark.parametrize("edit", [
    lambda h: h.update(config=[1, 2]), lambda h: h.update(statement="x"), lambda h: h.update(config=None),
    lambda h: h["config"].update(width=[1 << 20] * 7), lambda h: h["config"].update(batch_size=1 << 30),
    lambda h: h["config"].update(Q=1000), lambda h: h["config"].update(layers=0),
])
def test_hostile_config_rejected(honest, edit):
    header, body = unpack(honest)
    header = json.loads(json.dumps(header))
    edit(header)
    with pytest.raises(VerificationError):
        verify(pack(header, body))


def test_statement_commitments_are_remembered_by_values_and_blinds():
    """A chained proof's initial commitment is its predecessor's final one: committed once."""
    from zkdl.prover.aggregate import _cached_commit
    vals = np.arange(16, dtype=np.int64) - 5
    a = _cached_commit(vals, 2, None, random.Random(1), None, None)        # fresh blinds
    b = _cached_commit(vals.copy(), 2, list(a.blinds), None, None, None)   # same values and blinds: reused
    c = _cached_commit(vals + 1, 2, list(a.blinds), None, None, None)      # other values: committed anew
    assert b is a and c is not a and c.commitment.to_bytes() != a.commitment.to_bytes()
