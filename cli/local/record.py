"""The record a running ``aidevops up`` leaves in its data directory (``stack.json``).

It holds the up process' PID, and the endpoints the stack chose (the broker's bootstrap
address, DynamoDB Local's URL and its dummy credentials), as ``AIDEVOPS_...`` variables. The
operator commands (``scores``, ``sink``, ``api``, ...) read it so they find the local stack;
the environment always wins, group by group: when any variable of a group (Kafka, DynamoDB,
Telegram) is set, nothing of that group comes from the record. ``up`` deletes the file when
it stops; a record whose process is gone is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_RECORD",
    "RECORD_NAME",
    "StackRecord",
    "defaults_for",
    "read_record",
    "remove_record",
]

RECORD_NAME = "stack.json"
DEFAULT_RECORD = Path("data") / RECORD_NAME
"""Where commands look, relative to the working directory (``up``'s default data dir)."""

# Variables that only make sense together: the environment overrides a whole group.
_GROUPS: tuple[tuple[str, ...], ...] = (
    ("AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS",),
    (
        "AIDEVOPS_DYNAMODB_ENDPOINT_URL",
        "AIDEVOPS_DYNAMODB_ACCESS_KEY_ID",
        "AIDEVOPS_DYNAMODB_SECRET_ACCESS_KEY",
    ),
    ("AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID", "AIDEVOPS_TELEGRAM_BOT_TOKEN"),
)


@dataclass(frozen=True)
class StackRecord:
    """What one running ``aidevops up`` wrote."""

    pid: int
    data_dir: str
    env: dict[str, str] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)

    def write(self, path: Path) -> None:
        """Write atomically (a reader never sees half a file)."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=2) + "\n")
        tmp.replace(path)

    def alive(self) -> bool:
        """Whether the process that wrote the record still runs (and is an aidevops)."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return True
        return b"aidevops" in cmdline or b"cli.main" in cmdline


def read_record(path: Path) -> StackRecord | None:
    """The record at ``path`` if its ``up`` still runs, else None (missing, stale, unreadable)."""
    try:
        doc = json.loads(path.read_text())
        record = StackRecord(
            pid=int(doc["pid"]),
            data_dir=str(doc["data_dir"]),
            env={str(k): str(v) for k, v in dict(doc.get("env", {})).items()},
            endpoints={str(k): str(v) for k, v in dict(doc.get("endpoints", {})).items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if record.alive() else None


def defaults_for(record: StackRecord | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The recorded variables to use: those of every group the environment leaves unset.

    >>> rec = StackRecord(1, "data", env={"AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    ...     "AIDEVOPS_DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:2",
    ...     "AIDEVOPS_DYNAMODB_ACCESS_KEY_ID": "local"})
    >>> sorted(defaults_for(rec, {"AIDEVOPS_DYNAMODB_ACCESS_KEY_ID": "AKIA..."}))
    ['AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS']
    """
    if record is None:
        return {}
    out = {}
    for name, value in record.env.items():
        group = next((g for g in _GROUPS if name in g), (name,))
        if not any(var in environ for var in group):
            out[name] = value
    return out


def remove_record(path: Path, pid: int) -> None:
    """Delete the record if it is still ours."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        if int(json.loads(path.read_text())["pid"]) == pid:
            path.unlink()
