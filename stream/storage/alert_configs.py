"""Alert routes per tenant, to any channel, and the routing lookup the notifiers use.

One item per route in ``<prefix>-alert-configs`` (the table also holds the controls of
:mod:`stream.storage.controls`, which route listings skip): ``tenant`` (hash key),
``route_id`` (range key), ``channel`` (one of :data:`~stream.storage.recipients.CHANNELS`),
``chat_id`` (the channel's destination, see below), ``secret_ref`` (optional), ``matchers``
(a list of Prometheus-style matcher strings, ``[]`` = every alert of the tenant) and
``created_at`` (ms). The route id is derived from channel, destination, secret reference and
matchers unless given, so adding the same route twice is a no-op.

Destinations and secrets per channel (:func:`check_route`); a secret is only ever stored as
a reference, ``env:NAME`` or an AWS Secrets Manager ARN, never in clear:

========================  =================================  ==============================
channel                   destination (``chat_id``)          ``secret_ref``
========================  =================================  ==============================
``telegram``              chat id                            (the bot token is a setting)
``slack``                 channel id, for ``chat.postMessage``  bot token (``xoxb-``)
``slack``                 empty: an incoming webhook         the webhook URL
``pagerduty``             empty (or a label for the list)    Events v2 routing key
``sns``                   topic ARN                          (AWS credentials of the task)
``webhook``               URL (no credentials in it)         optional bearer token
``alertmanager``          base URL(s), comma-separated (HA)  optional bearer token
========================  =================================  ==============================
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aidevops.errors import ConfigurationError
from stream.storage.controls import CONTROL_PREFIX, is_control_item
from stream.storage.dynamodb import DynamoGateway, Item
from stream.storage.matchers import LabelMatcher, MatcherSpec, matches_all, parse_matchers
from stream.storage.recipients import CHANNELS, TELEGRAM, Recipient
from stream.storage.tenant_cache import TenantCache

__all__ = [
    "AlertConfigStore",
    "Route",
    "check_route",
    "check_secret_ref",
    "route_id_for",
    "secret_region",
]

_ENV_REF = re.compile(r"env:[A-Za-z_][A-Za-z0-9_]*")
_ARN_REF = re.compile(
    r"arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:[A-Za-z0-9/_+=.@!-]+"
)
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}")
_SECRET_QUERY = re.compile(r"(token|key|secret|sig|signature|password|auth)", re.IGNORECASE)


def check_secret_ref(ref: str) -> str:
    """``ref`` if it is a secret reference, else :class:`ConfigurationError`.

    Examples
    --------
    >>> check_secret_ref("env:SLACK_BOT_TOKEN")
    'env:SLACK_BOT_TOKEN'
    >>> check_secret_ref("arn:aws:secretsmanager:eu-west-1:123456789012:secret:pd-AbCdEf")
    'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pd-AbCdEf'
    >>> check_secret_ref("xoxb-123-456")
    Traceback (most recent call last):
    ...
    aidevops.errors.ConfigurationError: secret not by reference (env:NAME or a Secrets Manager ARN)
    """
    if _ENV_REF.fullmatch(ref) or _ARN_REF.fullmatch(ref):
        return ref
    raise ConfigurationError("secret not by reference (env:NAME or a Secrets Manager ARN)")


def secret_region(ref: str) -> str | None:
    """The AWS region of a Secrets Manager ARN (``None`` for ``env:``)."""
    found = _ARN_REF.fullmatch(ref)
    return found.group(1) if found else None


def _check_url(url: str, what: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{what} {url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise ConfigurationError(f"{what} carries credentials: give them with --secret-ref")
    if any(_SECRET_QUERY.search(name) for name, _ in urllib.parse.parse_qsl(parts.query)):
        raise ConfigurationError(f"{what} carries a secret in its query: use --secret-ref")
    if parts.hostname.endswith("hooks.slack.com"):
        raise ConfigurationError(
            "a Slack webhook URL is a secret: route channel slack with --secret-ref"
        )


def check_route(channel: str, destination: str, secret_ref: str) -> None:
    """Refuse a route its channel cannot deliver to, or one holding a secret in clear.

    Examples
    --------
    >>> check_route("webhook", "https://hooks.example/alerts", "env:HOOK_TOKEN")
    >>> check_route("pagerduty", "", "R0UT1NGKEY")
    Traceback (most recent call last):
    ...
    aidevops.errors.ConfigurationError: secret not by reference (env:NAME or a Secrets Manager ARN)
    >>> check_route("webhook", "https://user:pw@hooks.example/", "")
    Traceback (most recent call last):
    ...
    aidevops.errors.ConfigurationError: webhook URL carries credentials: give them with --secret-ref
    """
    if channel not in CHANNELS:
        raise ConfigurationError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
    if secret_ref:
        check_secret_ref(secret_ref)
    if channel == TELEGRAM:
        if not destination or secret_ref:
            raise ConfigurationError("a telegram route needs a chat id (the token is a setting)")
    elif channel == "slack":
        if not secret_ref:
            raise ConfigurationError(
                "a slack route needs --secret-ref: the bot token (with a channel id) or the "
                "incoming webhook URL (without one)"
            )
    elif channel == "pagerduty":
        if not secret_ref:
            raise ConfigurationError("a pagerduty route needs --secret-ref: the routing key")
    elif channel == "sns":
        if not _TOPIC_ARN.fullmatch(destination) or secret_ref:
            raise ConfigurationError(
                "an sns route needs a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME) and no secret"
            )
    elif channel == "webhook":
        _check_url(destination, "webhook URL")
    else:  # alertmanager
        urls = [u.strip() for u in destination.split(",") if u.strip()]
        if not urls:
            raise ConfigurationError("an alertmanager route needs its base URL(s)")
        for url in urls:
            _check_url(url, "alertmanager URL")


@dataclass(frozen=True, slots=True)
class Route:
    """A stored route: recipient plus the matchers an alert's labels must satisfy."""

    tenant: str
    route_id: str
    channel: str
    chat_id: str
    matchers: tuple[LabelMatcher, ...]
    created_at: int
    secret_ref: str = ""

    @property
    def recipient(self) -> Recipient:
        return Recipient(self.channel, self.chat_id, self.route_id, self.tenant, self.secret_ref)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)


