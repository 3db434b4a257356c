"""Alertmanager as an output: alerts posted to its API v2 as Prometheus does.

Alertmanager does the grouping, silencing, inhibition and on-call routing itself, so this
output does not go through the dispatcher's group wait or rate limit: it keeps the set of
alerts that fire and tells every configured Alertmanager about them.

* **Firing** alerts are posted at once (``POST /api/v2/alerts``), then re-sent every
  ``resend_seconds`` with ``endsAt = now + 4 × resend_seconds`` (Prometheus' rule): an
  Alertmanager that stops hearing about an alert resolves it by itself, so a notifier that
  died does not leave alerts firing for ever.
* **Resolved** alerts are posted once with ``endsAt`` = the time the episode resolved; they
  are recorded in the sent log per Alertmanager URL, so a replay after a restart does not
  post them again.
* **Several URLs** (an HA pair) each get every alert, as Prometheus sends to all of them;
  each URL is retried on its own.
* The set of firing alerts is written to ``state_path`` on every change, so a restarted
  notifier keeps re-sending them (the ``alerts`` topic's offsets are committed long before
  an episode ends).

Labels: ``alertname`` (``AnomalyDetected`` or ``TargetDown``), ``severity``, ``tenant`` and
the series' own labels (``__name__`` as ``metric``; a series label clashing with these is
kept as ``exported_<name>``). Annotations: ``summary``, ``description``, ``score``,
``peak_score``, ``value``, ``expected``, ``series_id``, ``resolution`` and ``dashboard``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aidevops.errors import AidevopsError
from aidevops.pb import alerts_pb2
from stream.notifier.errors import DeliveryFailed, NotificationError, SentLogError
from stream.notifier.http import JsonPoster
from stream.notifier.redaction import Redactor
from stream.notifier.secrets import SecretResolver
from stream.notifier.sent_log import SentKey, SentLog
from stream.notifier.template import RESOLUTIONS, GrafanaLink, series_context

__all__ = [
    "ALERTMANAGER",
    "AlertmanagerForwarder",
    "AlertmanagerTarget",
    "ForwardReport",
    "alert_labels",
    "alertmanager_alert",
    "split_urls",
]

ALERTMANAGER = "alertmanager"
_FIRING = alerts_pb2.ALERT_STATE_FIRING
_RESOLVED = alerts_pb2.ALERT_STATE_RESOLVED
_ALERTNAMES = {
    alerts_pb2.ALERT_REASON_ANOMALY: "AnomalyDetected",
    alerts_pb2.ALERT_REASON_OUTAGE: "TargetDown",
}
_SEVERITIES = {
    alerts_pb2.ALERT_REASON_ANOMALY: "warning",
    alerts_pb2.ALERT_REASON_OUTAGE: "critical",
}
_RESERVED = ("alertname", "severity", "tenant", "metric")

log = logging.getLogger(__name__)
Clock = Callable[[], float]


def split_urls(text: str) -> tuple[str, ...]:
    """Alertmanager base URLs from a comma list, without trailing slashes.

    >>> split_urls("http://am-1:9093/, http://am-2:9093")
    ('http://am-1:9093', 'http://am-2:9093')
    """
    return tuple(u.strip().rstrip("/") for u in text.split(",") if u.strip())


def _iso(ms: float) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000.0, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_labels(event: alerts_pb2.AlertEvent) -> dict[str, str]:
    """The label set identifying ``event``'s alert in Alertmanager.

    Examples
    --------
    >>> e = alerts_pb2.AlertEvent(tenant="acme", reason=alerts_pb2.ALERT_REASON_ANOMALY)
    >>> for k, v in {"__name__": "cpu", "job": "node", "severity": "x", "env": ""}.items():
    ...     _ = e.labels.add(name=k, value=v)
    >>> sorted(alert_labels(e).items())  # doctest: +NORMALIZE_WHITESPACE
    [('alertname', 'AnomalyDetected'), ('exported_severity', 'x'), ('job', 'node'),
     ('metric', 'cpu'), ('severity', 'warning'), ('tenant', 'acme')]
    """
    labels: dict[str, str] = {}
    name = ""
    for label in event.labels:
        if not label.value:
            continue  # an empty label is an absent one (Prometheus semantics)
        if label.name == "__name__":
            name = label.value
        elif label.name in _RESERVED:
            labels[f"exported_{label.name}"] = label.value
        else:
            labels[label.name] = label.value
    labels["alertname"] = _ALERTNAMES.get(event.reason, "AnomalyDetected")
    labels["severity"] = _SEVERITIES.get(event.reason, "warning")
    labels["tenant"] = event.tenant
    if name:
        labels["metric"] = name
    return labels


def alertmanager_alert(
    event: alerts_pb2.AlertEvent,
    *,
    now: float,
    resend_seconds: float,
    grafana: GrafanaLink | None = None,
) -> dict[str, Any]:
    """The API v2 ``postableAlert`` for ``event`` at ``now`` (seconds).

    Examples
    --------
    >>> e = alerts_pb2.AlertEvent(tenant="acme", series_id=0xAB, state=_FIRING,
    ...     reason=alerts_pb2.ALERT_REASON_OUTAGE, started_at=60_000, event_at=60_000, score=1.0,
    ...     peak_score=1.0, value=0.0, baseline_low=float("nan"), baseline_high=float("nan"))
    >>> _ = e.labels.add(name="__name__", value="up")
    >>> a = alertmanager_alert(e, now=120.0, resend_seconds=60.0)
    >>> a["labels"]["alertname"], a["startsAt"], a["endsAt"]
    ('TargetDown', '1970-01-01T00:01:00.000Z', '1970-01-01T00:06:00.000Z')
    >>> a["annotations"]["summary"]
    'outage of up in tenant acme'
    """
    context = series_context(event, grafana)
    reason = context["reason"]
    annotations = {
        "summary": f"{reason} of {context['name']} in tenant {event.tenant}",
        "description": (
            f"{context['name']} {{{context['labels']}}}: value {context['value']}, "
            f"expected {context['expected']}, score {context['score']} "
            f"(peak {context['peak_score']}) since {context['since']}"
        ),
        "score": context["score"],
        "peak_score": context["peak_score"],
        "value": context["value"],
        "expected": context["expected"],
        "series_id": context["series_id"],
    }
    if not math.isnan(event.baseline_low) and not math.isnan(event.baseline_high):
        annotations["expected_low"] = f"{event.baseline_low:.6g}"
        annotations["expected_high"] = f"{event.baseline_high:.6g}"
    if event.state == _RESOLVED:
        annotations["resolution"] = RESOLUTIONS.get(event.resolution, "resolved")
        ends_ms = float(max(event.event_at, event.started_at))
    else:
        ends_ms = (now + 4 * resend_seconds) * 1000.0
    if context["link"]:
        annotations["dashboard"] = context["link"]
    alert: dict[str, Any] = {
        "labels": alert_labels(event),
        "annotations": annotations,
        "startsAt": _iso(event.started_at),
        "endsAt": _iso(ends_ms),
    }
    if context["link"]:
        alert["generatorURL"] = context["link"]
    return alert


@dataclass(frozen=True, slots=True)
class AlertmanagerTarget:
    """One Alertmanager base URL, with an optional bearer token by reference."""

    url: str
    secret_ref: str = ""

    @property
    def key(self) -> str:
        """The sent log's recipient key for this Alertmanager."""
        return f"{ALERTMANAGER}:{self.url}"


