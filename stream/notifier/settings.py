"""Settings of the notifier (``aidevops notify``, ``aidevops alerts test``), prefix ``AIDEVOPS_``.

Grouping and rate-limit defaults are written once, in
:class:`~stream.notifier.dispatcher.DispatchConfig`. The bot token is a
:class:`~pydantic.SecretStr`, so it never shows in a log line or a repr; only the notifier
process reads it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from aidevops.settings import KafkaSettings
from stream.notifier.dispatcher import DispatchConfig
from stream.storage.settings import StorageSettings

__all__ = ["NotifierSettings"]

_DISPATCH = DispatchConfig()


class NotifierSettings(KafkaSettings, StorageSettings):
    """Alert delivery: grouping, rate limit, Telegram, and where routes are stored."""

    # -- notification layer (stream.notifier.dispatcher) --------------------------------------
    alert_group_wait_seconds: float = Field(
        _DISPATCH.group_wait,
        ge=0,
        description="Time a target's alerts are collected into one message.",
    )
    alert_repeat_interval_seconds: float = Field(
        _DISPATCH.repeat_interval,
        gt=0,
        description="Re-notify a still-firing alert at most this often.",
    )
    alert_rate_per_minute: float = Field(
        _DISPATCH.rate_per_minute,
        gt=0,
        description="Global rate limit on notifications (token refill rate).",
    )
    alert_burst: int = Field(
        _DISPATCH.burst,
        ge=1,
        description="Notifications allowed in one burst.",
    )
    alert_max_listed: int = Field(
        10, ge=1, description="Series listed in one message; the rest are counted."
    )
    alert_delivery_give_up_seconds: float = Field(
        3600.0, gt=0, description="Keep retrying an undelivered message this long."
    )
    # -- the notifier process (aidevops notify) ---------------------------------------------
    notify_group_id: str = Field(
        "aidevops-notifier", description="Consumer group of the notifier processes."
    )
    notify_sent_log_path: Path = Field(
        Path("data/sent-log.jsonl"),
        description="Where the notifier remembers what it sent (no duplicate after a restart).",
    )

    # -- Telegram (stream.notifier) --------------------------------------------------------------
    telegram_bot_token: SecretStr | None = Field(
        None, description="Bot token from @BotFather; no Telegram delivery without it."
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org/bot", description="Bot API base URL; the token is appended."
    )
    telegram_default_chat_id: str | None = Field(
        None, description="Chat that receives every alert, besides the routed recipients."
    )
    telegram_template_path: Path | None = Field(
        None, description="Message template (TOML); default deploy/templates/telegram.toml."
    )
    telegram_connect_timeout_seconds: float = Field(5.0, gt=0, description="Connect timeout.")
    telegram_read_timeout_seconds: float = Field(10.0, gt=0, description="Read timeout.")
    telegram_max_attempts: int = Field(
        5, ge=1, description="Attempts per message on timeouts, 5xx and 429."
    )
    telegram_backoff_seconds: float = Field(
        1.0, gt=0, description="First retry delay; doubles per attempt."
    )
    telegram_max_backoff_seconds: float = Field(30.0, gt=0, description="Longest retry delay.")
    telegram_max_retry_after_seconds: float = Field(
        60.0, gt=0, description="Longest 429 retry_after honoured in place; longer is deferred."
    )
    # -- Alertmanager (stream.notifier.alertmanager) ------------------------------------------
    alertmanager_urls: str = Field(
        "",
        description="Alertmanager base URLs (comma list, e.g. an HA pair) that get every alert"
        " of every tenant, besides routes of channel alertmanager.",
    )
    alertmanager_resend_seconds: float = Field(
        60.0, gt=0, description="Re-send firing alerts this often; endsAt is 4 times it ahead."
    )
    alertmanager_state_path: Path = Field(
        Path("data/alertmanager-state.json"),
        description="Where the alerts firing towards Alertmanager are kept across restarts.",
    )
    # -- other channels (Slack, PagerDuty, SNS, webhook) --------------------------------------
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL.")
    slack_template_path: Path | None = Field(
        None, description="Slack template (TOML); default deploy/templates/slack.toml."
    )
    pagerduty_events_url: str = Field(
        "https://events.pagerduty.com/v2/enqueue", description="PagerDuty Events API v2 URL."
    )
    pagerduty_template_path: Path | None = Field(
        None, description="PagerDuty template (TOML); default deploy/templates/pagerduty.toml."
    )
    email_template_path: Path | None = Field(
        None, description="E-mail template for SNS (TOML); default deploy/templates/email.toml."
    )
    sms_template_path: Path | None = Field(
        None, description="SMS template for SNS (TOML); default deploy/templates/sms.toml."
    )
    sns_endpoint_url: str | None = Field(
        None, description="SNS endpoint override (a local stand-in); None means AWS."
    )
    secretsmanager_endpoint_url: str | None = Field(
        None, description="Secrets Manager endpoint override; None means AWS."
    )
    secret_cache_seconds: float = Field(
        300.0, ge=0, description="Reuse a resolved route secret this long (rotation delay)."
    )
    channel_timeout_seconds: float = Field(
        10.0, gt=0, description="HTTP timeout of Slack, PagerDuty, webhook and Alertmanager."
    )
    channel_max_attempts: int = Field(
        3, ge=1, description="Attempts per message on those channels (429, 5xx, timeouts)."
    )
    channel_backoff_seconds: float = Field(
        1.0, gt=0, description="First retry delay on those channels; doubles per attempt."
    )
    channel_max_retry_after_seconds: float = Field(
        60.0, gt=0, description="Longest Retry-After waited in place; longer is deferred."
    )
    grafana_url_template: str | None = Field(
        None,
        description="Link in messages, e.g. https://grafana.example/d/aidevops?var-tenant="
        "{tenant}&var-metric={name}&var-job={job}&var-instance={instance}&from={from}&to={to}"
        "; placeholders: series_id, tenant, from, to, name, job, instance.",
    )

    def dispatch_config(self) -> DispatchConfig:
        """The :class:`DispatchConfig` these settings describe."""
        return DispatchConfig(
            group_wait=self.alert_group_wait_seconds,
            repeat_interval=self.alert_repeat_interval_seconds,
            rate_per_minute=self.alert_rate_per_minute,
            burst=self.alert_burst,
        )
