"""Typed errors of zkdl.

Every failure a verifier can detect is a :class:`VerificationError` subclass that
names what mismatched; callers (CLI, audit) print the message, never a traceback.
"""


class ZkdlError(Exception):
    """Base of every error zkdl raises on purpose."""


class VerificationError(ZkdlError):
    """A proof, commitment or encoding was rejected by a verifier."""


class EncodingError(VerificationError, ValueError):
    """Bytes that do not decode to what they claim (length, range, canonical form)."""


class NonCanonicalError(EncodingError):
    """A field element or point whose encoding is not the canonical one."""


class TrailingDataError(EncodingError):
    """Extra bytes after a complete message."""


class TranscriptError(ZkdlError, ValueError):
    """Misuse of the Fiat-Shamir transcript (bad label, bad value)."""


class SumcheckError(VerificationError):
    """A sumcheck proof was rejected; ``round`` is the 0-based round, or None."""

    def __init__(self, message: str, round: int | None = None):
        super().__init__(message)
        self.round = round


class SumcheckRoundCountError(SumcheckError):
    """The proof has a different number of rounds than the statement's variables."""


class SumcheckDegreeError(SumcheckError):
    """A round polynomial has more (or fewer) coefficients than the degree allows."""


class SumcheckConsistencyError(SumcheckError):
    """g_i(0) + g_i(1) differs from the running claim in round i."""


class ConfigError(ZkdlError, ValueError):
    """An invalid training or proving configuration."""


class DataError(ZkdlError, ValueError):
    """A dataset file or array that cannot be used (the message names file and problem)."""


class OverflowBoundError(ZkdlError, ArithmeticError):
    """A traced tensor left its declared bit bound (message names step, layer, tensor, remedy)."""


class InvalidPointError(EncodingError):
    """Bytes that do not decompress to a point on the BLS12-381 G1 curve."""


class SubgroupError(InvalidPointError):
    """A curve point outside the prime-order subgroup (small-subgroup attack)."""


class CommitmentError(VerificationError):
    """A commitment or opening claim has the wrong shape for the statement (sizes, counts)."""


class OpeningError(VerificationError):
    """A Hyrax evaluation proof does not open the commitments to the claimed values."""


class SigmaProofError(VerificationError):
    """A Sigma protocol (proof of dot product, ...) failed its verification equation."""


class BackendUnavailable(ZkdlError, RuntimeError):
    """A prover backend that cannot run here (e.g. ``cuda`` without CuPy or a GPU);
    the message says what is missing and how to get it."""
