"""Every PromQL query of the Grafana dashboard, against a real Prometheus that scrapes a
running worker fed through the real receiver and broker."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from cli.local.broker import LocalBroker
from cli.local.process import free_port
from cli.local.prometheus import LocalPrometheus
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from tests.integration.stream.conftest import PARTITIONS, Topics, WorkerProcess
from tests.support.exporter import Exporter

pytestmark = pytest.mark.integration

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy/grafana/dashboards/aidevops.json"


def _query(prometheus: LocalPrometheus, expr: str, window: float = 0) -> dict[str, Any]:
    """An instant query, or with ``window`` seconds a range query as a Grafana graph runs."""
    if window:
        now = time.time()
        params = {"query": expr, "start": now - window, "end": now, "step": 1}
        url = f"{prometheus.url}/api/v1/query_range?" + urllib.parse.urlencode(params)
    else:
        url = f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as response:
        body: dict[str, Any] = json.load(response)
    return body


def _label_values(prometheus: LocalPrometheus, label: str, match: str) -> list[str]:
    query = urllib.parse.urlencode({"match[]": match})
    with urllib.request.urlopen(f"{prometheus.url}/api/v1/label/{label}/values?{query}") as r:
        values: list[str] = json.load(r)["data"]
    return values


async def _until(prometheus: LocalPrometheus, expr: str, what: str, timeout: float = 90) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if (await asyncio.to_thread(_query, prometheus, expr))["data"]["result"]:
            return
        await asyncio.sleep(1)
    raise AssertionError(f"{what}: {expr} stayed empty\n{prometheus.log_tail()}")


async def test_every_dashboard_query_returns_data(
    broker: LocalBroker,
    topics: Topics,
    workers: list[WorkerProcess],
    logs_dir: Path,
    tmp_path: Path,
) -> None:
    worker = WorkerProcess(broker, topics, logs_dir).start()
    workers.append(worker)
    settings = ReceiverSettings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        samples_topic=topics.samples,
        samples_partitions=PARTITIONS,
    )
    receiver = TestServer(create_app(settings), host="127.0.0.1", port=free_port())
    await receiver.start_server()
    exporter = Exporter()
    await exporter.start()
    target = exporter.target
    config = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: exporter
    static_configs: [{{targets: ["{target}"]}}]
  - job_name: aidevops-workers
    honor_labels: true
    static_configs: [{{targets: ["127.0.0.1:{worker.port}"]}}]
  - job_name: aidevops-receiver
    static_configs: [{{targets: ["127.0.0.1:{receiver.port}"]}}]
remote_write:
  - url: http://127.0.0.1:{receiver.port}/api/v1/write
    queue_config: {{batch_send_deadline: 500ms, min_backoff: 100ms, max_backoff: 1s}}
"""
    prometheus = LocalPrometheus(config, tmp_path / "prometheus")
    await asyncio.to_thread(prometheus.start)
    try:
        await _until(prometheus, 'anomaly_score{metric="test_scrapes"}', "scores scraped back")
        await exporter.close()  # the target goes down: up == 0 is an outage alert
        await _until(prometheus, 'anomaly_alert{metric="up", reason="outage"}', "outage alert")
        await asyncio.sleep(3)  # a few more scrapes for the rate() queries

        dashboard = json.loads(DASHBOARD.read_text())
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        # The variables a Telegram link fills (var-tenant, var-metric, var-job, var-instance),
        # each listing what anomaly_score carries, narrowed by the ones before it.
        assert list(variables) == ["tenant", "metric", "job", "instance"]
        assert _label_values(prometheus, "tenant", "anomaly_score") == ["default"]
        metrics = _label_values(prometheus, "metric", 'anomaly_score{tenant=~"default"}')
        assert "test_scrapes" in metrics and "up" in metrics
        chosen = 'anomaly_score{tenant=~"default", metric="test_scrapes"'
        assert _label_values(prometheus, "job", chosen + "}") == ["exporter"]
        instances = _label_values(prometheus, "instance", chosen + ', job=~"exporter"}')
        assert instances == [target]

        targets = [t for p in dashboard["panels"] for t in p["targets"]]
        assert len(targets) >= 6
        # As "All" selects them, then as an alert's link fills them.
        for values in (
            {"$tenant": ".*", "$metric": "test_scrapes", "$job": ".*", "$instance": ".*"},
            {
                "$tenant": "default",
                "$metric": "test_scrapes",
                "$job": "exporter",
                "$instance": target,
            },
        ):
            for target_ in targets:
                concrete = target_["expr"]
                for name, value in values.items():
                    concrete = concrete.replace(name, value)
                assert "$" not in concrete, concrete
                window = 0 if target_.get("instant") else 120
                answer = await asyncio.to_thread(_query, prometheus, concrete, window)
                assert answer["status"] == "success", concrete
                assert answer["data"]["result"], f"no data for {concrete}"
    finally:
        await asyncio.to_thread(prometheus.stop)
        await exporter.close()
        await receiver.close()
