"""Strict binary reading and writing for proofs (pure Python; used by verifiers).

Integers are little-endian and unsigned; field elements are canonical 32-byte
encodings (:mod:`zkdl.field`). A :class:`Reader` raises :class:`EncodingError` when
the data ends early and :class:`TrailingDataError` from :meth:`Reader.finish` when
bytes are left over: a message parses completely or not at all.
"""

from __future__ import annotations

import struct

from zkdl.errors import EncodingError, TrailingDataError
from zkdl.field import BYTES, decode, encode


class Writer:
    def __init__(self):
        self._parts: list[bytes] = []

    def u8(self, v: int) -> "Writer":
        self._parts.append(struct.pack("<B", v))
        return self

    def u16(self, v: int) -> "Writer":
        self._parts.append(struct.pack("<H", v))
        return self

    def u32(self, v: int) -> "Writer":
        self._parts.append(struct.pack("<I", v))
        return self

    def scalar(self, v: int) -> "Writer":
        self._parts.append(encode(v))
        return self

    def scalars(self, vs) -> "Writer":
        for v in vs:
            self.scalar(v)
        return self

    def raw(self, data: bytes) -> "Writer":
        self._parts.append(bytes(data))
        return self

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    def __init__(self, data: bytes, what: str = "message"):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise EncodingError(f"{what}: expected bytes, got {type(data).__name__}")
        self.data = bytes(data)
        self.pos = 0
        self.what = what

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def raw(self, n: int, what: str = "data") -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise EncodingError(f"{self.what}: truncated {what} (needed {n} bytes at offset {self.pos}, "
                                f"{self.remaining()} left)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    take = raw

    def u8(self, what: str = "byte") -> int:
        return self.raw(1, what)[0]

    def u16(self, what: str = "u16") -> int:
        return struct.unpack("<H", self.raw(2, what))[0]

    def u32(self, what: str = "u32") -> int:
        return struct.unpack("<I", self.raw(4, what))[0]

    def scalar(self, what: str = "scalar") -> int:
        return decode(self.raw(BYTES, what))

    def scalars(self, n: int, what: str = "scalars") -> list[int]:
        if n < 0 or n * BYTES > self.remaining():
            raise EncodingError(f"{self.what}: truncated {what} ({n} field elements needed, "
                                f"{self.remaining()} bytes left)")
        return [self.scalar(what) for _ in range(n)]

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise TrailingDataError(f"{self.what}: {self.remaining()} trailing bytes after a complete message")
