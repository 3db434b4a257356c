"""A generic webhook receiving Alertmanager's webhook payload (version 4).

Anything that already takes Alertmanager's ``webhook_configs`` (alert bridges, chat-ops
bots, ticketing) takes this: one JSON document per notification with ``status``,
``groupKey``, ``groupLabels``, ``commonLabels``, ``commonAnnotations`` and ``alerts``, each
alert with ``labels``, ``annotations``, ``startsAt``, ``endsAt``, ``generatorURL`` and
``fingerprint`` (the alert's dedup key). Labels and annotations are the ones the
Alertmanager output posts (:func:`~stream.notifier.alertmanager.alertmanager_alert`).

An optional bearer token (by reference) goes in ``Authorization``. Retries and error
translation are :mod:`stream.notifier.http`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aidevops.pb import alerts_pb2
from stream.notifier.alertmanager import alertmanager_alert
from stream.notifier.channels import Message
from stream.notifier.http import JsonPoster
from stream.notifier.redaction import Redactor
from stream.notifier.secrets import SecretResolver
from stream.notifier.template import GrafanaLink
from stream.storage.recipients import RecipientLike

__all__ = ["WebhookChannel", "webhook_payload"]


def _common(items: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not items:
        return {}
    first = dict(items[0])
    return {k: v for k, v in first.items() if all(i.get(k) == v for i in items[1:])}


def webhook_payload(
    message: Message,
    *,
    receiver: str,
    now: float,
    grafana: GrafanaLink | None = None,
    external_url: str = "",
) -> dict[str, Any]:
    """Alertmanager's webhook document for ``message``.

    Examples
    --------
    >>> from stream.notifier.notification import Notification, NotificationKind
    >>> e = alerts_pb2.AlertEvent(tenant="acme", dedup_key="ab:1", group_key="acme/job=node",
    ...     state=alerts_pb2.ALERT_STATE_FIRING, baseline_low=float("nan"),
    ...     baseline_high=float("nan"))
    >>> n = Notification(NotificationKind.GROUP, e.state, e.group_key, (e,))
    >>> doc = webhook_payload(Message(n, n.events), receiver="ops", now=0.0)
    >>> doc["version"], doc["status"], doc["groupKey"], doc["alerts"][0]["fingerprint"]
    ('4', 'firing', 'acme/job=node', 'ab:1')
    """
    state = message.notification.state
    status = "resolved" if state == alerts_pb2.ALERT_STATE_RESOLVED else "firing"
    alerts = []
    for event in message.events:
        alert = alertmanager_alert(event, now=now, resend_seconds=0.0, grafana=grafana)
        if status == "firing":
            alert["endsAt"] = "0001-01-01T00:00:00Z"  # what Alertmanager sends while firing
        alert["status"] = status
        alert["fingerprint"] = event.dedup_key
        alert.setdefault("generatorURL", "")
        alerts.append(alert)
    common_labels = _common([a["labels"] for a in alerts])
    return {
        "version": "4",
        "groupKey": message.notification.group_key,
        "truncatedAlerts": message.untracked,
        "status": status,
        "receiver": receiver,
        "groupLabels": {
            k: v for k, v in common_labels.items() if k in ("tenant", "job", "instance")
        },
        "commonLabels": common_labels,
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": external_url,
        "alerts": alerts,
    }


class WebhookChannel:
    """Routes of channel ``webhook``: POST the payload to the route's URL."""

    def __init__(
        self,
        poster: JsonPoster,
        secrets: SecretResolver,
        *,
        clock: Any,
        grafana: GrafanaLink | None = None,
    ) -> None:
        self._poster = poster
        self._secrets = secrets
        self._clock = clock
        self._grafana = grafana

    def __repr__(self) -> str:
        return "WebhookChannel()"

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._poster.close()

    async def deliver(self, recipient: RecipientLike, message: Message) -> None:
        body = webhook_payload(
            message, receiver=recipient.route_id, now=self._clock(), grafana=self._grafana
        )
        await self._send(recipient, body)

    async def deliver_test(self, recipient: RecipientLike) -> None:
        body = {
            "version": "4",
            "status": "firing",
            "receiver": recipient.route_id,
            "groupKey": "aidevops-test",
            "truncatedAlerts": 0,
            "groupLabels": {},
            "commonLabels": {"alertname": "AidevopsTest", "tenant": recipient.tenant},
            "commonAnnotations": {"summary": "aidevops test message"},
            "externalURL": "",
            "alerts": [],
        }
        await self._send(recipient, body)

    async def _send(self, recipient: RecipientLike, body: dict[str, Any]) -> None:
        headers: dict[str, str] = {}
        redactor = None
        if recipient.secret_ref:
            token = (await self._secrets.resolve(recipient.secret_ref)).get_secret_value()
            headers["Authorization"] = f"Bearer {token}"
            redactor = Redactor(token)
        await self._poster.post(
            recipient.chat_id,
            body,
            where=f"webhook of route {recipient.route_id}",
            headers=headers,
            redactor=redactor,
        )
