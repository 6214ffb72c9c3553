"""The blinds of the statement commitments, derived from one secret run seed.

A proof of a long run is a chain of windows. Window k's initial-weight commitment must
be byte-identical to window k-1's final one, so both must use the same row blinds.
Drawing them at random made window k wait for window k-1's secrets; deriving them
from one secret 32-byte *run seed* lets any window be proven at any time, on any
machine (``zkdl prove --ray``), and still chain byte for byte:

    blind(label, k, i) = int(SHAKE-256(DOMAIN || seed || label || k || rows)[64 i : 64 i + 64]) mod p

with ``label`` ``b"state" || t`` (the state W[t] at boundary t: the final commitments
of the window ending at t and the initial ones of the window starting there),
``b"dataset"`` or ``b"frozen"`` (the same for every window of the run), ``k`` the
commitment's index in its role's list (docs/FORMAT.md 3.2; the k-th initial and the k-th
final commitment are the same state tensor), ``rows`` its number of rows and ``i`` the
row (t as 8, k and rows as 4 little-endian bytes). 64 bytes per blind reduced mod p
(the BLS12-381 scalar field order) are within 2^-256 of uniform. Keying by position needs
every window of a run to list the same statement commitments in the same order, the k-th
final one of the k-th initial one's state: true of every registered method, window-
dependent ones included (tests/test_run_seed.py checks them all).

The seed comes from ``secrets.token_bytes(32)`` and is kept like the blinds it stands
for: ``secrets/run-seed`` in the output directory (0600, 64 hex digits), never in a
proof, a claim or a model file. A published blinds list (``zkdl export-model`` opens the
last final commitment) reveals nothing about the other boundaries' blinds. What stays
fresh randomness (``secrets``/``os.urandom``) is everything inside a window: the blinds
of witness commitments and of the zero-knowledge arguments. Public anchors keep zero
blinds (``--public-data``, ``--public-init``, ``--public-base``: zkdl.anchors).

Prover side only (the verifier never sees blinds).
"""

from __future__ import annotations

import hashlib
import os
import secrets as _secrets

from zkdl.field import P

DOMAIN = b"zkdl/statement-blinds/v1\x00"
SEED_BYTES = 32
SEED_FILE = "run-seed"   # in an output directory's secrets/ (no .json: not a proof's secrets file)


def new_seed() -> bytes:
    """A fresh secret run seed (32 bytes from the OS's CSPRNG)."""
    return _secrets.token_bytes(SEED_BYTES)


def _label(role: str, t0: int, T: int) -> bytes:
    if role == "initial":
        return b"state" + int(t0).to_bytes(8, "little")
    if role == "final":
        return b"state" + int(t0 + T).to_bytes(8, "little")
    if role in ("dataset", "frozen"):
        return role.encode()
    raise ValueError(f"no derived blinds for statement role {role!r}")


def derive(seed: bytes, role: str, t0: int, T: int, k: int, rows: int) -> list[int]:
    """The row blinds of the ``k``-th ``role`` commitment (``rows`` rows) of the window
    t0..t0+T-1: role "initial" is boundary t0, "final" boundary t0+T (module docstring)."""
    if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
        raise ValueError(f"a run seed is {SEED_BYTES} bytes")
    msg = DOMAIN + seed + _label(role, t0, T) + int(k).to_bytes(4, "little") + int(rows).to_bytes(4, "little")
    stream = hashlib.shake_256(msg).digest(64 * rows)
    return [int.from_bytes(stream[64 * i:64 * i + 64], "little") % P for i in range(rows)]


def seed_path(out: str) -> str:
    return os.path.join(out, "secrets", SEED_FILE)


def read_seed(path: str) -> bytes:
    """The seed in ``path`` (64 hex digits); ValueError on anything else."""
    with open(path, encoding="ascii") as fh:
        text = fh.read().strip()
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != SEED_BYTES:
        raise ValueError(f"{path}: not a run seed (expected {2 * SEED_BYTES} hex digits)")
    return seed


def load_or_create(out: str) -> bytes:
    """The run seed of output directory ``out`` (secrets/run-seed), made on first use
    (0600, written atomically)."""
    path = seed_path(out)
    if os.path.exists(path):
        return read_seed(path)
    from zkdl.api import atomic_write
    os.makedirs(os.path.dirname(path), exist_ok=True)
    seed = new_seed()
    atomic_write(path, seed.hex().encode() + b"\n", 0o600)
    return seed
