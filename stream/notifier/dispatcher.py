"""The notification layer's decisions: grouping, repeat interval and the global rate limit.

Consumes ``AlertEvent`` messages (from the ``alerts`` topic) and says which
:class:`~stream.notifier.notification.Notification` to send and when. Pure: time is a
parameter (seconds), the dispatcher sends nothing itself.

* **Grouping.** A state change opens a group for its ``(group_key, state)``; changes of the
  same target arriving within ``group_wait`` seconds join it, and the group becomes one
  notification listing its series worst first (like Alertmanager's ``group_wait``).
* **Flap suppression.** An alert that resolves before its firing was notified is dropped:
  nobody was told it fired.
* **Repeat interval.** An alert still firing ``repeat_interval`` seconds after it was last
  notified is notified again (kind REPEAT), at most that often.
* **Rate limit.** Every notification takes a token from one bucket. Notifications finding it
  empty are not lost: their alerts wait in an overflow and go out, summarised in one message
  per state, as soon as a token is available.
* **Inhibition.** While a target's ``up`` outage fires, anomaly alerts of the same target
  (same ``group_key``) are not notified: a target that is down explains them (Prometheus'
  own ``scrape_duration_seconds`` of a failed scrape, say), as Alertmanager's usual
  inhibit rule for a down instance does. Their resolution is not notified either. One still
  firing when the outage resolves is notified then, after the group wait.
* **Replays** of an event already seen (same ``dedup_key`` and state) are ignored. The
  dispatcher is in memory; after a restart the persistent sent log of the notifier service
  stops duplicates.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from aidevops.errors import ConfigurationError
from aidevops.pb import alerts_pb2
from stream.notifier.notification import Notification, NotificationKind, worst_first
from stream.notifier.token_bucket import TokenBucket

__all__ = ["DispatchConfig", "Dispatcher"]

_FIRING = alerts_pb2.ALERT_STATE_FIRING
_RESOLVED = alerts_pb2.ALERT_STATE_RESOLVED
_OUTAGE = alerts_pb2.ALERT_REASON_OUTAGE
_ANOMALY = alerts_pb2.ALERT_REASON_ANOMALY


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    """Timing of notifications.

    Parameters
    ----------
    group_wait
        Seconds a group collects state changes of one target before it is notified. 30 s
        (Alertmanager's default) covers a host-wide event whose series cross the threshold
        a few scrapes apart.
    repeat_interval
        Seconds between notifications of an alert that keeps firing (4 h, as Alertmanager).
    rate_per_minute, burst
        The global token bucket: Telegram lets a bot post about 20 messages a minute into
        one group, so 20/min with bursts of 5 stays within what a chat accepts.
    overflow_limit
        Most alerts per state kept in the overflow; beyond it only a count is kept.
    remember_resolved
        Resolved dedup keys remembered to ignore replays of their events.
    """

    group_wait: float = 30.0
    repeat_interval: float = 4 * 3600.0
    rate_per_minute: float = 20.0
    burst: int = 5
    overflow_limit: int = 1000
    remember_resolved: int = 10_000

    def __post_init__(self) -> None:
        if self.group_wait < 0 or self.repeat_interval <= 0:
            raise ConfigurationError("group_wait must be >= 0 and repeat_interval > 0")
        if self.rate_per_minute <= 0 or self.burst < 1:
            raise ConfigurationError("rate_per_minute must be > 0 and burst >= 1")
        if self.overflow_limit < 1 or self.remember_resolved < 0:
            raise ConfigurationError("overflow_limit must be >= 1, remember_resolved >= 0")


@dataclass(slots=True)
class _Group:
    opened_at: float
    events: dict[str, alerts_pb2.AlertEvent] = field(default_factory=dict)


@dataclass(slots=True)
class _Firing:
    event: alerts_pb2.AlertEvent
    notified_at: float | None = None
    inhibited: bool = False  # held back by its target's outage, not notified


class Dispatcher:
    """Turns alert events into notifications; see the module docstring for the rules.

    Examples
    --------
    >>> d = Dispatcher(DispatchConfig(group_wait=30.0))
    >>> for n, score in enumerate([0.995, 0.999]):
    ...     d.offer(alerts_pb2.AlertEvent(dedup_key=f"{n}:0", series_id=n, score=score,
    ...             group_key="acme/instance=h1", state=alerts_pb2.ALERT_STATE_FIRING), now=0.0)
    >>> d.due(now=10.0)
    []
    >>> [(n.kind.value, [e.series_id for e in n.events]) for n in d.due(now=30.0)]
    [('group', [1, 0])]
    """

    def __init__(self, config: DispatchConfig) -> None:
        self.config = config
        self._bucket = TokenBucket(config.rate_per_minute / 60.0, config.burst)
        self._groups: dict[tuple[str, int], _Group] = {}
        self._firing: dict[str, _Firing] = {}
        self._resolved: OrderedDict[str, None] = OrderedDict()
        self._overflow: dict[int, dict[str, alerts_pb2.AlertEvent]] = {_FIRING: {}, _RESOLVED: {}}
        self._untracked: dict[int, int] = {_FIRING: 0, _RESOLVED: 0}

    def __repr__(self) -> str:
        return (
            f"Dispatcher(firing={len(self._firing)}, groups={len(self._groups)}, "
            f"overflow={sum(map(len, self._overflow.values()))})"
        )

    @property
    def firing(self) -> int:
        """Alerts currently firing as far as this dispatcher knows."""
        return len(self._firing)

    def offer(self, event: alerts_pb2.AlertEvent, now: float) -> None:
        """Take one event from the ``alerts`` topic."""
        key = event.dedup_key
        if key in self._resolved:
            return
        if event.state == _FIRING:
            if key in self._firing:
                return
            self._firing[key] = _Firing(event)
            self._join(event, now)
            return
        if event.state != _RESOLVED:
            return
        self._remember_resolved(key)
        known = self._firing.pop(key, None)
        if known is not None and known.inhibited:
            return  # nobody was told it fired
        if known is not None and known.notified_at is None:
            group = self._groups.get((event.group_key, _FIRING))
            if group is not None and group.events.pop(key, None) is not None:
                if not group.events:
                    del self._groups[(event.group_key, _FIRING)]
                return
            if self._overflow[_FIRING].pop(key, None) is not None:
                return
        self._join(event, now)

    def is_firing(self, dedup_key: str) -> bool:
        """Whether the alert is firing as far as this dispatcher knows."""
        return dedup_key in self._firing

    def requeue(self, event: alerts_pb2.AlertEvent, now: float) -> bool:
        """Offer again an event held back (a mute ended); a firing one only while it fires.

        It joins a group like a new state change, so the group wait and the rate limit
        apply. Returns whether it was taken.
        """
        if event.state == _FIRING and event.dedup_key not in self._firing:
            return False
        self._join(event, now)
        return True

    def due(self, now: float) -> list[Notification]:
        """Notifications to send now (call it every second or so, and after :meth:`offer`)."""
        cfg = self.config
        candidates: list[Notification] = []
        repeats: dict[str, list[alerts_pb2.AlertEvent]] = {}
        down = {f.event.group_key for f in self._firing.values() if f.event.reason == _OUTAGE}
        for firing in self._firing.values():
            if firing.inhibited:  # never notified, so never repeated
                if firing.event.group_key not in down:
                    firing.inhibited = False  # its target is back: notified like a new alert
                    self._join(firing.event, now)
                continue
            last = firing.notified_at
            if last is not None and now - last >= cfg.repeat_interval:
                repeats.setdefault(firing.event.group_key, []).append(firing.event)
        for target in sorted(repeats):
            candidates.append(
                Notification(NotificationKind.REPEAT, _FIRING, target, worst_first(repeats[target]))
            )
        ready = [
            (group.opened_at, group_id)
            for group_id, group in self._groups.items()
            if now >= group.opened_at + cfg.group_wait
        ]
        for _, (target, state_value) in sorted(ready):
            group = self._groups.pop((target, state_value))
            state = alerts_pb2.AlertState.ValueType(state_value)
            events = worst_first(group.events.values())
            if state == _FIRING and target in down:
                events = tuple(e for e in events if not self._inhibit(e))
                if not events:
                    continue
            candidates.append(Notification(NotificationKind.GROUP, state, target, events))

        out: list[Notification] = []
        for state in (_FIRING, _RESOLVED):
            held = self._overflow[state]
            if (held or self._untracked[state]) and self._bucket.take(now):
                out.append(
                    Notification(
                        NotificationKind.SUMMARY,
                        alerts_pb2.AlertState.ValueType(state),
                        "",
                        worst_first(held.values()),
                        untracked=self._untracked[state],
                    )
                )
                self._overflow[state] = {}
                self._untracked[state] = 0
        for notification in candidates:
            if self._bucket.take(now):
                out.append(notification)
            else:
                self._hold(notification)
                if notification.kind is NotificationKind.REPEAT:
                    # the summary that carries it counts as the repeat
                    self._mark_notified(notification, now)
        for notification in out:
            self._mark_notified(notification, now)
        return out

    def _inhibit(self, event: alerts_pb2.AlertEvent) -> bool:
        """Hold back an anomaly of a target that is down; whether it was held."""
        firing = self._firing.get(event.dedup_key)
        if event.reason != _ANOMALY or firing is None or firing.notified_at is not None:
            return False
        firing.inhibited = True
        return True

    def _mark_notified(self, notification: Notification, now: float) -> None:
        if notification.state != _FIRING:
            return
        for event in notification.events:
            firing = self._firing.get(event.dedup_key)
            if firing is not None:
                firing.notified_at = now

    def _join(self, event: alerts_pb2.AlertEvent, now: float) -> None:
        key = (event.group_key, int(event.state))
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(opened_at=now)
        group.events[event.dedup_key] = event

    def _hold(self, notification: Notification) -> None:
        held = self._overflow[notification.state]
        for event in notification.events:
            held[event.dedup_key] = event
        if len(held) > self.config.overflow_limit:
            kept = worst_first(held.values())[: self.config.overflow_limit]
            self._untracked[notification.state] += len(held) - len(kept)
            self._overflow[notification.state] = {e.dedup_key: e for e in kept}

    def _remember_resolved(self, key: str) -> None:
        self._resolved[key] = None
        while len(self._resolved) > self.config.remember_resolved:
            self._resolved.popitem(last=False)
