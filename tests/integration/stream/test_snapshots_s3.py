"""Detector snapshots in S3, through the real boto3 client against a local S3 stand-in.

moto's server speaks the S3 REST protocol over HTTP on 127.0.0.1; boto3 is pointed at it
with ``endpoint_url``, so what is tested is the bytes boto3 sends and what it makes of the
answers (a missing object, a missing bucket), not a mock of the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from moto.server import ThreadedMotoServer  # type: ignore[import-untyped]

from aidevops.pb import checkpoint_pb2
from cli.local.process import free_port
from stream.worker.snapshots import (
    SnapshotUnavailable,
    decode_snapshot,
    encode_snapshot,
    open_snapshots,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def s3() -> Iterator[Any]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
    finally:
        server.stop()


def test_snapshots_round_trip_through_s3(s3: Any) -> None:
    s3.create_bucket(Bucket="aidevops-models")
    store = open_snapshots("s3://aidevops-models/prod/workers", s3_client=s3)
    assert store.get(4) is None  # nothing written yet: start cold, no error
    states = [
        checkpoint_pb2.SeriesCheckpoint(series_id=sid, detector=b"\x01" * 100).SerializeToString()
        for sid in (7, 8)
    ]
    store.put(4, encode_snapshot(4, 8, states, now=1.0))
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="aidevops-models")["Contents"]]
    assert keys == ["prod/workers/partition-4.snapshot"]
    blob = store.get(4)
    assert blob is not None
    snapshot = decode_snapshot(blob)
    assert [c.series_id for c in snapshot.series] == [7, 8]
    assert snapshot.partitions == 8


def test_a_missing_bucket_is_a_snapshot_error_not_a_crash(s3: Any) -> None:
    store = open_snapshots("s3://no-such-bucket/x", s3_client=s3)
    with pytest.raises(SnapshotUnavailable, match="no-such-bucket"):
        store.put(0, b"data")
    with pytest.raises(SnapshotUnavailable):
        store.get(0)
