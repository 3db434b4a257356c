"""Ingest benchmark: remote-write samples/s per receiver core, end to end to the broker's ack.

    .venv/bin/python benchmarks/ingest.py [--seconds 10] [--concurrency 8]

The receiver under test is pinned to core 0 (``taskset``); the broker and this load
generator share core 1. Throughput counts only samples answered 2xx, i.e. acknowledged by
the broker (acks=all). The same load then goes to Prometheus' own receiver
(``prometheus --web.enable-remote-write-receiver``), pinned to core 0 as well, and the
ratio is printed. Besides wall-clock throughput, samples per CPU-second of the receiver
process are reported (from /proc), which does not depend on how busy core 1 is.

Every request carries new timestamps (the payload's timestamp varints are patched per
request), so Prometheus appends real samples rather than ignoring duplicates. Each
concurrent connection owns its own series, so every series' samples arrive in order, as
they do from Prometheus' own shards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import snappy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli.local.broker import LocalBroker  # noqa: E402
from cli.local.process import free_port, wait_for_port  # noqa: E402
from cli.local.prometheus import prometheus_binary  # noqa: E402
from aidevops.pb import remote_write_v1_pb2 as rw1  # noqa: E402

HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
T0 = 1_700_000_000_000
STEP_MS = 1  # keeps all connections within Prometheus' out-of-order window


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class Payload:
    """``series`` x ``samples`` x ``labels``, shaped like node-exporter data."""

    def __init__(self, series: int, samples: int, labels: int, owner: int = 0):
        self.series, self.samples = series, samples
        request = rw1.WriteRequest()
        for i in range(series):
            ts = request.timeseries.add()
            ts.labels.add(name="__name__", value=f"node_metric_{i % 60}_total")
            for j in range(labels - 1):
                value = f"value-{owner}-{i}-{j}.example.internal"
                ts.labels.add(name=f"label_{j:02d}", value=value)
            for k in range(samples):
                ts.samples.add(value=float(i + k), timestamp=T0 + k * STEP_MS)
        self.template = request.SerializeToString()
        # Each sample's timestamp is field 2 (tag 0x10) followed by a 6-byte varint.
        self.stamps = [b"\x10" + _varint(T0 + k * STEP_MS) for k in range(samples)]
        for stamp in self.stamps:
            if self.template.count(stamp) != series:
                raise RuntimeError("timestamp pattern is not unique in the template")

    def body(self, request_number: int) -> bytes:
        """The payload with every timestamp moved forward by ``request_number`` windows."""
        shift = request_number * self.samples * STEP_MS
        raw = self.template
        if shift:
            # Replace the latest stamps first so a shifted stamp is never replaced again.
            for k in reversed(range(self.samples)):
                new = b"\x10" + _varint(T0 + k * STEP_MS + shift)
                raw = raw.replace(self.stamps[k], new)
        data: bytes = snappy.compress(raw)
        return data


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(
    url: str, payloads: list[Payload], seconds: float, pid: int, first_request: int
) -> tuple[float, float, int, int]:
    """One connection per payload; each sends its own series, in timestamp order."""
    totals = {"ok": 0, "bad": 0}
    numbers = [first_request] * len(payloads)
    stop_at = 0.0

    async def worker(index: int, session: aiohttp.ClientSession, measuring: bool) -> None:
        payload = payloads[index]
        while time.monotonic() < stop_at:
            body = payload.body(numbers[index])
            numbers[index] += 1
            async with session.post(url, data=body, headers=HEADERS) as response:
                await response.read()
                if measuring:
                    totals["ok" if 200 <= response.status < 300 else "bad"] += 1

    connector = aiohttp.TCPConnector(limit=len(payloads))
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm up: the receiver learns the label sets, Prometheus creates the series.
        stop_at = time.monotonic() + 2.0
        await asyncio.gather(*(worker(i, session, False) for i in range(len(payloads))))
        cpu0, wall0 = _cpu_seconds(pid), time.monotonic()
        stop_at = wall0 + seconds
        await asyncio.gather(*(worker(i, session, True) for i in range(len(payloads))))
        wall = time.monotonic() - wall0
        cpu = _cpu_seconds(pid) - cpu0
    return wall, cpu, totals["ok"], totals["bad"]


def _wait_http(port: int, proc: subprocess.Popen[bytes], path: str) -> None:
    wait_for_port("127.0.0.1", port, 30, proc)

    async def ready() -> None:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                try:
                    async with session.get(f"http://127.0.0.1:{port}{path}") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{path} never answered 200")

    asyncio.run(ready())


def _measure(
    name: str,
    url: str,
    proc: subprocess.Popen[bytes],
    shapes: list[list[Payload]],
    seconds: float,
) -> dict[str, float]:
    results = {}
    for index, payloads in enumerate(shapes):
        wall, cpu, ok, bad = asyncio.run(
            _drive(url, payloads, seconds, proc.pid, first_request=index * 100_000)
        )
        shape = f"{payloads[0].series}x{payloads[0].samples}"
        samples = ok * payloads[0].series * payloads[0].samples
        per_s = samples / wall
        per_cpu = samples / cpu if cpu else float("nan")
        results[shape] = per_s
        print(
            f"{name:<12} {shape:>8}  {per_s:>12,.0f} samples/s  {per_cpu:>12,.0f} samples/cpu-s"
            f"  ({ok} requests ok, {bad} failed, receiver cpu {cpu / wall:.0%})",
            flush=True,
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-prometheus", action="store_true")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        print("needs 2 cores: the receiver on core 0, broker and load on core 1")
        return 1
    os.sched_setaffinity(0, {1})
    shapes = [
        [Payload(500, 1, 10, owner) for owner in range(args.concurrency)],
        [Payload(2000, 10, 10, owner) for owner in range(args.concurrency)],
    ]
    work = Path(tempfile.mkdtemp(prefix="aidevops-bench-"))
    print(f"payloads: 500 series x 1 sample x 10 labels; 2000 x 10 x 10; {args.seconds:g}s each")
    with LocalBroker(work) as broker:
        os.sched_setaffinity(broker.pid, {1})
        port = free_port()
        env = {
            **os.environ,
            "AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "AIDEVOPS_RECEIVER_HOST": "127.0.0.1",
            "AIDEVOPS_RECEIVER_PORT": str(port),
        }
        receiver = subprocess.Popen(
            [
                "taskset",
                "-c",
                "0",
                sys.executable,
                "-m",
                "cli.main",
                "--log-level",
                "WARNING",
                "receiver",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            _wait_http(port, receiver, "/readyz")
            ours = _measure(
                "aidevops", f"http://127.0.0.1:{port}/api/v1/write", receiver, shapes, args.seconds
            )
        finally:
            receiver.terminate()
            receiver.wait(15)
    if args.skip_prometheus:
        return 0
    port = free_port()
    config = work / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n")
    prometheus = subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            str(prometheus_binary()),
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
            "--log.level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_http(port, prometheus, "/-/ready")
        theirs = _measure(
            "prometheus", f"http://127.0.0.1:{port}/api/v1/write", prometheus, shapes, args.seconds
        )
    finally:
        prometheus.terminate()
        prometheus.wait(30)
    for shape, value in ours.items():
        print(f"ratio aidevops/prometheus {shape:>8}: {value / theirs[shape]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
