"""zkdl: zero-knowledge proofs of deep-learning training.

Re-implements and completes zkDL (Sun, Bai, Li, Zhang, arXiv 2307.16273):
FAC4DNN aggregated circuits with zkReLU, Hyrax-Pedersen commitments over
BLS12-381, sumcheck-based proofs with Fiat-Shamir and zero knowledge.
"""

from zkdl.config import TrainConfig
from zkdl.errors import VerificationError, ZkdlError

__version__ = "0.1.0"

__all__ = ["Proof", "Run", "Statement", "TrainConfig", "VerificationError", "ZkdlError", "__version__",
           "audit_claim", "build_claim", "from_torch", "predict", "prove", "prove_eval", "train", "train_federated", "verify"]


def __getattr__(name):
    # the tracer pulls in numpy + numba; import it lazily so that `import zkdl` (and the
    # standalone verifier) stays light
    if name in ("train", "Run"):
        from zkdl import tracer
        return getattr(tracer, name)
    if name in ("prove", "verify", "Proof"):
        from zkdl import api
        return getattr(api, name)
    if name in ("audit_claim", "build_claim"):
        from zkdl import audit
        return getattr(audit, name)
    if name == "train_federated":   # FedAvg / FedStale (zkdl.federated_sim)
        from zkdl.federated_sim import train_federated
        return train_federated
    if name == "from_torch":   # a torch nn.Sequential of Linear/ReLU layers (zkdl.torch_io; torch imported there)
        from zkdl.torch_io import from_torch
        return from_torch
    if name == "prove_eval":   # proven test accuracy of a proven run (zkdl.eval_prove)
        from zkdl.eval_prove import prove_eval
        return prove_eval
    if name == "predict":   # class labels of a trained model (zkdl.evaluate)
        from zkdl.evaluate import predict
        return predict
    if name == "evaluate":
        import importlib
        return importlib.import_module("zkdl.evaluate")
    if name == "Statement":
        from zkdl.verifier.verify import Statement
        return Statement
    raise AttributeError(f"module 'zkdl' has no attribute {name!r}")
