"""Operator commands on alert routes to any channel: ``aidevops alerts routes ...``,
``aidevops alerts test --channel`` and ``aidevops alerts preview``.

Registered by :mod:`cli.main` with :func:`register` and run by :func:`run`. A route's secret
is given by reference only (``--secret-ref env:NAME`` or a Secrets Manager ARN); the table,
these commands' output and their errors never hold the secret itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic_settings import BaseSettings

from stream.notifier.settings import NotifierSettings
from stream.storage.recipients import CHANNELS
from stream.storage.settings import StorageSettings

if TYPE_CHECKING:
    from stream.storage.alert_configs import Route
    from stream.storage.store import Storage

__all__ = [
    "COMMAND_SETTINGS",
    "add_route",
    "list_routes",
    "preview_channel",
    "register",
    "remove_route",
    "run",
    "test_routes",
]

COMMAND_SETTINGS: dict[str, tuple[type[BaseSettings], ...]] = {
    "alerts routes add": (StorageSettings,),
    "alerts routes list": (StorageSettings,),
    "alerts routes remove": (StorageSettings,),
    "alerts preview": (NotifierSettings,),
}
"""The settings each of these commands reads (merged into ``cli.main.COMMAND_SETTINGS``)."""

_DESTINATION_HELP = (
    "telegram: chat id; slack: channel id (chat.postMessage) or empty (incoming webhook); "
    "pagerduty: empty; sns: topic ARN; webhook: URL; alertmanager: base URL(s), comma-separated"
)
SettingsLoader = Callable[[argparse.Namespace, type[Any]], Any]


def register(
    alerts_sub: Any, test: argparse.ArgumentParser, epilog: Callable[[str], dict[str, Any]]
) -> None:
    """Add ``routes`` and ``preview`` under ``aidevops alerts``, and ``--channel`` to ``test``."""
    routes = alerts_sub.add_parser("routes", help="alert routes to any channel, per tenant")
    sub = routes.add_subparsers(dest="routes_command", required=True)
    add = sub.add_parser(
        "add",
        help="route a tenant's alerts (matching labels) to a channel",
        **epilog("alerts routes add"),
    )
    add.add_argument("tenant")
    add.add_argument("channel", choices=CHANNELS)
    add.add_argument("destination", nargs="?", default="", help=_DESTINATION_HELP)
    add.add_argument(
        "--secret-ref",
        default="",
        help="the credential, by reference: env:NAME or arn:aws:secretsmanager:... "
        "(slack: bot token or webhook URL; pagerduty: routing key; webhook and "
        "alertmanager: optional bearer token)",
    )
    add.add_argument(
        "--match", action="append", default=[], help='label matcher, e.g. job=~"api.*"'
    )
    lst = sub.add_parser("list", help="a tenant's routes", **epilog("alerts routes list"))
    lst.add_argument("tenant")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    rm = sub.add_parser("remove", help="delete a route", **epilog("alerts routes remove"))
    rm.add_argument("tenant")
    rm.add_argument("route_id")
    test.add_argument(
        "--channel",
        choices=[*CHANNELS, "all"],
        help="test the tenant's routes of this channel (all: every route of every channel) "
        "with each channel's own client; without it, Telegram only",
    )
    preview = alerts_sub.add_parser(
        "preview",
        help="print what a channel would send for a sample alert (nothing is sent)",
        **epilog("alerts preview"),
    )
    preview.add_argument(
        "--channel",
        required=True,
        choices=["telegram", "slack", "pagerduty", "email", "sms", "webhook", "alertmanager"],
    )
    preview.add_argument("--resolved", action="store_true", help="the resolved message")


def _open(settings: StorageSettings) -> Storage:
    from stream.storage.store import Storage  # boto3 is loaded only by the commands using it

    return Storage.from_settings(settings)


def _line(route: Route) -> str:
    matchers = ",".join(str(m) for m in route.matchers)
    return "\t".join(
        [route.route_id, route.tenant, route.channel, route.chat_id, route.secret_ref, matchers]
    )


def add_route(
    settings: StorageSettings,
    tenant: str,
    channel: str,
    destination: str,
    secret_ref: str,
    matchers: Sequence[str],
) -> str:
    """Store a route; the printed line (id, tenant, channel, destination, reference, matchers).

    A route its channel cannot use, or a secret in clear, is refused before DynamoDB is
    reached.
    """
    from stream.storage.alert_configs import check_route
    from stream.storage.matchers import parse_matchers

    check_route(channel, destination, secret_ref)
    parse_matchers(list(matchers))
    storage = _open(settings)
    try:
        route = storage.configs.add(
            tenant, destination, list(matchers), channel=channel, secret_ref=secret_ref
        )
    finally:
        storage.close()
    return _line(route)


def list_routes(settings: StorageSettings, tenant: str, *, as_json: bool = False) -> list[str]:
    """A tenant's routes, one line each."""
    storage = _open(settings)
    try:
        routes = storage.configs.list(tenant)
    finally:
        storage.close()
    if not as_json:
        return [_line(r) for r in routes]
    return [
        json.dumps(
            {
                "route_id": r.route_id,
                "tenant": r.tenant,
                "channel": r.channel,
                "destination": r.chat_id,
                "secret_ref": r.secret_ref,
                "matchers": [str(m) for m in r.matchers],
                "created_at": r.created_at,
            }
        )
        for r in routes
    ]


