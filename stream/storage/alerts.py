"""The alerts table: every alert state change, by episode, by series and by time.

An ``AlertEvent`` becomes one item keyed ``pk = "<tenant>#<dedup_key>"``, ``sk = <state>``,
so a replay rewrites the same item and an episode's firing and resolved changes sit together.
GSI ``by-series`` answers "recent alerts of this series", GSI ``by-time`` "alerts of a tenant
between two times" (``tenant_day`` = ``"<tenant>#YYYY-MM-DD"`` in UTC, one query per day).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aidevops.pb import alerts_pb2
from stream.storage.buckets import series_pk
from stream.storage.dynamodb import DynamoGateway, Item, last_per_key
from stream.storage.tables import ALERTS_BY_SERIES_INDEX, ALERTS_BY_TIME_INDEX

__all__ = ["AlertRecord", "AlertStore", "DynamoAlertStore", "alert_item", "tenant_day"]


def tenant_day(tenant: str, timestamp_ms: int) -> str:
    """Partition key of the ``by-time`` index.

    >>> tenant_day("default", 0)
    'default#1970-01-01'
    """
    day = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC).strftime("%Y-%m-%d")
    return f"{tenant}#{day}"


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert state change as stored and as readers get it."""

    tenant: str
    series_id: int
    dedup_key: str
    state: str
    reason: str
    started_at: int
    event_at: int
    score: float
    peak_score: float
    value: float
    baseline_low: float
    baseline_high: float
    group_key: str
    labels: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes None)."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[name] = value
        out["series_id"] = f"{self.series_id:016x}"
        return out


def _num(value: float) -> dict[str, str] | dict[str, bool]:
    return {"N": repr(value)} if math.isfinite(value) else {"NULL": True}


def alert_item(event: alerts_pb2.AlertEvent, retention_days: int) -> Item:
    """The item of one alert state change (deterministic: same event, same item)."""
    state = alerts_pb2.AlertState.Name(event.state).removeprefix("ALERT_STATE_")
    return {
        "pk": {"S": f"{event.tenant}#{event.dedup_key}"},
        "sk": {"S": state},
        "series": {"S": series_pk(event.tenant, event.series_id)},
        "tenant_day": {"S": tenant_day(event.tenant, event.event_at)},
        "tenant": {"S": event.tenant},
        "series_id": {"S": f"{event.series_id:016x}"},
        "dedup_key": {"S": event.dedup_key},
        "state": {"S": state},
        "reason": {"S": alerts_pb2.AlertReason.Name(event.reason).removeprefix("ALERT_REASON_")},
        "started_at": {"N": str(event.started_at)},
        "event_at": {"N": str(event.event_at)},
        "score": _num(event.score),
        "peak_score": _num(event.peak_score),
        "value": _num(event.value),
        "baseline_low": _num(event.baseline_low),
        "baseline_high": _num(event.baseline_high),
        "group_key": {"S": event.group_key},
        "labels": {"M": {lb.name: {"S": lb.value} for lb in event.labels}},
        "expires_at": {"N": str(event.event_at // 1000 + retention_days * 86_400)},
    }


def _float(item: Item, name: str) -> float:
    value = item.get(name, {})
    return float(value["N"]) if "N" in value else math.nan


def record_from_item(item: Item) -> AlertRecord:
    return AlertRecord(
        tenant=item["tenant"]["S"],
        series_id=int(item["series_id"]["S"], 16),
        dedup_key=item["dedup_key"]["S"],
        state=item["state"]["S"],
        reason=item["reason"]["S"],
        started_at=int(item["started_at"]["N"]),
        event_at=int(item["event_at"]["N"]),
        score=_float(item, "score"),
        peak_score=_float(item, "peak_score"),
        value=_float(item, "value"),
        baseline_low=_float(item, "baseline_low"),
        baseline_high=_float(item, "baseline_high"),
        group_key=item["group_key"]["S"],
        labels={k: v["S"] for k, v in item["labels"]["M"].items()},
    )


class AlertStore(Protocol):
    """Where the sink puts alert state changes."""

    def put(self, events: Sequence[alerts_pb2.AlertEvent]) -> None: ...

    def recent(self, tenant: str, series_id: int, limit: int = 20) -> list[AlertRecord]: ...


class DynamoAlertStore:
    """:class:`AlertStore` on the ``<prefix>-alerts`` table."""

    def __init__(self, gateway: DynamoGateway, table: str, *, retention_days: int) -> None:
        self.gateway = gateway
        self.table = table
        self.retention_days = retention_days

    def put(self, events: Sequence[alerts_pb2.AlertEvent]) -> None:
        items = last_per_key(alert_item(event, self.retention_days) for event in events)
        if items:
            self.gateway.write(self.table, items)

    def recent(self, tenant: str, series_id: int, limit: int = 20) -> list[AlertRecord]:
        """The series' latest state changes, newest first."""
        out = []
        for item in self.gateway.query(
            TableName=self.table,
            IndexName=ALERTS_BY_SERIES_INDEX,
            KeyConditionExpression="series = :s",
            ExpressionAttributeValues={":s": {"S": series_pk(tenant, series_id)}},
            ScanIndexForward=False,
            Limit=limit,
        ):
            out.append(record_from_item(item))
            if len(out) >= limit:
                break
        return out

    def between(self, tenant: str, since: int, until: int) -> Iterator[AlertRecord]:
        """A tenant's state changes with ``since <= event_at < until``, oldest first."""
        day = datetime.fromtimestamp(since / 1000, tz=UTC).date()
        last = datetime.fromtimestamp(max(since, until - 1) / 1000, tz=UTC).date()
        while day <= last:
            for item in self.gateway.query(
                TableName=self.table,
                IndexName=ALERTS_BY_TIME_INDEX,
                KeyConditionExpression="tenant_day = :d AND event_at BETWEEN :lo AND :hi",
                ExpressionAttributeValues={
                    ":d": {"S": f"{tenant}#{day.isoformat()}"},
                    ":lo": {"N": str(since)},
                    ":hi": {"N": str(until - 1)},
                },
            ):
                yield record_from_item(item)
            day += timedelta(days=1)

    def episode(self, tenant: str, dedup_key: str) -> list[AlertRecord]:
        """Every state change of one alert episode."""
        return [
            record_from_item(item)
            for item in self.gateway.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"{tenant}#{dedup_key}"}},
                ConsistentRead=True,
            )
            if not item["sk"]["S"].startswith("DELIVERY#")  # the notifier's records
        ]
