"""``aidevops demo``: the pipeline with something to watch.

A built-in target serves node-exporter-style metrics (load, CPU, memory) with noise. A real
Prometheus scrapes it and remote-writes to the receiver when one is installed; otherwise a
generator in this process remote-writes the same metrics. After the detectors' warm-up the
demo injects an anomaly (the load jumps and stays high), prints the score as it rises;
the alert the notifier sends reaches the console (unless a Telegram bot token is set).

Demo settings, stated on screen: one scrape a second, a 130-point warm-up and an alert on
the first point scoring above 0.5, so the loop completes in about three minutes. A series
this young is judged mostly by the calibration prior (what ordinary series do): in two runs
the pretend host's noise peaked at 0.04 and 0.17 and the five-fold jump at 0.75 and 0.73,
about as high as a series with so little history can score. Production defaults: 256
points, 3 above 0.4.
"""

from __future__ import annotations

import asyncio
import math
import random
import shutil
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import aiohttp
import snappy
from aiohttp import web

from aidevops.pb import remote_write_v1_pb2 as rw1
from cli.local.process import free_port
from cli.local.prometheus import LocalPrometheus

__all__ = ["DEMO_ENV", "DemoTarget", "run_demo"]

WARMUP = 130
DEMO_ENV = {
    "AIDEVOPS_DETECTOR_WARMUP": str(WARMUP),
    "AIDEVOPS_ALERT_FIRE_THRESHOLD": "0.5",
    "AIDEVOPS_ALERT_FIRE_POINTS": "1",
    "AIDEVOPS_ALERT_GROUP_WAIT_SECONDS": "0",
}
INSTANCE = "demo-host:9100"


class DemoTarget:
    """The metrics of one pretend host; ``anomaly`` multiplies its load by five."""

    def __init__(self, seed: int = 7):
        self.rng = random.Random(seed)
        self.anomaly = False
        self.cpu_seconds = {("0", "user"): 1000.0, ("0", "idle"): 5000.0}

    def sample(self) -> dict[tuple[tuple[str, str], ...], float]:
        """One scrape's values, keyed by sorted label pairs (``__name__`` included)."""
        load = 0.8 + 0.1 * math.sin(time.time() / 60) + self.rng.gauss(0, 0.03)
        busy = 0.2 + self.rng.gauss(0, 0.02)
        if self.anomaly:
            load, busy = load * 5, 0.95
        self.cpu_seconds[("0", "user")] += busy
        self.cpu_seconds[("0", "idle")] += 1 - busy
        out: dict[tuple[tuple[str, str], ...], float] = {
            (("__name__", "node_load1"),): max(load, 0.0),
            (("__name__", "node_memory_MemAvailable_bytes"),): 4e9 + self.rng.gauss(0, 2e7),
        }
        for (cpu, mode), value in self.cpu_seconds.items():
            out[(("__name__", "node_cpu_seconds_total"), ("cpu", cpu), ("mode", mode))] = value
        return out

    def exposition(self) -> str:
        lines = []
        for labels, value in self.sample().items():
            name = labels[0][1]
            rest = ",".join(f'{k}="{v}"' for k, v in labels[1:])
            lines.append(f"{name}{{{rest}}} {value}" if rest else f"{name} {value}")
        return "\n".join(lines) + "\n"

    def remote_write(self, job: str) -> bytes:
        """The same sample as a snappy-compressed remote-write 1.0 request."""
        now = int(time.time() * 1000)
        request = rw1.WriteRequest()
        for labels, value in self.sample().items():
            series = request.timeseries.add()
            pairs = sorted([*labels, ("instance", INSTANCE), ("job", job)])
            for name, label_value in pairs:
                series.labels.add(name=name, value=label_value)
            series.samples.add(value=value, timestamp=now)
        data: bytes = snappy.compress(request.SerializeToString())
        return data


def _score(worker_port: int) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker_port}/metrics", timeout=2) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("anomaly_score{") and 'metric="node_load1"' in line:
                    return float(line.rsplit(" ", 1)[1])
    except OSError:
        return None
    return None


async def _generate(target: DemoTarget, receiver_url: str, stop: asyncio.Event) -> None:
    headers = {
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "snappy",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
    }
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            try:
                body = target.remote_write("demo")
                async with session.post(receiver_url, data=body, headers=headers) as response:
                    await response.read()
            except aiohttp.ClientError:
                pass  # the receiver is still starting
            await asyncio.sleep(1.0)


async def run_demo(
    stop: asyncio.Event,
    receiver_port: int,
    worker_port: int,
    data_dir: Path,
    say: Callable[[str], None] = print,
) -> None:
    """Drive the demo until ``stop`` is set (the stack runs meanwhile).

    The notifier's alerts reach the console by themselves (``aidevops up`` shows its
    standard output), so the demo only reports the score.
    """
    target = DemoTarget()
    receiver_url = f"http://127.0.0.1:{receiver_port}/api/v1/write"
    prometheus: LocalPrometheus | None = None
    runner: web.AppRunner | None = None
    generator: asyncio.Task[None] | None = None
    if shutil.which("prometheus"):
        app = web.Application()

        async def metrics(request: web.Request) -> web.Response:
            return web.Response(text=target.exposition(), content_type="text/plain")

        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None)  # a scrape a second would bury the rest
        await runner.setup()
        target_port = free_port()
        await web.TCPSite(runner, "127.0.0.1", target_port).start()
        config = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: demo
    static_configs: [{{targets: ["127.0.0.1:{target_port}"]}}]
remote_write:
  - url: {receiver_url}
    queue_config: {{batch_send_deadline: 1s}}
"""
        prometheus = LocalPrometheus(config, data_dir / "demo-prometheus")
        await asyncio.to_thread(prometheus.start)
        say(f">> demo: a real Prometheus ({prometheus.url}) scrapes a pretend host every second")
    else:
        generator = asyncio.create_task(_generate(target, receiver_url, stop))
        say(">> demo: Prometheus is not installed; a generator remote-writes a pretend host")
    say(
        f">> demo settings: {WARMUP}-point warm-up, alert on the first point above 0.5 "
        "(production: 256 points, 3 above 0.4)"
    )
    started = time.monotonic()
    peak: float | None = None
    next_report = 0.0
    try:
        while not stop.is_set():
            elapsed = time.monotonic() - started
            if not target.anomaly and elapsed > WARMUP + 30:
                target.anomaly = True
                say(">> demo: injecting an anomaly: the load of the pretend host jumps five-fold")
            score = await asyncio.to_thread(_score, worker_port)
            if score is not None:
                peak = score if peak is None else max(peak, score)
            if elapsed >= next_report:
                next_report = elapsed + 10
                shown = "no score yet" if peak is None else f"peak anomaly_score {peak:.2f}"
                phase = "anomaly injected" if target.anomaly else "normal"
                say(f"   [{elapsed:4.0f}s] node_load1: {shown} in the last 10 s ({phase})")
                peak = None
            try:
                await asyncio.wait_for(stop.wait(), timeout=1)
            except TimeoutError:
                pass
    finally:
        if generator is not None:
            generator.cancel()
        if prometheus is not None:
            await asyncio.to_thread(prometheus.stop)
        if runner is not None:
            await runner.cleanup()
