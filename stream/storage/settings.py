"""Where the DynamoDB tables are and how scores are packed (prefix ``AIDEVOPS_``).

Shared by every process that reads or writes the tables: the sink, the read API, the notifier
(alert routes) and the operator commands; the workers read the controls of the alert-configs
table with :class:`DynamoSettings` alone.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from aidevops.settings import ENV_PREFIX

__all__ = ["DynamoSettings", "StorageSettings"]


class DynamoSettings(BaseSettings):
    """Where the tables are (what the workers need to read the controls)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    dynamodb_table_prefix: str = Field(
        "ai-devops-platform",
        min_length=3,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Tables are <prefix>-scores, <prefix>-alerts, <prefix>-alert-configs.",
    )
    dynamodb_endpoint_url: str | None = Field(
        None, description="Endpoint override, e.g. DynamoDB Local; None means AWS."
    )
    dynamodb_region: str = Field("us-east-1", description="AWS region of the tables.")
    dynamodb_access_key_id: str | None = Field(
        None, description="Explicit access key; None uses the default AWS credential chain."
    )
    dynamodb_secret_access_key: SecretStr | None = Field(
        None, description="Secret for dynamodb_access_key_id."
    )


class StorageSettings(DynamoSettings):
    """Where the tables are and how scores are packed."""

    dynamodb_create_tables: bool = Field(
        True, description="Create missing tables at start-up (on-demand billing)."
    )
    scores_retention_days: int = Field(
        30, ge=1, description="Score buckets expire (DynamoDB TTL) this long after they end."
    )
    alerts_retention_days: int = Field(
        365, ge=1, description="Alert items expire (DynamoDB TTL) this long after the event."
    )
    scores_bucket_seconds: int = Field(
        6 * 3600,
        ge=60,
        le=7 * 86400,
        description="Time window of one bucket item per series; larger is cheaper, staler.",
    )
    routes_cache_seconds: float = Field(
        30.0,
        ge=0,
        description="How long a process reuses a tenant's alert routes and controls before "
        "reading them again: a route or mute changed in the console or the CLI reaches running "
        "notifiers within it.",
    )
