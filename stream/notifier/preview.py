"""``aidevops alerts preview``: what each channel would send, from one sample context.

Renders a sample notification (two series of one target, firing or resolved) with the
templates the notifier would use (the settings' own template paths included), without
sending anything and without any credential: the secret fields read ``<routing key>``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aidevops.pb import alerts_pb2
from stream.notifier.alertmanager import alertmanager_alert
from stream.notifier.channels import Message
from stream.notifier.notification import Notification, NotificationKind, worst_first
from stream.notifier.pagerduty import pagerduty_event, pagerduty_template
from stream.notifier.settings import NotifierSettings
from stream.notifier.slack import blocks_for, slack_template
from stream.notifier.sns import email_subject, email_template, sms_template
from stream.notifier.template import GrafanaLink, MessageTemplate
from stream.notifier.webhook import webhook_payload

__all__ = ["PREVIEW_CHANNELS", "preview", "sample_message"]

_T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def sample_message(resolved: bool = False) -> Message:
    """Two series of ``db-1:9100`` in tenant ``acme``, firing (or resolved) together.

    >>> m = sample_message(resolved=True)
    >>> m.total, m.notification.group_key
    (2, 'acme/job=node,instance=db-1:9100')
    """
    state = alerts_pb2.ALERT_STATE_RESOLVED if resolved else alerts_pb2.ALERT_STATE_FIRING
    events = []
    for n, (name, value, score) in enumerate(
        [("node_load1", 7.9, 0.97), ("node_load5", 5.2, 0.91)]
    ):
        event = alerts_pb2.AlertEvent(
            schema_version=1,
            tenant="acme",
            series_id=0xC0FFEE + n,
            dedup_key=f"{0xC0FFEE + n:016x}:{_T0}",
            state=state,
            reason=alerts_pb2.ALERT_REASON_ANOMALY,
            started_at=_T0,
            event_at=_T0 + (900_000 if resolved else 180_000),
            score=0.05 if resolved else score,
            peak_score=score,
            value=1.1 if resolved else value,
            baseline_low=0.4,
            baseline_high=1.6,
            group_key="acme/job=node,instance=db-1:9100",
        )
        if resolved:
            event.resolution = alerts_pb2.ALERT_RESOLUTION_RECOVERED
        for label, text in (("__name__", name), ("job", "node"), ("instance", "db-1:9100")):
            event.labels.add(name=label, value=text)
        events.append(event)
    ordered = worst_first(events)
    notification = Notification(NotificationKind.GROUP, state, ordered[0].group_key, ordered)
    return Message(notification, ordered)


def _path(value: object) -> str | None:
    return str(value) if value else None


def _telegram(settings: NotifierSettings, message: Message) -> str:
    template = MessageTemplate.load(
        settings.telegram_template_path,
        grafana_url_template=settings.grafana_url_template,
        max_listed=settings.alert_max_listed,
    )
    return template.render(message.notification, message.events)


def _slack(settings: NotifierSettings, message: Message) -> str:
    template = slack_template(
        _path(settings.slack_template_path),
        grafana_url_template=settings.grafana_url_template,
        max_listed=settings.alert_max_listed,
    )
    text, blocks = blocks_for(template, message)
    return json.dumps({"text": text, "blocks": blocks}, indent=2, ensure_ascii=False)


def _pagerduty(settings: NotifierSettings, message: Message) -> str:
    template = pagerduty_template(
        _path(settings.pagerduty_template_path), grafana_url_template=settings.grafana_url_template
    )
    docs = [pagerduty_event(e, "<routing key>", template) for e in message.events]
    return json.dumps(docs, indent=2, ensure_ascii=False)


def _email(settings: NotifierSettings, message: Message) -> str:
    template = email_template(
        _path(settings.email_template_path), grafana_url_template=settings.grafana_url_template
    )
    header = template.render_header(message.notification, message.events, message.total)
    body = template.render(message.notification, message.events)
    return f"Subject: {email_subject(header)}\n\n{body}"


def _sms(settings: NotifierSettings, message: Message) -> str:
    return sms_template(_path(settings.sms_template_path)).render(
        message.notification, message.events
    )


def _grafana(settings: NotifierSettings) -> GrafanaLink | None:
    return GrafanaLink(settings.grafana_url_template) if settings.grafana_url_template else None


def _webhook(settings: NotifierSettings, message: Message) -> str:
    doc = webhook_payload(message, receiver="<route id>", now=0.0, grafana=_grafana(settings))
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _alertmanager(settings: NotifierSettings, message: Message) -> str:
    now = message.events[0].event_at / 1000
    alerts = [
        alertmanager_alert(
            e,
            now=now,
            resend_seconds=settings.alertmanager_resend_seconds,
            grafana=_grafana(settings),
        )
        for e in message.events
    ]
    return json.dumps(alerts, indent=2, ensure_ascii=False)


PREVIEW_CHANNELS: dict[str, Callable[[NotifierSettings, Message], str]] = {
    "telegram": _telegram,
    "slack": _slack,
    "pagerduty": _pagerduty,
    "email": _email,
    "sms": _sms,
    "webhook": _webhook,
    "alertmanager": _alertmanager,
}
"""What ``preview`` can render: the channels, with SNS as its two kinds of subscriber."""


def preview(settings: NotifierSettings, channel: str, *, resolved: bool = False) -> str:
    """The sample notification as ``channel`` would send it.

    >>> print(preview(NotifierSettings(), "sms"))
    FIRING anomaly: 2 series acme/job=node,instance=db-1:9100
    <BLANKLINE>
    node_load1 value 7.9 (expected 0.4 – 1.6)
    <BLANKLINE>
    +1 more
    """
    return PREVIEW_CHANNELS[channel](settings, sample_message(resolved))
