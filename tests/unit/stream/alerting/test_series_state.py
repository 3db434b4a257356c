"""Serialization of the per-series alert state."""

from __future__ import annotations

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
        episode=Episode.OUTAGE,
        started_at=1_699_999_999_000,
        peak=1.0,
        baseline=Baseline(1234, 56.5, 7.25),
    )
    assert SeriesState.from_bytes(state.to_bytes()) == state


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x02" + bytes(70), "version 2"),
        (b"\x01" + bytes(33) + b"\x07" + bytes(36), "unknown episode kind 7"),
        (bytes(3), "has 3 bytes"),
    ],
    ids=["version", "episode", "length"],
)
def test_corrupt_state_is_an_alert_state_error(blob: bytes, message: str) -> None:
    with pytest.raises(AlertStateError, match=message):
        SeriesState.from_bytes(blob)