@dataclass(slots=True)
class _Active:
    event: alerts_pb2.AlertEvent
    targets: set[AlertmanagerTarget]


@dataclass(slots=True)
class _UrlState:
    last_post: float | None = None
    not_before: float = 0.0
    dirty: bool = True


@dataclass(slots=True)
class _Resolved:
    event: alerts_pb2.AlertEvent
    since: float


@dataclass(slots=True)
class ForwardReport:
    """What one :meth:`AlertmanagerForwarder.tick` did."""

    posts: int = 0
    resolved_sent: int = 0
    errors: list[AidevopsError] = field(default_factory=list)


class AlertmanagerForwarder:
    """Keeps every configured Alertmanager told of the alerts that fire; see the module doc.

    Parameters
    ----------
    poster
        The HTTP client (retries, error translation).
    sent_log
        Records resolved alerts per Alertmanager, so none is posted twice.
    secrets
        Resolves a target's bearer token reference.
    resend_seconds
        Re-send interval of firing alerts (Prometheus: 1 minute).
    state_path
        Where the firing alerts are kept across restarts (``None``: memory only).
    give_up_after
        Seconds a resolved alert is retried before it is dropped (Alertmanager then resolves
        it by itself when its last ``endsAt`` passes).
    grafana
        Builds ``generatorURL`` and the ``dashboard`` annotation.
    """

    def __init__(
        self,
        poster: JsonPoster,
        sent_log: SentLog,
        *,
        secrets: SecretResolver | None = None,
        resend_seconds: float = 60.0,
        state_path: Path | None = None,
        give_up_after: float = 3600.0,
        grafana: GrafanaLink | None = None,
    ) -> None:
        self._poster = poster
        self._sent_log = sent_log
        self._secrets = secrets
        self.resend_seconds = resend_seconds
        self._state_path = state_path
        self._give_up_after = give_up_after
        self._grafana = grafana
        self._active: dict[str, _Active] = {}
        self._resolved: dict[tuple[str, AlertmanagerTarget], _Resolved] = {}
        self._urls: dict[AlertmanagerTarget, _UrlState] = {}
        self._load()

    def __repr__(self) -> str:
        return (
            f"AlertmanagerForwarder(active={len(self._active)}, "
            f"resolved_pending={len(self._resolved)}, targets={len(self._urls)})"
        )

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._poster.close()

    @property
    def active(self) -> int:
        """Alerts currently firing towards some Alertmanager."""
        return len(self._active)

    @property
    def pending(self) -> int:
        """Resolved alerts not yet accepted by every Alertmanager they went to."""
        return len(self._resolved)

    async def offer(
        self, event: alerts_pb2.AlertEvent, targets: Iterable[AlertmanagerTarget], now: float
    ) -> None:
        """Take an event and the Alertmanagers it is routed to."""
        wanted = set(targets)
        key = event.dedup_key
        if event.state == _FIRING:
            fresh = set()
            for target in wanted:
                if await self._sent_log.sent_at(SentKey(key, "RESOLVED", target.key)) is None:
                    fresh.add(target)
            if not fresh:
                return
            known = self._active.get(key)
            if known is not None and fresh <= known.targets:
                return  # a replay: already being re-sent
            if known is None:
                self._active[key] = _Active(event, fresh)
            else:
                known.targets |= fresh
            for target in fresh:
                self._urls.setdefault(target, _UrlState()).dirty = True
            self._save()
            return
        if event.state != _RESOLVED:
            return
        known = self._active.pop(key, None)
        if known is not None:
            wanted |= known.targets
        for target in wanted:
            if await self._sent_log.sent_at(SentKey(key, "RESOLVED", target.key)) is not None:
                continue
            self._resolved.setdefault((key, target), _Resolved(event, now))
            self._urls.setdefault(target, _UrlState()).dirty = True
        self._save()

    async def tick(self, now: float) -> ForwardReport:
        """Post to every Alertmanager that has news or whose re-send interval has passed."""
        report = ForwardReport()
        for target, state in list(self._urls.items()):
            due = state.dirty or (
                state.last_post is not None and now - state.last_post >= self.resend_seconds
            )
            if not due or now < state.not_before:
                continue
            firing = [a.event for a in self._active.values() if target in a.targets]
            resolved = [(k, r) for (k, t), r in self._resolved.items() if t == target]
            if not firing and not resolved:
                del self._urls[target]
                continue
            body = [
                alertmanager_alert(
                    e, now=now, resend_seconds=self.resend_seconds, grafana=self._grafana
                )
                for e in [*firing, *(r.event for _, r in resolved)]
            ]
            try:
                await self._post(target, body)
            except NotificationError as exc:
                state.not_before = now + max(
                    exc.retry_after if isinstance(exc, DeliveryFailed) and exc.retry_after else 0.0,
                    min(self.resend_seconds, 10.0),
                )
                log.warning("alertmanager %s: %s", target.url, exc)
                report.errors.append(exc)
                self._give_up(target, resolved, now, report)
                continue
            report.posts += 1
            state.last_post, state.dirty, state.not_before = now, False, 0.0
            for key, _ in resolved:
                await self._sent_log.record(SentKey(key, "RESOLVED", target.key), now)
                del self._resolved[(key, target)]
                report.resolved_sent += 1
            if resolved:
                self._save()
        return report

    async def send_test(self, target: AlertmanagerTarget, tenant: str, route_id: str) -> None:
        """Post one ``AidevopsTest`` alert that ends by itself within ``4 × resend``."""
        now = dt.datetime.now(dt.UTC).timestamp()
        alert = {
            "labels": {"alertname": "AidevopsTest", "tenant": tenant, "severity": "none"},
            "annotations": {"summary": f"aidevops test message (route {route_id})"},
            "startsAt": _iso(now * 1000),
            "endsAt": _iso((now + 4 * self.resend_seconds) * 1000),
        }
        await self._post(target, [alert])

    def _give_up(
        self,
        target: AlertmanagerTarget,
        resolved: Sequence[tuple[str, _Resolved]],
        now: float,
        report: ForwardReport,
    ) -> None:
        dropped = [k for k, r in resolved if now - r.since >= self._give_up_after]
        for key in dropped:
            del self._resolved[(key, target)]
        if dropped:
            log.error(
                "alertmanager %s: gave up posting %d resolved alert(s)", target.url, len(dropped)
            )
            self._save()

    async def _post(self, target: AlertmanagerTarget, body: list[dict[str, Any]]) -> None:
        headers: dict[str, str] = {}
        redactor = None
        if target.secret_ref and self._secrets is not None:
            token = (await self._secrets.resolve(target.secret_ref)).get_secret_value()
            headers["Authorization"] = f"Bearer {token}"
            redactor = Redactor(token)
        await self._poster.post(
            f"{target.url}/api/v2/alerts",
            body,
            where=f"POST {target.url}/api/v2/alerts",
            headers=headers,
            redactor=redactor,
        )

    def _save(self) -> None:
        if self._state_path is None:
            return
        state = {
            "active": [
                {
                    "event": base64.b64encode(a.event.SerializeToString()).decode(),
                    "targets": [[t.url, t.secret_ref] for t in sorted(a.targets, key=_order)],
                }
                for a in self._active.values()
            ],
            "resolved": [
                {
                    "event": base64.b64encode(r.event.SerializeToString()).decode(),
                    "target": [t.url, t.secret_ref],
                    "since": r.since,
                }
                for (_, t), r in self._resolved.items()
            ],
        }
        tmp = self._state_path.with_suffix(self._state_path.suffix + ".tmp")
        try:
            self._state_path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("w", encoding="utf-8") as file:
                json.dump(state, file, separators=(",", ":"))
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, self._state_path)
        except OSError as exc:
            raise SentLogError(
                f"cannot write alertmanager state {self._state_path}: {exc}"
            ) from exc

    def _load(self) -> None:
        path = self._state_path
        if path is None or not path.exists():
            return
        try:
            state: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            for item in state.get("active", []):
                event = alerts_pb2.AlertEvent.FromString(base64.b64decode(item["event"]))
                targets = {AlertmanagerTarget(url, ref) for url, ref in item["targets"]}
                self._active[event.dedup_key] = _Active(event, targets)
                for target in targets:
                    self._urls.setdefault(target, _UrlState())
            for item in state.get("resolved", []):
                event = alerts_pb2.AlertEvent.FromString(base64.b64decode(item["event"]))
                target = AlertmanagerTarget(*item["target"])
                self._resolved[(event.dedup_key, target)] = _Resolved(event, float(item["since"]))
                self._urls.setdefault(target, _UrlState())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SentLogError(f"alertmanager state {path} is unreadable: {exc}") from exc


def _order(target: AlertmanagerTarget) -> tuple[str, str]:
    return (target.url, target.secret_ref)
