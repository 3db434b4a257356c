"""Live fault benchmark: node-exporter + Prometheus + the whole pipeline, faults on a schedule.

    sudo .venv/bin/python benchmarks/live_faults.py [--scrape-seconds 1] [--warmup-minutes 8]
        [--idle-minutes 10] [--fault-seconds 120] [--gap-seconds 120] [--repeat 1]
        [--faults memory,disk,cpu,exporter] [--memory-gb 3] [--cpu-core 1] [--tmpfs-mb 64]

Real parts only, on 127.0.0.1: ``aidevops up`` (broker, DynamoDB Local, receiver, worker,
sink, read API, notifier; shipped detector and alert-policy defaults), the Debian
``prometheus-node-exporter`` watching this host (and a small tmpfs this script mounts, hence
root), and a real Prometheus scraping it every ``--scrape-seconds`` and remote-writing to the
receiver. This process reads the ``alerts`` and ``scores`` topics from the start.

Timeline: warm-up (``--warmup-minutes``: the detectors' 256 points), idle
(``--idle-minutes``: every FIRING alert here is a false one), then each fault for
``--fault-seconds`` followed by ``--gap-seconds`` of recovery:

* ``memory``: a process allocates and touches ``--memory-gb`` GB;
* ``disk``: a file fills the tmpfs to 90 %;
* ``cpu``: a busy loop pinned to core ``--cpu-core``;
* ``exporter``: node-exporter stopped (SIGTERM by PID), then started again.

Per fault, over the fault's own series (listed in the output): whether an alert fired while
the fault lasted, seconds from onset to the firing point (and to its message on ``alerts``),
whether alerts covered the fault without a gap from the first firing to the end, the
episodes that resolved while the fault lasted (and why), and seconds from the fault's end to
resolution. Idle: false alerts per hour and per series per day over every series scored
outside warm-up. Node-exporter sees the whole host, so other work on the machine shows in
its series; the load average is printed for that reason.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from aidevops.batches import decode_scores  # noqa: E402
from aidevops.pb import alerts_pb2, scores_pb2  # noqa: E402
from cli.local.process import ManagedProcess, free_port, wait_for_port  # noqa: E402
from cli.local.prometheus import LocalPrometheus  # noqa: E402
from cli.local.record import RECORD_NAME  # noqa: E402

FAULTS = ("memory", "disk", "cpu", "exporter")
FIRING = alerts_pb2.ALERT_STATE_FIRING
RESOLVED = alerts_pb2.ALERT_STATE_RESOLVED
WARMUP_FLAG = scores_pb2.SCORE_FLAG_WARMUP
OUTAGE_FLAG = scores_pb2.SCORE_FLAG_OUTAGE
COLLECTORS = ("cpu", "meminfo", "filesystem", "loadavg", "stat", "vmstat", "diskstats", "netdev")
HOG = """
import signal, sys
size = int(sys.argv[1])
block = bytearray(size)
block[::4096] = b"\\x01" * len(range(0, size, 4096))  # touch every page: resident, not lazy
print("resident", flush=True)
signal.pause()
"""


def now_ms() -> int:
    return int(time.time() * 1000)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# -- what is recorded -----------------------------------------------------------------------


@dataclass
class Trace:
    """Every scored point of one series (compact columns)."""

    labels: dict[str, str]
    ts: array[int] = field(default_factory=lambda: array("q"))
    value: array[float] = field(default_factory=lambda: array("d"))
    feature: array[float] = field(default_factory=lambda: array("d"))
    score: array[float] = field(default_factory=lambda: array("d"))
    flags: array[int] = field(default_factory=lambda: array("I"))


@dataclass
class Alert:
    event: alerts_pb2.AlertEvent
    published_ms: int  # the record's timestamp: when the message reached the alerts topic


@dataclass
class Fault:
    kind: str
    onset_ms: int
    end_ms: int = 0
    note: str = ""


@dataclass
class Recording:
    traces: dict[int, Trace] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    load: list[tuple[int, float]] = field(default_factory=list)  # (ms, 1-minute load average)


async def record(bootstrap: str, out: Recording, stop: asyncio.Event) -> None:
    """Read ``alerts`` and ``scores`` from the start until ``stop`` (then drain briefly)."""
    consumer = AIOKafkaConsumer(
        "alerts", "scores", bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    quiet_after: float | None = None
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                for rec in records:
                    if tp.topic == "alerts":
                        event = alerts_pb2.AlertEvent.FromString(rec.value or b"")
                        out.alerts.append(Alert(event, rec.timestamp))
                        continue
                    for scored in decode_scores(rec.value or b""):  # schema 1 or 2
                        trace = out.traces.get(scored.series_id)
                        if trace is None:
                            trace = Trace({lb.name: lb.value for lb in scored.labels})
                            out.traces[scored.series_id] = trace
                        for p in scored.points:
                            trace.ts.append(p.timestamp)
                            trace.value.append(p.value)
                            trace.feature.append(p.feature)
                            trace.score.append(p.score)
                            trace.flags.append(p.flags)
            if stop.is_set():
                quiet_after = quiet_after or time.monotonic() + 5
                if time.monotonic() > quiet_after:
                    return
    finally:
        await consumer.stop()


async def sample_load(out: Recording, stop: asyncio.Event) -> None:
    while not stop.is_set():
        out.load.append((now_ms(), os.getloadavg()[0]))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=5)


# -- the parts ------------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(size_mb: int) -> Iterator[Path]:
    """A ``size_mb`` MB tmpfs, unmounted (and its mount point removed) whatever happens."""
    point = Path(tempfile.mkdtemp(prefix="aidevops-faults-tmpfs-"))
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(point)],
        check=True,
    )
    try:
        yield point
    finally:
        for file in point.iterdir():
            file.unlink()
        if subprocess.run(["umount", str(point)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(point)], check=False)
        point.rmdir()


class NodeExporter:
    """prometheus-node-exporter on a loopback port, stopped and restarted by PID."""

    def __init__(self, work: Path):
        self.port = free_port()
        self.process = ManagedProcess(
            "node-exporter",
            [
                "prometheus-node-exporter",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--collector.disable-defaults",
                *(f"--collector.{name}" for name in COLLECTORS),
            ],
            work / "node-exporter.log",
        )

    def start(self) -> None:
        proc = self.process.start()
        wait_for_port("127.0.0.1", self.port, 10, proc)

    def stop(self) -> None:
        self.process.stop()


def start_stack(work: Path, ports: dict[str, int]) -> ManagedProcess:
    """``aidevops up`` as a child process; returns once its record says it is ready."""
    data = work / "stack"
    up = ManagedProcess(
        "up",
        [sys.executable, "-m", "cli.main", "up", "--data-dir", str(data)]
        + ["--port", str(ports["receiver"]), "--broker-port", str(ports["broker"])]
        + ["--worker-port", str(ports["worker"]), "--api-port", str(ports["api"])],
        work / "up.log",
        cwd=ROOT,
    )
    proc = up.start()
    deadline = time.monotonic() + 300
    while not (data / RECORD_NAME).exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"aidevops up did not start:\n{up.log_tail()}")
        time.sleep(0.5)
    url = f"http://127.0.0.1:{ports['receiver']}/readyz"
    while True:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return up
        if time.monotonic() > deadline:
            raise RuntimeError(f"the receiver is not ready:\n{up.log_tail()}")
        time.sleep(0.5)


def prometheus_config(scrape_seconds: float, exporter_port: int, receiver_port: int) -> str:
    return f"""
