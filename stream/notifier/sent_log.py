"""Which notifications were accepted by the channel, persisted so a restart sends no duplicate.

A record is ``(dedup_key, state, chat_id) → time accepted``. The notifier service writes it
only after Telegram accepted the message, and checks it before sending. Two implementations:
:class:`InMemorySentLog` (tests, single process without restarts) and :class:`FileSentLog`
(an append-only JSON-lines file, for one worker with a persistent volume). A DynamoDB-backed
log (conditional ``PutItem`` on the key, TTL on the timestamp) is to come with the storage
work, and is what several workers sharing partitions need.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple, Protocol

from stream.notifier.errors import SentLogError

__all__ = ["FileSentLog", "InMemorySentLog", "SentKey", "SentLog"]


class SentKey(NamedTuple):
    """One alert state delivered to one chat."""

    dedup_key: str
    state: str  # "FIRING" or "RESOLVED"
    chat_id: str


class SentLog(Protocol):
    """Persistent record of delivered notifications."""

    async def sent_at(self, key: SentKey) -> float | None:
        """When ``key`` was accepted by the channel (seconds), or ``None`` if never."""
        ...

    async def record(self, key: SentKey, at: float) -> None:
        """Remember that ``key`` was accepted at ``at`` (seconds)."""
        ...


class InMemorySentLog:
    """A :class:`SentLog` in a dict; forgets everything when the process ends.

    Examples
    --------
    >>> import asyncio
    >>> log = InMemorySentLog()
    >>> key = SentKey("00000000000000ab:1000", "FIRING", "-100")
    >>> asyncio.run(log.record(key, 12.5))
    >>> asyncio.run(log.sent_at(key)), asyncio.run(log.sent_at(key._replace(chat_id="-1")))
    (12.5, None)
    """

    def __init__(self) -> None:
        self.entries: dict[SentKey, float] = {}

    def __repr__(self) -> str:
        return f"InMemorySentLog({len(self.entries)} entries)"

    async def sent_at(self, key: SentKey) -> float | None:
        return self.entries.get(key)

    async def record(self, key: SentKey, at: float) -> None:
        self.entries[key] = at


class FileSentLog(InMemorySentLog):
    """A :class:`SentLog` kept in memory and appended (fsync'd) to a JSON-lines file.

    The file is read once when opened; entries older than ``retention`` seconds before the
    newest one are dropped then and the file is rewritten, so it stays small.
    """

    def __init__(self, path: Path, retention: float = 7 * 86400.0) -> None:
        super().__init__()
        self.path = path
        try:
            lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
            for line in lines:
                if line.strip():
                    item = json.loads(line)
                    self.entries[SentKey(*item["key"])] = float(item["at"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SentLogError(f"sent log {path} is unreadable: {exc}") from exc
        if self.entries:
            horizon = max(self.entries.values()) - retention
            self.entries = {k: at for k, at in self.entries.items() if at >= horizon}
            self._rewrite()

    def __repr__(self) -> str:
        return f"FileSentLog({str(self.path)!r}, {len(self.entries)} entries)"

    async def record(self, key: SentKey, at: float) -> None:
        try:
            with self.path.open("a", encoding="utf-8") as file:
                file.write(_line(key, at))
                file.flush()
                os.fsync(file.fileno())
        except OSError as exc:
            raise SentLogError(f"cannot append to sent log {self.path}: {exc}") from exc
        await super().record(key, at)

    def _rewrite(self) -> None:
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        try:
            with tmp.open("w", encoding="utf-8") as file:
                file.writelines(_line(k, at) for k, at in self.entries.items())
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise SentLogError(f"cannot rewrite sent log {self.path}: {exc}") from exc


def _line(key: SentKey, at: float) -> str:
    return json.dumps({"key": list(key), "at": at}, separators=(",", ":")) + "\n"
