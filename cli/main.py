"""The ``aidevops`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from aidevops import __version__
from aidevops.errors import AidevopsError
from aidevops.settings import ENV_PREFIX, KafkaSettings
from receiver.settings import ReceiverSettings
from stream.api.settings import ApiSettings
from stream.notifier.settings import NotifierSettings
from stream.sink.settings import SinkSettings
from stream.storage.settings import StorageSettings
from stream.worker.settings import WorkerSettings

__all__ = ["PROCESS_SETTINGS", "main"]

PROCESS_SETTINGS: dict[str, type[BaseSettings]] = {
    "receiver": ReceiverSettings,
    "worker": WorkerSettings,
    "sink": SinkSettings,
    "api": ApiSettings,
    "notify": NotifierSettings,
    "dynamodb": StorageSettings,
}
"""The settings object each command reads (its ``--help`` lists them)."""


def _settings_help(cls: type[BaseSettings]) -> str:
    lines = [f"environment ({cls.__name__}):"]
    for name, info in cls.model_fields.items():
        default = "" if info.default is None else f" [default: {info.default}]"
        lines.append(f"  {ENV_PREFIX}{name.upper():<34}{info.description or ''}{default}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aidevops",
        description="Online anomaly detection for every Prometheus metric.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    sub = parser.add_subparsers(dest="command", required=True)

    rec = sub.add_parser(
        "receiver",
        help="serve Prometheus remote-write and publish to Kafka",
        epilog=_settings_help(ReceiverSettings),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rec.add_argument("--host", help="listen address (AIDEVOPS_RECEIVER_HOST)")
    rec.add_argument("--port", type=int, help="listen port (AIDEVOPS_RECEIVER_PORT)")

    work = sub.add_parser(
        "worker",
        help="score samples: per-series detectors, alert policy, /metrics",
        epilog=_settings_help(WorkerSettings),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    work.add_argument("--port", type=int, help="web port for /metrics (AIDEVOPS_WORKER_PORT)")

    back = sub.add_parser(
        "backtest", help="score a CSV of timestamp,value rows with the production detector"
    )
    back.add_argument("file", help="CSV with a timestamp,value header")
    back.add_argument("--counter", action="store_true", help="the values are a counter")

    sub.add_parser(
        "sink",
        help="write scores and alerts from Kafka to DynamoDB",
        epilog=_settings_help(SinkSettings),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    api = sub.add_parser(
        "api",
        help="serve stored scores and alerts over HTTP",
        epilog=_settings_help(ApiSettings),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    api.add_argument("--host", help="listen address (AIDEVOPS_API_HOST)")
    api.add_argument("--port", type=int, help="listen port (AIDEVOPS_API_PORT)")

    sub.add_parser(
        "notify",
        help="deliver alerts from Kafka to Telegram (console without a token)",
        epilog=_settings_help(NotifierSettings),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    dyn = sub.add_parser("dynamodb", help="DynamoDB tables")
    dyn_sub = dyn.add_subparsers(dest="dynamodb_command", required=True)
    dyn_sub.add_parser("init", help="create the tables that are missing")

    scores = sub.add_parser("scores", help="a series' stored scores and recent alerts")
    scores.add_argument("series", help="series id, 16 hex digits")
    scores.add_argument("--since", default="-1h", help="epoch ms, RFC 3339, now, or -2h")
    scores.add_argument("--until", default="now")
    scores.add_argument("--tenant", default="default")
    scores.add_argument("--json", action="store_true", help="print JSON")

    alerts = sub.add_parser("alerts", help="alert recipients and a test message")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    recipients = alerts_sub.add_parser("recipients", help="Telegram chats per tenant and route")
    rec_sub = recipients.add_subparsers(dest="recipients_command", required=True)
    add = rec_sub.add_parser("add", help="route a tenant's alerts (matching labels) to a chat")
    add.add_argument("tenant")
    add.add_argument("chat_id")
    add.add_argument(
        "--match", action="append", default=[], help='label matcher, e.g. job=~"api.*"'
    )
    lst = rec_sub.add_parser("list", help="a tenant's routes")
    lst.add_argument("tenant")
    rm = rec_sub.add_parser("remove", help="delete a route")
    rm.add_argument("tenant")
    rm.add_argument("route_id")
    test = alerts_sub.add_parser("test", help="send a test message to every recipient")
    test.add_argument("--tenant", default="default")

    tail = sub.add_parser("tail", help="print a topic's messages as JSON lines")
    tail.add_argument("topic", help="topic name, e.g. samples, scores, alerts")
    tail.add_argument("--schema", choices=["samples", "scores", "alerts"], help="message type")
    tail.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS)"
    )
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest message")
    tail.add_argument("-n", "--limit", type=int, help="stop after this many messages")
    tail.add_argument("--idle-timeout", type=float, help="stop after this many idle seconds")

    up = sub.add_parser("up", help="run the whole pipeline locally on embedded defaults")
    up.add_argument("--data-dir", type=Path, default=Path("data"), help="logs and local state")
    up.add_argument("--port", type=int, default=9201, help="receiver port")
    up.add_argument("--broker-port", type=int, default=9092, help="local broker port")
    demo = sub.add_parser(
        "demo", help="the pipeline plus a pretend host with an injected anomaly, to watch"
    )
    demo.add_argument("--data-dir", type=Path, default=Path("data"), help="logs and state")
    demo.add_argument("--port", type=int, default=9201, help="receiver port")
    demo.add_argument("--broker-port", type=int, default=9092, help="local broker port")
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.command == "receiver":
        from aiohttp import web

        from receiver.app import create_app

        overrides = {}
        if args.host:
            overrides["receiver_host"] = args.host
        if args.port:
            overrides["receiver_port"] = args.port
        settings = ReceiverSettings(**overrides)
        web.run_app(
            create_app(settings),
            host=settings.receiver_host,
            port=settings.receiver_port,
            shutdown_timeout=settings.shutdown_timeout_seconds,
            print=None,
        )
        return 0
    if args.command == "worker":
        from stream.worker.agents import run_worker

        worker_overrides = {"worker_port": args.port} if args.port else {}
        run_worker(WorkerSettings(**worker_overrides), loglevel=args.log_level.upper())
        return 0
    if args.command == "backtest":
        from stream.detection.backtest import main as backtest_main

        return backtest_main([args.file, *(["--counter"] if args.counter else [])])
    if args.command in ("sink", "api", "notify", "dynamodb", "scores", "alerts"):
        return _run_storage_and_alerts(args)
    if args.command == "tail":
        from cli.tail import tail

        bootstrap = args.bootstrap or KafkaSettings().kafka_bootstrap_servers
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
    if args.command == "up":
        from cli.local.stack import run_stack

        return run_stack(args.data_dir, args.port, args.broker_port)
    if args.command == "demo":
        from cli.local.stack import run_stack

        return run_stack(args.data_dir, args.port, args.broker_port, demo=True)
    raise AssertionError(args.command)


def _run_storage_and_alerts(args: argparse.Namespace) -> int:
    from cli import alerts as alert_commands
    from cli import storage as storage_commands
    from stream.storage.settings import StorageSettings

    if args.command == "sink":
        from stream.sink.main import serve_sink
        from stream.sink.settings import SinkSettings

        serve_sink(SinkSettings())
        return 0
    if args.command == "api":
        from stream.api.app import serve_api
        from stream.api.settings import ApiSettings

        overrides: dict[str, object] = {}
        if args.host:
            overrides["api_host"] = args.host
        if args.port:
            overrides["api_port"] = args.port
        serve_api(ApiSettings(**overrides))  # type: ignore[arg-type]
        return 0
    if args.command == "notify":
        from stream.notifier.main import serve_notifier
        from stream.notifier.settings import NotifierSettings

        serve_notifier(NotifierSettings())
        return 0
    storage = StorageSettings()
    if args.command == "dynamodb":
        for line in storage_commands.dynamodb_init(storage):
            print(line)
    elif args.command == "scores":
        print(
            storage_commands.print_scores(
                storage, args.series, args.since, args.until, args.tenant, args.json
            )
        )
    elif args.alerts_command == "test":
        from stream.notifier.settings import NotifierSettings

        lines, status = alert_commands.test_message(NotifierSettings(), args.tenant)
        for line in lines:
            print(line, file=sys.stderr if status and len(lines) == 1 else sys.stdout)
        return status
    elif args.recipients_command == "add":
        print(alert_commands.add_recipient(storage, args.tenant, args.chat_id, args.match))
    elif args.recipients_command == "list":
        for line in alert_commands.list_recipients(storage, args.tenant):
            print(line)
    elif not alert_commands.remove_recipient(storage, args.tenant, args.route_id):
        print(f"aidevops: no route {args.route_id} for tenant {args.tenant}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return _run(args)
    except (AidevopsError, ValidationError, ValueError) as exc:
        print(f"aidevops: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
