"""The command line against the real parts: DynamoDB Local with fresh tables per test."""

from __future__ import annotations

import itertools
import socket
from pathlib import Path

import pytest

from cli.local.dynamodb import LocalDynamoDB

_prefixes = itertools.count()


@pytest.fixture
def local_env(dynamodb: LocalDynamoDB, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The environment of a user pointing the commands at DynamoDB Local; the table prefix."""
    prefix = f"cli{next(_prefixes)}"
    monkeypatch.chdir(tmp_path)  # no data/stack.json of a developer's own stack
    monkeypatch.setenv("AIDEVOPS_DYNAMODB_ENDPOINT_URL", dynamodb.endpoint_url)
    monkeypatch.setenv("AIDEVOPS_DYNAMODB_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AIDEVOPS_DYNAMODB_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("AIDEVOPS_DYNAMODB_TABLE_PREFIX", prefix)
    monkeypatch.setenv("AIDEVOPS_SCORES_BUCKET_SECONDS", "3600")
    monkeypatch.delenv("AIDEVOPS_TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID", raising=False)
    return prefix


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that were free a moment ago."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()
