"""zkdl: zero-knowledge proofs of deep-learning training.

Re-implements and completes zkDL (Sun, Bai, Li, Zhang, arXiv 2307.16273):
FAC4DNN aggregated circuits with zkReLU, Hyrax-Pedersen commitments over
BLS12-381, sumcheck-based proofs with Fiat-Shamir and zero knowledge.
"""

from zkdl.errors import VerificationError, ZkdlError

__version__ = "0.1.0"

__all__ = ["VerificationError", "ZkdlError", "__version__"]
