"""Storage errors; they derive from :class:`aidevops.errors.AidevopsError`.

botocore errors are translated into these by error code in :mod:`stream.storage.dynamodb`,
the one module that talks to DynamoDB, so nothing above it sees a vendor type.
"""

from __future__ import annotations

from aidevops.errors import AidevopsError

__all__ = ["StorageError", "StorageRejected", "StorageUnavailable"]


class StorageError(AidevopsError):
    """Root of the errors raised while reading or writing DynamoDB."""


class StorageUnavailable(StorageError):
    """DynamoDB did not take the request (unreachable, throttled past the retries, 5xx).

    Retryable: the sink keeps its buffers, pauses consumption and tries again later; Kafka
    offsets are not committed, so nothing is lost.
    """


class StorageRejected(StorageError):
    """DynamoDB refused the request as invalid (missing table, bad key, item too large).

    Not retryable: retrying the same request fails the same way.
    """
