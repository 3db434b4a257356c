"""The project's exception hierarchy: every error we raise derives from :class:`AidevopsError`.

Vendor errors (aiokafka, botocore, telegram) are translated into these at the boundary where
they occur, so callers handle one family and never see a vendor type.
"""

from __future__ import annotations

__all__ = [
    "AidevopsError",
    "BrokerUnavailable",
    "ConfigurationError",
    "DecodeError",
    "LocalServiceError",
    "PayloadTooLarge",
    "UnsupportedMediaType",
]


class AidevopsError(Exception):
    """Root of every error raised by this project."""


class ConfigurationError(AidevopsError):
    """Settings are missing or contradict each other; raised at start-up, never later."""


class DecodeError(AidevopsError):
    """A remote-write payload is malformed or violates the protocol (HTTP 400).

    The message is one line meant for the sender's log: it names the offending series
    where there is one.
    """


class UnsupportedMediaType(AidevopsError):
    """Content type, protobuf message or content encoding we do not accept (HTTP 415)."""


class PayloadTooLarge(AidevopsError):
    """Body or its declared decompressed size exceeds the configured limit (HTTP 413)."""


class BrokerUnavailable(AidevopsError):
    """The Kafka broker did not acknowledge in time; the data was not accepted (HTTP 503)."""


class LocalServiceError(AidevopsError):
    """A locally launched real part (broker, DynamoDB Local, Prometheus) failed to start."""
