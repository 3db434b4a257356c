"""``aidevops up``: the whole pipeline on this machine, on embedded defaults.

Starts the Kafka-compatible broker and DynamoDB Local (installed on first use, data kept
under ``--data-dir``), the receiver in this process, and a worker, the DynamoDB sink, the
read API and the notifier as child processes. Prints what to paste into prometheus.yml and
stops everything, by PID, on Ctrl-C. Alerts go to this console unless
``AIDEVOPS_TELEGRAM_BOT_TOKEN`` is set.

Nothing starts unless everything can: the settings of every process and every port are
checked first, and when a later start fails, what was started is stopped by PID. The
endpoints are recorded in ``<data dir>/stack.json`` (:mod:`cli.local.record`) so that the
operator commands find this stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from aiohttp import web
from pydantic_settings import BaseSettings

from aidevops.errors import LocalServiceError
from aidevops.kafka.topics import ensure_topics
from cli.config import load_settings
from cli.local.broker import LocalBroker
from cli.local.demo import DEMO_ENV, run_demo
from cli.local.dynamodb import LocalDynamoDB
from cli.local.ports import PortClaim, check_ports
from cli.local.process import ManagedProcess, wait_for_port
from cli.local.record import RECORD_NAME, StackRecord, read_record, remove_record
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from stream.worker.settings import WorkerSettings

__all__ = ["run_stack"]

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 120.0


def _child(name: str, args: list[str], logs: Path, echo: bool = False) -> ManagedProcess:
    return ManagedProcess(
        name,
        [sys.executable, "-m", "cli.main", *args],
        logs / f"{name}.log",
        echo=sys.stdout if echo else None,
    )


def _first_problem(child: ManagedProcess) -> str:
    lines = [line for line in child.log_tail(4000).splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def _wait_ready(children: Sequence[ManagedProcess], ports: dict[str, int]) -> None:
    """Until every child with a port listens; raise naming a child that exited."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    for child in children:
        port = ports.get(child.name)
        if port is None or child.proc is None:
            continue
        try:
            wait_for_port("127.0.0.1", port, max(deadline - time.monotonic(), 1.0), child.proc)
        except LocalServiceError:
            if child.running():
                raise LocalServiceError(
                    f"{child.name} did not listen on port {port} within "
                    f"{READY_TIMEOUT_SECONDS:.0f}s (log: {child.log_path})"
                ) from None
    for child in children:
        if not child.running():
            status = child.proc.returncode if child.proc else "?"
            raise LocalServiceError(
                f"{child.name} exited with status {status}: {_first_problem(child)} "
                f"(log: {child.log_path})"
            )


async def _watch(children: Sequence[ManagedProcess], stop: asyncio.Event) -> str | None:
    """Until ``stop``: the problem of the first child that exits (then ``stop`` is set)."""
    while not stop.is_set():
        for child in children:
            if not child.running():
                status = child.proc.returncode if child.proc else "?"
                stop.set()
                return (
                    f"{child.name} exited with status {status}: {_first_problem(child)} "
                    f"(log: {child.log_path}); stopped everything"
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.5)
    return None