global: {{scrape_interval: {scrape_seconds:g}s, scrape_timeout: {scrape_seconds:g}s}}
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ["127.0.0.1:{exporter_port}"]}}]
remote_write:
  - url: http://127.0.0.1:{receiver_port}/api/v1/write
    queue_config: {{batch_send_deadline: 1s}}
"""


# -- the faults -----------------------------------------------------------------------------


class Injector:
    """Starts and removes each fault; whatever it started is stopped by PID on :meth:`close`."""

    def __init__(self, args: argparse.Namespace, work: Path, mount: Path, exporter: NodeExporter):
        self.args = args
        self.work = work
        self.mount = mount
        self.exporter = exporter
        self.hog: ManagedProcess | None = None

    def start(self, kind: str) -> str:
        if kind == "memory":
            size = int(self.args.memory_gb * 1e9)
            self.hog = ManagedProcess(
                "memory-hog", [sys.executable, "-c", HOG, str(size)], self.work / "hog.log"
            )
            self.hog.start()
            return f"{self.args.memory_gb:g} GB allocated and touched by pid {self.hog.pid}"
        if kind == "disk":
            stat = os.statvfs(self.mount)
            size, free = stat.f_blocks * stat.f_frsize, stat.f_bavail * stat.f_frsize
            want = int(0.9 * size) - (size - free)
            with (self.mount / "fill").open("wb") as f:
                chunk = b"\0" * (1 << 20)
                for _ in range(want // len(chunk)):
                    f.write(chunk)
            stat = os.statvfs(self.mount)
            used = 1 - stat.f_bavail / stat.f_blocks
            return f"{self.mount} filled to {used:.0%}"
        if kind == "cpu":
            self.hog = ManagedProcess(
                "cpu-hog", [sys.executable, "-c", "while True: pass"], self.work / "hog.log"
            )
            self.hog.start()
            os.sched_setaffinity(self.hog.pid, {self.args.cpu_core})
            return f"busy loop pid {self.hog.pid} pinned to core {self.args.cpu_core}"
        self.exporter.stop()
        return "node-exporter stopped (SIGTERM)"

    def end(self, kind: str) -> None:
        if kind == "disk":
            (self.mount / "fill").unlink(missing_ok=True)
        elif kind == "exporter":
            self.exporter.start()
        else:
            self.close()

    def close(self) -> None:
        if self.hog is not None:
            self.hog.stop()
            self.hog = None
        (self.mount / "fill").unlink(missing_ok=True)


def fault_matchers(kind: str, mount: str, core: int) -> list[dict[str, str]]:
    """The series that are the fault's: a series is one if it has every label of a matcher."""
    if kind == "memory":
        memory = ("MemAvailable", "MemFree", "AnonPages", "Active_anon")
        return [{"__name__": f"node_memory_{n}_bytes"} for n in memory]
    if kind == "disk":
        disk = ("avail", "free")
        return [{"__name__": f"node_filesystem_{n}_bytes", "mountpoint": mount} for n in disk]
    if kind == "cpu":
        cpu = [
            {"__name__": "node_cpu_seconds_total", "cpu": str(core), "mode": mode}
            for mode in ("user", "idle")
        ]
        return [*cpu, {"__name__": "node_load1"}]
    return [{"__name__": "up", "job": "node"}]


