"""``aidevops up`` as a newcomer runs it, with a second terminal next to it.

One stack serves every check (it takes a while to start): the operator commands find it
through its record, a second ``up`` starts nothing and says why in one line, alerts reach
the console the user watches, access logs do not, and Ctrl-C stops every process by PID.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from aidevops.pb import alerts_pb2, remote_write_v1_pb2
from cli.local.ports import PortClaim, port_problem
from tests.integration.cli.conftest import free_ports

pytestmark = pytest.mark.integration

BANNER_END = "Ctrl-C stops everything."


def _clean_env(**extra: str) -> dict[str, str]:
    """A newcomer's environment: nothing of ours set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIDEVOPS_")}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Up:
    proc: subprocess.Popen[str]
    cwd: Path
    ports: dict[str, int]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no {text!r} from aidevops up:\n{self.output()[-3000:]}")
            time.sleep(0.2)

    def pids(self) -> list[int]:
        found = re.findall(r"pid (\d+)", self.output())
        found += re.findall(r"(?:worker|sink|api|notify) (\d+)", self.output())
        return [int(p) for p in found]


def _start_up(cwd: Path, ports: list[int], **env: str) -> Up:
    names = ("receiver", "broker", "worker", "api")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "up",
            "--port",
            str(ports[0]),
            "--broker-port",
            str(ports[1]),
            "--worker-port",
            str(ports[2]),
            "--api-port",
            str(ports[3]),
        ],
        cwd=cwd,
        env=_clean_env(PYTHONPATH=str(Path(__file__).resolve().parents[3]), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    up = Up(proc, cwd, dict(zip(names, ports, strict=True)))

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            up.lines.append(line)

    up.reader = threading.Thread(target=read, daemon=True)
    up.reader.start()
    return up


def _aidevops(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd,
        env=_clean_env(PYTHONPATH=str(Path(__file__).resolve().parents[3]), **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _stop(up: Up) -> None:
    if up.proc.poll() is None:
        os.kill(up.proc.pid, signal.SIGINT)
        try:
            up.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.kill(up.proc.pid, signal.SIGKILL)
            up.proc.wait(timeout=10)
    if up.reader is not None:
        up.reader.join(timeout=10)  # the pipe ends with the process
    if up.proc.stdout is not None:
        up.proc.stdout.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    cwd = tmp_path_factory.mktemp("newcomer")
    up = _start_up(cwd, free_ports(4), AIDEVOPS_ALERT_GROUP_WAIT_SECONDS="0")
    try:
        up.wait_for(BANNER_END, timeout=240)
        yield up
    finally:
        _stop(up)


def test_operator_commands_find_the_local_stack(stack: Up) -> None:
    init = _aidevops(stack.cwd, "dynamodb", "init")
    assert init.returncode == 0, init.stderr
    assert [line.split("\t")[1] for line in init.stdout.splitlines()] == ["already existed"] * 3
    scores = _aidevops(stack.cwd, "scores", "00000000deadbeef", "--since", "-2h")
    assert scores.returncode == 0, scores.stderr
    assert scores.stdout.startswith("series 00000000deadbeef")
    listed = _aidevops(stack.cwd, "series")
    assert listed.returncode == 0, listed.stderr
    # The environment wins over the record.
    elsewhere = _aidevops(
        stack.cwd, "dynamodb", "init", AIDEVOPS_DYNAMODB_ENDPOINT_URL="http://127.0.0.1:9"
    )
    assert elsewhere.returncode == 2
    assert "endpoint: http://127.0.0.1:9" in elsewhere.stderr


def test_a_second_up_starts_nothing_and_says_why(stack: Up, tmp_path: Path) -> None:
    ports = [stack.ports[name] for name in ("receiver", "broker", "worker", "api")]
    again = subprocess.run(
        [sys.executable, "-m", "cli.main", "up", "--data-dir", str(tmp_path / "data")]
        + ["--port", str(ports[0]), "--broker-port", str(ports[1])]
        + ["--worker-port", str(ports[2]), "--api-port", str(ports[3])],
        cwd=stack.cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2
    assert again.stdout == ""
    (line,) = again.stderr.splitlines()
    assert f"port {ports[1]} (broker) is in use by pid" in line and "--broker-port" in line
    assert "--port" in line and "Traceback" not in again.stderr
    assert not (tmp_path / "data").exists()
    same_dir = _aidevops(stack.cwd, "up", "--port", str(free_ports(1)[0]))
    assert same_dir.returncode == 2
    assert f"another aidevops up (pid {stack.proc.pid})" in same_dir.stderr


def test_alerts_reach_the_console_and_access_logs_do_not(stack: Up) -> None:
    receiver = f"http://127.0.0.1:{stack.ports['receiver']}"
    for _ in range(5):
        with urllib.request.urlopen(f"{receiver}/healthz", timeout=5) as response:
            assert response.status == 200
    event = alerts_pb2.AlertEvent(
        schema_version=1,
        tenant="default",
        series_id=0xABC,
        dedup_key="0000000000000abc:1700000000000",
        state=alerts_pb2.ALERT_STATE_FIRING,
        reason=alerts_pb2.ALERT_REASON_ANOMALY,
        started_at=1_700_000_000_000,
        event_at=1_700_000_045_000,
        score=0.8,
        labels=[
            remote_write_v1_pb2.Label(name="__name__", value="node_load1"),
            remote_write_v1_pb2.Label(name="instance", value="h1"),
        ],
    )

    async def publish() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{stack.ports['broker']}")
        await producer.start()
        try:
            await producer.send_and_wait(
                "alerts", event.SerializeToString(), key=event.dedup_key.encode()
            )
        finally:
            await producer.stop()

    asyncio.run(publish())
    stack.wait_for("[alert to chat console]", timeout=60)
    assert "node_load1" in stack.output().split("[alert to chat console]", 1)[1]
    assert "GET /healthz" not in stack.output()


def test_ctrl_c_stops_every_process_and_removes_the_record(stack: Up) -> None:
    pids = stack.pids()
    assert len(pids) >= 6  # broker, DynamoDB Local, worker, sink, api, notify
    _stop(stack)
    assert stack.proc.returncode == 0
    assert not (stack.cwd / "data" / "stack.json").exists()
    deadline = time.monotonic() + 15
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if Path(f"/proc/{pid}").exists()]
        time.sleep(0.2)
    assert alive == []
    for name, port in stack.ports.items():
        assert port_problem(PortClaim(name, "127.0.0.1", port, "")) is None


def test_a_part_that_fails_stops_everything(tmp_path: Path) -> None:
    """The notifier exits (its template is missing): up stops what it started, by PID."""
    ports = free_ports(4)
    up = _start_up(tmp_path, ports, AIDEVOPS_TELEGRAM_TEMPLATE_PATH=str(tmp_path / "missing.toml"))
    try:
        up.proc.wait(timeout=240)
    finally:
        _stop(up)
    assert up.proc.returncode == 2
    errors = [line for line in up.lines if line.startswith("aidevops: error:")]
    assert len(errors) == 1, up.output()
    assert "notify exited" in errors[0] and "missing.toml" in errors[0]
    assert "Traceback" not in up.output()
    assert not (tmp_path / "data" / "stack.json").exists()
    assert not any(Path(f"/proc/{pid}").exists() for pid in up.pids())
    for name, port in up.ports.items():  # the broker and the children are gone
        assert port_problem(PortClaim(name, "127.0.0.1", port, "")) is None
