"""Real parts shared by every integration test (the broker is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.local.dynamodb import LocalDynamoDB


@pytest.fixture(scope="session")
def dynamodb(logs_dir: Path) -> Iterator[LocalDynamoDB]:
    """A real DynamoDB Local (in memory) shared by the session."""
    with LocalDynamoDB(logs_dir) as running:
        yield running
