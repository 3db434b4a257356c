"""Who receives an alert: the port to the alert-configs table, and an in-memory source.

The DynamoDB-backed directory (``stream.storage.alert_configs.AlertConfigStore``) has the
same ``async recipients_for`` method and its ``Recipient`` has the attributes of
:class:`RecipientLike`, so it plugs in wherever a :class:`RecipientSource` is expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "CHANNELS",
    "TELEGRAM",
    "InMemoryRecipients",
    "Recipient",
    "RecipientLike",
    "RecipientSource",
    "Route",
]

TELEGRAM = "telegram"
CHANNELS = ("telegram", "slack", "pagerduty", "sns", "webhook", "alertmanager")
"""Channels a route can name."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """One destination of alerts: a chat on a channel, from one route of one tenant.

    ``chat_id`` is the channel's destination (a Telegram chat, a Slack channel, an SNS
    topic ARN, a webhook or Alertmanager URL); ``secret_ref`` names its credential
    (``env:NAME`` or a Secrets Manager ARN), never the credential itself.
    """

    channel: str
    chat_id: str
    route_id: str
    tenant: str
    secret_ref: str = ""


class RecipientLike(Protocol):
    """What the notifier reads of a recipient (any class with these attributes)."""

    @property
    def channel(self) -> str: ...
    @property
    def chat_id(self) -> str: ...
    @property
    def route_id(self) -> str: ...
    @property
    def tenant(self) -> str: ...
    @property
    def secret_ref(self) -> str: ...


class RecipientSource(Protocol):
    """Where the recipients of a tenant's alert come from (the alert-configs table)."""

    async def recipients_for(
        self, tenant: str, labels: Mapping[str, str]
    ) -> Sequence[RecipientLike]:
        """Recipients of an alert of ``tenant`` on the series with ``labels``."""
        ...


@dataclass(frozen=True, slots=True)
class Route:
    """A chat that receives a tenant's alerts whose labels include ``matchers``.

    Examples
    --------
    >>> Route("acme", "-100", {"job": "node"}).matches("acme", {"job": "node", "x": "1"})
    True
    >>> Route("acme", "-100", {"job": "node"}).matches("other", {"job": "node"})
    False
    """

    tenant: str
    chat_id: str
    matchers: Mapping[str, str] = field(default_factory=dict)
    channel: str = TELEGRAM
    route_id: str = ""
    secret_ref: str = ""

    def matches(self, tenant: str, labels: Mapping[str, str]) -> bool:
        """Whether an alert of ``tenant`` on ``labels`` goes to this route."""
        if tenant != self.tenant:
            return False
        return all(labels.get(name) == value for name, value in self.matchers.items())


class InMemoryRecipients:
    """A :class:`RecipientSource` over a fixed list of routes (tests, static configuration).

    Examples
    --------
    >>> import asyncio
    >>> source = InMemoryRecipients([Route("acme", "-1"), Route("acme", "-2", {"job": "db"})])
    >>> [r.chat_id for r in asyncio.run(source.recipients_for("acme", {"job": "db"}))]
    ['-1', '-2']
    >>> asyncio.run(source.recipients_for("globex", {"job": "db"}))
    []
    """

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = tuple(routes)

    def __repr__(self) -> str:
        return f"InMemoryRecipients({len(self._routes)} routes)"

    async def recipients_for(self, tenant: str, labels: Mapping[str, str]) -> list[Recipient]:
        """Recipients of every route matching ``tenant`` and ``labels``, in route order."""
        return [
            Recipient(
                route.channel, route.chat_id, route.route_id or str(n), tenant, route.secret_ref
            )
            for n, route in enumerate(self._routes)
            if route.matches(tenant, labels)
        ]
