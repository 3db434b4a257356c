"""Operator commands on controls: ``aidevops controls add|list|remove``.

A control sets, for a tenant's series matching label matchers, the alert threshold, a mute
until a time, or exclusion from scoring (:mod:`stream.storage.controls`). Registered by
:mod:`cli.main` with :func:`register` and run by :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic_settings import BaseSettings

from aidevops.errors import ConfigurationError
from stream.storage.settings import StorageSettings

if TYPE_CHECKING:
    from stream.storage.controls import Control
    from stream.storage.store import Storage

__all__ = [
    "COMMAND_SETTINGS",
    "add_control",
    "list_controls",
    "register",
    "remove_control",
    "run",
]

COMMAND_SETTINGS: dict[str, tuple[type[BaseSettings], ...]] = {
    "controls add": (StorageSettings,),
    "controls list": (StorageSettings,),
    "controls remove": (StorageSettings,),
}
"""The settings each of these commands reads (merged into ``cli.main.COMMAND_SETTINGS``)."""

SettingsLoader = Callable[[argparse.Namespace, type[Any]], Any]


def register(sub: Any, epilog: Callable[[str], dict[str, Any]]) -> None:
    """Add ``controls add|list|remove`` to the top-level sub-commands."""
    controls = sub.add_parser(
        "controls", help="per label matchers: alert threshold, mute, exclusion from scoring"
    )
    controls_sub = controls.add_subparsers(dest="controls_command", required=True)
    add = controls_sub.add_parser(
        "add",
        help="set a threshold, a mute or an exclusion for a tenant's matching series "
        "(replaces the control with the same matchers)",
        **epilog("controls add"),
    )
    add.add_argument("tenant")
    add.add_argument(
        "--match",
        action="append",
        default=[],
        help='label matcher, e.g. job=~"api.*" (repeat it; none: every series of the tenant)',
    )
    add.add_argument(
        "--threshold",
        type=float,
        help="alert fire threshold of matching series, in (0, 1] (instead of the "
        "workers' alert fire threshold); higher alerts less, 1 only on outages",
    )
    add.add_argument(
        "--mute-until",
        help="deliver no alert of matching series until then: RFC 3339 "
        "(2026-12-01T08:00:00Z), epoch ms, or from now (2h, 30m, 1d)",
    )
    add.add_argument("--exclude", action="store_true", help="do not score matching series at all")
    lst = controls_sub.add_parser("list", help="a tenant's controls", **epilog("controls list"))
    lst.add_argument("tenant")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    rm = controls_sub.add_parser("remove", help="delete a control", **epilog("controls remove"))
    rm.add_argument("tenant")
    rm.add_argument("control_id", help="as printed by add and list (control#...)")


def _open(settings: StorageSettings) -> Storage:
    from stream.storage.store import Storage  # boto3 is loaded only by the commands using it

    return Storage.from_settings(settings)


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _effects(control: Control, now_ms: int) -> str:
    parts = []
    if control.threshold is not None:
        parts.append(f"threshold={control.threshold:g}")
    if control.mute_until is not None:
        ended = " (ended)" if control.mute_until <= now_ms else ""
        parts.append(f"muted until {_utc(control.mute_until)}{ended}")
    if control.exclude:
        parts.append("excluded from scoring")
    return ", ".join(parts)


def _line(control: Control, now_ms: int) -> str:
    matchers = "{" + ", ".join(str(m) for m in control.matchers) + "}"
    return "\t".join([control.control_id, control.tenant, matchers, _effects(control, now_ms)])


def add_control(
    settings: StorageSettings,
    tenant: str,
    matchers: Sequence[str],
    *,
    threshold: float | None,
    mute_until: str | None,
    exclude: bool,
    now_ms: int | None = None,
) -> str:
    """Store a control; the printed line (id, tenant, matchers, what it sets).

    Bad matchers, values or times are refused before DynamoDB is reached; so is a mute
    that has already ended.
    """
    from stream.storage.controls import check_control
    from stream.storage.matchers import parse_matchers
    from stream.storage.store import parse_time

    now = int(time.time() * 1000) if now_ms is None else now_ms
    until = parse_time(mute_until, now, ahead=True) if mute_until is not None else None
    if until is not None and until <= now:
        raise ConfigurationError(f"--mute-until {mute_until} is in the past ({_utc(until)})")
    parse_matchers(list(matchers))
    check_control(threshold, until, exclude)
    with _open(settings) as storage:
        control = storage.controls.add(
            tenant, list(matchers), threshold=threshold, mute_until=until, exclude=exclude
        )
    return _line(control, now)


def list_controls(
    settings: StorageSettings, tenant: str, *, as_json: bool = False, now_ms: int | None = None
) -> list[str]:
    """A tenant's controls, one line each."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    with _open(settings) as storage:
        controls = storage.controls.list(tenant)
    if not as_json:
        return [_line(c, now) for c in controls]
    return [
        json.dumps(
            {
                "control_id": c.control_id,
                "tenant": c.tenant,
                "matchers": [str(m) for m in c.matchers],
                "threshold": c.threshold,
                "mute_until": c.mute_until,
                "exclude": c.exclude,
                "created_at": c.created_at,
            }
        )
        for c in controls
    ]


def remove_control(settings: StorageSettings, tenant: str, control_id: str) -> bool:
    """Delete a control; False when there was none."""
    with _open(settings) as storage:
        return storage.controls.remove(tenant, control_id)


def run(args: argparse.Namespace, load: SettingsLoader) -> int | None:
    """Run the command if it is one of this module's; ``None`` when it is not."""
    if args.command != "controls":
        return None
    storage = load(args, StorageSettings)
    if args.controls_command == "add":
        print(
            add_control(
                storage,
                args.tenant,
                args.match,
                threshold=args.threshold,
                mute_until=args.mute_until,
                exclude=args.exclude,
            )
        )
    elif args.controls_command == "list":
        for line in list_controls(storage, args.tenant, as_json=args.json):
            print(line)
    elif not remove_control(storage, args.tenant, args.control_id):
        print(f"aidevops: no control {args.control_id} for tenant {args.tenant}", file=sys.stderr)
        return 1
    return 0