def matches(labels: dict[str, str], matchers: Sequence[dict[str, str]]) -> bool:
    return any(all(labels.get(k) == v for k, v in m.items()) for m in matchers)


def show(labels: dict[str, str]) -> str:
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k not in _HIDDEN)
    return f"{labels.get('__name__', '?')}{{{rest}}}" if rest else labels.get("__name__", "?")


_HIDDEN = {"__name__", "instance", "job"}


async def schedule(
    args: argparse.Namespace, injector: Injector, out: Recording, phases: dict[str, int]
) -> list[Fault]:
    """Warm-up, idle, then every fault with its gap; returns what was done, when."""
    phases["start"] = now_ms()
    say(f"warm-up: {args.warmup_minutes:g} min (detectors learn their first points)")
    await asyncio.sleep(args.warmup_minutes * 60)
    phases["idle"] = now_ms()
    warming = sum(1 for t in out.traces.values() if t.flags and t.flags[-1] & WARMUP_FLAG)
    say(
        f"idle: {args.idle_minutes:g} min; {len(out.traces)} series scored so far, "
        f"{warming} still flagged warm-up"
    )
    await asyncio.sleep(args.idle_minutes * 60)
    phases["faults"] = now_ms()
    done: list[Fault] = []
    for _ in range(args.repeat):
        for kind in args.faults:
            fault = Fault(kind, now_ms())
            try:
                fault.note = injector.start(kind)
                say(f"fault {kind} on: {fault.note}")
                await asyncio.sleep(args.fault_seconds)
            finally:
                injector.end(kind)
                fault.end_ms = now_ms()
                done.append(fault)
            say(f"fault {kind} off; gap {args.gap_seconds:g} s")
            await asyncio.sleep(args.gap_seconds)
    phases["end"] = now_ms()
    return done


