"""The file-backed sent log survives a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.notifier.errors import SentLogError
from stream.notifier.sent_log import FileSentLog, SentKey

KEY = SentKey("00000000000000a1:1700000000000", "FIRING", "-1001")


async def test_entries_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sent.jsonl"
    log = FileSentLog(path)
    assert await log.sent_at(KEY) is None
    await log.record(KEY, 100.0)
    reopened = FileSentLog(path)
    assert await reopened.sent_at(KEY) == 100.0
    assert await reopened.sent_at(KEY._replace(state="RESOLVED")) is None


async def test_old_entries_are_compacted_away(tmp_path: Path) -> None:
    path = tmp_path / "sent.jsonl"
    log = FileSentLog(path, retention=50.0)
    await log.record(KEY, 10.0)
    await log.record(KEY._replace(chat_id="-2"), 100.0)
    reopened = FileSentLog(path, retention=50.0)
    assert await reopened.sent_at(KEY) is None
    assert len(path.read_text().splitlines()) == 1


def test_an_unreadable_log_is_a_sent_log_error(tmp_path: Path) -> None:
    path = tmp_path / "sent.jsonl"
    path.write_text("{not json\n")
    with pytest.raises(SentLogError, match="unreadable"):
        FileSentLog(path)
