"""Every output of the notifier, built from its settings: the channels and Alertmanager.

:func:`open_outputs` opens the HTTP sessions and AWS clients the configured channels need and
closes them afterwards. Telegram is built by :mod:`stream.notifier.main` (it needs a bot
token and checks it at start); the other channels need nothing at start: their credentials
come with each route, by reference, and are resolved when a message is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from stream.notifier.alertmanager import (
    ALERTMANAGER,
    AlertmanagerForwarder,
    AlertmanagerTarget,
    split_urls,
)
from stream.notifier.channels import Channel, Message
from stream.notifier.errors import DeliveryRejected
from stream.notifier.http import JsonPoster
from stream.notifier.pagerduty import PagerDutyChannel, pagerduty_template
from stream.notifier.secrets import SecretResolver, SecretsManagerClient
from stream.notifier.sent_log import SentLog
from stream.notifier.settings import NotifierSettings
from stream.notifier.slack import SlackChannel, slack_template
from stream.notifier.sns import SnsChannel, SnsClient, email_template, sms_template
from stream.notifier.telegram import RetryPolicy
from stream.notifier.template import GrafanaLink
from stream.notifier.webhook import WebhookChannel
from stream.storage.recipients import RecipientLike

__all__ = ["AlertmanagerChannel", "Outputs", "open_outputs"]

Sleep = Callable[[float], Any]


class AlertmanagerChannel:
    """``aidevops alerts test`` for Alertmanager routes (alerts go through the forwarder)."""

    def __init__(self, forwarder: AlertmanagerForwarder) -> None:
        self.forwarder = forwarder

    def __repr__(self) -> str:
        return f"AlertmanagerChannel({self.forwarder!r})"

    async def deliver(self, recipient: RecipientLike, message: Message) -> None:
        raise DeliveryRejected("alertmanager routes are served by the forwarder, not messages")

    async def deliver_test(self, recipient: RecipientLike) -> None:
        for url in split_urls(recipient.chat_id):
            await self.forwarder.send_test(
                AlertmanagerTarget(url, recipient.secret_ref), recipient.tenant, recipient.route_id
            )


@dataclass(frozen=True, slots=True)
class Outputs:
    """The message channels by name, and the Alertmanager forwarder."""

    channels: Mapping[str, Channel]
    alertmanager: AlertmanagerForwarder


@contextlib.asynccontextmanager
async def open_outputs(
    settings: NotifierSettings,
    sent_log: SentLog,
    environ: Mapping[str, str],
    *,
    clock: Callable[[], float],
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Outputs]:
    """Slack, PagerDuty, SNS, webhook and Alertmanager, configured by ``settings``.

    ``environ`` is the process environment: ``env:NAME`` secret references read it.
    """
    grafana = GrafanaLink(settings.grafana_url_template) if settings.grafana_url_template else None
    retry = RetryPolicy(
        max_attempts=settings.channel_max_attempts,
        backoff=settings.channel_backoff_seconds,
        max_retry_after=settings.channel_max_retry_after_seconds,
    )
    aws = Config(retries={"mode": "standard", "total_max_attempts": settings.channel_max_attempts})

    @cache
    def secrets_manager(region: str) -> SecretsManagerClient:
        client: SecretsManagerClient = boto3.client(
            "secretsmanager",
            region_name=region,
            endpoint_url=settings.secretsmanager_endpoint_url,
            config=aws,
        )
        return client

    @cache
    def sns(region: str) -> SnsClient:
        client: SnsClient = boto3.client(
            "sns", region_name=region, endpoint_url=settings.sns_endpoint_url, config=aws
        )
        return client

    secrets = SecretResolver(
        environ, secrets_manager=secrets_manager, cache_seconds=settings.secret_cache_seconds
    )

    def poster(service: str) -> JsonPoster:
        return JsonPoster(
            service, retry=retry, timeout=settings.channel_timeout_seconds, sleep=sleep
        )

    slack = SlackChannel(
        slack_template(
            str(settings.slack_template_path) if settings.slack_template_path else None,
            grafana_url_template=settings.grafana_url_template,
            max_listed=settings.alert_max_listed,
        ),
        secrets,
        api_url=settings.slack_api_url,
        retry=retry,
        timeout=settings.channel_timeout_seconds,
        sleep=sleep,
    )
    pagerduty = PagerDutyChannel(
        poster("pagerduty"),
        secrets,
        pagerduty_template(
            str(settings.pagerduty_template_path) if settings.pagerduty_template_path else None,
            grafana_url_template=settings.grafana_url_template,
        ),
        events_url=settings.pagerduty_events_url,
    )
    webhook = WebhookChannel(poster("webhook"), secrets, clock=clock, grafana=grafana)
    topic = SnsChannel(
        sns,
        email_template(
            str(settings.email_template_path) if settings.email_template_path else None,
            grafana_url_template=settings.grafana_url_template,
        ),
        sms_template(str(settings.sms_template_path) if settings.sms_template_path else None),
    )
    forwarder = AlertmanagerForwarder(
        # one attempt per tick: the forwarder itself retries a URL on a later tick, so a
        # peer that is down does not hold up the other outputs
        JsonPoster(
            "alertmanager",
            retry=RetryPolicy(max_attempts=1),
            timeout=settings.channel_timeout_seconds,
        ),
        sent_log,
        secrets=secrets,
        resend_seconds=settings.alertmanager_resend_seconds,
        state_path=settings.alertmanager_state_path,
        give_up_after=settings.alert_delivery_give_up_seconds,
        grafana=grafana,
    )
    channels: dict[str, Channel] = {
        "slack": slack,
        "pagerduty": pagerduty,
        "webhook": webhook,
        "sns": topic,
        ALERTMANAGER: AlertmanagerChannel(forwarder),
    }
    try:
        yield Outputs(channels, forwarder)
    finally:
        await slack.close()
        await pagerduty.close()
        await webhook.close()
        await forwarder.close()
