"""Session-wide fixtures that start the real parts as local processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.local.broker import LocalBroker

collect_ignore_glob = ["../aidevops/pb/*"]


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the processes started by fixtures write their logs."""
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def broker(logs_dir: Path) -> Iterator[LocalBroker]:
    """A real Kafka-compatible broker (tansu, in memory) shared by the session.

    Tests isolate themselves by using their own topic names.
    """
    with LocalBroker(logs_dir) as running:
        yield running