# -- the figures ----------------------------------------------------------------------------


@dataclass
class Episode:
    series_id: int
    labels: dict[str, str]
    reason: alerts_pb2.AlertReason.ValueType
    fired_at: int  # event_at of FIRING
    published: int
    resolved_at: int | None = None
    resolution: alerts_pb2.AlertResolution.ValueType = alerts_pb2.ALERT_RESOLUTION_UNSPECIFIED


def episodes(alerts: Sequence[Alert]) -> list[Episode]:
    """One per dedup key, its FIRING and (if any) RESOLVED event joined."""
    by_key: dict[str, Episode] = {}
    for a in alerts:
        e = a.event
        if e.state == FIRING and e.dedup_key not in by_key:
            labels = {lb.name: lb.value for lb in e.labels}
            by_key[e.dedup_key] = Episode(e.series_id, labels, e.reason, e.event_at, a.published_ms)
        elif e.state == RESOLVED and e.dedup_key in by_key:
            ep = by_key[e.dedup_key]
            if ep.resolved_at is None:
                ep.resolved_at, ep.resolution = e.event_at, e.resolution
    return sorted(by_key.values(), key=lambda ep: ep.fired_at)


def resolution_name(value: alerts_pb2.AlertResolution.ValueType) -> str:
    return alerts_pb2.AlertResolution.Name(value).removeprefix("ALERT_RESOLUTION_").lower()


def reason_name(value: alerts_pb2.AlertReason.ValueType) -> str:
    return alerts_pb2.AlertReason.Name(value).removeprefix("ALERT_REASON_").lower()


def covered(eps: Sequence[Episode], start: int, end: int) -> bool:
    """Whether the episodes' firing intervals together cover ``[start, end]``."""
    reach = start
    for ep in sorted(eps, key=lambda e: e.fired_at):
        if ep.fired_at > reach:
            return False
        reach = max(reach, ep.resolved_at if ep.resolved_at is not None else end)
        if reach >= end:
            return True
    return reach >= end


def trace_line(trace: Trace, start: int, stop: int, step_ms: int) -> tuple[str, str]:
    """The feature and the score every ``step_ms`` in ``[start, stop)`` (nearest point)."""
    values, scores = [], []
    i = 0
    for t in range(start, stop, step_ms):
        while i + 1 < len(trace.ts) and trace.ts[i + 1] <= t:
            i += 1
        if not trace.ts or trace.ts[i] > t or t - trace.ts[i] > step_ms:
            values.append("-")
            scores.append("-")
            continue
        values.append(f"{trace.feature[i]:.4g}")
        flag = "w" if trace.flags[i] & WARMUP_FLAG else ""
        scores.append(f"{trace.score[i]:.2f}{flag}")
    return " ".join(values), " ".join(scores)


