"""Detector snapshots in object storage: what restores a partition when Kafka has nothing.

The checkpoint topic is the first source of a partition's detector states. It can be empty
while the detectors' knowledge is still wanted: a new Kafka cluster, a lost topic, or the
local stack (whose broker keeps everything in memory) started again. Workers therefore also
write, every ``snapshot_interval_seconds``, one :class:`PartitionSnapshot` per owned
partition to object storage, and read it back when a partition's checkpoint topic is empty.

Where snapshots go is a URL (``AIDEVOPS_SNAPSHOT_URL``):

* ``s3://bucket/prefix`` — Amazon S3 through boto3 (the default credential chain);
* ``file:///path/to/dir`` or a plain path — a directory, what ``aidevops up`` uses.

A snapshot is written whole (a temporary name, then a rename, for directories; one PUT for
S3), so a reader sees an old snapshot or a new one, never half of one.
"""

from __future__ import annotations

import os
import time
import urllib.parse
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from aidevops.errors import AidevopsError, ConfigurationError
from aidevops.pb import checkpoint_pb2

__all__ = [
    "DirectorySnapshots",
    "S3Snapshots",
    "SnapshotStore",
    "SnapshotUnavailable",
    "decode_snapshot",
    "encode_snapshot",
    "open_snapshots",
]

SCHEMA_VERSION = 1


class SnapshotUnavailable(AidevopsError):
    """The snapshot store could not be read or written (the worker goes on without it)."""


class SnapshotStore(Protocol):
    """Where partition snapshots are kept (blocking calls: run them in a thread)."""

    def put(self, partition: int, data: bytes) -> None:
        """Replace the snapshot of ``partition``."""

    def get(self, partition: int) -> bytes | None:
        """The snapshot of ``partition``, or ``None`` if there is none."""


def _name(partition: int) -> str:
    return f"partition-{partition}.snapshot"


class DirectorySnapshots:
    """Snapshots as files of one directory.

    >>> import tempfile
    >>> store = DirectorySnapshots(Path(tempfile.mkdtemp()))
    >>> store.get(3) is None
    True
    >>> store.put(3, b"state")
    >>> store.get(3)
    b'state'
    """

    def __init__(self, directory: Path):
        self.directory = directory

    def put(self, partition: int, data: bytes) -> None:
        final = self.directory / _name(partition)
        partial = final.with_suffix(".partial")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            partial.replace(final)
        except OSError as exc:
            raise SnapshotUnavailable(f"cannot write {final}: {exc}") from exc

    def get(self, partition: int) -> bytes | None:
        path = self.directory / _name(partition)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SnapshotUnavailable(f"cannot read {path}: {exc}") from exc


class S3Snapshots:
    """Snapshots as objects ``<prefix>/partition-<n>.snapshot`` of one S3 bucket."""

    def __init__(self, client: Any, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, partition: int) -> str:
        return f"{self.prefix}/{_name(partition)}" if self.prefix else _name(partition)

    def put(self, partition: int, data: bytes) -> None:
        key = self._key(partition)
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise SnapshotUnavailable(f"cannot write s3://{self.bucket}/{key}: {exc}") from exc

    def get(self, partition: int) -> bytes | None:
        key = self._key(partition)
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
            data: bytes = answer["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise SnapshotUnavailable(f"cannot read s3://{self.bucket}/{key}: {exc}") from exc
        except BotoCoreError as exc:
            raise SnapshotUnavailable(f"cannot read s3://{self.bucket}/{key}: {exc}") from exc
        return data


def open_snapshots(url: str, s3_client: Any = None) -> SnapshotStore:
    """The store a ``AIDEVOPS_SNAPSHOT_URL`` names.

    >>> open_snapshots("file:///var/lib/aidevops/snapshots").directory
    PosixPath('/var/lib/aidevops/snapshots')
    >>> open_snapshots("ftp://x")
    Traceback (most recent call last):
    ...
    aidevops.errors.ConfigurationError: AIDEVOPS_SNAPSHOT_URL must be s3://bucket/prefix, \
file:///dir or a directory path, not 'ftp://x'
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "s3" and parsed.netloc:
        if s3_client is None:
            import boto3  # type: ignore[import-untyped]

            s3_client = boto3.client("s3")
        return S3Snapshots(s3_client, parsed.netloc, parsed.path)
    if parsed.scheme == "file":
        return DirectorySnapshots(Path(urllib.parse.unquote(parsed.path)))
    if parsed.scheme == "":
        return DirectorySnapshots(Path(url))
    raise ConfigurationError(
        "AIDEVOPS_SNAPSHOT_URL must be s3://bucket/prefix, file:///dir or a directory path, "
        f"not {url!r}"
    )


def encode_snapshot(
    partition: int, partitions: int, checkpoints: Iterable[bytes], now: float | None = None
) -> bytes:
    """A partition's series checkpoints as one compressed snapshot."""
    snapshot = checkpoint_pb2.PartitionSnapshot(
        schema_version=SCHEMA_VERSION,
        partition=partition,
        partitions=partitions,
        written_at=int((time.time() if now is None else now) * 1000),
    )
    for data in checkpoints:
        snapshot.series.append(checkpoint_pb2.SeriesCheckpoint.FromString(data))
    return zlib.compress(snapshot.SerializeToString(), 6)


def decode_snapshot(data: bytes) -> checkpoint_pb2.PartitionSnapshot:
    """The snapshot ``encode_snapshot`` wrote.

    >>> blob = encode_snapshot(2, 8, [checkpoint_pb2.SeriesCheckpoint(series_id=7)
    ...     .SerializeToString()], now=1.0)
    >>> s = decode_snapshot(blob)
    >>> (s.partition, s.partitions, s.written_at, [c.series_id for c in s.series])
    (2, 8, 1000, [7])
    """
    return checkpoint_pb2.PartitionSnapshot.FromString(zlib.decompress(data))
