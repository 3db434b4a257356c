"""Which remote-write protocol a request speaks, from its Content-Type and Content-Encoding."""

from __future__ import annotations

import enum

from aidevops.errors import UnsupportedMediaType

__all__ = ["RemoteWriteProtocol", "negotiate"]

_PROTOBUF = "application/x-protobuf"
_V1_MESSAGE = "prometheus.writerequest"
_V2_MESSAGE = "io.prometheus.write.v2.request"


class RemoteWriteProtocol(enum.IntEnum):
    """The two protobuf messages we accept (values match ``aidevops.v1.Protocol``)."""

    V1 = 1
    V2 = 2


def negotiate(content_type: str | None, content_encoding: str | None) -> RemoteWriteProtocol:
    """Map request headers to a protocol, or raise :class:`UnsupportedMediaType` (HTTP 415).

    A missing Content-Type is taken as 1.0, as the 2.0 specification asks of receivers.
    Only snappy is accepted as encoding; a missing encoding is refused because remote-write
    bodies are always compressed.

    >>> negotiate("application/x-protobuf", "snappy")
    <RemoteWriteProtocol.V1: 1>
    >>> negotiate("application/x-protobuf;proto=io.prometheus.write.v2.Request", "snappy")
    <RemoteWriteProtocol.V2: 2>
    >>> negotiate("application/json", "snappy")
    Traceback (most recent call last):
    ...
    aidevops.errors.UnsupportedMediaType: unsupported content type 'application/json'
    >>> negotiate("application/x-protobuf", "gzip")
    Traceback (most recent call last):
    ...
    aidevops.errors.UnsupportedMediaType: unsupported content encoding 'gzip': use snappy
    """
    encoding = (content_encoding or "").strip().lower()
    if encoding != "snappy":
        shown = content_encoding if content_encoding else "(none)"
        raise UnsupportedMediaType(f"unsupported content encoding {shown!r}: use snappy")
    if not content_type:
        return RemoteWriteProtocol.V1
    media, *params = (part.strip() for part in content_type.split(";"))
    if media.lower() != _PROTOBUF:
        raise UnsupportedMediaType(f"unsupported content type {content_type!r}")
    message = _V1_MESSAGE
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "proto":
            message = value.strip().strip('"').lower()
    if message == _V1_MESSAGE:
        return RemoteWriteProtocol.V1
    if message == _V2_MESSAGE:
        return RemoteWriteProtocol.V2
    raise UnsupportedMediaType(f"unsupported protobuf message {message!r}")
