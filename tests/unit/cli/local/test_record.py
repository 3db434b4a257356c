"""The record of a running ``aidevops up``: read while its process lives, ignored after."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from cli.local.record import StackRecord, read_record, remove_record


def test_a_live_record_is_read_and_a_stale_one_ignored(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    # A process whose command line says cli.main, as ``aidevops up``'s does.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "cli.main", "up"])
    try:
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        deadline = time.monotonic() + 10
        while b"cli.main" not in cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)  # until the child has exec'd
        StackRecord(proc.pid, str(tmp_path), env={"AIDEVOPS_X": "1"}).write(path)
        found = read_record(path)
        assert found is not None and found.env == {"AIDEVOPS_X": "1"}
    finally:
        proc.kill()
        proc.wait()
    assert read_record(path) is None  # its up is gone
    remove_record(path, proc.pid)
    assert not path.exists()


def test_an_unrelated_process_with_the_pid_is_not_a_stack(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    proc = subprocess.Popen(["sleep", "60"])
    try:
        StackRecord(proc.pid, str(tmp_path)).write(path)
        assert read_record(path) is None
    finally:
        proc.kill()
        proc.wait()


def test_a_missing_or_broken_record_is_none(tmp_path: Path) -> None:
    assert read_record(tmp_path / "none.json") is None
    (tmp_path / "bad.json").write_text("{")
    assert read_record(tmp_path / "bad.json") is None