def against_idle(trace: Trace, idle0: int, idle1: int, fault: Fault) -> str:
    """The fault's values (feature) next to the idle period's, and the peak score."""

    def window(lo: int, hi: int) -> list[tuple[float, float]]:
        return [
            (f, s)
            for t, f, s, flags in zip(
                trace.ts, trace.feature, trace.score, trace.flags, strict=True
            )
            if lo <= t <= hi and not flags & WARMUP_FLAG and math.isfinite(f)
        ]

    idle, during = window(idle0, idle1), window(fault.onset_ms, fault.end_ms)
    if not idle or not during:
        return "no scored points in the idle period or the fault"
    values = [f for f, _ in idle]
    mean, sd = statistics.fmean(values), statistics.pstdev(values)
    shifted = statistics.fmean(f for f, _ in during)
    in_sd = f" = {(shifted - mean) / sd:+.1f} sd" if sd > 0 else ""
    return (
        f"idle {min(values):.4g}..{max(values):.4g} (mean {mean:.4g}, sd {sd:.3g}); "
        f"fault mean {shifted:.4g}{in_sd}, range {min(f for f, _ in during):.4g}.."
        f"{max(f for f, _ in during):.4g}; peak score {max(s for _, s in during):.2f} "
        f"(idle peak {max(s for _, s in idle):.2f})"
    )


