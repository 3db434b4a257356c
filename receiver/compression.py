"""Snappy block decompression that refuses oversized output before allocating it."""

from __future__ import annotations

import snappy

from aidevops.errors import DecodeError, PayloadTooLarge

__all__ = ["declared_length", "decompress"]


def declared_length(body: bytes) -> int:
    """The uncompressed length a snappy block declares in its leading varint.

    >>> declared_length(bytes([0x80, 0x01]) + b"...")
    128
    >>> declared_length(b"")
    Traceback (most recent call last):
    ...
    aidevops.errors.DecodeError: corrupt snappy block: truncated length header
    """
    result = 0
    for shift, byte in zip(range(0, 35, 7), body, strict=False):
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
    raise DecodeError("corrupt snappy block: truncated length header")


def decompress(body: bytes, max_decoded: int) -> bytes:
    """Decompress a snappy *block* (not the framed format), at most ``max_decoded`` bytes.

    >>> decompress(snappy.compress(b"hello"), 100)
    b'hello'
    >>> decompress(snappy.compress(b"x" * 1000), 100)
    Traceback (most recent call last):
    ...
    aidevops.errors.PayloadTooLarge: snappy block declares 1000 bytes, limit is 100
    """
    size = declared_length(body)
    if size > max_decoded:
        raise PayloadTooLarge(f"snappy block declares {size} bytes, limit is {max_decoded}")
    try:
        data: bytes = snappy.uncompress(body)
    except snappy.UncompressError as exc:
        raise DecodeError(f"corrupt snappy block: {exc}") from None
    if len(data) != size:
        raise DecodeError("corrupt snappy block: length differs from its header")
    return data