def run_stack(
    data_dir: Path,
    receiver_port: int,
    broker_port: int,
    worker_port: int = 6066,
    api_port: int = 9202,
    demo: bool = False,
    settings_classes: Sequence[type[BaseSettings]] = (),
    say: Callable[[str], None] = lambda text: print(text, flush=True),
) -> int:
    """Run until SIGINT/SIGTERM; return the exit status. ``demo`` adds :mod:`.demo`.

    ``settings_classes`` are validated from the environment before anything starts (the
    children read them there). Raises :class:`~aidevops.errors.AidevopsError` (one line)
    when something cannot start; what was started is stopped by then.
    """
    data_dir = data_dir.resolve()
    logs = data_dir / "logs"
    # Whatever serves HTTP in this process, its access log would bury the banner and alerts.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    record_path = data_dir / RECORD_NAME
    # -- everything that can fail before a process starts -----------------------------------
    for cls in settings_classes:
        load_settings(cls)
    running = read_record(record_path)
    if running is not None:
        raise LocalServiceError(
            f"another aidevops up (pid {running.pid}) runs with data dir {data_dir}: stop it "
            "(Ctrl-C in its terminal) or give this one another --data-dir and ports"
        )
    check_ports(
        [
            PortClaim("receiver", "127.0.0.1", receiver_port, "--port"),
            PortClaim("broker", "127.0.0.1", broker_port, "--broker-port"),
            PortClaim("worker /metrics", "127.0.0.1", worker_port, "--worker-port"),
            PortClaim("read API", "127.0.0.1", api_port, "--api-port"),
        ]
    )
    receiver_settings = load_settings(
        ReceiverSettings,
        kafka_bootstrap_servers=f"127.0.0.1:{broker_port}",
        receiver_host="127.0.0.1",
        receiver_port=receiver_port,
    )
    (data_dir / "dynamodb").mkdir(parents=True, exist_ok=True)
    # -- start, stopping by PID whatever was started when a later step fails -------------------
    say(f">> starting the Kafka-compatible broker (logs in {logs})")
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(LocalBroker(logs, port=broker_port))
        say(">> starting DynamoDB Local (downloaded on first use)")
        dynamodb = stack.enter_context(LocalDynamoDB(logs, db_path=data_dir / "dynamodb"))
        worker_settings = load_settings(
            WorkerSettings, kafka_bootstrap_servers=broker.bootstrap_servers
        )
        topics = (
            worker_settings.samples_topic,
            worker_settings.scores_topic,
            worker_settings.alerts_topic,
            worker_settings.checkpoint_topic,
        )
        asyncio.run(
            ensure_topics(
                broker.bootstrap_servers, {t: worker_settings.samples_partitions for t in topics}
            )
        )
        # Children read their settings from the environment, like in production.
        shared = {
            "AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "AIDEVOPS_DYNAMODB_ENDPOINT_URL": dynamodb.endpoint_url,
            "AIDEVOPS_DYNAMODB_ACCESS_KEY_ID": "local",
            "AIDEVOPS_DYNAMODB_SECRET_ACCESS_KEY": "local",
        }
        os.environ.update(shared)
        os.environ.update(
            {
                "AIDEVOPS_NOTIFY_SENT_LOG_PATH": str(data_dir / "sent-log.jsonl"),
                "PTB_TIMEDELTA": "true",
            }
        )
        os.environ.setdefault("AIDEVOPS_WORKER_HOST", "127.0.0.1")
        # The broker keeps everything in memory: detector snapshots in the data directory
        # are what a restarted stack resumes from, instead of warming every series up again.
        os.environ.setdefault("AIDEVOPS_SNAPSHOT_URL", str(data_dir / "snapshots"))
        os.environ.setdefault("AIDEVOPS_SNAPSHOT_INTERVAL_SECONDS", "60")
        # The local broker holds a new group's first join for half the session timeout
        # (measured: 3 s at 6 s, 15 s at the default 30 s, 30 s at 60 s, whatever the
        # rebalance timeout), so at the default the stack scored nothing for its first 17 s.
        # One worker on this machine needs no long session; 6 s also notices a dead one sooner.
        os.environ.setdefault("AIDEVOPS_BROKER_SESSION_TIMEOUT_SECONDS", "6")
        if demo:
            os.environ.update(DEMO_ENV)
        if not os.environ.get("AIDEVOPS_TELEGRAM_BOT_TOKEN"):
            # Without a bot, alerts are printed by the notifier: give them a chat to go to.
            if "AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID" not in os.environ:
                os.environ["AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID"] = "console"
                shared["AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID"] = "console"
        children = [
            _child("worker", ["worker", "--port", str(worker_port)], logs),
            _child("sink", ["sink"], logs),
            _child("api", ["api", "--host", "127.0.0.1", "--port", str(api_port)], logs),
            # Its standard output is the alerts printed without a bot: show them here.
            _child("notify", ["notify"], logs, echo=True),
        ]
        for child in children:
            stack.callback(child.stop)
            child.start()
        say(">> waiting for the worker, sink, read API and notifier")
        _wait_ready(children, {"worker": worker_port, "api": api_port})
        base = f"http://127.0.0.1:{receiver_port}"
        api = f"http://127.0.0.1:{api_port}"
        StackRecord(
            pid=os.getpid(),
            data_dir=str(data_dir),
            env=shared,
            endpoints={"receiver": base, "api": api, "worker": f"http://127.0.0.1:{worker_port}"},
        ).write(record_path)
        stack.callback(remove_record, record_path, os.getpid())
        pids = "  ".join(f"{c.name} {c.pid}" for c in children)
        elsewhere = "" if data_dir == Path("data").resolve() else f" --stack {record_path}"
        # The command as the user can type it: on PATH, or the virtualenv's script.
        exe = "aidevops"
        if shutil.which(exe) is None:
            script = Path(sys.executable).parent / exe
            exe = os.path.relpath(script) if script.is_relative_to(Path.cwd()) else str(script)
        banner = f"""
  broker (Kafka API)   {broker.bootstrap_servers}   pid {broker.pid}
  DynamoDB Local       {dynamodb.endpoint_url}   pid {dynamodb.pid}
  receiver             {base}/api/v1/write   (metrics {base}/metrics, ready {base}/readyz)
  worker               http://127.0.0.1:{worker_port}/metrics
  scores API           {api}/api/v1/series/<series id>/scores
  console              http://localhost:{api_port}/console
  child processes      {pids}   (logs in {logs})
  alerts               printed here (set AIDEVOPS_TELEGRAM_BOT_TOKEN for Telegram)

Add this to prometheus.yml and reload Prometheus:

  remote_write:
    - url: {base}/api/v1/write
      write_relabel_configs:  # the platform's own metrics: never scored, not worth sending
        - {{source_labels: [__name__], regex: "(anomaly|aidevops)_.*", action: drop}}
  scrape_configs:
    - job_name: aidevops-workers
      honor_labels: true
      static_configs: [{{targets: ["127.0.0.1:{worker_port}"]}}]

From another terminal here, the commands find this stack ({record_path}):
  {exe}{elsewhere} series
  {exe}{elsewhere} scores 'node_load1{{job="node"}}' --since -2h
  {exe}{elsewhere} tail scores -n 3
Ctrl-C stops everything.
"""

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            # Access logs would bury the banner and the alerts: the local stack has none.
            runner = web.AppRunner(
                create_app(receiver_settings),
                shutdown_timeout=receiver_settings.shutdown_timeout_seconds,
                access_log=None,
            )
            await runner.setup()
            try:
                site = web.TCPSite(runner, "127.0.0.1", receiver_port)
                try:
                    await site.start()
                except OSError as exc:
                    raise LocalServiceError(
                        f"port {receiver_port} (receiver): {exc.strerror}; "
                        "choose another port with --port"
                    ) from None
                say(banner)
                watch = asyncio.create_task(_watch(children, stop))
                if demo:
                    await run_demo(stop, receiver_port, worker_port, data_dir, say=say)
                problem = await watch
                if problem is not None:
                    raise LocalServiceError(problem)
            finally:
                await runner.cleanup()

        try:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(main())
        finally:
            say(">> stopping")
    return 0
