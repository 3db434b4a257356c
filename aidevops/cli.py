"""The ``aidevops`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from aidevops import __version__
from aidevops.errors import AidevopsError
from aidevops.settings import ENV_PREFIX, KafkaSettings, ReceiverSettings, WorkerSettings

__all__ = ["main"]


def _settings_help(cls: type[KafkaSettings]) -> str:
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
        from stream.worker import run_worker

        worker_overrides = {"worker_port": args.port} if args.port else {}
        run_worker(WorkerSettings(**worker_overrides), loglevel=args.log_level.upper())
        return 0
    if args.command == "backtest":
        from stream.detection.backtest import main as backtest_main

        return backtest_main([args.file, *(["--counter"] if args.counter else [])])
    if args.command == "tail":
        from aidevops.tail import tail

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
        from aidevops.local.stack import run_stack

        return run_stack(args.data_dir, args.port, args.broker_port)
    raise AssertionError(args.command)


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
