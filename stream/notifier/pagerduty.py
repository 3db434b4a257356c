"""PagerDuty Events API v2: one event per alert, trigger and resolve with the same dedup key.

``POST https://events.pagerduty.com/v2/enqueue`` with the route's routing key (a secret, by
reference), ``event_action`` ``trigger`` or ``resolve``, and ``dedup_key`` = the alert's own
``dedup_key`` (one per episode), so PagerDuty opens one incident per episode, folds repeats
into it and closes it on resolve. The summary comes from ``deploy/templates/pagerduty.toml``
(``series``, at most 1024 characters); ``custom_details`` carries the same context every
channel renders from, plus the series' labels; ``links`` the Grafana URL.

PagerDuty answers 202; 429 and 5xx are retried (:mod:`stream.notifier.http`), 400 (an
invalid event or routing key) is :class:`DeliveryRejected`, 401/403
:class:`CredentialsRejected`. A message about several alerts is several events: if one
fails, the retry sends them all again, which PagerDuty deduplicates by ``dedup_key``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from aidevops.pb import alerts_pb2
from stream.notifier.channels import Message
from stream.notifier.http import JsonPoster
from stream.notifier.redaction import Redactor
from stream.notifier.secrets import SecretResolver
from stream.notifier.template import TEMPLATES_DIR, MessageTemplate, series_context
from stream.storage.recipients import RecipientLike

__all__ = [
    "DEFAULT_EVENTS_URL",
    "PAGERDUTY_TEMPLATE_PATH",
    "PagerDutyChannel",
    "pagerduty_event",
    "pagerduty_template",
]

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_TEMPLATE_PATH = TEMPLATES_DIR / "pagerduty.toml"
_SUMMARY_CHARS = 1024
_SEVERITY = {alerts_pb2.ALERT_REASON_OUTAGE: "critical", alerts_pb2.ALERT_REASON_ANOMALY: "warning"}


def pagerduty_template(
    path: str | None = None, *, grafana_url_template: str | None = None
) -> MessageTemplate:
    """The PagerDuty template (plain text; ``series`` is an event's summary)."""
    return MessageTemplate.load(
        Path(path) if path else None,
        default=PAGERDUTY_TEMPLATE_PATH,
        grafana_url_template=grafana_url_template,
        escape=str,
        link_format=str,
        max_chars=_SUMMARY_CHARS,
    )


def pagerduty_event(
    event: alerts_pb2.AlertEvent, routing_key: str, template: MessageTemplate
) -> dict[str, Any]:
    """The Events v2 document for ``event``.

    Examples
    --------
    >>> e = alerts_pb2.AlertEvent(tenant="acme", dedup_key="00000000000000ab:60000",
    ...     state=alerts_pb2.ALERT_STATE_RESOLVED, reason=alerts_pb2.ALERT_REASON_OUTAGE,
    ...     resolution=alerts_pb2.ALERT_RESOLUTION_RECOVERED, event_at=60_000)
    >>> doc = pagerduty_event(e, "KEY", pagerduty_template())
    >>> doc["event_action"], doc["dedup_key"], "payload" in doc
    ('resolve', '00000000000000ab:60000', False)
    """
    if event.state == alerts_pb2.ALERT_STATE_RESOLVED:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": event.dedup_key}
    context = series_context(event, template.grafana)
    labels = {label.name: label.value for label in event.labels}
    summary = " ".join(template.render_series(event).split())[:_SUMMARY_CHARS]
    details: dict[str, Any] = {k: v for k, v in context.items() if v and k != "link"}
    details["labels"] = labels
    doc: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": event.dedup_key,
        "payload": {
            "summary": summary or context["name"],
            "source": labels.get("instance") or labels.get("job") or event.tenant,
            "severity": _SEVERITY.get(event.reason, "warning"),
            "timestamp": dt.datetime.fromtimestamp(event.started_at / 1000, tz=dt.UTC).isoformat(),
            "component": labels.get("job", ""),
            "group": event.group_key,
            "class": context["reason"],
            "custom_details": details,
        },
        "client": "aidevops",
    }
    if context["link"]:
        doc["links"] = [{"href": context["link"], "text": "Grafana"}]
        doc["client_url"] = context["link"]
    return doc


class PagerDutyChannel:
    """PagerDuty Events v2 for routes of channel ``pagerduty``; see the module docstring."""

    def __init__(
        self,
        poster: JsonPoster,
        secrets: SecretResolver,
        template: MessageTemplate,
        *,
        events_url: str = DEFAULT_EVENTS_URL,
    ) -> None:
        self._poster = poster
        self._secrets = secrets
        self.template = template
        self._events_url = events_url

    def __repr__(self) -> str:
        return f"PagerDutyChannel(events_url={self._events_url!r})"

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._poster.close()

    async def deliver(self, recipient: RecipientLike, message: Message) -> None:
        key = (await self._secrets.resolve(recipient.secret_ref)).get_secret_value()
        for event in message.events:
            await self._poster.post(
                self._events_url,
                pagerduty_event(event, key, self.template),
                where=f"events for route {recipient.route_id}",
                redactor=Redactor(key),
            )

    async def deliver_test(self, recipient: RecipientLike) -> None:
        """Trigger then resolve a test incident: proves the key without leaving one open."""
        key = (await self._secrets.resolve(recipient.secret_ref)).get_secret_value()
        dedup = f"aidevops-test-{recipient.route_id}"
        summary = self.template.render_test(
            chat_id=recipient.chat_id, tenant=recipient.tenant, route_id=recipient.route_id
        )
        trigger = {
            "routing_key": key,
            "event_action": "trigger",
            "dedup_key": dedup,
            "payload": {
                "summary": " ".join(summary.split())[:_SUMMARY_CHARS],
                "source": "aidevops",
                "severity": "info",
            },
        }
        resolve = {"routing_key": key, "event_action": "resolve", "dedup_key": dedup}
        for doc in (trigger, resolve):
            await self._poster.post(
                self._events_url,
                doc,
                where=f"test event for route {recipient.route_id}",
                redactor=Redactor(key),
            )
