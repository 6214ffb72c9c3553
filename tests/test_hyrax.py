"""Hyrax commitments: commit (fast and reference paths), openings in plain and ZK mode,
batching, serialization, soundness (every tampering is a typed error), hiding, slicing,
and special soundness of the proof of dot product."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkdl import curve
from zkdl import hyrax as H
from zkdl import sigma
from zkdl.errors import (CommitmentError, EncodingError, InvalidPointError, NonCanonicalError,
                         OpeningError, SigmaProofError, TrailingDataError, VerificationError)
from zkdl.field import P
from zkdl.field.vector import FrVec
from zkdl.poly import eq_table, evaluate
from zkdl.prover import hyrax as PH
from zkdl.prover import sigma as PS
from zkdl.transcript import Transcript

LABEL = b"test-hyrax"


def tensor(n, lo=-(1 << 15), hi=1 << 15, seed=0):
    return np.random.default_rng(seed).integers(lo, hi, size=1 << n, dtype=np.int64)


def rpoint(n, seed=1):
    rng = random.Random(seed)
    return [rng.randrange(P) for _ in range(n)]


def naive_commitment(values, col_bits, blinds):
    """C_i = sum_j M_ij G_j + rho_i H by the definition (scalar mults, no MSM)."""
    cols = 1 << col_bits
    gens, h = curve.generators(cols), curve.blinding_generator()
    out = []
    for i, rho in enumerate(blinds):
        acc = h * curve.to_scalar(rho)
        for j in range(cols):
            acc = acc + gens[j] * curve.to_scalar(int(values[i * cols + j]))
        out.append(acc)
    return out


# ------------------------------------------------------------------ commit
@pytest.mark.parametrize("n,c", [(0, 0), (3, 0), (3, 3), (4, 2), (5, 2)])
def test_commit_matches_definition_and_backends(n, c):
    rng = random.Random(n * 10 + c)
    t = tensor(n, seed=n)
    com, op = PH.commit(t, c, rng=rng)
    assert (com.num_vars, com.col_bits, com.num_rows) == (n, c, 1 << (n - c))
    assert list(com.rows) == naive_commitment(t, c, op.blinds)
    ref, _ = PH.commit(t, c, blinds=op.blinds, backend="pyecc")
    field, _ = PH.commit([int(x) for x in t], c, blinds=op.blinds)  # full-scalar path
    fvec, _ = PH.commit(FrVec.from_int64(t), c, blinds=op.blinds)
    assert com == ref == field == fvec


@pytest.mark.parametrize("lo,hi", [(0, 1 << 16), (1, 5), (-(1 << 40), 1 << 40), (-3, -1), (0, 1)])
def test_commit_value_ranges(lo, hi):
    """Non-negative data (no offset), wide values (no table), all-negative, all-zero."""
    t = tensor(4, lo, hi, seed=abs(hi))
    com, op = PH.commit(t, 2, rng=random.Random(0))
    assert list(com.rows) == naive_commitment(t, 2, op.blinds)
    assert PH.commit(t, 2, blinds=op.blinds, threads=1)[0] == com


def test_commit_field_elements_pyecc():
    vals = [random.Random(3).randrange(P) for _ in range(8)]
    com, op = PH.commit(vals, 2, rng=random.Random(1))
    assert com == PH.commit(vals, 2, blinds=op.blinds, backend="pyecc")[0]
    assert list(com.rows) == naive_commitment(vals, 2, op.blinds)


def test_commit_unsigned_and_vector():
    big = np.array([2 ** 64 - 1, 0, 5, 2 ** 63], dtype=np.uint64)
    com, op = PH.commit(big, 1, rng=random.Random(0))
    assert list(com.rows) == naive_commitment([int(x) for x in big], 1, op.blinds)
    small = np.array([1, 2, 3, 4], dtype=np.uint8)
    assert PH.commit(small, 1, blinds=op.blinds)[0] == PH.commit([1, 2, 3, 4], 1, blinds=op.blinds)[0]
    point, r = PH.commit_vector([3, -1, 7], rng=random.Random(1))
    assert point == curve.msm(curve.generators(3) + [curve.blinding_generator()], [3, P - 1, 7, r])


def test_commit_rejects_bad_input():
    with pytest.raises(ValueError):
        PH.commit(np.zeros(6, np.int64))
    with pytest.raises(ValueError):
        PH.commit(np.zeros(8, np.int64), col_bits=4)
    with pytest.raises(ValueError):
        PH.commit(np.zeros(8, np.int64), 1, blinds=[1, 2])
    with pytest.raises(ValueError):
        PH.commit(np.zeros(8, np.int64), 1, blinds=[1, 2, 3, P])


def test_hiding_and_default_blinds_from_secrets(monkeypatch):
    t = tensor(4)
    a, _ = PH.commit(t)
    b, _ = PH.commit(t)
    assert all(x != y for x, y in zip(a.rows, b.rows))
    calls = []
    real = PS.secrets.randbelow
    monkeypatch.setattr(PS.secrets, "randbelow", lambda n: calls.append(n) or real(n))
    com, op = PH.commit(t, 2)
    assert calls == [P] * com.num_rows
    assert "blinds=<" in repr(op) and str(op.blinds[0]) not in repr(op)


def test_slicing_and_stacking():
    """The commitment of leading-axis block t is the t-th slice of the stacked rows."""
    stacked = tensor(6, seed=7).reshape(4, 16)  # T[t, :] with 2^2 blocks of 2^4 values
    com, op = PH.commit(stacked, 2, rng=random.Random(2))
    per = com.num_rows // 4
    parts = []
    for t in range(4):
        part, _ = PH.commit(stacked[t], 2, blinds=op.blinds[t * per:(t + 1) * per])
        assert part == com.block(2, t)
        parts.append(part)
    assert H.Commitment.stack(parts) == com
    assert com.block(0, 0) == com
    with pytest.raises(CommitmentError):
        com.block(2, 4)
    with pytest.raises(CommitmentError):
        H.Commitment.stack(parts[:3])


@pytest.mark.parametrize("bound", [1 << 15, 1 << 40])  # 2^40: beyond vecmat_small's 2^31
def test_evaluate_matches_reference(bound):
    t = tensor(6, -bound, bound, seed=4)
    pt = rpoint(6)
    for c in (0, 3, 6):
        _, op = PH.commit(t, c)
        assert PH.evaluate(op, pt) == evaluate([int(x) for x in t], pt)
        _, opf = PH.commit([int(x) % P for x in t], c)
        assert PH.evaluate(opf, pt) == evaluate([int(x) for x in t], pt)


# ------------------------------------------------------------------ plain openings
def plain_setup(k=1, n=6, c=3):
    ts = [tensor(n, seed=10 + i) for i in range(k)]
    pairs = [PH.commit(t, c) for t in ts]
    coms, ops = [p[0] for p in pairs], [p[1] for p in pairs]
    pt = rpoint(n, seed=k)
    ys, proof = PH.prove_eval(Transcript(LABEL), ops, pt)
    return ts, coms, ops, pt, ys, proof


@pytest.mark.parametrize("k", [1, 3])
def test_plain_opening_verifies(k):
    ts, coms, _, pt, ys, proof = plain_setup(k)
    assert ys == [evaluate([int(x) for x in t], pt) for t in ts]
    data = proof.to_bytes()
    assert len(data) == H.EvalProof.size(3)
    H.verify_eval(Transcript(LABEL), coms, pt, ys, H.EvalProof.from_bytes(data, 3))


def test_plain_opening_edge_shapes():
    for n, c in [(0, 0), (4, 0), (4, 4), (10, 0)]:  # (10, 0): 1024 rows, split MSM path
        com, op = PH.commit(tensor(n, seed=n), c)
        pt = rpoint(n)
        ys, proof = PH.prove_eval(Transcript(LABEL), [op], pt)
        H.verify_eval(Transcript(LABEL), [com], pt, ys, proof)


@pytest.mark.parametrize("what", ["value", "point", "row", "blind", "v", "swap", "tensor", "transcript"])
def test_plain_tampering_rejected(what):
    ts, coms, ops, pt, ys, proof = plain_setup(3)
    label = LABEL
    if what == "value":
        ys = [ys[0], (ys[1] + 1) % P, ys[2]]
    elif what == "point":
        pt = [pt[0] + 1] + pt[1:]
    elif what == "row":
        rows = list(coms[1].rows)
        rows[2] = rows[2] + curve.generators(1)[0]
        coms[1] = H.Commitment(rows, coms[1].num_vars, coms[1].col_bits)
    elif what == "blind":
        proof = H.EvalProof(proof.v, (proof.blind + 1) % P)
    elif what == "v":
        proof = H.EvalProof(proof.v[:1] + ((proof.v[1] + 1) % P,) + proof.v[2:], proof.blind)
    elif what == "swap":
        coms = [coms[1], coms[0], coms[2]]
    elif what == "tensor":  # the prover opens a tensor other than the committed one
        ops[0].matrix = ops[0].matrix.copy()
        ops[0].matrix[0, 0] += 1
        ys, proof = PH.prove_eval(Transcript(LABEL), ops, pt)
    elif what == "transcript":
        label = b"other"
    with pytest.raises(OpeningError):
        H.verify_eval(Transcript(label), coms, pt, ys, proof)


def test_plain_statement_errors():
    _, coms, _, pt, ys, proof = plain_setup(1)
    with pytest.raises(CommitmentError):
        H.verify_eval(Transcript(LABEL), coms, pt[:-1], ys, proof)
    with pytest.raises(CommitmentError):
        H.verify_eval(Transcript(LABEL), coms, pt, ys + [1], proof)
    with pytest.raises(CommitmentError):
        H.verify_eval(Transcript(LABEL), [], pt, [], proof)
    with pytest.raises(EncodingError):
        H.verify_eval(Transcript(LABEL), coms, [P] + pt[1:], ys, proof)
    with pytest.raises(EncodingError):
        H.verify_eval(Transcript(LABEL), coms, pt, [P], proof)
    other, _ = PH.commit(tensor(6), 2)
    with pytest.raises(CommitmentError):
        H.verify_eval(Transcript(LABEL), [coms[0], other], pt, ys * 2, proof)
    with pytest.raises(EncodingError):  # proof for a different column count
        H.verify_eval(Transcript(LABEL), coms, pt, ys, H.EvalProof(proof.v[:4], proof.blind))


# ------------------------------------------------------------------ ZK openings
COMPACT = pytest.mark.parametrize("compact", [True, False], ids=["log", "linear"])


def zk_setup(k=1, n=6, c=3, rng=None, compact=True):
    ts = [tensor(n, seed=20 + i) for i in range(k)]
    pairs = [PH.commit(t, c) for t in ts]
    coms, ops = [p[0] for p in pairs], [p[1] for p in pairs]
    pt = rpoint(n, seed=5)
    res = PH.prove_eval_zk(Transcript(LABEL), ops, pt, rng=rng, compact=compact)
    return ts, coms, ops, pt, res


@COMPACT
@pytest.mark.parametrize("k", [1, 2])
def test_zk_opening_verifies(k, compact):
    ts, coms, _, pt, res = zk_setup(k, compact=compact)
    for t, y, r, ycom in zip(ts, res.values, res.value_blinds, res.value_commitments):
        assert y == evaluate([int(x) for x in t], pt)
        assert ycom == PH.commit_value(y, r)[0]
    data = res.proof.to_bytes()
    assert len(data) == H.ZkEvalProof.size(3, compact)
    assert res.proof.mode == (H.MODE_ZK_LOG if compact else H.MODE_ZK)
    H.verify_eval_zk(Transcript(LABEL), coms, pt, res.value_commitments, H.ZkEvalProof.from_bytes(data, 3))
    # the proof does not carry v in the clear
    _, plain = PH.prove_eval(Transcript(LABEL), [PH.commit(ts[0], 3)[1]], pt)
    assert all(x.to_bytes(32, "little") not in data for x in plain.v if x)


@COMPACT
@pytest.mark.parametrize("n,c", [(0, 0), (4, 0), (4, 4), (10, 1)])  # (10, 1): 512 rows, split MSMs
def test_zk_opening_shapes(n, c, compact):
    com, op = PH.commit(tensor(n, seed=3), c)
    pt = rpoint(n)
    res = PH.prove_eval_zk(Transcript(LABEL), [op], pt, compact=compact)
    H.verify_eval_zk(Transcript(LABEL), [com], pt, res.value_commitments, res.proof)
    bad = list(res.value_commitments)
    bad[0] = bad[0] + curve.blinding_generator()
    with pytest.raises(SigmaProofError):
        H.verify_eval_zk(Transcript(LABEL), [com], pt, bad, res.proof)


@COMPACT
def test_zk_caller_value_blinds(compact):
    t = tensor(4)
    com, op = PH.commit(t, 2)
    pt = rpoint(4)
    y = PH.evaluate(op, pt)
    ycom, r = PH.commit_value(y)
    res = PH.prove_eval_zk(Transcript(LABEL), [op], pt, value_blinds=[r], compact=compact)
    assert res.value_commitments == [ycom]
    H.verify_eval_zk(Transcript(LABEL), [com], pt, [ycom], res.proof)
    wrong, _ = PH.commit_value(y + 1, r)
    with pytest.raises(SigmaProofError):
        H.verify_eval_zk(Transcript(LABEL), [com], pt, [wrong], res.proof)


def _tamper_dot(proof, field):
    d = proof.dot
    g = curve.generators(1)[0]
    if isinstance(d, sigma.DotProductLogProof):
        kw = dict(lr=d.lr, t=d.t, z1=d.z1, z2=d.z2)
        if field in ("L", "R"):
            lr = list(d.lr)
            lr[2 + (field == "R")] = lr[2 + (field == "R")] + g  # round 1
            kw["lr"] = lr
        elif field == "t":
            kw["t"] = d.t + g
        else:
            kw[field] = (kw[field] + 1) % P
        return H.ZkEvalProof(sigma.DotProductLogProof(**kw))
    kw = dict(delta=d.delta, beta=d.beta, z=d.z, z_delta=d.z_delta, z_beta=d.z_beta)
    if field in ("delta", "beta"):
        kw[field] = kw[field] + g
    elif field == "z":
        kw["z"] = d.z[:2] + ((d.z[2] + 1) % P,) + d.z[3:]
    else:
        kw[field] = (kw[field] + 1) % P
    return H.ZkEvalProof(sigma.DotProductProof(**kw))


TAMPER_LINEAR = ["delta", "beta", "z", "z_delta", "z_beta"]
TAMPER_LOG = ["L", "R", "t", "z1", "z2"]
TAMPER_COMMON = ["ycom", "point", "row", "swap", "transcript"]


@pytest.mark.parametrize("compact,what", [(False, w) for w in TAMPER_LINEAR + TAMPER_COMMON]
                         + [(True, w) for w in TAMPER_LOG + TAMPER_COMMON])
def test_zk_tampering_rejected(compact, what):
    _, coms, ops, pt, res = zk_setup(2, compact=compact)
    proof, ycoms, label = res.proof, list(res.value_commitments), LABEL
    if what in TAMPER_LINEAR + TAMPER_LOG:
        proof = _tamper_dot(proof, what)
    elif what == "ycom":
        ycoms[0] = ycoms[0] + curve.scalar_generator()
    elif what == "point":
        pt = pt[:-1] + [(pt[-1] + 1) % P]
    elif what == "row":
        rows = list(coms[0].rows)
        rows[0] = curve.generators(1)[0]
        coms[0] = H.Commitment(rows, coms[0].num_vars, coms[0].col_bits)
    elif what == "swap":
        coms = coms[::-1]
    elif what == "transcript":
        label = b"other"
    with pytest.raises(SigmaProofError):
        H.verify_eval_zk(Transcript(label), coms, pt, ycoms, proof)


@COMPACT
def test_zk_scalar_generator_component_cannot_shift_the_value(compact):
    """A cheating committer hides e * G_s in a row and publishes Com(y - eq_i e): the value
    part of C_L then compensates the lie if Gamma = C_L + tau were used unweighted. The
    log proof's challenge w (Gamma = C_L + w tau) and the linear proof's separate checks
    both reject it."""
    n, c = 4, 2
    t = tensor(n, seed=8)
    com, op = PH.commit(t, c)
    pt = rpoint(n, seed=3)
    x_row, x_col = H.split_point(pt, c)
    e_row = eq_table(x_row)
    shift = 12345
    rows = list(com.rows)
    rows[1] = rows[1] + curve.scalar_generator() * curve.to_scalar(shift)
    bad_com = H.Commitment(rows, n, c)
    y = PH.evaluate(op, pt)
    y_lie = (y - e_row[1] * shift) % P
    ycom, r = PH.commit_value(y_lie)
    # the cheating prover replays the transcript and proves with the honest row v
    tr = Transcript(LABEL)
    mode = H.MODE_ZK_LOG if compact else H.MODE_ZK
    H.absorb_statement(tr, mode, [bad_com], pt)
    tr.absorb_points(b"hyrax/value-commitments", [ycom])
    v = PH.row_combination(op, FrVec.from_ints(e_row))
    blind = sum(ei * rho for ei, rho in zip(e_row, op.blinds)) % P
    gens = curve.generators(1 << c)
    if compact:
        dot = PS.prove_dot_product_log(tr, gens, v, blind, r, eq_table(x_col), ycom)
    else:
        xi = curve.msm(list(bad_com.rows), e_row)
        dot = PS.prove_dot_product(tr, gens, v, blind, r, eq_table(x_col), xi, ycom)
    with pytest.raises(SigmaProofError):
        H.verify_eval_zk(Transcript(LABEL), [bad_com], pt, [ycom], H.ZkEvalProof(dot))


def test_no_mode_downgrade():
    _, coms, ops, pt, res = zk_setup(1)
    ys, plain = PH.prove_eval(Transcript(LABEL), ops, pt)
    with pytest.raises(EncodingError):
        H.verify_eval_zk(Transcript(LABEL), coms, pt, res.value_commitments, plain)
    with pytest.raises(EncodingError):
        H.verify_eval(Transcript(LABEL), coms, pt, ys, res.proof)
    with pytest.raises(EncodingError):
        H.ZkEvalProof.from_bytes(plain.to_bytes())
    with pytest.raises(EncodingError):
        H.EvalProof.from_bytes(res.proof.to_bytes())
    # a linear proof relabelled as log (and vice versa) is rejected
    lin = zk_setup(1, compact=False)[4].proof.to_bytes()
    with pytest.raises(EncodingError):
        H.ZkEvalProof.from_bytes(bytes([H.MODE_ZK_LOG]) + lin[1:])
    with pytest.raises(EncodingError):
        H.ZkEvalProof.from_bytes(bytes([H.MODE_ZK]) + res.proof.to_bytes()[1:])


def test_log_weights_fold_like_the_prover():
    us = [3, 5, 7]
    s = sigma.log_weights(us)
    from zkdl.field import inv
    for i in range(8):
        expect = 1
        for j, u in enumerate(us):
            expect = expect * (u if (i >> (2 - j)) & 1 else inv(u)) % P
        assert s[i] == expect


def test_dot_product_special_soundness():
    """Two accepting transcripts with the same first message and different challenges
    extract the committed vector, its blind and the dot product's blind."""
    _, coms, ops, pt, _ = zk_setup(1)
    n = 3
    x_row, x_col = H.split_point(pt, n)
    v = PH.row_combination(ops[0], FrVec.from_ints(eq_table(x_row)))
    blind = sum(e * r for e, r in zip(eq_table(x_row), ops[0].blinds)) % P
    a = eq_table(x_col)
    y = v.dot(FrVec.from_ints(a))
    xi = curve.msm(list(coms[0].rows), eq_table(x_row))
    tau, r_tau = PH.commit_value(y)
    gens = curve.generators(1 << n)
    proofs, challenges = [], []
    for label in (b"first", b"second"):
        # the same rng seed replays the same first message (delta, beta)
        proof = PS.prove_dot_product(Transcript(label), gens, v, blind, r_tau, a, xi, tau,
                                     rng=random.Random(42))
        sigma.verify_dot_product(Transcript(label), gens, xi, tau, a, proof)
        t = Transcript(label)
        challenges.append(sigma.dot_product_challenge(t, xi, tau, proof.delta, proof.beta))
        proofs.append(proof)
    assert challenges[0] != challenges[1]
    x, r_xi, r_t = sigma.extract_dot_product(challenges[0], proofs[0], challenges[1], proofs[1])
    assert x == v.to_ints() and r_xi == blind and r_t == r_tau
    assert curve.msm(gens + [curve.blinding_generator()], x + [r_xi]) == xi
    y_ex = sum(xj * aj for xj, aj in zip(x, a)) % P
    assert curve.msm([curve.scalar_generator(), curve.blinding_generator()], [y_ex, r_t]) == tau
    with pytest.raises(ValueError):
        sigma.extract_dot_product(challenges[0], proofs[0], challenges[0], proofs[0])


