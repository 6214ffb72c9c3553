"""The reference backend (Python ints) is the oracle of the cpu backend (numba):
under a fixed seed both produce byte-identical proofs, and both verify."""

import random

import pytest

import zkdl
from zkdl import data as D
from zkdl.config import TrainConfig
from zkdl.prover.aggregate import prove_window
from zkdl.verifier.verify import verify


@pytest.mark.parametrize("kw,t0,T,strategy", [
    (dict(width=(6, 5), batch_size=3), 1, 2, "bits"),
    pytest.param(dict(width=4, layers=4, batch_size=2), 0, 4, "bits", marks=pytest.mark.slow),  # -m slow
])   # logup: its trees on both backends, byte for byte, in tests/test_logup.py
def test_reference_and_cpu_proofs_are_byte_identical(kw, t0, T, strategy):
    run = zkdl.train(TrainConfig(lr_shift=9, **kw), D.synthetic(n_samples=32, n_features=3, n_classes=3),
                     steps=t0 + T, keep_in_memory=True)
    proofs = {be: prove_window(run, t0, T, rng=random.Random(7), backend=be, range_strategy=strategy)[0]
              for be in ("cpu", "reference")}
    assert proofs["cpu"] == proofs["reference"]
    assert verify(proofs["reference"]).T == T


def test_unknown_backend_is_refused():
    run = zkdl.train(TrainConfig(width=4, layers=2, batch_size=2, lr_shift=9),
                     D.synthetic(n_samples=16, n_features=2, n_classes=2), steps=1, keep_in_memory=True)
    with pytest.raises(ValueError, match="backend"):
        prove_window(run, 0, 1, backend="gpu-magic")
