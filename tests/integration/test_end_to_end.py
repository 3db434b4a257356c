"""End to end with real parts: node-exporter and Prometheus 2.42 -> receiver -> broker ->
worker -> DynamoDB Local (sink) and a Telegram Bot API stand-in (notifier), and the scores
scraped back by Prometheus. The injected fault is node-exporter killed by the test:
Prometheus' up{job="node"} drops to 0.

A CPU burner was tried first; on this 2-core machine, with the rest of the pipeline
competing for the same cores and only two minutes of history per series, its effect on the
cpu series' scores was not reliable enough to assert on.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import os
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from aidevops.kafka.topics import ensure_topics
from aidevops.pb import samples_pb2, scores_pb2
from cli.local.broker import LocalBroker
from cli.local.dynamodb import LocalDynamoDB
from cli.local.process import ManagedProcess, free_port, wait_for_port
from cli.local.prometheus import LocalPrometheus
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from stream.storage.settings import StorageSettings
from stream.storage.store import Storage
from tests.integration.stream.conftest import PARTITIONS, Topics, WorkerProcess
from tests.support.kafka import consume_scores
from tests.support.telegram_standin import TelegramStandin

pytestmark = pytest.mark.integration

TOKEN = "424242:END-to-end-token"
_runs = itertools.count()


def _is_target(batch: scores_pb2.ScoreBatch) -> bool:
    labels = {label.name: label.value for label in batch.labels}
    return (
        labels.get("__name__") == "node_cpu_seconds_total"
        and labels.get("cpu") == "1"
        and (labels.get("mode") == "user")
    )


def _name(batch: scores_pb2.ScoreBatch) -> str:
    return next((label.value for label in batch.labels if label.name == "__name__"), "")


def _query(prometheus: LocalPrometheus, expr: str) -> list[object]:
    url = f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as response:
        result: list[object] = json.load(response)["data"]["result"]
    return result


async def _eventually(check: object, what: str, timeout: float, logs: list[Path]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(2)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in logs)
    raise AssertionError(f"timed out: {what}\n{tails}")


@pytest.mark.timeout(600)
async def test_node_exporter_fault_reaches_dynamodb_prometheus_and_telegram(
    broker: LocalBroker, dynamodb: LocalDynamoDB, logs_dir: Path, tmp_path: Path
) -> None:
    n = next(_runs)
    topics = Topics(f"e{n}-samples", f"e{n}-scores", f"e{n}-alerts", f"e{n}-ckpt", f"e{n}-g")
    await ensure_topics(
        broker.bootstrap_servers,
        {t: PARTITIONS for t in (topics.samples, topics.scores, topics.alerts, topics.checkpoints)},
    )
    storage_settings = StorageSettings(
        dynamodb_endpoint_url=dynamodb.endpoint_url,
        dynamodb_table_prefix=f"e2e{n}",
        dynamodb_access_key_id="local",
        dynamodb_secret_access_key="local",  # type: ignore[arg-type]
        scores_bucket_seconds=60,
        sink_close_grace_seconds=0,
    )
    started_ms = int(time.time() * 1000)
    env = {
        **os.environ,
        "PTB_TIMEDELTA": "true",
        "AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "AIDEVOPS_SCORES_TOPIC": topics.scores,
        "AIDEVOPS_ALERTS_TOPIC": topics.alerts,
        "AIDEVOPS_DYNAMODB_ENDPOINT_URL": dynamodb.endpoint_url,
        "AIDEVOPS_DYNAMODB_TABLE_PREFIX": storage_settings.dynamodb_table_prefix,
        "AIDEVOPS_DYNAMODB_ACCESS_KEY_ID": "local",
        "AIDEVOPS_DYNAMODB_SECRET_ACCESS_KEY": "local",
        "AIDEVOPS_SCORES_BUCKET_SECONDS": "60",
        "AIDEVOPS_SINK_CLOSE_GRACE_SECONDS": "0",
        "AIDEVOPS_SINK_COMMIT_INTERVAL_SECONDS": "1",
        "AIDEVOPS_SINK_GROUP_ID": f"e{n}-sink",
        "AIDEVOPS_NOTIFY_GROUP_ID": f"e{n}-notify",
        "AIDEVOPS_NOTIFY_SENT_LOG_PATH": str(tmp_path / "sent.jsonl"),
        "AIDEVOPS_ALERT_GROUP_WAIT_SECONDS": "0",
        "AIDEVOPS_TELEGRAM_BOT_TOKEN": TOKEN,
        "AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID": "-1001",
    }
    exporter_port = free_port()
    node_exporter = ManagedProcess(
        "node-exporter",
        [
            "prometheus-node-exporter",
            f"--web.listen-address=127.0.0.1:{exporter_port}",
            "--collector.disable-defaults",
            "--collector.cpu",
            "--collector.loadavg",
            "--collector.meminfo",
        ],
        logs_dir / f"node-exporter-{n}.log",
    )
    children: list[ManagedProcess] = [node_exporter]
    async with TelegramStandin(TOKEN) as standin:
        env["AIDEVOPS_TELEGRAM_API_URL"] = standin.base_url
        for name in ("sink", "notify"):
            children.append(
                ManagedProcess(
                    name,
                    [sys.executable, "-m", "cli.main", name],
                    logs_dir / f"e2e-{n}-{name}.log",
                )
            )
        worker = WorkerProcess(broker, topics, logs_dir)
        receiver = TestServer(
            create_app(
                ReceiverSettings(
                    kafka_bootstrap_servers=broker.bootstrap_servers,
                    samples_topic=topics.samples,
                    samples_partitions=PARTITIONS,
                )
            ),
            host="127.0.0.1",
            port=free_port(),
        )
        config = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ["127.0.0.1:{exporter_port}"]}}]
  - job_name: aidevops-workers
    honor_labels: true
    static_configs: [{{targets: ["127.0.0.1:{worker.port}"]}}]
remote_write:
  - url: http://127.0.0.1:{receiver.port}/api/v1/write
    queue_config: {{batch_send_deadline: 500ms, min_backoff: 100ms, max_backoff: 1s}}
    # Metadata comes apart from samples (every minute by default): the first samples of
    # every series reach the pipeline before their type does.
    metadata_config: {{send_interval: 10s}}
"""
        prometheus = LocalPrometheus(config, tmp_path / "prometheus")
        logs = [worker.log_path, *(c.log_path for c in children[1:])]
        try:
            old_env = dict(os.environ)
            os.environ.update(env)  # ManagedProcess children inherit the environment
            try:
                for child in children:
                    child.start()
            finally:
                os.environ.clear()
                os.environ.update(old_env)
            wait_for_port("127.0.0.1", exporter_port, 15, node_exporter.proc)  # type: ignore[arg-type]
            worker.start()
            await receiver.start_server()
            await asyncio.to_thread(prometheus.start)

            # 1. Scores of node-exporter series are scraped back by Prometheus.
            async def scraped_back() -> bool:
                return bool(
                    await asyncio.to_thread(_query, prometheus, 'anomaly_score{job="node"}')
                )

            await _eventually(scraped_back, "anomaly_score{job=node} in Prometheus", 90, logs)
            print(f"scraped back after {time.time() - started_ms / 1000:.0f}s", flush=True)

            # 2. Pick a node-exporter series to look up in DynamoDB later.
            target: list[scores_pb2.ScoreBatch] = []

            async def seen() -> bool:
                batches = await consume_scores(
                    broker.bootstrap_servers, topics.scores, 1, timeout=3, settle=0.2
                )
                target[:] = [b for b in batches if _is_target(b)]
                return bool(target)

            await _eventually(seen, "scores of node_cpu_seconds_total{cpu=1}", 60, logs)
            series_id = target[0].series_id

            # 2b. A declared gauge first seen before its metadata: taken for an untyped
            #     counter at first, a gauge (scored on its value) once the metadata came.
            memory: list[scores_pb2.ScoreBatch] = []

            async def retyped() -> bool:
                batches = await consume_scores(
                    broker.bootstrap_servers, topics.scores, 1, timeout=3, settle=0.2
                )
                memory[:] = [b for b in batches if _name(b) == "node_memory_MemAvailable_bytes"]
                return bool(memory) and memory[-1].metric_type == samples_pb2.METRIC_TYPE_GAUGE

            await _eventually(retyped, "MemAvailable scored as the gauge it is", 60, logs)
            assert memory[0].metric_type == samples_pb2.METRIC_TYPE_UNSPECIFIED
            assert [p.feature for p in memory[-1].points] == [p.value for p in memory[-1].points]

            # 3. The injected fault: the scraped target goes down. up == 0 is an outage
            #    alert at once (independent of the model), delivered to Telegram.
            before = len(standin.delivered())
            node_exporter.stop()

            def plain(text: str) -> str:
                return html.unescape(text)  # messages are HTML: quotes arrive as &quot;

            def outage_of_node(text: str) -> bool:
                body = plain(text)
                return "FIRING" in body and "outage" in body and 'job="node"' in body

            async def alerted() -> bool:
                return any(outage_of_node(r.params["text"]) for r in standin.delivered()[before:])

            await _eventually(alerted, "a FIRING outage notification for node", 120, logs)
            print(f"alerted after {time.time() - started_ms / 1000:.0f}s", flush=True)
            message = next(
                r for r in standin.delivered()[before:] if outage_of_node(r.params["text"])
            )
            assert message.params["chat_id"] == "-1001"
            assert message.params["parse_mode"] == "HTML"
            assert TOKEN not in plain(message.params["text"])

            # 4. The scores are in DynamoDB, queryable per series.
            storage = await asyncio.to_thread(Storage.from_settings, storage_settings)
            try:

                async def stored() -> bool:
                    points = await asyncio.to_thread(
                        storage.read_scores, series_id, started_ms, int(time.time() * 1000)
                    )
                    return len(points) > 0

                await _eventually(stored, "scores of the cpu series in DynamoDB", 180, logs)
            finally:
                storage.close()
        finally:
            await asyncio.to_thread(prometheus.stop)
            await receiver.close()
            worker.stop()
            for child in children:
                child.stop()
