"""Snappy block decompression that refuses oversized output before allocating it.

A snappy block is a varint (the uncompressed length) followed by elements. The element that
expands most is a copy with a 2-byte offset: 3 bytes that repeat up to 64 bytes of earlier
output. No block can therefore decompress to more than 64/3 times the bytes after its
header; a header declaring more is corrupt (400), not too large (413).
"""

from __future__ import annotations

import snappy

from aidevops.errors import DecodeError, PayloadTooLarge

__all__ = ["MAX_EXPANSION", "declared_length", "decompress"]

MAX_EXPANSION = 64 / 3
"""Most bytes one compressed byte of a snappy block can turn into (a 3-byte copy of 64)."""


def declared_length(body: bytes) -> tuple[int, int]:
    """The uncompressed length a snappy block declares in its leading varint.

    Returns ``(length, header bytes)``.

    >>> declared_length(bytes([0x80, 0x01]) + b"...")
    (128, 2)
    >>> declared_length(b"")
    Traceback (most recent call last):
    ...
    aidevops.errors.DecodeError: corrupt snappy block: truncated length header
    """
    result = 0
    for index, byte in enumerate(body[:5]):
        result |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return result, index + 1
    raise DecodeError("corrupt snappy block: truncated length header")


def decompress(body: bytes, max_decoded: int) -> bytes:
    """Decompress a snappy *block* (not the framed format), at most ``max_decoded`` bytes.

    >>> decompress(snappy.compress(b"hello"), 100)
    b'hello'
    >>> decompress(snappy.compress(b"x" * 1000), 100)
    Traceback (most recent call last):
    ...
    aidevops.errors.PayloadTooLarge: snappy block declares 1000 bytes, limit is 100

    A header no body of that size can honour is corruption, whatever the limit:

    >>> decompress(bytes([0x80, 0x80, 0x80, 0x80, 0x10]) + b"\\x00" * 7, 100)
    Traceback (most recent call last):
    ...
    aidevops.errors.DecodeError: corrupt snappy block: declares 4294967296 bytes, 7 can hold 149
    """
    size, header = declared_length(body)
    if size > (len(body) - header) * MAX_EXPANSION:
        room = len(body) - header
        raise DecodeError(
            f"corrupt snappy block: declares {size} bytes, {room} can hold "
            f"{int(room * MAX_EXPANSION)}"
        )
    if size > max_decoded:
        raise PayloadTooLarge(f"snappy block declares {size} bytes, limit is {max_decoded}")
    try:
        data: bytes = snappy.uncompress(body)
    except snappy.UncompressError as exc:
        raise DecodeError(f"corrupt snappy block: {exc}") from None
    if len(data) != size:
        raise DecodeError("corrupt snappy block: length differs from its header")
    return data
