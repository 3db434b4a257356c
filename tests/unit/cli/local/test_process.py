"""Child processes of ``aidevops up``: what they print reaches the console and the log."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from aidevops.errors import LocalServiceError
from cli.local.process import ManagedProcess

SCRIPT = (
    "import sys; print('[alert to chat console]'); print('FIRING node_load1', flush=True); "
    "print('INFO a log line', file=sys.stderr, flush=True)"
)


def test_echo_copies_standard_output_and_keeps_everything_in_the_log(tmp_path: Path) -> None:
    console = io.StringIO()
    child = ManagedProcess(
        "notify", [sys.executable, "-c", SCRIPT], tmp_path / "notify.log", echo=console
    )
    child.start()
    assert child.proc is not None
    child.proc.wait(timeout=30)
    child.stop()  # joins the copier
    assert console.getvalue() == "[alert to chat console]\nFIRING node_load1\n"
    log = (tmp_path / "notify.log").read_text()
    assert "FIRING node_load1" in log and "INFO a log line" in log


def test_without_echo_everything_goes_to_the_log(tmp_path: Path) -> None:
    child = ManagedProcess("x", [sys.executable, "-c", SCRIPT], tmp_path / "x.log")
    child.start()
    assert child.proc is not None
    child.proc.wait(timeout=30)
    assert "FIRING node_load1" in (tmp_path / "x.log").read_text()


def test_starting_a_running_process_again_is_refused(tmp_path: Path) -> None:
    # A second child would take the first's place in ``proc``: the first could no longer be
    # stopped by its PID, and would outlive the run.
    child = ManagedProcess(
        "x", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "x.log"
    )
    first = child.start()
    try:
        with pytest.raises(LocalServiceError, match="already running"):
            child.start()
        assert child.proc is first and child.running()
    finally:
        child.stop()
    assert first.poll() is not None
    child.start()  # once stopped, it starts again
    child.stop()
