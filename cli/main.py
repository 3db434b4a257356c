"""The ``aidevops`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic_settings import BaseSettings

from aidevops import __version__
from aidevops.errors import AidevopsError, BrokerUnavailable
from aidevops.settings import KafkaSettings
from cli import controls as control_commands
from cli import routes as route_commands
from cli.config import load_settings, settings_help
from cli.local.record import DEFAULT_RECORD, defaults_for, read_record
from receiver.settings import ReceiverSettings
from stream.api.settings import ApiSettings
from stream.notifier.settings import NotifierSettings
from stream.sink.settings import SinkSettings
from stream.storage.errors import StorageUnavailable
from stream.storage.settings import StorageSettings
from stream.worker.settings import WorkerSettings

__all__ = ["COMMAND_SETS_ITSELF", "COMMAND_SETTINGS", "PROCESS_SETTINGS", "main"]

S = TypeVar("S", bound=BaseSettings)

PROCESS_SETTINGS: dict[str, type[BaseSettings]] = {
    "receiver": ReceiverSettings,
    "worker": WorkerSettings,
    "sink": SinkSettings,
    "api": ApiSettings,
    "notify": NotifierSettings,
    "dynamodb": StorageSettings,
}
"""The settings object of each process (``aidevops up`` checks them all before starting)."""

# What ``up`` sets itself for its children (from its options or the local parts it starts).
_UP_SETS = frozenset(
    {
        "receiver_host",
        "receiver_port",
        "worker_port",
        "api_host",
        "api_port",
        "kafka_bootstrap_servers",
        "dynamodb_endpoint_url",
        "dynamodb_access_key_id",
        "dynamodb_secret_access_key",
        "notify_sent_log_path",
    }
)
_ALL = tuple(dict.fromkeys(PROCESS_SETTINGS.values()))

COMMAND_SETTINGS: dict[str, tuple[type[BaseSettings], ...]] = {
    "receiver": (ReceiverSettings,),
    "worker": (WorkerSettings,),
    "sink": (SinkSettings,),
    "api": (ApiSettings,),
    "notify": (NotifierSettings,),
    "dynamodb init": (StorageSettings,),
    "scores": (StorageSettings,),
    "series": (StorageSettings,),
    "alerts recipients add": (StorageSettings,),
    "alerts recipients list": (StorageSettings,),
    "alerts recipients remove": (StorageSettings,),
    "alerts test": (NotifierSettings,),
    **route_commands.COMMAND_SETTINGS,
    **control_commands.COMMAND_SETTINGS,
    "tail": (KafkaSettings,),
    "backtest": (),
    "up": _ALL,
    "demo": _ALL,
}
"""Per command, the settings it reads: its ``--help`` lists their ``AIDEVOPS_...`` variables,
less the fields the command sets itself (:data:`COMMAND_SETS_ITSELF`)."""

COMMAND_SETS_ITSELF: dict[str, frozenset[str]] = {
    "up": _UP_SETS,
    "demo": _UP_SETS
    | {"detector_warmup", "alert_fire_threshold", "alert_fire_points", "alert_group_wait_seconds"},
}

_VALUE_OPTIONS = ("--since", "--until")


def _epilog(command: str) -> dict[str, Any]:
    excluded = COMMAND_SETS_ITSELF.get(command, frozenset())
    return {
        "epilog": settings_help(COMMAND_SETTINGS[command], excluded),
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aidevops",
        description="Online anomaly detection for every Prometheus metric.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    parser.add_argument(
        "--stack",
        type=Path,
        default=DEFAULT_RECORD,
        help="the record of a running 'aidevops up' whose endpoints commands use where "
        "the environment sets none (default: %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    rec = sub.add_parser(
        "receiver",
        help="serve Prometheus remote-write and publish to Kafka",
        **_epilog("receiver"),
    )
    rec.add_argument("--host", help="listen address (AIDEVOPS_RECEIVER_HOST)")
    rec.add_argument("--port", type=int, help="listen port (AIDEVOPS_RECEIVER_PORT)")

    work = sub.add_parser(
        "worker",
        help="score samples: per-series detectors, alert policy, /metrics",
        **_epilog("worker"),
    )
    work.add_argument("--port", type=int, help="web port for /metrics (AIDEVOPS_WORKER_PORT)")

    back = sub.add_parser(
        "backtest",
        help="score a CSV of timestamp,value rows with the production detector",
        **_epilog("backtest"),
    )
    back.add_argument("file", help="CSV with a timestamp,value header")
    back.add_argument("--counter", action="store_true", help="the values are a counter")
    back.add_argument(
        "--kind",
        choices=["gauge", "counter", "likely-counter", "untyped", "scrape-count"],
        help="the series' kind as the worker took it (untyped: no type, no counter's name)",
    )

    sub.add_parser(
        "sink",
        help="write scores and alerts from Kafka to DynamoDB",
        **_epilog("sink"),
    )
    api = sub.add_parser(
        "api",
        help="serve stored scores and alerts over HTTP",
        **_epilog("api"),
    )
    api.add_argument("--host", help="listen address (AIDEVOPS_API_HOST)")
    api.add_argument("--port", type=int, help="listen port (AIDEVOPS_API_PORT)")

    sub.add_parser(
        "notify",
        help="deliver alerts from Kafka to Telegram (console without a token)",
        **_epilog("notify"),
    )

    dyn = sub.add_parser("dynamodb", help="DynamoDB tables")
    dyn_sub = dyn.add_subparsers(dest="dynamodb_command", required=True)
    dyn_sub.add_parser(
        "init", help="create the tables that are missing", **_epilog("dynamodb init")
    )

    scores = sub.add_parser(
        "scores", help="a series' stored scores and recent alerts", **_epilog("scores")
    )
    scores.add_argument(
        "series",
        help="series id (16 hex digits) or a Prometheus selector, e.g. "
        """'node_load1{instance="host:9100",job="node"}'""",
    )
    scores.add_argument("--since", default="-1h", help="epoch ms, RFC 3339, now, or -2h")
    scores.add_argument("--until", default="now")
    scores.add_argument("--tenant", default="default")
    scores.add_argument("--json", action="store_true", help="print JSON")

    series = sub.add_parser(
        "series",
        help="list stored series (id, tenant, labels), optionally matching a selector",
        **_epilog("series"),
    )
    series.add_argument("selector", nargs="?", help="""e.g. 'node_load1{job=~"node.*"}'""")
    series.add_argument("--tenant", help="only this tenant (default: every tenant)")

    alerts = sub.add_parser("alerts", help="alert recipients and a test message")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    recipients = alerts_sub.add_parser("recipients", help="Telegram chats per tenant and route")
    rec_sub = recipients.add_subparsers(dest="recipients_command", required=True)
    add = rec_sub.add_parser(
        "add",
        help="route a tenant's alerts (matching labels) to a chat",
        **_epilog("alerts recipients add"),
    )
    add.add_argument("tenant")
    add.add_argument("chat_id")
    add.add_argument(
        "--match", action="append", default=[], help='label matcher, e.g. job=~"api.*"'
    )
    lst = rec_sub.add_parser("list", help="a tenant's routes", **_epilog("alerts recipients list"))
    lst.add_argument("tenant")
    rm = rec_sub.add_parser("remove", help="delete a route", **_epilog("alerts recipients remove"))
    rm.add_argument("tenant")
    rm.add_argument("route_id")
    test = alerts_sub.add_parser(
        "test", help="send a test message to every recipient", **_epilog("alerts test")
    )
    test.add_argument("--tenant", default="default")
    route_commands.register(alerts_sub, test, _epilog)
    control_commands.register(sub, _epilog)

    tail = sub.add_parser(
        "tail", help="print a topic's messages, one JSON line each", **_epilog("tail")
    )
    tail.add_argument("topic", help="topic name, e.g. samples, scores, alerts")
    tail.add_argument("--schema", choices=["samples", "scores", "alerts"], help="message type")
    tail.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS)"
    )
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest message")
    tail.add_argument(
        "-n",
        "--limit",
        type=int,
        help="stop after this many messages (lines; a scores message holds a batch of points)",
    )
    tail.add_argument("--idle-timeout", type=float, help="stop after this many idle seconds")

    for name, text in (
        ("up", "run the whole pipeline locally on embedded defaults"),
        ("demo", "the pipeline plus a pretend host with an injected anomaly, to watch"),
    ):
        local = sub.add_parser(name, help=text, **_epilog(name))
        local.add_argument(
            "--data-dir", type=Path, default=Path("data"), help="logs and local state"
        )
        local.add_argument("--port", type=int, default=9201, help="receiver port")
        local.add_argument("--broker-port", type=int, default=9092, help="local broker port")
        local.add_argument("--worker-port", type=int, default=6066, help="worker /metrics port")
        local.add_argument("--api-port", type=int, default=9202, help="read API port")
    return parser


def _settings(args: argparse.Namespace, cls: type[S], **overrides: Any) -> S:
    """``cls`` from the environment, then what a running ``aidevops up`` recorded."""
    recorded = defaults_for(read_record(args.stack), os.environ)
    return load_settings(cls, recorded, **{k: v for k, v in overrides.items() if v is not None})


def _check_port(component: str, host: str, port: int, choose: str) -> None:
    from cli.local.ports import PortClaim, check_ports

    check_ports([PortClaim(component, host, port, choose)])


def _run(args: argparse.Namespace) -> int:
    if args.command == "receiver":
        from receiver.main import run as run_receiver

        settings = _settings(
            args, ReceiverSettings, receiver_host=args.host, receiver_port=args.port
        )
        _check_port(
            "receiver",
            settings.receiver_host,
            settings.receiver_port,
            "--port or AIDEVOPS_RECEIVER_PORT",
        )
        run_receiver(settings)
        return 0
    if args.command == "worker":
        from stream.worker.agents import run_worker

        run_worker(
            _settings(args, WorkerSettings, worker_port=args.port),
            loglevel=args.log_level.upper(),
        )
        return 0
    if args.command == "backtest":
        from stream.detection.backtest import main as backtest_main

        flags = [
            *(["--counter"] if args.counter else []),
            *(["--kind", args.kind] if args.kind else []),
        ]
        return backtest_main([args.file, *flags])
    if args.command == "controls":
        handled = control_commands.run(args, _settings)
        assert handled is not None
        return handled
    if args.command in ("sink", "api", "notify", "dynamodb", "scores", "series", "alerts"):
        return _run_storage_and_alerts(args)
    if args.command == "tail":
        from cli.tail import tail

        bootstrap = args.bootstrap or _settings(args, KafkaSettings).kafka_bootstrap_servers
        asyncio.run(
            tail(
                bootstrap,
                args.topic,
                kind=args.schema,
                from_beginning=args.from_beginning,
                limit=args.limit,
                idle_timeout=args.idle_timeout,
            )
        )
        return 0
    if args.command in ("up", "demo"):
        from cli.local.stack import run_stack

        return run_stack(
            args.data_dir,
            args.port,
            args.broker_port,
            worker_port=args.worker_port,
            api_port=args.api_port,
            demo=args.command == "demo",
            settings_classes=_ALL,
        )
    raise AssertionError(args.command)


def _run_storage_and_alerts(args: argparse.Namespace) -> int:
    from cli import alerts as alert_commands
    from cli import storage as storage_commands

    handled = route_commands.run(args, _settings)
    if handled is not None:
        return handled

    if args.command == "sink":
        from stream.sink.main import serve_sink

        serve_sink(_settings(args, SinkSettings))
        return 0
    if args.command == "api":
        from stream.api.app import serve_api

        api_settings = _settings(args, ApiSettings, api_host=args.host, api_port=args.port)
        _check_port(
            "read API", api_settings.api_host, api_settings.api_port, "--port or AIDEVOPS_API_PORT"
        )
        serve_api(api_settings)
        return 0
    if args.command == "notify":
        from stream.notifier.main import serve_notifier

        serve_notifier(_settings(args, NotifierSettings))
        return 0
    if args.command == "alerts" and args.alerts_command == "test":
        lines, status = alert_commands.test_message(_settings(args, NotifierSettings), args.tenant)
        for line in lines:
            print(line, file=sys.stderr if status and len(lines) == 1 else sys.stdout)
        return status
    storage = _settings(args, StorageSettings)
    if args.command == "dynamodb":
        for line in storage_commands.dynamodb_init(storage):
            print(line)
    elif args.command == "scores":
        print(
            storage_commands.print_scores(
                storage, args.series, args.since, args.until, args.tenant, args.json
            )
        )
    elif args.command == "series":
        lines, note = storage_commands.print_series(storage, args.selector, args.tenant)
        for line in lines:
            print(line)
        if note:
            print(f"aidevops: note: {note}", file=sys.stderr)
    elif args.recipients_command == "add":
        print(alert_commands.add_recipient(storage, args.tenant, args.chat_id, args.match))
    elif args.recipients_command == "list":
        for line in alert_commands.list_recipients(storage, args.tenant):
            print(line)
    elif not alert_commands.remove_recipient(storage, args.tenant, args.route_id):
        print(f"aidevops: no route {args.route_id} for tenant {args.tenant}", file=sys.stderr)
        return 1
    return 0


def _join_dash_values(argv: Sequence[str]) -> list[str]:
    """``--since -2h`` as ``--since=-2h``: argparse takes a value starting with ``-`` for an
    option of its own, and relative times are written that way.

    >>> _join_dash_values(["scores", "abc", "--since", "-2h", "--json"])
    ['scores', 'abc', '--since=-2h', '--json']
    """
    out: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else ""
        if arg in _VALUE_OPTIONS and following.startswith("-") and not following.startswith("--"):
            out.append(f"{arg}={following}")
            index += 2
            continue
        out.append(arg)
        index += 1
    return out


def _storage_hint(args: argparse.Namespace) -> str:
    try:
        endpoint = _settings(args, StorageSettings).dynamodb_endpoint_url
    except AidevopsError:
        endpoint = None
    return (
        f" (endpoint: {endpoint or 'AWS, no AIDEVOPS_DYNAMODB_ENDPOINT_URL'})"
        "; start the local stack with 'aidevops up' (its endpoints are then read from "
        f"{args.stack}), or set AIDEVOPS_DYNAMODB_ENDPOINT_URL (e.g. http://127.0.0.1:8000 "
        "for DynamoDB Local) and credentials: AIDEVOPS_DYNAMODB_ACCESS_KEY_ID and "
        "AIDEVOPS_DYNAMODB_SECRET_ACCESS_KEY, or the AWS credential chain"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(_join_dash_values(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return _run(args)
    except StorageUnavailable as exc:
        print(f"aidevops: error: {exc}{_storage_hint(args)}", file=sys.stderr)
        return 2
    except BrokerUnavailable as exc:
        hint = ""
        if args.command == "tail":
            hint = (
                "; start the local stack with 'aidevops up', or pass --bootstrap or set "
                "AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS"
            )
        print(f"aidevops: error: {exc}{hint}", file=sys.stderr)
        return 2
    except (AidevopsError, ValueError) as exc:
        message = " ".join(str(exc).split())
        print(f"aidevops: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