def test_dot_product_rejects_wrong_statement():
    gens = curve.generators(4)
    x, a = [1, 2, 3, 4], [5, 6, 7, 8]
    xi = curve.msm(gens + [curve.blinding_generator()], x + [9])
    tau, r = PH.commit_value(70 + 1)  # wrong: <x, a> = 70
    proof = PS.prove_dot_product(Transcript(LABEL), gens, x, 9, r, a, xi, tau)
    with pytest.raises(SigmaProofError):
        sigma.verify_dot_product(Transcript(LABEL), gens, xi, tau, a, proof)
    with pytest.raises(EncodingError):
        sigma.verify_dot_product(Transcript(LABEL), gens, xi, tau, a[:3], proof)


# ------------------------------------------------------------------ serialization
def test_commitment_serialization_strict():
    com, _ = PH.commit(tensor(5), 2)
    data = com.to_bytes()
    assert len(data) == H.Commitment.size(5, 2) == 2 + 48 * 8
    assert H.Commitment.from_bytes(data) == com
    assert H.Commitment.from_bytes(data, num_vars=5, col_bits=2) == com
    with pytest.raises(CommitmentError):
        H.Commitment.from_bytes(data, num_vars=5, col_bits=3)
    with pytest.raises(TrailingDataError):
        H.Commitment.from_bytes(data + b"\x00")
    for cut in (0, 1, 2, 3, 49, len(data) - 1):
        with pytest.raises(EncodingError):
            H.Commitment.from_bytes(data[:cut])
    with pytest.raises(EncodingError):  # col_bits > num_vars
        H.Commitment.from_bytes(bytes([2, 3]) + data[2:])
    with pytest.raises(EncodingError):  # absurd size
        H.Commitment.from_bytes(bytes([200, 0]) + data[2:])
    bad = bytearray(data)
    bad[2 + 48 + 5] ^= 0xFF  # corrupt row 1
    with pytest.raises(InvalidPointError):
        H.Commitment.from_bytes(bytes(bad))
    with pytest.raises(CommitmentError):
        H.Commitment(com.rows[:3], 5, 2)


