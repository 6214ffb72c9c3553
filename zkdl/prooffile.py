"""The ``*.zkdl`` proof file container (documented byte by byte in docs/FORMAT.md).

    magic        8 bytes   b"ZKDLPRF\\x00"
    version      u16 LE    FORMAT_VERSION
    header_len   u32 LE    length of the header in bytes (<= MAX_HEADER)
    header       JSON      UTF-8, canonical: sorted keys, separators (",", ":"), no NaN
    body_len     u64 LE    length of the body (<= MAX_BODY)
    body         bytes     the binary proof (format defined by the header's "proof" kind)

Nothing may follow the body. The header is parsed only if it is canonical JSON
(re-encoding it gives the same bytes), so one proof has exactly one encoding. It may
nest at most MAX_JSON_DEPTH arrays/objects (checked on the raw bytes, before parsing)
and hold no lone surrogate (such a string has no UTF-8 encoding).
Pure Python: the verifier uses it.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import stat
import struct

from zkdl.errors import EncodingError, TrailingDataError

MAGIC = b"ZKDLPRF\x00"
FORMAT_VERSION = 1
MAX_HEADER = 1 << 20
MAX_BODY = 1 << 34
MAX_FILE = len(MAGIC) + 6 + MAX_HEADER + 8 + MAX_BODY  # the largest file the format allows
MAX_JSON_DEPTH = 32  # a header nests 4 levels, a claim manifest 4: far below Python's recursion limit

# a string literal, or an unterminated one up to the end (never fails once started: linear time)
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(raw: bytes) -> int:
    """Nesting depth of arrays/objects in JSON text ``raw`` (bytes), without parsing it:
    linear time, no recursion. Brackets inside strings do not count. Meant as a bound
    before ``json.loads``: for text that is not valid JSON the value is only an
    estimate, never below the depth the parser reaches before it fails."""
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", raw))
    return max(itertools.accumulate(_STEP[c] for c in brackets), default=0)


def check_json_depth(raw: bytes, what: str, error=EncodingError) -> None:
    """Raise ``error`` unless JSON text ``raw`` nests at most MAX_JSON_DEPTH levels."""
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise error(f"{what} nests {depth} levels of arrays/objects (at most {MAX_JSON_DEPTH} allowed)")


def _obj_depth(obj) -> int:
    """Nesting depth of lists/dicts in a Python object (iterative: no recursion)."""
    depth, stack = 0, [(obj, 1)]
    while stack:
        cur, d = stack.pop()
        if isinstance(cur, (list, tuple, dict)):
            if d > depth:
                depth = d
            if d > MAX_JSON_DEPTH:
                break
            stack.extend((v, d + 1) for v in (cur.values() if isinstance(cur, dict) else cur))
    return depth


def canonical_json(obj) -> bytes:
    """Canonical UTF-8 JSON (sorted keys, no whitespace, no NaN). Raises EncodingError for
    an object nested deeper than MAX_JSON_DEPTH or holding a lone surrogate (no UTF-8
    encoding, so no canonical form)."""
    if _obj_depth(obj) > MAX_JSON_DEPTH:
        raise EncodingError(f"JSON value nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        raise EncodingError("JSON string with a lone surrogate (\\ud800-\\udfff): no UTF-8 encoding") from None


def pack(header: dict, body: bytes) -> bytes:
    h = canonical_json(header)
    if len(h) > MAX_HEADER:
        raise ValueError("proof header too large")
    return MAGIC + struct.pack("<HI", FORMAT_VERSION, len(h)) + h + struct.pack("<Q", len(body)) + body


def _reject_constants(name):
    raise ValueError(f"{name} is not allowed")


def _parse_header(raw: bytes) -> dict:
    check_json_depth(raw, "proof header")  # before parsing: json.loads recurses
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EncodingError(f"proof header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise EncodingError("proof header must be a JSON object")
    if canonical_json(header) != raw:
        raise EncodingError("proof header is not in canonical JSON form")
    return header


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
    header = _parse_header(data[pos:pos + hlen])
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


def read_proof_file(path) -> bytes:
    """The bytes of the proof file at ``path``, read only if it can be one: a regular file
    (not a FIFO, device or directory: opened non-blocking, so a FIFO never hangs) no larger
    than the format allows (22 + header_len + MAX_BODY bytes when the 14-byte prefix is a
    valid one, else MAX_FILE). Raises EncodingError for a file that cannot be a proof, and
    OSError (FileNotFoundError, ...) when it cannot be opened; the content itself is checked
    by ``unpack``."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise EncodingError("not a regular file (a proof file must be one)")
        size = st.st_size
        prefix = os.pread(fd, len(MAGIC) + 6, 0) if size >= len(MAGIC) + 6 else b""
        limit = MAX_FILE
        if prefix[:len(MAGIC)] == MAGIC:
            version, hlen = struct.unpack_from("<HI", prefix, len(MAGIC))
            if version == FORMAT_VERSION and hlen <= MAX_HEADER:
                limit = len(MAGIC) + 6 + hlen + 8 + MAX_BODY
        if size > limit:
            raise EncodingError(f"file of {size} bytes exceeds the proof format's maximum of {limit} bytes")
        chunks, left = [], size + 1  # one byte more: a file that grew is still bounded
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > size:
            raise EncodingError("proof file grew while it was read")
        return data
    finally:
        os.close(fd)