def route_id_for(
    channel: str, chat_id: str, matchers: tuple[LabelMatcher, ...], secret_ref: str = ""
) -> str:
    """Deterministic route id (a Telegram one names its chat, as it always has).

    >>> route_id_for("telegram", "42", ())
    'telegram-42-e3b0c442'
    >>> route_id_for("pagerduty", "", (), "env:PD_KEY")
    'pagerduty-8a012318'
    """
    digest = hashlib.sha256("\n".join(sorted(str(m) for m in matchers)).encode()).hexdigest()
    if channel == TELEGRAM:
        return f"{channel}-{chat_id}-{digest[:8]}"
    whole = hashlib.sha256(f"{chat_id}\n{secret_ref}\n{digest}".encode()).hexdigest()
    return f"{channel}-{whole[:8]}"


def _route_from_item(item: Item) -> Route:
    return Route(
        tenant=item["tenant"]["S"],
        route_id=item["route_id"]["S"],
        channel=item["channel"]["S"],
        chat_id=item["chat_id"]["S"],
        matchers=parse_matchers([v["S"] for v in item.get("matchers", {}).get("L", [])]),
        created_at=int(item["created_at"]["N"]),
        secret_ref=item.get("secret_ref", {}).get("S", ""),
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
        self._cache = TenantCache(self.list, cache_seconds, clock)

    def add(
        self,
        tenant: str,
        chat_id: str | int,
        matchers: MatcherSpec = (),
        *,
        channel: str = "telegram",
        route_id: str | None = None,
        created_at: int | None = None,
        secret_ref: str = "",
    ) -> Route:
        """Store a route (replacing one with the same id) and return it.

        :class:`ConfigurationError` when the channel cannot use it (:func:`check_route`).
        """
        parsed = parse_matchers(matchers)
        check_route(channel, str(chat_id), secret_ref)
        route = Route(
            tenant=tenant,
            route_id=route_id or route_id_for(channel, str(chat_id), parsed, secret_ref),
            channel=channel,
            chat_id=str(chat_id),
            matchers=parsed,
            created_at=created_at if created_at is not None else int(time.time() * 1000),
            secret_ref=secret_ref,
        )
        item: Item = {
            "tenant": {"S": route.tenant},
            "route_id": {"S": route.route_id},
            "channel": {"S": route.channel},
            "chat_id": {"S": route.chat_id},
            "matchers": {"L": [{"S": str(m)} for m in route.matchers]},
            "created_at": {"N": str(route.created_at)},
        }
        if secret_ref:
            item["secret_ref"] = {"S": secret_ref}
        self.gateway.put(self.table, item)
        self._cache.forget(tenant)
        return route

    def list(self, tenant: str) -> list[Route]:
        """The tenant's routes, by route id (the table's controls are not routes)."""
        return [
            _route_from_item(item)
            for item in self.gateway.query(
                TableName=self.table,
                KeyConditionExpression="tenant = :t",
                ExpressionAttributeValues={":t": {"S": tenant}},
                ConsistentRead=True,
            )
            if not is_control_item(item)
        ]

    def remove(self, tenant: str, route_id: str) -> bool:
        """Delete a route; True if it existed (a control is not removed as a route)."""
        if route_id.startswith(CONTROL_PREFIX):
            return False
        self._cache.forget(tenant)
        return self.gateway.delete(
            self.table, {"tenant": {"S": tenant}, "route_id": {"S": route_id}}
        )

    def routes_for(self, tenant: str, labels: Mapping[str, str]) -> builtins.list[Route]:
        """Synchronous lookup: the tenant's routes matching ``labels`` (cached)."""
        return [r for r in self._cache.get(tenant) if r.matches(labels)]

    async def recipients_for(
        self, tenant: str, labels: Mapping[str, str]
    ) -> builtins.list[Recipient]:
        """Recipients for an alert with ``labels``; one recipient per matching route."""
        routes = await asyncio.to_thread(self.routes_for, tenant, dict(labels))
        return [r.recipient for r in routes]
