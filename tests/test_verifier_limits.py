"""Window sizes the verifier accepts: bounded before any circuit or table work (issue 13,
hostile input: a header with 1024 layers and T = 256 at width 1 passes every size check
against its short body, then cost 69 s and 4.7 GB building the circuit)."""

import pytest

from zkdl.config import TrainConfig
from zkdl.errors import ConfigError
from zkdl.verifier import limits as plan_mod
from zkdl.verifier.limits import check_window


def cfg(layers):
    return TrainConfig(width=1, layers=layers, batch_size=1, n_features=1, n_classes=2)


@pytest.mark.parametrize("layers,T,what", [(1024, 256, "instances"), (1024, 17, "instances"),
                                           (8, 1024, "weight-chain terms"), (64, 257, "instances"),
                                           (16, 724, "weight-chain terms")])
def test_large_windows_refused(layers, T, what):
    with pytest.raises(ConfigError, match=what):
        check_window(cfg(layers), 1, T, 64)


@pytest.mark.parametrize("layers,T", [(1024, 16), (8, 1023), (64, 256), (3, 1000)])
def test_windows_at_the_limits_are_allowed(layers, T):
    check_window(cfg(layers), 1, T, 64)
    assert layers * T <= plan_mod.MAX_INSTANCES
    assert layers * T * (T + 1) // 2 <= plan_mod.MAX_CHAIN_TERMS


def test_hostile_header_rejected_before_the_circuit(monkeypatch):
    """The verifier's header check refuses the reviewer's header without building a circuit."""
    from zkdl.verifier import verify as V

    def boom(*a, **k):
        raise AssertionError("circuit built for a hostile window")
    monkeypatch.setattr(V, "circuit_for", boom)
    c = cfg(1024)
    header = {"kind": V.PROOF_KIND, "method": V.METHOD, "method_params": {}, "zk": True, "range": "bits", "config": c.to_dict(),
              "statement": {"steps": [0, 256], "n_samples": 64, "initial_weights_range_checked": True,
                            "dataset_range_checked": True, "dataset_public": False,
                            "initial_weights_public": False}}
    with pytest.raises(V.StatementError, match="instances"):
        V.parse_header(header, 10 ** 7)
