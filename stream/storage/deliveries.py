"""What the notifier did with each alert, per destination: sent, deferred or failed.

The notifier's sent log is a file of its own (what makes a restart send no duplicate); this
is the queryable record the console shows next to each alert. One item per alert state and
destination in the alerts table, beside the alert's own items::

    pk  S  "<tenant>#<dedup_key>"      (the alert episode, as for its state changes)
    sk  S  "DELIVERY#<state>#<destination>"
    channel, route_id, destination, status ("sent", "deferred", "failed"), detail, at (ms),
    expires_at (TTL, as the alerts)

A later outcome for the same alert, state and destination replaces the earlier one (a
deferred message that went out on a retry ends as ``sent``). The items carry neither
``series`` nor ``tenant_day``, so the alerts table's indexes do not see them. Destinations
are the sent log's (:func:`stream.notifier.channels.destination_key`): a chat id, a URL or
a secret *reference*, never a secret.

Examples
--------
>>> r = DeliveryRecord("acme", "ab:1", "FIRING", "webhook:http://h/x", "webhook", "r1",
...                    "sent", "", 5000)
>>> item = delivery_item(r, retention_days=1)
>>> item["sk"]["S"], record_from_item(item) == r
('DELIVERY#FIRING#webhook:http://h/x', True)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stream.storage.dynamodb import DynamoGateway, Item, last_per_key

__all__ = ["DELIVERY_PREFIX", "DeliveryRecord", "DeliveryStore", "delivery_item"]

DELIVERY_PREFIX = "DELIVERY#"
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One alert state's delivery to one destination, as last attempted."""

    tenant: str
    dedup_key: str
    state: str
    destination: str
    channel: str
    route_id: str
    status: str
    detail: str
    at: int


def delivery_item(record: DeliveryRecord, retention_days: int) -> Item:
    return {
        "pk": {"S": f"{record.tenant}#{record.dedup_key}"},
        "sk": {"S": f"{DELIVERY_PREFIX}{record.state}#{record.destination}"},
        "tenant": {"S": record.tenant},
        "dedup_key": {"S": record.dedup_key},
        "state": {"S": record.state},
        "destination": {"S": record.destination},
        "channel": {"S": record.channel},
        "route_id": {"S": record.route_id},
        "status": {"S": record.status},
        "detail": {"S": record.detail[:1000]},
        "at": {"N": str(record.at)},
        "expires_at": {"N": str(record.at // 1000 + retention_days * 86_400)},
    }


def record_from_item(item: Item) -> DeliveryRecord:
    return DeliveryRecord(
        tenant=item["tenant"]["S"],
        dedup_key=item["dedup_key"]["S"],
        state=item["state"]["S"],
        destination=item["destination"]["S"],
        channel=item["channel"]["S"],
        route_id=item["route_id"]["S"],
        status=item["status"]["S"],
        detail=item.get("detail", {}).get("S", ""),
        at=int(item["at"]["N"]),
    )


class DeliveryStore:
    """Delivery records in the alerts table; the notifier's ``DeliveryLog``."""

    def __init__(self, gateway: DynamoGateway, table: str, *, retention_days: int) -> None:
        self.gateway = gateway
        self.table = table
        self.retention_days = retention_days

    def put(self, records: Sequence[DeliveryRecord]) -> None:
        items = last_per_key(delivery_item(r, self.retention_days) for r in records)
        if items:
            self.gateway.write(self.table, items)

    async def record(self, records: Sequence[DeliveryRecord]) -> None:
        """Write ``records`` (from the event loop: the call runs in a thread)."""
        await asyncio.to_thread(self.put, records)

    def of(
        self, tenant: str, dedup_keys: Iterable[str]
    ) -> dict[tuple[str, str], list[DeliveryRecord]]:
        """The deliveries of each alert, by (dedup key, state)."""
        out: dict[tuple[str, str], list[DeliveryRecord]] = {}
        for key in sorted(set(dedup_keys)):
            for item in self.gateway.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :d)",
                ExpressionAttributeValues={
                    ":pk": {"S": f"{tenant}#{key}"},
                    ":d": {"S": DELIVERY_PREFIX},
                },
            ):
                record = record_from_item(item)
                out.setdefault((record.dedup_key, record.state), []).append(record)
        return out