def report(
    args: argparse.Namespace,
    out: Recording,
    phases: dict[str, int],
    faults: Sequence[Fault],
    mount: str,
) -> None:
    eps = episodes(out.alerts)
    idle0, idle1 = phases["idle"], phases["faults"]
    step = args.scrape_seconds

    print("\n== idle series: false alerts ==")
    graded = 0
    series_seconds = 0.0
    for trace in out.traces.values():
        n = sum(
            1
            for t, f in zip(trace.ts, trace.flags, strict=True)
            if idle0 <= t < idle1 and not f & (WARMUP_FLAG | OUTAGE_FLAG)
        )
        if n:
            graded += 1
            series_seconds += n * step
    false = [ep for ep in eps if idle0 <= ep.fired_at < idle1]
    hours = (idle1 - idle0) / 3.6e6
    series_days = series_seconds / 86400
    print(
        f"idle {hours * 60:.1f} min, {graded} series scored outside warm-up "
        f"({series_seconds / 3600:.1f} series-hours)"
    )
    print(
        f"false alerts: {len(false)} = {len(false) / hours:.1f} per hour over all series, "
        f"{len(false) / series_days if series_days else float('nan'):.2f} per series per day"
    )
    for ep in false:
        end = (
            f"resolved after {(ep.resolved_at - ep.fired_at) / 1000:.0f} s "
            f"({resolution_name(ep.resolution)})"
            if ep.resolved_at is not None
            else "not resolved"
        )
        print(f"  {show(ep.labels)}  {reason_name(ep.reason)}, {end}")

    warmup = [ep for ep in eps if ep.fired_at < idle0]
    if warmup:
        print(f"not counted: {len(warmup)} alert(s) in the warm-up phase, before the idle one")
        for ep in warmup:
            at = (ep.fired_at - phases["start"]) / 1000
            print(f"  {show(ep.labels)}  {reason_name(ep.reason)}, {at:.0f} s after start")

    print("\n== faults ==")
    header = (
        f"{'fault':9} {'alerted':>7} {'onset->fire':>11} {'->message':>9} {'held':>5} "
        f"{'episodes':>8} {'resolved during':>15} {'end->resolved':>13}"
    )
    print(header)
    details: list[str] = []
    for fault in faults:
        matchers = fault_matchers(fault.kind, mount, args.cpu_core)
        own = [ep for ep in eps if matches(ep.labels, matchers)]
        during = [ep for ep in own if fault.onset_ms <= ep.fired_at <= fault.end_ms]
        alerted = bool(during)
        first = during[0] if during else None
        fire = f"{(first.fired_at - fault.onset_ms) / 1000:.0f} s" if first else "-"
        message = f"{(first.published - fault.onset_ms) / 1000:.0f} s" if first else "-"
        held = covered(during, during[0].fired_at, fault.end_ms) if first else False
        early = [
            ep for ep in during if ep.resolved_at is not None and ep.resolved_at <= fault.end_ms
        ]
        late = [ep for ep in during if ep not in early]
        after = [(ep.resolved_at - fault.end_ms) / 1000 for ep in late if ep.resolved_at]
        still = len(late) - len(after)
        after_text = (
            ("/".join(f"{s:.0f}" for s in after) + " s" if after else "")
            + (f"{'+' if after else ''}{still} open" if still else "")
        ) or "-"
        print(
            f"{fault.kind:9} {'yes' if alerted else 'no':>7} {fire:>11} {message:>9} "
            f"{('yes' if held else 'no') if alerted else '-':>5} {len(during):>8} "
            f"{len(early):>15} {after_text:>13}"
        )
        details.append(
            f"\n{fault.kind}: {fault.note}; {(fault.end_ms - fault.onset_ms) / 1000:.0f} s"
        )
        details.append(
            "  its series: "
            + ", ".join(show(t.labels) for t in out.traces.values() if matches(t.labels, matchers))
        )
        for ep in during:
            res = (
                f"resolved {(ep.resolved_at - fault.onset_ms) / 1000:.0f} s after onset "
                f"({resolution_name(ep.resolution)})"
                if ep.resolved_at is not None
                else "never resolved"
            )
            details.append(
                f"  fired {(ep.fired_at - fault.onset_ms) / 1000:.0f} s after onset on "
                f"{show(ep.labels)} ({reason_name(ep.reason)}), {res}"
            )
        gap_end = fault.end_ms + int(args.gap_seconds * 1000)
        others = [
            ep
            for ep in eps
            if not matches(ep.labels, matchers) and fault.onset_ms <= ep.fired_at < gap_end
        ]
        if others:
            names = sorted({show(ep.labels) for ep in others})
            shown = ", ".join(names[:8]) + (
                f", ... ({len(names)} series)" if len(names) > 8 else ""
            )
            details.append(f"  other series alerting during the fault or its gap: {shown}")
        for trace in out.traces.values():
            if matches(trace.labels, matchers):
                details.append(
                    f"  {show(trace.labels)}: {against_idle(trace, idle0, idle1, fault)}"
                )
        for trace in out.traces.values():
            if matches(trace.labels, matchers[:1]):
                start = fault.onset_ms - 20_000
                stop = min(gap_end, fault.end_ms + 60_000)
                values, scores = trace_line(trace, start, stop, 10_000)
                details.append(f"  {show(trace.labels)} every 10 s from onset-20 s:")
                details.append(f"    value/feature: {values}")
                details.append(f"    score:         {scores}")
    print("\n".join(details))

    def load(lo: int, hi: int) -> str:
        vals = [v for t, v in out.load if lo <= t < hi]
        if not vals:
            return "-"
        return f"mean {sum(vals) / len(vals):.2f}, max {max(vals):.2f}"

    print(
        f"\nload average (1 min, this host, 2 cores): idle {load(idle0, idle1)}; "
        f"faults {load(idle1, phases['end'] + 1)}; "
        f"whole run {load(phases['start'], phases['end'] + 1)}"
    )


