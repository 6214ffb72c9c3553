"""Shared pieces of the training-method tests (test_lora, test_hut, test_sltrain,
test_subset_momentum): trace corruptions and the check that one is rejected."""

import pytest

from zkdl.errors import VerificationError
from zkdl.prover.aggregate import WitnessError
from zkdl.verifier.verify import verify
from tests.test_protocol import TamperedRun


def bump(name, step=0, delta=1, also=None):
    """Trace corruption: tensor ``name`` at window step ``step`` gets +delta at (0, 0) (a
    copy: honest steps share arrays); ``also`` = (name, delta) keeps a chain consistent."""
    def tamper(stage, steps):
        for n, d in [(name, delta)] + ([also] if also else []):
            a = steps[step].tensors[n].copy()
            a[0, 0] += d
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
