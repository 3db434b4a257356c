"""A child process we started, stopped by its PID and never by name."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self, TextIO

from aidevops.errors import LocalServiceError

__all__ = ["LocalService", "ManagedProcess", "free_port", "wait_for_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    """Block until ``host:port`` accepts connections, the process dies, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalServiceError(f"process {proc.args!r} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise LocalServiceError(f"{host}:{port} not listening after {timeout:.0f}s")


class ManagedProcess:
    """Start a command with its output in a log file; stop it by PID on :meth:`stop`.

    With ``echo``, the command's standard output (not its logging, which goes to standard
    error) is also copied, line by line, to ``echo``: how ``aidevops up`` shows the alerts
    the notifier prints on the console the user watches, while the log keeps everything.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        cwd: Path | None = None,
        echo: TextIO | None = None,
    ):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.echo = echo
        self.proc: subprocess.Popen[bytes] | None = None
        self._copier: threading.Thread | None = None

    def start(self) -> subprocess.Popen[bytes]:
        if self.running():
            # A second child would replace the first in ``proc``: the first could then no
            # longer be stopped by its PID (``with service.start():`` starts twice).
            raise LocalServiceError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - argv is ours
                self.argv,
                stdout=log if self.echo is None else subprocess.PIPE,
                stderr=subprocess.STDOUT if self.echo is None else log,
                stdin=subprocess.DEVNULL,
                cwd=self.cwd,
                start_new_session=True,
            )
        if self.echo is not None:
            self._copier = threading.Thread(
                target=self._copy_output, name=f"{self.name}-stdout", daemon=True
            )
            self._copier.start()
        return self.proc

    def _copy_output(self) -> None:
        """Copy the child's stdout to ``echo`` and to the log until it closes."""
        assert self.proc is not None and self.proc.stdout is not None and self.echo is not None
        with self.proc.stdout, self.log_path.open("ab") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                with contextlib.suppress(ValueError, OSError):
                    self.echo.write(line.decode(errors="replace"))
                    self.echo.flush()

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise LocalServiceError(f"{self.name} was not started")
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; idempotent."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
        if self._copier is not None:
            self._copier.join(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL at once: what a crash looks like to everyone else."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def log_tail(self, limit: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except FileNotFoundError:
            return ""


class LocalService:
    """A real part run as a child process; a context manager that stops it by PID.

    Subclasses set ``_process`` and implement :meth:`start` (launch, then wait until ready).
    """

    _process: ManagedProcess

    def start(self) -> Self:
        raise NotImplementedError

    @property
    def pid(self) -> int:
        return self._process.pid

    def stop(self) -> None:
        self._process.stop()

    def kill(self) -> None:
        self._process.kill()

    def log_tail(self) -> str:
        return self._process.log_tail()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
