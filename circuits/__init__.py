"""zkdl.circuits: the FAC4DNN circuit as data (DESIGN.md section 4, issue 5).

Pure-Python modules (the standalone verifier imports them to recompute the circuit from
the config): :mod:`~zkdl.circuits.ir` (IR, canonical bytes, digest),
:mod:`~zkdl.circuits.builder` (builder, method registry, :func:`build_circuit`),
:mod:`~zkdl.circuits.gadgets` (range, zkReLU, rescaled matmul, MSE, update, data),
:mod:`~zkdl.circuits.emit` (JSON file and human summary).
:mod:`~zkdl.circuits.check` (witness checker; numpy and the tracer) is imported lazily.
"""

from zkdl.circuits.builder import (METHODS, CircuitBuilder, Method, build_circuit,
                                   register_method)
from zkdl.circuits.emit import emit, summary
from zkdl.circuits.gadgets import selection_indices
from zkdl.circuits.ir import Circuit, CircuitError, Operand, Relation, Tensor
from zkdl.circuits.sgd_mlp import SGDMLPMethod, mlp_layer_runs  # registers the built-in method

__all__ = ["Circuit", "CircuitError", "Tensor", "Operand", "Relation", "CircuitBuilder", "Method",
           "SGDMLPMethod", "METHODS", "register_method", "build_circuit", "emit", "summary",
           "check_witness", "witness", "Failure", "selection_indices"]


def __getattr__(name):
    if name in ("check_witness", "witness", "Failure"):
        from zkdl.circuits import check
        return getattr(check, name)
    raise AttributeError(f"module 'zkdl.circuits' has no attribute {name!r}")
