"""Is a TCP port free, and if not, who holds it: checked before anything is started.

The owner is found as ``ss -ltnp`` does: the listening socket's inode in ``/proc/net/tcp*``,
then the process whose file descriptors include it (only processes we may inspect).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aidevops.errors import LocalServiceError

__all__ = ["PortClaim", "PortInUse", "check_ports", "port_owner", "port_problem"]

_LISTEN = "0A"


class PortInUse(LocalServiceError):
    """A port we are about to listen on is taken; the message says by whom and what to pass."""


@dataclass(frozen=True)
class PortClaim:
    """A port a component will listen on, and how the user picks another one."""

    component: str
    host: str
    port: int
    choose: str
    """How to choose another port, e.g. ``--broker-port`` or ``AIDEVOPS_RECEIVER_PORT``."""


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[3] == _LISTEN:
                    if int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
    return inodes


def _holds(proc: Path, targets: set[str]) -> bool:
    try:
        fds = list((proc / "fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):  # closed meanwhile
            if os.readlink(fd) in targets:
                return True
    return False


def port_owner(port: int) -> str | None:
    """``pid N (command line)`` of the process listening on ``port``, if we can see it."""
    inodes = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        if not _holds(proc, inodes):
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return f"pid {proc.name}"
        words = [Path(argv[0].decode(errors="replace")).name]
        words += [a.decode(errors="replace") for a in argv[1:4] if a]
        return f"pid {proc.name} ({' '.join(words)})"
    return None


def port_problem(claim: PortClaim) -> str | None:
    """None if ``claim.port`` can be listened on, else the one line to show."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers do: TIME_WAIT leftovers of a previous run do not block the port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((claim.host, claim.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                owner = port_owner(claim.port) or "another process"
                return (
                    f"port {claim.port} ({claim.component}) is in use by {owner}; "
                    f"stop it or choose another port with {claim.choose}"
                )
            return f"cannot listen on {claim.host}:{claim.port} ({claim.component}): {exc}"
    return None


def check_ports(claims: Sequence[PortClaim]) -> None:
    """Raise :class:`PortInUse` naming every taken port (one line), or return."""
    seen: dict[int, str] = {}
    problems = []
    for claim in claims:
        if claim.port in seen:
            problems.append(
                f"port {claim.port} is given to both {seen[claim.port]} and {claim.component}; "
                f"choose another with {claim.choose}"
            )
            continue
        seen[claim.port] = claim.component
        problem = port_problem(claim)
        if problem:
            problems.append(problem)
    if problems:
        raise PortInUse("; ".join(problems))
