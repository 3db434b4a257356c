"""Alert recipients per tenant and route, and the routing lookup the notifiers use.

One item per route in ``<prefix>-alert-configs``: ``tenant`` (hash key), ``route_id`` (range
key), ``channel`` (``"telegram"`` now), ``chat_id``, ``matchers`` (a list of Prometheus-style
matcher strings, ``[]`` = every alert of the tenant) and ``created_at`` (ms). The route id is
derived from channel, chat id and matchers unless given, so adding the same route twice is a
no-op.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from stream.storage.dynamodb import DynamoGateway, Item
from stream.storage.matchers import LabelMatcher, MatcherSpec, matches_all, parse_matchers
from stream.storage.recipients import Recipient

__all__ = [
    "AlertConfigStore",
    "Route",
    "route_id_for",
]


@dataclass(frozen=True, slots=True)
class Route:
    """A stored route: recipient plus the matchers an alert's labels must satisfy."""

    tenant: str
    route_id: str
    channel: str
    chat_id: str
    matchers: tuple[LabelMatcher, ...]
    created_at: int

    @property
    def recipient(self) -> Recipient:
        return Recipient(self.channel, self.chat_id, self.route_id, self.tenant)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)


def route_id_for(channel: str, chat_id: str, matchers: tuple[LabelMatcher, ...]) -> str:
    """Deterministic route id.

    >>> route_id_for("telegram", "42", ())
    'telegram-42-e3b0c442'
    """
    digest = hashlib.sha256("\n".join(sorted(str(m) for m in matchers)).encode()).hexdigest()
    return f"{channel}-{chat_id}-{digest[:8]}"


def _route_from_item(item: Item) -> Route:
    return Route(
        tenant=item["tenant"]["S"],
        route_id=item["route_id"]["S"],
        channel=item["channel"]["S"],
        chat_id=item["chat_id"]["S"],
        matchers=parse_matchers([v["S"] for v in item.get("matchers", {}).get("L", [])]),
        created_at=int(item["created_at"]["N"]),
    )


class AlertConfigStore:
    """Routes in ``<prefix>-alert-configs``; the notifiers' ``RecipientSource``.

    ``recipients_for`` caches a tenant's routes for ``cache_seconds`` so a burst of alerts
    costs one query; ``add``/``remove`` in this process clear the cache.
    """

    def __init__(
        self,
        gateway: DynamoGateway,
        table: str,
        *,
        cache_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gateway = gateway
        self.table = table
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, builtins.list[Route]]] = {}

    def add(
        self,
        tenant: str,
        chat_id: str | int,
        matchers: MatcherSpec = (),
        *,
        channel: str = "telegram",
        route_id: str | None = None,
        created_at: int | None = None,
    ) -> Route:
        """Store a route (replacing one with the same id) and return it."""
        parsed = parse_matchers(matchers)
        route = Route(
            tenant=tenant,
            route_id=route_id or route_id_for(channel, str(chat_id), parsed),
            channel=channel,
            chat_id=str(chat_id),
            matchers=parsed,
            created_at=created_at if created_at is not None else int(time.time() * 1000),
        )
        self.gateway.put(
            self.table,
            {
                "tenant": {"S": route.tenant},
                "route_id": {"S": route.route_id},
                "channel": {"S": route.channel},
                "chat_id": {"S": route.chat_id},
                "matchers": {"L": [{"S": str(m)} for m in route.matchers]},
                "created_at": {"N": str(route.created_at)},
            },
        )
        self._cache.pop(tenant, None)
        return route

    def list(self, tenant: str) -> list[Route]:
        """The tenant's routes, by route id."""
        return [
            _route_from_item(item)
            for item in self.gateway.query(
                TableName=self.table,
                KeyConditionExpression="tenant = :t",
                ExpressionAttributeValues={":t": {"S": tenant}},
                ConsistentRead=True,
            )
        ]

    def remove(self, tenant: str, route_id: str) -> bool:
        """Delete a route; True if it existed."""
        self._cache.pop(tenant, None)
        return self.gateway.delete(
            self.table, {"tenant": {"S": tenant}, "route_id": {"S": route_id}}
        )

    def routes_for(self, tenant: str, labels: Mapping[str, str]) -> builtins.list[Route]:
        """Synchronous lookup: the tenant's routes matching ``labels`` (cached)."""
        now = self._clock()
        cached = self._cache.get(tenant)
        if cached is None or now - cached[0] > self._cache_seconds:
            cached = (now, self.list(tenant))
            self._cache[tenant] = cached
        return [r for r in cached[1] if r.matches(labels)]

    async def recipients_for(
        self, tenant: str, labels: Mapping[str, str]
    ) -> builtins.list[Recipient]:
        """Recipients for an alert with ``labels``; one recipient per matching route."""
        routes = await asyncio.to_thread(self.routes_for, tenant, dict(labels))
        return [r.recipient for r in routes]
