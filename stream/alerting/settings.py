"""Settings of the alert policy, the notification layer and Telegram (prefix ``AIDEVOPS_``).

Every field maps to one environment variable: ``alert_fire_threshold`` is
``AIDEVOPS_ALERT_FIRE_THRESHOLD``. The bot token is a :class:`~pydantic.SecretStr`, so it never
shows in a log line or a repr.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from aidevops.settings import ENV_PREFIX
from stream.alerting.dispatcher import DispatchConfig
from stream.alerting.policy import PolicyConfig

__all__ = ["AlertSettings"]


class AlertSettings(BaseSettings):
    """Alerting and Telegram delivery (``aidevops worker`` and ``aidevops alerts test``)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    # -- policy (stream.alerting.policy) ------------------------------------------------------
    alert_fire_threshold: float = Field(
        0.4, gt=0, lt=1, description="Calibrated score above which a point counts as anomalous."
    )
    alert_fire_points: int = Field(
        3, ge=1, description="Consecutive anomalous points before an alert fires (`for`)."
    )
    alert_resolve_threshold: float = Field(
        0.2, ge=0, lt=1, description="Score below which a point counts towards resolving."
    )
    alert_resolve_points: int = Field(
        10, ge=1, description="Consecutive points below the resolve threshold to resolve."
    )
    alert_baseline_alpha: float = Field(
        0.05, gt=0, le=1, description="Weight of a new value in the baseline (≈ 1/window)."
    )
    alert_baseline_k: float = Field(
        3.0, gt=0, description="Expected range is baseline mean ± k standard deviations."
    )
    alert_baseline_min_points: int = Field(
        10, ge=1, description="Values learned before an expected range is reported."
    )
    alert_group_labels: tuple[str, ...] = Field(
        ("job", "instance"),
        description='Labels naming a target, JSON list (e.g. ["job","instance"]).',
    )
    # -- notification layer (stream.alerting.dispatcher) --------------------------------------
    alert_group_wait_seconds: float = Field(
        30.0, ge=0, description="Time a target's alerts are collected into one message."
    )
    alert_repeat_interval_seconds: float = Field(
        4 * 3600.0, gt=0, description="Re-notify a still-firing alert at most this often."
    )
    alert_rate_per_minute: float = Field(
        20.0, gt=0, description="Global rate limit on notifications (token refill rate)."
    )
    alert_burst: int = Field(5, ge=1, description="Notifications allowed in one burst.")
    alert_max_listed: int = Field(
        10, ge=1, description="Series listed in one message; the rest are counted."
    )
    alert_delivery_give_up_seconds: float = Field(
        3600.0, gt=0, description="Keep retrying an undelivered message this long."
    )
    # -- the notifier process (aidevops notify) ---------------------------------------------
    alerts_topic: str = Field("alerts", description="Topic of alert state changes.")
    notify_group_id: str = Field(
        "aidevops-notifier", description="Consumer group of the notifier processes."
    )
    notify_sent_log_path: Path = Field(
        Path("data/sent-log.jsonl"),
        description="Where the notifier remembers what it sent (no duplicate after a restart).",
    )

    # -- Telegram (stream.notify) --------------------------------------------------------------
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
        description="Link in messages, e.g. https://grafana.example/d/aidevops?var-series="
        "{series_id}; placeholders: series_id, tenant, from, to, name, job, instance.",
    )

    def policy_config(self) -> PolicyConfig:
        """The :class:`PolicyConfig` these settings describe (validated)."""
        return PolicyConfig(
            fire_threshold=self.alert_fire_threshold,
            fire_points=self.alert_fire_points,
            resolve_threshold=self.alert_resolve_threshold,
            resolve_points=self.alert_resolve_points,
            baseline_alpha=self.alert_baseline_alpha,
            baseline_k=self.alert_baseline_k,
            baseline_min_points=self.alert_baseline_min_points,
            group_labels=tuple(self.alert_group_labels),
        )

    def dispatch_config(self) -> DispatchConfig:
        """The :class:`DispatchConfig` these settings describe."""
        return DispatchConfig(
            group_wait=self.alert_group_wait_seconds,
            repeat_interval=self.alert_repeat_interval_seconds,
            rate_per_minute=self.alert_rate_per_minute,
            burst=self.alert_burst,
        )
