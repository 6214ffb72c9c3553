"""Public random supports of sparse tensors (pure Python, ``hashlib`` only, like
:mod:`zkdl.schedule`): the verifier recomputes them from the circuit's parameters.

:func:`support_positions` draws ``count`` distinct flat indices i * cols + j of a
rows x cols matrix, uniformly (rejection of repeats), from SHAKE-256 of
("zkdl/support/v1", seed, layer, rows, cols, count); the result is sorted. Used by the
``entries`` relation (a sparse tensor's nonzero values scattered into, or gathered
from, a dense one; docs/PROTOCOL.md) and by the training method ``sltrain``.
"""

from __future__ import annotations

import functools
import hashlib
import json

__all__ = ["SUPPORT_VERSION", "support_positions", "support_count"]

SUPPORT_VERSION = "zkdl/support/v1"
MAX_ENTRIES = 1 << 26


def support_count(rows: int, cols: int, permille: int) -> int:
    """floor(rows cols permille / 1000), at least 1 (and at most rows cols)."""
    return max(1, min(rows * cols, rows * cols * permille // 1000))


def support_positions(seed: int, layer: int, rows: int, cols: int, count: int) -> list[int]:
    """``count`` distinct sorted flat positions in [0, rows * cols) (module docstring);
    computed once per argument tuple (every step of a window reads the same support)."""
    return list(_positions(int(seed), int(layer), int(rows), int(cols), int(count)))


@functools.lru_cache(maxsize=256)
def _positions(seed: int, layer: int, rows: int, cols: int, count: int) -> tuple:
    n = rows * cols
    if not (0 < count <= n <= MAX_ENTRIES):
        raise ValueError(f"support: need 0 < count <= rows * cols <= 2^26, got {count} of {rows} x {cols}")
    tag = json.dumps([SUPPORT_VERSION, int(seed), int(layer), rows, cols, count]).encode()
    chosen: set[int] = set()
    block = 0
    while len(chosen) < count:
        words = hashlib.shake_256(tag + block.to_bytes(8, "big")).digest(8 * 4096)
        for k in range(0, len(words), 8):
            chosen.add(int.from_bytes(words[k:k + 8], "big") % n)
            if len(chosen) == count:
                break
        block += 1
    return tuple(sorted(chosen))
