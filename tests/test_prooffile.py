"""Proof file container: round trip and strict rejection of malformed files."""

import struct

import pytest

from zkdl.errors import EncodingError, TrailingDataError
from zkdl.prooffile import MAGIC, pack, unpack

HEADER = {"config": {"R": 16, "width": [8, 8]}, "zk": True, "statement": {"steps": [0, 1]}}
BODY = bytes(range(200))


def test_round_trip():
    data = pack(HEADER, BODY)
    assert unpack(data) == (HEADER, BODY)
    assert unpack(pack({}, b"")) == ({}, b"")


@pytest.mark.parametrize("cut", [0, 4, 8, 12, 20, -1, -50])
def test_truncation_rejected(cut):
    data = pack(HEADER, BODY)
    with pytest.raises(EncodingError):
        unpack(data[:cut])


def test_trailing_bytes_rejected():
    with pytest.raises(TrailingDataError):
        unpack(pack(HEADER, BODY) + b"\x00")


def test_bad_magic_and_version():
    data = bytearray(pack(HEADER, BODY))
    with pytest.raises(EncodingError, match="magic"):
        unpack(b"X" + bytes(data[1:]))
    data[8:10] = struct.pack("<H", 99)
    with pytest.raises(EncodingError, match="version"):
        unpack(bytes(data))


def _with_header(raw: bytes, body=b"") -> bytes:
    return MAGIC + struct.pack("<HI", 1, len(raw)) + raw + struct.pack("<Q", len(body)) + body


@pytest.mark.parametrize("raw", [b'{"b":1,"a":2}', b'{"a": 1}', b"[1,2]", b"{not json", b'{"a":NaN}',
                                 b"\xff\xfe", b'{"a":1,"a":2}'])
def test_non_canonical_or_invalid_header_rejected(raw):
    with pytest.raises(EncodingError):
        unpack(_with_header(raw))


def test_huge_lengths_rejected_before_allocation():
    with pytest.raises(EncodingError):
        unpack(MAGIC + struct.pack("<HI", 1, 1 << 30) + b"{}")
    with pytest.raises(EncodingError):
        unpack(MAGIC + struct.pack("<HI", 1, 2) + b"{}" + struct.pack("<Q", 1 << 60))
