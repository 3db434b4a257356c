"""Serialization of the per-series alert state."""

from __future__ import annotations

import struct

import pytest

from stream.alerting.baseline import Baseline
from stream.alerting.errors import AlertStateError
from stream.alerting.series_state import Episode, SeriesState


def test_round_trip_keeps_every_field() -> None:
    state = SeriesState(
        last_ts=1_700_000_000_123,
        stale=True,
        above=3,
        run_start=1_700_000_000_000,
        run_peak=0.9991,
        below=2,
        inside=5,
        episode=Episode.OUTAGE,
        started_at=1_699_999_999_000,
        peak=1.0,
        baseline=Baseline(1234, 56.5, 7.25),
        grace_until=1_700_000_300_123,
    )
    assert SeriesState.from_bytes(state.to_bytes()) == state


def test_version_2_records_are_still_read_without_a_grace() -> None:
    state = SeriesState(last_ts=42, above=1, inside=3, baseline=Baseline(7, 10.0, 4.0))
    v2 = b"\x02" + state.to_bytes()[1:-8]  # the 75-byte layout before ``grace_until``
    assert SeriesState.from_bytes(v2) == state


def test_version_1_records_are_still_read() -> None:
    v1 = struct.pack(
        "<BqBIqdIBqdIdd", 1, 42, 0, 1, 40, 0.5, 2, 1, 30, 0.9, 7, 10.0, 4.0
    )  # the 71-byte layout written before ``inside`` existed
    state = SeriesState.from_bytes(v1)
    assert state == SeriesState(
        last_ts=42,
        above=1,
        run_start=40,
        run_peak=0.5,
        below=2,
        inside=0,
        episode=Episode.ANOMALY,
        started_at=30,
        peak=0.9,
        baseline=Baseline(7, 10.0, 4.0),
    )


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x04" + bytes(82), "version 4"),
        (b"\x03" + bytes(37) + b"\x07" + bytes(44), "unknown episode kind 7"),
        (bytes(3), "has 3 bytes"),
    ],
    ids=["version", "episode", "length"],
)
def test_corrupt_state_is_an_alert_state_error(blob: bytes, message: str) -> None:
    with pytest.raises(AlertStateError, match=message):
        SeriesState.from_bytes(blob)
