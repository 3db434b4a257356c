"""The receiver as users run it: the ``aidevops`` command, signals, and ``aidevops tail``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from cli.local.broker import LocalBroker
from cli.local.process import free_port
from tests.support.remote_write import STALE_NAN, V1_HEADERS, compress, v1_request, v1_series

pytestmark = pytest.mark.integration

NODE = [("__name__", "node_load1"), ("instance", "a:9100"), ("job", "node")]


@pytest.fixture
def own_broker(logs_dir: Path) -> Iterator[LocalBroker]:
    with LocalBroker(logs_dir) as broker:
        yield broker


def _start_receiver(broker: LocalBroker, port: int, logs: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "AIDEVOPS_RECEIVER_HOST": "127.0.0.1",
        "AIDEVOPS_PUBLISH_TIMEOUT_SECONDS": "8",
    }
    with (logs / f"receiver-{port}.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "receiver", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def _wait_ready(session: aiohttp.ClientSession, base: str) -> None:
    for _ in range(200):
        try:
            async with session.get(f"{base}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("receiver never became ready")


async def test_sigterm_finishes_the_in_flight_publish_then_exits(
    own_broker: LocalBroker, logs_dir: Path
) -> None:
    port = free_port()
    proc = _start_receiver(own_broker, port, logs_dir)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await _wait_ready(session, base)
            body = compress(v1_request([v1_series(NODE)]))
            os.kill(own_broker.pid, signal.SIGSTOP)  # the next publish waits for its ack
            request = asyncio.create_task(
                session.post(f"{base}/api/v1/write", data=body, headers=V1_HEADERS)
            )
            await asyncio.sleep(1.0)
            assert not request.done()
            proc.send_signal(signal.SIGTERM)
            stopped_at = time.monotonic()
            await asyncio.sleep(0.5)
            os.kill(own_broker.pid, signal.SIGCONT)
            response = await request
            assert response.status == 204
        code = await asyncio.to_thread(proc.wait, 15)
        assert code == 0
        assert time.monotonic() - stopped_at < 10
    finally:
        os.kill(own_broker.pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_tail_prints_samples_as_json(own_broker: LocalBroker, logs_dir: Path) -> None:
    port = free_port()
    proc = _start_receiver(own_broker, port, logs_dir)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await _wait_ready(session, base)
            body = compress(v1_request([v1_series(NODE, [(0.25, 1000), (STALE_NAN, 2000)])]))
            async with session.post(f"{base}/api/v1/write", data=body, headers=V1_HEADERS) as r:
                assert r.status == 204
    finally:
        proc.terminate()
        proc.wait(15)
    out = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "cli.main",
            "tail",
            "samples",
            "--bootstrap",
            own_broker.bootstrap_servers,
            "--from-beginning",
            "-n",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    [line] = out.stdout.splitlines()
    doc = json.loads(line)
    assert doc["labels"] == dict(NODE)
    assert doc["samples"] == [
        {"timestamp": 1000, "value": 0.25, "stale": False},
        {"timestamp": 2000, "value": "NaN", "stale": True},
    ]
    assert doc["tenant"] == "default" and doc["schema_version"] == 1


def test_bad_configuration_is_a_clear_error() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "receiver"],
        env={**os.environ, "AIDEVOPS_AUTH_BASIC_USERNAME": "only-user"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "AIDEVOPS_AUTH_BASIC_PASSWORD" in out.stderr
