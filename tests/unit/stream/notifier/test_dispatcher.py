"""Grouping, flap suppression, repeat interval and the rate limit of the notification layer."""

from __future__ import annotations

import pytest

from aidevops.errors import ConfigurationError
from aidevops.pb import alerts_pb2
from stream.notifier.dispatcher import DispatchConfig, Dispatcher
from stream.notifier.notification import Notification, NotificationKind

FIRING = alerts_pb2.ALERT_STATE_FIRING
RESOLVED = alerts_pb2.ALERT_STATE_RESOLVED


ANOMALY = alerts_pb2.ALERT_REASON_ANOMALY
OUTAGE = alerts_pb2.ALERT_REASON_OUTAGE


def event(
    series: int,
    state: int = FIRING,
    *,
    score: float = 0.995,
    group: str = "acme/instance=h1",
    reason: int = 0,
) -> alerts_pb2.AlertEvent:
    return alerts_pb2.AlertEvent(
        schema_version=1,
        reason=alerts_pb2.AlertReason.ValueType(reason),
        tenant="acme",
        series_id=series,
        dedup_key=f"{series:016x}:1000",
        state=alerts_pb2.AlertState.ValueType(state),
        started_at=1000,
        score=score,
        peak_score=score,
        group_key=group,
    )


def summary(notifications: list[Notification]) -> list[tuple[str, str, list[int], int]]:
    return [
        (n.kind.value, n.group_key, [e.series_id for e in n.events], n.untracked)
        for n in notifications
    ]


def test_a_targets_alerts_within_the_group_window_become_one_notification() -> None:
    d = Dispatcher(DispatchConfig(group_wait=30.0))
    for series in range(12):
        d.offer(event(series, score=0.99 + series / 10_000), now=100.0 + series)
    d.offer(event(99, group="acme/instance=h2"), now=105.0)
    assert d.due(now=129.0) == []
    due = d.due(now=130.0)
    assert summary(due) == [("group", "acme/instance=h1", list(range(11, -1, -1)), 0)]
    assert summary(d.due(now=135.0)) == [("group", "acme/instance=h2", [99], 0)]
    d.offer(event(50), now=140.0)  # after the window: a new group
    assert summary(d.due(now=170.0)) == [("group", "acme/instance=h1", [50], 0)]


def test_replays_are_ignored() -> None:
    d = Dispatcher(DispatchConfig(group_wait=0.0))
    d.offer(event(1), now=0.0)
    assert len(d.due(now=0.0)) == 1
    d.offer(event(1), now=1.0)
    assert d.due(now=1.0) == []
    d.offer(event(1, RESOLVED), now=2.0)
    d.offer(event(1, RESOLVED), now=2.0)
    d.offer(event(1), now=2.0)
    assert summary(d.due(now=2.0)) == [("group", "acme/instance=h1", [1], 0)]
    assert d.due(now=3.0) == [] and d.firing == 0


def test_an_alert_resolved_before_it_was_notified_is_dropped() -> None:
    d = Dispatcher(DispatchConfig(group_wait=30.0))
    d.offer(event(1), now=0.0)
    d.offer(event(2), now=0.0)
    d.offer(event(1, RESOLVED), now=10.0)
    assert summary(d.due(now=60.0)) == [("group", "acme/instance=h1", [2], 0)]


def test_still_firing_alerts_are_repeated_at_the_repeat_interval() -> None:
    d = Dispatcher(DispatchConfig(group_wait=0.0, repeat_interval=3600.0))
    d.offer(event(1), now=0.0)
    assert [n.kind for n in d.due(now=0.0)] == [NotificationKind.GROUP]
    assert d.due(now=3599.0) == []
    repeat = d.due(now=3600.0)
    assert summary(repeat) == [("repeat", "acme/instance=h1", [1], 0)]
    assert repeat[0].state == FIRING
    assert d.due(now=3601.0) == []
    d.offer(event(1, RESOLVED), now=4000.0)
    assert [n.state for n in d.due(now=4000.0)] == [RESOLVED]
    assert d.due(now=20_000.0) == []