def remove_route(settings: StorageSettings, tenant: str, route_id: str) -> bool:
    """Delete a route; False when there was none."""
    storage = _open(settings)
    try:
        return storage.configs.remove(tenant, route_id)
    finally:
        storage.close()


def test_routes(
    settings: NotifierSettings, tenant: str, channel: str | None
) -> tuple[list[str], int]:
    """Send each channel's test message to the tenant's routes: (lines, exit status)."""
    from stream.notifier.main import send_route_test

    results = send_route_test(settings, tenant, None if channel in (None, "all") else channel)
    if not results:
        which = "" if channel in (None, "all") else f" of channel {channel}"
        return [
            f"no routes{which} for tenant {tenant!r}: add one with "
            "'aidevops alerts routes add TENANT CHANNEL ...'"
        ], 1
    lines = []
    for r in results:
        where = r.recipient.chat_id or r.recipient.secret_ref
        if r.recipient.channel == "telegram" and settings.telegram_bot_token is None:
            outcome = "delivered to console (no bot token)"
        else:
            outcome = f"delivered to {r.recipient.channel}"
        lines.append(f"{r.recipient.route_id}\t{where}\t{outcome if r.ok else r.error}")
    return lines, 1 if any(not r.ok for r in results) else 0


def preview_channel(settings: NotifierSettings, channel: str, resolved: bool) -> str:
    """The sample alert rendered for ``channel``."""
    from stream.notifier.preview import preview

    return preview(settings, channel, resolved=resolved)


def run(args: argparse.Namespace, load: SettingsLoader) -> int | None:
    """Run the command if it is one of this module's; ``None`` when it is not."""
    if args.command != "alerts":
        return None
    if args.alerts_command == "preview":
        print(preview_channel(load(args, NotifierSettings), args.channel, args.resolved))
        return 0
    if args.alerts_command == "test" and getattr(args, "channel", None):
        lines, status = test_routes(load(args, NotifierSettings), args.tenant, args.channel)
        for line in lines:
            print(line, file=sys.stderr if status and len(lines) == 1 else sys.stdout)
        return status
    if args.alerts_command != "routes":
        return None
    storage = load(args, StorageSettings)
    if args.routes_command == "add":
        print(
            add_route(
                storage, args.tenant, args.channel, args.destination, args.secret_ref, args.match
            )
        )
    elif args.routes_command == "list":
        for line in list_routes(storage, args.tenant, as_json=args.json):
            print(line)
    elif not remove_route(storage, args.tenant, args.route_id):
        print(f"aidevops: no route {args.route_id} for tenant {args.tenant}", file=sys.stderr)
        return 1
    return 0
