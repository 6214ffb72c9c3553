"""The committed dataset: rows beyond the stated N are zero, and the targets are one-hot.

Issue 13, items 1 and 2: a proof stating N rows must not be able to read rows >= N of
the dataset commitment (they are forced to zero, a padding relation on the row axis),
and each of the N rows of the targets must hold exactly one hot entry (a row sum of
2^R on top of the entries' booleanity). Each lie is committed by a prover that skips
its own witness check; the verifier must reject it, and the witness checker must name
the relation on a witness that breaks it."""

import random

import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.circuits.check import _Assignment, _check
from zkdl.config import TrainConfig
from zkdl.errors import VerificationError
from zkdl.prover.aggregate import prove_window
from zkdl.verifier.verify import circuit_for, verify

SEED = 20261201
N = 50          # not a power of two: rows 50..63 of the padded dataset are padding


@pytest.fixture(scope="module")
def run():
    cfg = TrainConfig(width=(6, 5), batch_size=3, lr_shift=9)
    return zkdl.train(cfg, D.synthetic(n_samples=N, n_features=3, n_classes=3), steps=2, keep_in_memory=True)


def prove(run, tamper=None, zk=True, t0=0, T=2):
    return prove_window(run, t0, T, rng=random.Random(SEED), tamper=tamper, check_witness=False, zk=zk)[0]


def window_rows(run, t0=0, T=2):
    from zkdl.schedule import batch_indices
    return {n for t in range(t0, t0 + T) for n in batch_indices(run.config.batch_seed, N, run.config.batch_size, t)}


def extra_rows(which, k=6):
    """Put k nonzero rows (features, or one-hot targets) beyond the N logical rows of the
    committed dataset table (the statement commits what the tables hold)."""
    def tamper(stage, obj):
        if stage != "tables":
            return
        if which == "X":
            obj["Xdata[0]"][0, N:N + k, :] = 3
        else:
            obj["Ydata[3]"][0, N:N + k, 0] = obj["Ydata[3]"].max()
    return tamper


def two_hot(row):
    def tamper(stage, obj):
        if stage == "tables":
            Y = obj["Ydata[3]"][0]
            free = [j for j in range(3) if Y[row, j] == 0]
            Y[row, free[0]] = Y.max()
    return tamper


def zero_row(row):
    def tamper(stage, obj):
        if stage == "tables":
            obj["Ydata[3]"][0, row] = 0
    return tamper


def test_honest_dataset_verifies(run):
    st = verify(prove(run))
    assert st.n_samples == N and st.dataset_range_checked


@pytest.mark.parametrize("zk", [True, False], ids=["zk", "plain"])
@pytest.mark.parametrize("which", ["X", "Y"])
def test_rows_beyond_n_rejected(run, which, zk):
    """The demonstrated forgery's first half: hidden nonzero rows after row N."""
    with pytest.raises(VerificationError):
        verify(prove(run, extra_rows(which), zk=zk))


def test_rows_beyond_n_rejected_in_a_chained_proof(run):
    """The padding relation runs in every proof, not only the one that range-checks the data."""
    proof = prove_window(run, 1, 1, rng=random.Random(SEED), tamper=extra_rows("X"), check_witness=False,
                         check_initial_weights=False, check_dataset=False)[0]
    with pytest.raises(VerificationError):
        verify(proof)


@pytest.mark.parametrize("zk", [True, False], ids=["zk", "plain"])
def test_two_hot_target_rejected(run, zk):
    """A row outside this window's batches with two entries 2^R: every entry is 0 or 2^R,
    so only the one-hot row sum catches it."""
    row = min(set(range(N)) - window_rows(run))
    with pytest.raises(VerificationError):
        verify(prove(run, two_hot(row), zk=zk))


def test_all_zero_target_row_rejected(run):
    row = min(set(range(N)) - window_rows(run))
    with pytest.raises(VerificationError):
        verify(prove(run, zero_row(row)))


def test_circuit_has_the_relations(run):
    kinds = {r.name: r.kind for r in circuit_for(run.config, 2, N).relations}
    assert kinds["pad:Xdata[0]"] == "padding" and kinds["pad:Ydata[3]"] == "padding"
    assert kinds["onehot:Ydata[3]"] == "row_sum"
    chained = circuit_for(run.config, 1, N, False, False)
    names = {r.name for r in chained.relations}
    assert "pad:Xdata[0]" in names and "onehot:Ydata[3]" not in names
    # a power-of-two dataset with power-of-two widths has no padding to check
    cfg = TrainConfig(width=(4, 4), batch_size=2, lr_shift=9, n_features=4, n_classes=4)
    names = {r.name for r in circuit_for(cfg, 1, 64).relations}
    assert not any(n.startswith("pad:") for n in names)


def _failures_of(run, relation, edit):
    circuit = circuit_for(run.config, 2, N)
    a = _Assignment(circuit, run, 0, False)
    r = circuit.relation(relation)
    name = r.operand("x").tensor
    arr = a.get(name).copy()
    edit(arr)
    a._cache[name] = arr
    return _check(a, r, None)


def test_checker_reports_rows_beyond_n(run):
    assert _failures_of(run, "pad:Xdata[0]", lambda x: None) == []

    def edit(x):
        x[0, N + 2, 1] = 5
    (f,) = _failures_of(run, "pad:Xdata[0]", edit)
    assert f.index == (N + 2, 1) and f.got == 5


def test_checker_reports_two_hot_rows(run):
    assert _failures_of(run, "onehot:Ydata[3]", lambda y: None) == []

    def edit(y):
        y[0, 7, :3] = 1 << 16
    (f,) = _failures_of(run, "onehot:Ydata[3]", edit)
    assert f.index == (7,) and f.got == 3 << 16 and f.expected == 1 << 16
