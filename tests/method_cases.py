"""Shared pieces of the training-method tests (test_lora, test_hut, test_sltrain,
test_subset_momentum): trace corruptions and the check that one is rejected."""

import pytest

from zkdl.errors import VerificationError
from zkdl.prover.aggregate import WitnessError
from zkdl.verifier.verify import verify
from tests.test_protocol import TamperedRun


def bump(name, step=0, delta=1, also=None):
    """Trace corruption: tensor ``name`` at window step ``step`` gets +delta at its first entry (a
    copy: honest steps share arrays); ``also`` = (name, delta) keeps a chain consistent."""
    def tamper(stage, steps):
        for n, d in [(name, delta)] + ([also] if also else []):
            a = steps[step].tensors[n].copy()
            a[(0,) * a.ndim] += d
            steps[step].tensors[n] = a
    return tamper


def assert_rejected(prove, run, tamper, relation: str, t0: int = 0, T: int = 1, zk: bool = False) -> None:
    """The witness checker names ``relation`` first; proven anyway (the prover's check
    off), the proof is rejected."""
    bad = TamperedRun(run, tamper)
    with pytest.raises(WitnessError) as err:
        prove(bad, t0, T)
    assert any(f.relation.startswith(relation + "[") for f in err.value.failures), \
        {f.relation for f in err.value.failures}
    proof, _ = prove(bad, t0, T, check_witness=False, zk=zk)
    with pytest.raises(VerificationError):
        verify(proof)


def assert_honest_chain(prove, run, name: str, zk: bool):
    """Two chained honest proofs (ZK: one-step windows, for the suite's time) verify, the
    second from the first's final state, with the method named and one frozen base."""
    t1 = 1 if zk else 2
    first, sec = prove(run, 0, t1, zk=zk)
    second, _ = prove(run, t1, 1, zk=zk, secrets=dict(sec, initial=sec["final"]), check_initial_weights=False,
                      check_dataset=False)
    s1 = verify(first)
    s2 = verify(second, expect_initial=s1.final_weights_digest)
    assert s1.method == s2.method == name and s1.zk is s2.zk is zk and s1.frozen_digest == s2.frozen_digest
    return s1, s2


def assert_follows(losses, reference, tol: float = 0.02) -> None:
    """Every per-step loss within ``tol`` (relative) of the float reference's."""
    import numpy as np
    rel = np.abs(np.array(losses) - np.array(reference)) / np.array(reference)
    assert rel.max() < tol, rel.max()
