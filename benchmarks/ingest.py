"""Ingest benchmark: remote-write samples/s per receiver core, end to end to the broker's ack.

    .venv/bin/python benchmarks/ingest.py [--runs 3] [--seconds 10] [--concurrency 8]
    .venv/bin/python benchmarks/ingest.py --sweep [--sweep-shape 500x10] [--skip-prometheus]

The receiver under test (``python -m receiver.main``) is pinned to core 0 (``taskset``); the
broker and this load generator share core 1. Throughput counts only samples answered 2xx,
i.e. acknowledged by the broker (acks=all). The same load then goes to Prometheus' own
receiver (``prometheus --web.enable-remote-write-receiver``), pinned to core 0 as well.
Each run starts both receivers afresh, ours first then Prometheus; the ratio of each run is
printed, then the median and the spread (min-max) over ``--runs``. Besides wall-clock
throughput, samples per CPU-second of the receiver process are reported (from /proc), and
their ratio: it depends less on how busy core 1 (and a shared machine) is. Each connection
waits for its answer, as each of Prometheus' shards does, so samples/s compares capacity
only while both receivers are CPU-bound: Prometheus' is at 8 connections, ours (which waits
``AIDEVOPS_PUBLISH_LINGER_MS`` for more requests before publishing) needs about 16.

Every request carries new timestamps (the payload's timestamp varints are patched per
request), so Prometheus appends real samples rather than ignoring duplicates. Each
concurrent connection owns its own series, so every series' samples arrive in order, as
they do from Prometheus' own shards.

``--sweep`` drives our receiver open-loop: requests leave at a fixed rate whatever the
answers (as many Prometheus shards would), for ``--sweep-seconds`` per rate, doubling the
rate then bisecting; it reports, per rate, the answers and latency percentiles, and the
highest rate answered with no 503 (no non-2xx at all) and p99 under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import snappy

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aidevops.pb import remote_write_v1_pb2 as rw1  # noqa: E402
from cli.local.broker import LocalBroker  # noqa: E402
from cli.local.process import free_port, wait_for_port  # noqa: E402
from cli.local.prometheus import prometheus_binary  # noqa: E402

HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
T0 = 1_700_000_000_000
STEP_MS = 1  # keeps all connections within Prometheus' out-of-order window
BROKER_PID = 0  # set once the broker runs: its CPU is reported with each figure


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


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _drive(
    url: str, payloads: list[Payload], seconds: float, pid: int, first_request: int
) -> tuple[float, float, int, int, float, float]:
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
        own0, broker0 = time.process_time(), _cpu_seconds(BROKER_PID) if BROKER_PID else 0.0
        stop_at = wall0 + seconds
        await asyncio.gather(*(worker(i, session, True) for i in range(len(payloads))))
        wall = time.monotonic() - wall0
        cpu = _cpu_seconds(pid) - cpu0
        own = time.process_time() - own0
        broker = (_cpu_seconds(BROKER_PID) - broker0) if BROKER_PID else 0.0
    return wall, cpu, totals["ok"], totals["bad"], own, broker


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
    pid: int,
    shapes: list[list[Payload]],
    seconds: float,
    first_request: int,
) -> dict[str, tuple[float, float]]:
    """Per shape: (samples/s, samples per CPU-second of the receiver)."""
    results = {}
    for index, payloads in enumerate(shapes):
        wall, cpu, ok, bad, own, broker = asyncio.run(
            _drive(url, payloads, seconds, pid, first_request + index * 100_000)
        )
        shape = f"{payloads[0].series}x{payloads[0].samples}"
        samples = ok * payloads[0].series * payloads[0].samples
        per_s = samples / wall
        per_cpu = samples / cpu if cpu else float("nan")
        results[shape] = (per_s, per_cpu)
        print(
            f"{name:<12} {shape:>8}  {per_s:>12,.0f} samples/s  {per_cpu:>12,.0f} samples/cpu-s"
            f"  ({ok} requests ok, {bad} failed, receiver cpu {cpu / wall:.0%}; core 1: "
            f"load {own / wall:.0%}, broker {broker / wall:.0%})",
            flush=True,
        )
    return results


@contextmanager
def _our_receiver(
    broker: LocalBroker, py_spy: str | None = None, **env_overrides: str
) -> Iterator[tuple[str, int]]:
    """``python -m receiver.main`` on core 0; yields its write URL and PID.

    With ``py_spy`` (the path of a py-spy binary) the receiver is profiled while it runs and
    the raw stacks are written to ``receiver-<pid>.pyspy.txt`` for a flame graph.
    """
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "AIDEVOPS_RECEIVER_HOST": "127.0.0.1",
        "AIDEVOPS_RECEIVER_PORT": str(port),
        **env_overrides,
    }
    receiver = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "receiver.main"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    profiler = None
    try:
        _wait_http(port, receiver, "/readyz")
        if py_spy:
            out = f"receiver-{receiver.pid}.pyspy.txt"
            profiler = subprocess.Popen(
                [py_spy, "record", "-p", str(receiver.pid), "-f", "raw", "-r", "250", "-o", out],
                stdout=subprocess.DEVNULL,
            )
            print(f"profiling the receiver into {out}", flush=True)
        yield f"http://127.0.0.1:{port}/api/v1/write", receiver.pid
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(30)
        receiver.terminate()
        receiver.wait(15)


@contextmanager
def _prometheus(work: Path, run: int) -> Iterator[tuple[str, int]]:
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
            f"--storage.tsdb.path={work / f'tsdb-{run}'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
            "--log.level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_http(port, prometheus, "/-/ready")
        yield f"http://127.0.0.1:{port}/api/v1/write", prometheus.pid
    finally:
        prometheus.terminate()
        prometheus.wait(30)


def _compare(args: argparse.Namespace, broker: LocalBroker, work: Path) -> None:
    shapes = [
        [Payload(500, 1, 10, owner) for owner in range(args.concurrency)],
        [Payload(2000, 10, 10, owner) for owner in range(args.concurrency)],
    ]
    print(
        f"payloads: 500 series x 1 sample x 10 labels; 2000 x 10 x 10; {args.seconds:g}s each; "
        f"{args.concurrency} connections; {args.runs} runs"
    )
    ratios: dict[str, list[float]] = {}
    cpu_ratios: dict[str, list[float]] = {}
    for run in range(args.runs):
        first = run * 1_000_000
        with _our_receiver(broker, args.py_spy) as (url, pid):
            ours = _measure("aidevops", url, pid, shapes, args.seconds, first)
        if args.skip_prometheus:
            continue
        with _prometheus(work, run) as (url, pid):
            theirs = _measure("prometheus", url, pid, shapes, args.seconds, first)
        for shape, (per_s, per_cpu) in ours.items():
            ratio = per_s / theirs[shape][0]
            cpu_ratio = per_cpu / theirs[shape][1]
            ratios.setdefault(shape, []).append(ratio)
            cpu_ratios.setdefault(shape, []).append(cpu_ratio)
            print(
                f"run {run + 1}: ratio aidevops/prometheus {shape:>8}: {ratio:.2f}x samples/s, "
                f"{cpu_ratio:.2f}x samples/cpu-s",
                flush=True,
            )
    for what, table in (("samples/s", ratios), ("samples/cpu-s", cpu_ratios)):
        for shape, values in table.items():
            print(
                f"ratio aidevops/prometheus {shape:>8} {what:>13}: median "
                f"{statistics.median(values):.2f}x, min {min(values):.2f}x, "
                f"max {max(values):.2f}x over {len(values)} runs "
                f"({', '.join(f'{v:.2f}' for v in values)})"
            )


async def _open_loop(
    url: str, payloads: list[Payload], rate: float, seconds: float, first_request: int
) -> tuple[Counter[int], list[float]]:
    """Send ``rate`` requests/s for ``seconds`` whatever the answers; statuses and latencies."""
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    bodies = [[p.body(first_request + n) for n in range(4)] for p in payloads]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)

    async def one(session: aiohttp.ClientSession, body: bytes) -> None:
        started = time.monotonic()
        try:
            async with session.post(url, data=body, headers=HEADERS) as response:
                await response.read()
                statuses[response.status] += 1
        except (aiohttp.ClientError, TimeoutError):
            statuses[0] += 1
        latencies.append(time.monotonic() - started)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = []
        start = time.monotonic()
        total = int(rate * seconds)
        for n in range(total):
            due = start + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            body = bodies[n % len(bodies)][(n // len(bodies)) % 4]
            tasks.append(asyncio.create_task(one(session, body)))
        await asyncio.gather(*tasks)
    return statuses, latencies


def _sweep(args: argparse.Namespace, broker: LocalBroker) -> None:
    series, samples = (int(x) for x in args.sweep_shape.split("x"))
    payloads = [Payload(series, samples, 10, owner) for owner in range(args.concurrency)]
    print(f"open-loop sweep: {series} series x {samples} samples x 10 labels per request")
    best = 0.0
    with _our_receiver(broker, args.py_spy) as (url, _pid):
        # Warm-up at a low rate: label sets are learned, the topic exists.
        asyncio.run(_open_loop(url, payloads, 20, 2.0, 0))
        low, high = 0.0, None
        rate = args.sweep_start
        for step in range(args.sweep_steps):
            statuses, latencies = asyncio.run(
                _open_loop(url, payloads, rate, args.sweep_seconds, (step + 1) * 10_000)
            )
            p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
            good = set(statuses) <= {204} and p99 < 1.0
            print(
                f"{rate:8.0f} req/s ({rate * series * samples:>12,.0f} samples/s): "
                f"{dict(sorted(statuses.items()))}  p50 {p50 * 1000:.0f} ms  "
                f"p99 {p99 * 1000:.0f} ms  {'ok' if good else 'FAIL'}",
                flush=True,
            )
            time.sleep(3.0)  # let a backlog left by an overloaded step drain first
            if good:
                low = best = max(best, rate)
            else:
                high = rate
            rate = rate * 2 if high is None else (low + high) / 2
            if high is not None and high - low < max(5.0, 0.05 * high):
                break
    print(
        f"highest rate with no 503 and p99 < 1 s: {best:.0f} requests/s of {series}x{samples} "
        f"({best * series * samples:,.0f} samples/s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-prometheus", action="store_true")
    parser.add_argument("--sweep", action="store_true", help="open-loop rate sweep instead")
    parser.add_argument("--py-spy", metavar="PATH", help="profile the receiver with this py-spy")
    parser.add_argument("--sweep-shape", default="500x10")
    parser.add_argument("--sweep-start", type=float, default=50.0)
    parser.add_argument("--sweep-seconds", type=float, default=8.0)
    parser.add_argument("--sweep-steps", type=int, default=10)
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        print("needs 2 cores: the receiver on core 0, broker and load on core 1")
        return 1
    os.sched_setaffinity(0, {1})
    work = Path(tempfile.mkdtemp(prefix="aidevops-bench-"))
    global BROKER_PID
    with LocalBroker(work) as broker:
        os.sched_setaffinity(broker.pid, {1})
        BROKER_PID = broker.pid
        if args.sweep:
            _sweep(args, broker)
        else:
            _compare(args, broker, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