@pytest.mark.parametrize("mode", ["plain", "zk-linear", "zk-log"])
def test_proof_serialization_strict(mode):
    if mode == "plain":
        _, coms, ops, pt, ys, proof = plain_setup(1)
        cls = H.EvalProof
    else:
        _, coms, ops, pt, res = zk_setup(1, compact=mode == "zk-log")
        proof, cls = res.proof, H.ZkEvalProof
    data = proof.to_bytes()
    assert cls.from_bytes(data, 3) == proof
    with pytest.raises(TrailingDataError):
        cls.from_bytes(data + b"\x01")
    for cut in (0, 1, 2, 40, len(data) - 1):
        with pytest.raises(EncodingError):
            cls.from_bytes(data[:cut])
    with pytest.raises(EncodingError):
        cls.from_bytes(data, 4)  # statement expects another width
    last = len(data) - 32  # the last scalar -> P (non-canonical)
    with pytest.raises(NonCanonicalError):
        cls.from_bytes(data[:last] + P.to_bytes(32, "little"))
    with pytest.raises(EncodingError):
        cls.from_bytes(bytes([data[0], 60]) + data[2:])
    if mode != "plain":
        bad = bytearray(data)
        bad[2 + 10 + (mode == "zk-log")] ^= 0x55  # inside delta / L_0
        with pytest.raises(EncodingError):
            cls.from_bytes(bytes(bad))


