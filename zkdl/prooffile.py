"""The ``*.zkdl`` proof file container (documented byte by byte in docs/FORMAT.md).

    magic        8 bytes   b"ZKDLPRF\\x00"
    version      u16 LE    FORMAT_VERSION
    header_len   u32 LE    length of the header in bytes (<= MAX_HEADER)
    header       JSON      UTF-8, canonical: sorted keys, separators (",", ":"), no NaN
    body_len     u64 LE    length of the body (<= MAX_BODY)
    body         bytes     the binary proof (format defined by the header's "proof" kind)

Nothing may follow the body. The header is parsed only if it is canonical JSON
(re-encoding it gives the same bytes), so one proof has exactly one encoding.
Pure Python: the verifier uses it.
"""

from __future__ import annotations

import json
import struct

from zkdl.errors import EncodingError, TrailingDataError

MAGIC = b"ZKDLPRF\x00"
FORMAT_VERSION = 1
MAX_HEADER = 1 << 20
MAX_BODY = 1 << 34


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def pack(header: dict, body: bytes) -> bytes:
    h = canonical_json(header)
    if len(h) > MAX_HEADER:
        raise ValueError("proof header too large")
    return MAGIC + struct.pack("<HI", FORMAT_VERSION, len(h)) + h + struct.pack("<Q", len(body)) + body


def _reject_constants(name):
    raise ValueError(f"{name} is not allowed")


def unpack(data: bytes) -> tuple[dict, bytes]:
    """Split a proof file into (header dict, body bytes), strictly."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise EncodingError("proof must be bytes")
    data = bytes(data)
    if len(data) < len(MAGIC) + 6 or data[:len(MAGIC)] != MAGIC:
        raise EncodingError("not a zkdl proof file (bad magic)")
    version, hlen = struct.unpack_from("<HI", data, len(MAGIC))
    if version != FORMAT_VERSION:
        raise EncodingError(f"unsupported proof format version {version} (this zkdl reads {FORMAT_VERSION})")
    if hlen > MAX_HEADER:
        raise EncodingError(f"proof header length {hlen} exceeds {MAX_HEADER}")
    pos = len(MAGIC) + 6
    if len(data) < pos + hlen + 8:
        raise EncodingError("proof file truncated in the header")
    raw = data[pos:pos + hlen]
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constants)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EncodingError(f"proof header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise EncodingError("proof header must be a JSON object")
    if canonical_json(header) != raw:
        raise EncodingError("proof header is not in canonical JSON form")
    pos += hlen
    (blen,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    if blen > MAX_BODY:
        raise EncodingError(f"proof body length {blen} exceeds {MAX_BODY}")
    if len(data) < pos + blen:
        raise EncodingError(f"proof file truncated: body needs {blen} bytes, {len(data) - pos} present")
    if len(data) > pos + blen:
        raise TrailingDataError(f"{len(data) - pos - blen} trailing bytes after the proof body")
    return header, data[pos:pos + blen]
