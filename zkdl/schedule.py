"""Public batch schedule: which dataset rows form the batch of training step t.

Pure Python (``hashlib`` only) on purpose: the standalone verifier recomputes the
schedule from the public ``batch_seed`` and must not need numpy, and the result must
not depend on the platform or on any library version.

Specification (version 1)
-------------------------
* ``per_epoch = n_samples // batch_size`` batches per epoch (a trailing partial batch
  is dropped); step ``t`` belongs to epoch ``e = t // per_epoch`` and is batch
  ``j = t % per_epoch`` of that epoch.
* Epoch ``e`` uses a permutation ``P_e`` of ``range(n_samples)``; the batch of step
  ``t`` is ``P_e[j*batch_size : (j+1)*batch_size]`` (in that order).
* Random words: block ``c = 0, 1, 2, ...`` is
  ``SHA-256(b"zkdl/schedule/v1" || seed (32 bytes BE) || n_samples (8 bytes BE) ||
  epoch (8 bytes BE) || c (8 bytes BE))``; each 32-byte block gives four unsigned
  64-bit words, big-endian, in order. Words are consumed one after another.
* Uniform integer in ``[0, m)``: draw words ``w`` until ``w < 2^64 - (2^64 mod m)``
  (rejection, so no modulo bias), return ``w mod m``.
* ``P_e`` is the Fisher-Yates (Durstenfeld) shuffle of ``[0, 1, ..., n-1]``: for
  ``i = n-1`` down to ``1``: ``j = uniform(i + 1)``; swap entries ``i`` and ``j``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

__all__ = ["batch_indices", "epoch_permutation", "batches_per_epoch", "SCHEDULE_VERSION"]

SCHEDULE_VERSION = 1
_TAG = b"zkdl/schedule/v1"
_TWO64 = 1 << 64
_MAX_STEP = 1 << 63  # as TrainConfig.steps


def _check(seed: int, n_samples: int, batch_size: int | None = None) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < (1 << 256):
        raise ValueError(f"batch seed must be an int in [0, 2^256), got {seed!r}")
    if not isinstance(n_samples, int) or not 1 <= n_samples < _TWO64:
        raise ValueError(f"n_samples must be an int in [1, 2^64), got {str(n_samples)[:40]}")
    if batch_size is not None:
        if not isinstance(batch_size, int) or not 1 <= batch_size <= n_samples:
            raise ValueError(
                f"batch_size must be an int in [1, n_samples={n_samples}], got {batch_size!r}")


def _words(seed: int, n_samples: int, epoch: int):
    # the encodings are fixed-width: a value that does not fit is an error, never an OverflowError
    for name, v, top in (("seed", seed, 1 << 256), ("n_samples", n_samples, _TWO64), ("epoch", epoch, _TWO64)):
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < top:
            raise ValueError(f"schedule {name} must be an int in [0, 2^{top.bit_length() - 1}), got {str(v)[:40]}")
    prefix = _TAG + seed.to_bytes(32, "big") + n_samples.to_bytes(8, "big") + epoch.to_bytes(8, "big")
    counter = 0
    while True:
        block = hashlib.sha256(prefix + counter.to_bytes(8, "big")).digest()
        counter += 1
        for k in range(0, 32, 8):
            yield int.from_bytes(block[k:k + 8], "big")


@lru_cache(maxsize=8)
def epoch_permutation(seed: int, n_samples: int, epoch: int) -> tuple[int, ...]:
    """The permutation P_epoch of range(n_samples) (see the module docstring)."""
    _check(seed, n_samples)
    if not isinstance(epoch, int) or not 0 <= epoch < _TWO64:
        raise ValueError(f"epoch must be an int in [0, 2^64), got {str(epoch)[:40]}")
    words = _words(seed, n_samples, epoch)
    perm = list(range(n_samples))
    for i in range(n_samples - 1, 0, -1):
        m = i + 1
        limit = _TWO64 - (_TWO64 % m)
        w = next(words)
        while w >= limit:
            w = next(words)
        j = w % m
        perm[i], perm[j] = perm[j], perm[i]
    return tuple(perm)


def batches_per_epoch(n_samples: int, batch_size: int) -> int:
    """Number of full batches per epoch (the trailing partial batch is dropped)."""
    _check(0, n_samples, batch_size)
    return n_samples // batch_size


def batch_indices(seed: int, n_samples: int, batch_size: int, step: int) -> list[int]:
    """Dataset row indices of the batch used at training step ``step`` (0-based)."""
    _check(seed, n_samples, batch_size)
    if not isinstance(step, int) or not 0 <= step < _MAX_STEP:
        raise ValueError(f"step must be an int in [0, 2^63), got {str(step)[:40]}")
    per_epoch = n_samples // batch_size
    epoch, j = divmod(step, per_epoch)
    perm = epoch_permutation(seed, n_samples, epoch)
    return list(perm[j * batch_size:(j + 1) * batch_size])