@COMPACT
def test_every_error_is_typed(compact):
    """Random byte flips in a proof are rejected by parsing or verification with a
    VerificationError subclass (never another exception)."""
    _, coms, ops, pt, res = zk_setup(1, compact=compact)
    data = res.proof.to_bytes()
    rng = random.Random(9)
    for _ in range(40):
        bad = bytearray(data)
        i = rng.randrange(len(bad))
        bad[i] ^= 1 << rng.randrange(8)
        with pytest.raises(VerificationError):
            proof = H.ZkEvalProof.from_bytes(bytes(bad))
            H.verify_eval_zk(Transcript(LABEL), coms, pt, res.value_commitments, proof)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 5), st.data())
def test_property_openings(n, data):
    c = data.draw(st.integers(0, n))
    vals = data.draw(st.lists(st.integers(-(1 << 20), 1 << 20), min_size=1 << n, max_size=1 << n))
    pt = data.draw(st.lists(st.integers(0, P - 1), min_size=n, max_size=n))
    com, op = PH.commit(np.array(vals, np.int64), c)
    ys, proof = PH.prove_eval(Transcript(LABEL), [op], pt)
    assert ys == [evaluate(vals, pt)]
    H.verify_eval(Transcript(LABEL), [com], pt, ys, proof)
    for compact in (True, False):
        res = PH.prove_eval_zk(Transcript(LABEL), [op], pt, compact=compact)
        H.verify_eval_zk(Transcript(LABEL), [com], pt, res.value_commitments, res.proof)
