"""What the notification layer asks a channel to say: one message about one or more alerts."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

from aidevops.pb import alerts_pb2

__all__ = ["Notification", "NotificationKind", "severity", "worst_first"]


class NotificationKind(enum.Enum):
    """Why a notification is sent."""

    GROUP = "group"
    """Alerts of one target (group key) that changed state within one group window."""
    REPEAT = "repeat"
    """Alerts still firing a repeat interval after they were last notified."""
    SUMMARY = "summary"
    """Alerts held back by the rate limit, summarised in one message."""


def severity(event: alerts_pb2.AlertEvent) -> float:
    """How bad an alert is, for ordering: the score when firing, the peak once resolved.

    Examples
    --------
    >>> severity(alerts_pb2.AlertEvent(state=alerts_pb2.ALERT_STATE_FIRING, score=0.5))
    0.5
    >>> severity(alerts_pb2.AlertEvent(score=float("nan")))
    -1.0
    """
    value = event.peak_score if event.state == alerts_pb2.ALERT_STATE_RESOLVED else event.score
    return -1.0 if math.isnan(value) else value


def worst_first(events: Iterable[alerts_pb2.AlertEvent]) -> tuple[alerts_pb2.AlertEvent, ...]:
    """Order alerts worst first; ties by series id and start, so the order is deterministic.

    Examples
    --------
    >>> a = alerts_pb2.AlertEvent(series_id=1, score=0.99)
    >>> b = alerts_pb2.AlertEvent(series_id=2, score=0.999)
    >>> [e.series_id for e in worst_first([a, b])]
    [2, 1]
    """
    return tuple(sorted(events, key=lambda e: (-severity(e), e.series_id, e.started_at)))


@dataclass(frozen=True, eq=False, slots=True)
class Notification:
    """One message to send: alerts of one state, worst first.

    Attributes
    ----------
    kind
        Why it is sent.
    state
        ``ALERT_STATE_FIRING`` or ``ALERT_STATE_RESOLVED`` (all events share it).
    group_key
        The target the alerts belong to; empty for a rate-limit summary.
    events
        The alerts, worst first. A channel lists the first few and counts the rest.
    untracked
        Further alerts of a summary not carried in ``events`` (memory bound); the message
        counts them too.
    """

    kind: NotificationKind
    state: alerts_pb2.AlertState.ValueType
    group_key: str
    events: tuple[alerts_pb2.AlertEvent, ...]
    untracked: int = 0

    @property
    def total(self) -> int:
        """How many alerts the notification is about."""
        return len(self.events) + self.untracked
