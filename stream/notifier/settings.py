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