def test_the_rate_limit_summarises_excess_alerts_instead_of_dropping_them() -> None:
    d = Dispatcher(DispatchConfig(group_wait=0.0, rate_per_minute=6.0, burst=3))
    for target in range(40):
        d.offer(event(target, group=f"acme/instance=h{target}"), now=0.0)
    first = d.due(now=0.0)
    assert [n.kind for n in first] == [NotificationKind.GROUP] * 3
    assert d.due(now=5.0) == []  # no token yet: nothing, but nothing lost either
    later = d.due(now=10.0)
    assert [n.kind for n in later] == [NotificationKind.SUMMARY]
    assert later[0].state == FIRING and later[0].total == 37
    covered = {e.series_id for n in first + later for e in n.events}
    assert covered == set(range(40))
    # a summarised alert that resolves is notified like any other
    d.offer(event(30, RESOLVED, group="acme/instance=h30"), now=20.0)
    assert summary(d.due(now=20.0)) == [("group", "acme/instance=h30", [30], 0)]


def test_a_held_back_alert_that_resolves_is_dropped_with_its_firing() -> None:
    d = Dispatcher(DispatchConfig(group_wait=0.0, rate_per_minute=1.0, burst=1))
    d.offer(event(1, group="g1"), now=0.0)
    d.offer(event(2, group="g2"), now=0.0)
    assert summary(d.due(now=0.0)) == [("group", "g1", [1], 0)]
    d.offer(event(2, RESOLVED, group="g2"), now=1.0)
    assert d.due(now=120.0) == []


def test_the_overflow_is_bounded_and_counts_what_it_drops() -> None:
    d = Dispatcher(DispatchConfig(group_wait=0.0, rate_per_minute=1.0, burst=1, overflow_limit=5))
    for target in range(20):
        d.offer(event(target, score=0.99 + target / 1000, group=f"g{target}"), now=0.0)
    assert len(d.due(now=0.0)) == 1
    (held,) = d.due(now=60.0)
    assert held.kind is NotificationKind.SUMMARY
    assert [e.series_id for e in held.events] == [19, 18, 17, 16, 15]
    assert held.untracked == 14 and held.total == 19


def test_invalid_configuration_is_rejected() -> None:
    with pytest.raises(ConfigurationError):
        DispatchConfig(burst=0)


def test_a_down_targets_anomalies_are_inhibited_until_it_is_back() -> None:
    d = Dispatcher(DispatchConfig(group_wait=30.0))
    # node-exporter stopped: `up` fires, and Prometheus' scrape_duration_seconds of the
    # failed scrapes alerts a scrape later; another target's anomaly is not concerned.
    d.offer(event(1, reason=OUTAGE, score=1.0), now=0.0)
    d.offer(event(2, reason=ANOMALY), now=1.0)
    d.offer(event(9, reason=ANOMALY, group="acme/instance=h2"), now=1.0)
    assert summary(d.due(now=30.0)) == [("group", "acme/instance=h1", [1], 0)]
    assert summary(d.due(now=31.0)) == [("group", "acme/instance=h2", [9], 0)]
    d.offer(event(3, reason=ANOMALY), now=40.0)  # later, while still down: held too
    assert d.due(now=70.0) == []
    d.offer(event(2, RESOLVED, reason=ANOMALY), now=80.0)  # never told: not told it ended
    assert d.due(now=110.0) == []
    d.offer(event(1, RESOLVED, reason=OUTAGE, score=0.0), now=120.0)
    # the outage's end goes out; anomaly 3, still firing, is notified a group wait later
    assert [(n.state, [e.series_id for e in n.events]) for n in d.due(now=150.0)] == [
        (RESOLVED, [1])
    ]
    assert d.due(now=179.0) == []
    assert summary(d.due(now=180.0)) == [("group", "acme/instance=h1", [3], 0)]
    assert d.firing == 2  # 3 and 9


def test_an_anomaly_notified_before_the_outage_still_resolves_out_loud() -> None:
    d = Dispatcher(DispatchConfig(group_wait=0.0))
    d.offer(event(2, reason=ANOMALY), now=0.0)
    assert summary(d.due(now=0.0)) == [("group", "acme/instance=h1", [2], 0)]
    d.offer(event(1, reason=OUTAGE, score=1.0), now=5.0)
    assert summary(d.due(now=5.0)) == [("group", "acme/instance=h1", [1], 0)]
    d.offer(event(2, RESOLVED, reason=ANOMALY), now=6.0)
    assert [(n.state, [e.series_id for e in n.events]) for n in d.due(now=6.0)] == [(RESOLVED, [2])]
