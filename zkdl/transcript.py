"""Fiat-Shamir transcript: one class, used identically by prover and verifier.

Every absorb is framed as

    kind (1 byte) || len(label) (u16 LE) || label || len(payload) (u64 LE) || payload

and fed to a running BLAKE2b-512 state, so no two different absorb sequences hash
alike. A challenge hashes the current state with a challenge frame to 64 bytes and
reduces mod P (bias < 2^-256); the 64 bytes are then absorbed, so every later
challenge depends on every earlier one.

Rules (DESIGN.md section 5): only top-level prove/verify create a Transcript;
subprotocols receive one and absorb every prover message before drawing the
challenges that depend on it.
"""

from __future__ import annotations

import hashlib
import struct

from zkdl.errors import TranscriptError
from zkdl.field import P, encode, is_canonical

PROTOCOL_ID = b"zkdl/transcript/v1"
POINT_BYTES = 48  # compressed BLS12-381 G1 point

_KIND_INIT = b"I"
_KIND_BYTES = b"B"
_KIND_SCALARS = b"S"
_KIND_POINTS = b"G"
_KIND_CHALLENGE = b"C"
_KIND_CHALLENGE_OUT = b"c"


def _label_bytes(label) -> bytes:
    if isinstance(label, str):
        label = label.encode("ascii")
    if not isinstance(label, (bytes, bytearray)) or not 0 < len(label) < 65536:
        raise TranscriptError(f"transcript label must be 1..65535 bytes or ASCII str, got {label!r}")
    return bytes(label)


def _point_bytes(point) -> bytes:
    if hasattr(point, "to_compressed_bytes"):
        point = point.to_compressed_bytes()
    if not isinstance(point, (bytes, bytearray)) or len(point) != POINT_BYTES:
        raise TranscriptError(f"group element must be {POINT_BYTES} compressed bytes")
    return bytes(point)


class Transcript:
    """A hash-chained Fiat-Shamir transcript.

    >>> t = Transcript(b"example"); t.absorb_scalar(b"x", 5)
    >>> 0 <= t.challenge_scalar(b"r") < P
    True
    """

    def __init__(self, label):
        self._state = hashlib.blake2b(digest_size=64)
        self._frame(_KIND_INIT, PROTOCOL_ID, _label_bytes(label))

    def _frame(self, kind: bytes, label: bytes, payload: bytes) -> None:
        self._state.update(kind + struct.pack("<H", len(label)) + label
                           + struct.pack("<Q", len(payload)) + payload)

    # ------------------------------------------------------------- absorbing
    def absorb_bytes(self, label, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray)):
            raise TranscriptError("absorb_bytes takes bytes")
        self._frame(_KIND_BYTES, _label_bytes(label), bytes(data))

    def absorb_scalar(self, label, value: int) -> None:
        self.absorb_scalars(label, [value])

    def absorb_scalars(self, label, values) -> None:
        values = list(values)
        for v in values:
            if not is_canonical(v):
                raise TranscriptError(f"not a canonical field element: {v!r}")
        self._frame(_KIND_SCALARS, _label_bytes(label), b"".join(encode(v) for v in values))

    def absorb_point(self, label, point) -> None:
        self.absorb_points(label, [point])

    def absorb_points(self, label, points) -> None:
        self._frame(_KIND_POINTS, _label_bytes(label), b"".join(_point_bytes(p) for p in points))

    # ------------------------------------------------------------ challenges
    def challenge_scalar(self, label) -> int:
        """One challenge in [0, P), derived from everything absorbed so far."""
        label = _label_bytes(label)
        h = self._state.copy()
        h.update(_KIND_CHALLENGE + struct.pack("<H", len(label)) + label)
        out = h.digest()
        self._frame(_KIND_CHALLENGE_OUT, label, out)
        return int.from_bytes(out, "little") % P

    def challenge_scalars(self, label, count: int) -> list[int]:
        """``count`` challenges (a vector), each bound to its index."""
        if not isinstance(count, int) or count < 0:
            raise TranscriptError(f"challenge count must be a non-negative int, got {count!r}")
        label = _label_bytes(label)
        self._frame(_KIND_BYTES, label, struct.pack("<Q", count))
        return [self.challenge_scalar(label + b"/" + str(i).encode()) for i in range(count)]