def dump(out: Recording, phases: dict[str, int], directory: Path) -> None:
    """Every trace as ``<series id>.csv`` (``timestamp,value`` first, so ``aidevops
    backtest`` reads it; then feature, score, flags), ``index.tsv`` naming them, and the
    phases' start times (``phases.tsv``, milliseconds)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "phases.tsv").open("w") as f:
        f.writelines(f"{name}\t{at}\n" for name, at in phases.items())
    with (directory / "index.tsv").open("w") as index:
        for series_id, trace in out.traces.items():
            index.write(f"{series_id:016x}.csv\t{show(trace.labels)}\n")
            with (directory / f"{series_id:016x}.csv").open("w") as f:
                f.write("timestamp,value,feature,score,flags\n")
                f.writelines(
                    f"{t},{v!r},{x!r},{s!r},{g}\n"
                    for t, v, x, s, g in zip(
                        trace.ts, trace.value, trace.feature, trace.score, trace.flags, strict=True
                    )
                )
    say(f"{len(out.traces)} series written to {directory}")


# -- main -----------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scrape-seconds", type=float, default=1.0)
    parser.add_argument("--warmup-minutes", type=float, default=8.0)
    parser.add_argument("--idle-minutes", type=float, default=10.0)
    parser.add_argument("--fault-seconds", type=float, default=120.0)
    parser.add_argument("--gap-seconds", type=float, default=120.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--faults", default=",".join(FAULTS), help="comma list, in order")
    parser.add_argument("--memory-gb", type=float, default=3.0)
    parser.add_argument("--cpu-core", type=int, default=1)
    parser.add_argument("--tmpfs-mb", type=int, default=64)
    parser.add_argument(
        "--dump", type=Path, help="write every scored series here (index.tsv, one CSV each)"
    )
    args = parser.parse_args(argv)
    args.faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults {sorted(unknown)}; choose from {','.join(FAULTS)}")
    if os.geteuid() != 0:
        parser.error("run as root: the disk fault mounts a tmpfs")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    minutes = (
        args.warmup_minutes
        + args.idle_minutes
        + args.repeat * len(args.faults) * (args.fault_seconds + args.gap_seconds) / 60
    )
    print(
        f"configuration: scrape every {args.scrape_seconds:g} s; warm-up "
        f"{args.warmup_minutes:g} min; idle {args.idle_minutes:g} min; faults "
        f"{','.join(args.faults)} x{args.repeat}, {args.fault_seconds:g} s each with "
        f"{args.gap_seconds:g} s gaps; memory hog {args.memory_gb:g} GB; cpu hog on core "
        f"{args.cpu_core}; tmpfs {args.tmpfs_mb} MB; detector and alert policy at shipped "
        f"defaults; about {minutes:.0f} min plus start-up",
        flush=True,
    )
    # SIGTERM unwinds like Ctrl-C, so every part is stopped and the tmpfs unmounted.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    work = Path(tempfile.mkdtemp(prefix="aidevops-live-faults-"))
    say(f"logs in {work}")
    out = Recording()
    phases: dict[str, int] = {}
    faults: list[Fault] = []
    with contextlib.ExitStack() as stack:
        mount = stack.enter_context(tmpfs(args.tmpfs_mb))
        ports = {name: free_port() for name in ("receiver", "broker", "worker", "api")}
        say("starting aidevops up (broker, DynamoDB Local, receiver, worker, sink, api, notify)")
        up = start_stack(work, ports)
        stack.callback(up.stop, 60)
        exporter = NodeExporter(work)
        exporter.start()
        stack.callback(exporter.stop)
        config = prometheus_config(args.scrape_seconds, exporter.port, ports["receiver"])
        prometheus = stack.enter_context(LocalPrometheus(config, work / "prometheus"))
        say(
            f"node-exporter pid {exporter.process.pid} (collectors {','.join(COLLECTORS)}), "
            f"Prometheus pid {prometheus.pid}, aidevops up pid {up.pid}; tmpfs {mount}"
        )
        injector = Injector(args, work, mount, exporter)
        stack.callback(injector.close)

        async def run() -> None:
            stop = asyncio.Event()
            reader = asyncio.create_task(record(f"127.0.0.1:{ports['broker']}", out, stop))
            loads = asyncio.create_task(sample_load(out, stop))
            try:
                faults.extend(await schedule(args, injector, out, phases))
            finally:
                stop.set()
                for problem in await asyncio.gather(reader, loads, return_exceptions=True):
                    if isinstance(problem, BaseException):
                        say(f"recording failed: {problem!r}")

        asyncio.run(run())
        say("stopping everything")
        mount_name = str(mount)
    report(args, out, phases, faults, mount_name)
    if args.dump is not None:
        dump(out, phases, args.dump)
    return 0


if __name__ == "__main__":
    sys.exit(main())
