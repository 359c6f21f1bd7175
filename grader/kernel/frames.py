"""The framing of the harness <-> evaluator channel (a pipe): a JSON header, then raw bytes.

One frame is a 4-byte big-endian length, that many bytes of UTF-8 JSON (the
header), then the blobs the header lists in ``"blobs"`` (their sizes), back
to back.  Arrays travel as blobs of raw little-endian bytes, with dtype and
shape in the header; nothing is ever unpickled.  Used by both sides, so it
imports nothing but the standard library and NumPy.
"""
from __future__ import annotations

import json
import struct

MAX_HEADER = 16 * 1024 * 1024
MAX_BLOB = 1024 * 1024 * 1024     # a frozen graph or an array of inputs
_LENGTH = struct.Struct(">I")


class FrameError(Exception):
    """The channel carried something that is not a frame (the other side died or misbehaved)."""


def encode_frame(header: dict, blobs: list[bytes] = ()) -> bytes:
    """One frame as bytes."""
    blobs = [bytes(b) for b in blobs]
    text = json.dumps({**header, "blobs": [len(b) for b in blobs]}).encode("utf-8")
    return _LENGTH.pack(len(text)) + text + b"".join(blobs)


def read_frame(read_exactly) -> tuple[dict, list[bytes]]:
    """Read one frame with ``read_exactly(n) -> bytes`` (raising EOFError at the end)."""
    (length,) = _LENGTH.unpack(read_exactly(_LENGTH.size))
    _check_size(length, MAX_HEADER, "header")
    header = _parse(read_exactly(length))
    return header, [read_exactly(size) for size in header["blobs"]]


def _parse(raw: bytes) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"a frame header is not JSON ({exc})") from None
    blobs = header.get("blobs") if isinstance(header, dict) else None
    if not isinstance(blobs, list) or not all(isinstance(n, int) for n in blobs):
        raise FrameError("a frame header does not list its blobs")
    for size in blobs:
        _check_size(size, MAX_BLOB, "blob")
    return header


def _check_size(size: int, limit: int, what: str) -> None:
    if not 0 <= size <= limit:
        raise FrameError(f"a frame {what} of {size} bytes is out of bounds (limit {limit})")


def array_meta(array) -> tuple[dict, bytes]:
    """(header entry, blob) for a NumPy array: little-endian bytes, dtype and shape."""
    import numpy as np

    array = np.ascontiguousarray(array)
    array = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return {"dtype": array.dtype.str, "shape": list(array.shape)}, array.tobytes()


_DTYPES = ("<f4", "<f8", "<i8", "<i4", "|b1", "|u1", "<i2", "<u2", "<f2", "|i1", "<u4", "<u8")


def array_from(meta: dict, blob: bytes):
    """The NumPy array a header entry and its blob describe (only plain numeric dtypes)."""
    import numpy as np

    if not isinstance(meta, dict) or meta.get("dtype") not in _DTYPES:
        raise FrameError(f"not a numeric array: {meta!r}"[:200])
    shape = [int(d) for d in meta.get("shape", [])]
    values = np.frombuffer(blob, dtype=meta["dtype"])
    if values.size != int(np.prod(shape, dtype=np.int64)):
        raise FrameError(f"an array of shape {shape} cannot hold {values.size} values")
    return values.reshape(shape)
