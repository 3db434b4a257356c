"""The storage as one object built from settings, and the read side the CLI and HTTP use."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aidevops.errors import ConfigurationError
from stream.storage.alert_configs import AlertConfigStore
from stream.storage.alerts import AlertRecord, DynamoAlertStore
from stream.storage.codec import ScorePoint
from stream.storage.controls import ControlStore
from stream.storage.deliveries import DeliveryStore
from stream.storage.dynamodb import DynamoDBClient, DynamoGateway, make_client
from stream.storage.scores import DynamoScoreStore, SeriesKey
from stream.storage.settings import DynamoSettings, StorageSettings
from stream.storage.tables import create_tables, table_names

__all__ = [
    "Storage",
    "client_from_settings",
    "format_scores",
    "parse_series_id",
    "parse_time",
    "points_json",
]


def client_from_settings(settings: DynamoSettings) -> DynamoDBClient:
    """A boto3 DynamoDB client for ``settings``."""
    secret = settings.dynamodb_secret_access_key
    return make_client(
        settings.dynamodb_endpoint_url,
        settings.dynamodb_region,
        settings.dynamodb_access_key_id,
        secret.get_secret_value() if secret else None,
    )


def parse_series_id(text: str) -> int:
    """A series id from its hex form (with or without ``0x``).

    >>> f"{parse_series_id('0xdeadbeef'):x}"
    'deadbeef'
    """
    try:
        value = int(text.removeprefix("0x"), 16)
    except ValueError:
        raise ConfigurationError(f"series id must be hex, got {text!r}") from None
    if not 0 <= value < 2**64:
        raise ConfigurationError(f"series id {text!r} does not fit 64 bits")
    return value


def parse_time(text: str, now_ms: int, *, ahead: bool = False) -> int:
    """Milliseconds from epoch ms, RFC 3339, ``now`` or a relative ``-2h`` / ``30m`` (ago).

    With ``ahead`` a relative time counts from now on (``2h`` or ``+2h``: in two hours).

    >>> parse_time("-90s", 100_000)
    10000
    >>> parse_time("2h", 7_200_000)
    0
    >>> parse_time("1970-01-01T00:00:01Z", 0)
    1000
    >>> parse_time("+90s", 10_000, ahead=True), parse_time("2h", 0, ahead=True)
    (100000, 7200000)
    """
    text = text.strip()
    if text == "now":
        return now_ms
    sign = 1 if ahead and not text.startswith("-") else -1
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    for suffix in sorted(units, key=len, reverse=True):
        body = text.removeprefix("+" if ahead else "-").removeprefix("-").removesuffix(suffix)
        if text.endswith(suffix) and body.replace(".", "", 1).isdigit():
            return now_ms + sign * int(float(body) * units[suffix])
    if text.isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(f"cannot read time {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def points_json(points: Sequence[ScorePoint]) -> list[dict[str, Any]]:
    """Points as JSON objects (NaN and infinities become null)."""
    return [
        {
            "timestamp": p.timestamp,
            "value": _json_float(p.value),
            "score": _json_float(p.score),
            "flags": p.flags,
        }
        for p in points
    ]


@dataclass
class Storage:
    """The stores over one gateway (routes and controls share the alert-configs table,
    deliveries the alerts table)."""

    settings: StorageSettings
    gateway: DynamoGateway
    scores: DynamoScoreStore
    alerts: DynamoAlertStore
    configs: AlertConfigStore
    controls: ControlStore
    deliveries: DeliveryStore

    @classmethod
    def from_settings(
        cls, settings: StorageSettings, client: DynamoDBClient | None = None
    ) -> Storage:
        """Build the stores; create missing tables when ``dynamodb_create_tables`` is on."""
        client = client or client_from_settings(settings)
        if settings.dynamodb_create_tables:
            create_tables(client, settings.dynamodb_table_prefix)
        gateway = DynamoGateway(client)
        scores_table, alerts_table, configs_table = table_names(settings.dynamodb_table_prefix)
        return cls(
            settings=settings,
            gateway=gateway,
            scores=DynamoScoreStore(
                gateway,
                scores_table,
                bucket_ms=settings.scores_bucket_seconds * 1000,
                retention_days=settings.scores_retention_days,
            ),
            alerts=DynamoAlertStore(
                gateway, alerts_table, retention_days=settings.alerts_retention_days
            ),
            configs=AlertConfigStore(
                gateway, configs_table, cache_seconds=settings.routes_cache_seconds
            ),
            controls=ControlStore(
                gateway, configs_table, cache_seconds=settings.routes_cache_seconds
            ),
            deliveries=DeliveryStore(
                gateway, alerts_table, retention_days=settings.alerts_retention_days
            ),
        )

    def close(self) -> None:
        """Close the client's connections."""
        self.gateway.client.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def read_scores(
        self, series_id: int, since: int, until: int, tenant: str = "default"
    ) -> list[ScorePoint]:
        """Stored points of a series with ``since <= timestamp < until`` (ms), oldest first."""
        return self.scores.read(SeriesKey(tenant, series_id), since, until)

    def recent_alerts(
        self, series_id: int, tenant: str = "default", limit: int = 20
    ) -> list[AlertRecord]:
        """The series' latest alert state changes, newest first."""
        return self.alerts.recent(tenant, series_id, limit)

    def series_report(
        self, series_id: int, since: int, until: int, tenant: str = "default"
    ) -> dict[str, Any]:
        """What ``GET /api/v1/series/{id}/scores`` answers."""
        points = self.read_scores(series_id, since, until, tenant)
        return {
            "series_id": f"{series_id:016x}",
            "tenant": tenant,
            "since": since,
            "until": until,
            "labels": self.scores.labels(SeriesKey(tenant, series_id)),
            "points": points_json(points),
            "alerts": [a.to_json() for a in self.recent_alerts(series_id, tenant)],
        }


def format_scores(report: dict[str, Any]) -> str:
    """Text for ``aidevops scores SERIES``: one line per point, then recent alerts.

    >>> print(format_scores({"series_id": "00000000000000ff", "labels": {"job": "x"},
    ...     "points": [{"timestamp": 0, "value": 1.5, "score": 0.25, "flags": 0}],
    ...     "alerts": []}))
    series 00000000000000ff {job="x"}: 1 points
    1970-01-01T00:00:00.000Z  value=1.5  score=0.2500
    """
    labels = ", ".join(f'{k}="{v}"' for k, v in report["labels"].items())
    lines = [f"series {report['series_id']} {{{labels}}}: {len(report['points'])} points"]
    for p in report["points"]:
        when = datetime.fromtimestamp(p["timestamp"] / 1000, tz=UTC)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
        score = "nan" if p["score"] is None else f"{p['score']:.4f}"
        flags = f"  flags={p['flags']}" if p["flags"] else ""
        lines.append(f"{stamp}  value={p['value']}  score={score}{flags}")
    for a in report["alerts"]:
        lines.append(f"alert {a['state']} {a['reason']} at {a['event_at']} ({a['dedup_key']})")
    return "\n".join(lines)
