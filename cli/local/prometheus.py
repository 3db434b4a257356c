"""A real Prometheus (the Debian package's binary) run as a child process on loopback."""

from __future__ import annotations

import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

from aidevops.errors import LocalServiceError
from cli.local.process import LocalService, ManagedProcess, free_port

__all__ = ["LocalPrometheus", "prometheus_binary"]


def prometheus_binary() -> Path:
    """The ``prometheus`` executable on PATH (Debian: package ``prometheus``)."""
    found = shutil.which("prometheus")
    if found is None:
        raise LocalServiceError("prometheus not found: apt-get install prometheus")
    return Path(found)


class LocalPrometheus(LocalService):
    """Prometheus with a given configuration, its TSDB under ``data_dir``, stopped by PID."""

    def __init__(
        self,
        config: str,
        data_dir: Path,
        port: int | None = None,
        extra_args: tuple[str, ...] = (),
    ):
        self.port = port or free_port()
        self.data_dir = data_dir
        self.config_path = data_dir / "prometheus.yml"
        self.config = config
        self._process = ManagedProcess(
            "prometheus",
            [
                str(prometheus_binary()),
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={data_dir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                *extra_args,
            ],
            data_dir / "prometheus.log",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LocalPrometheus:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config)
        proc = self._process.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise LocalServiceError(
                    f"prometheus exited with {proc.returncode}:\n{self._process.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise LocalServiceError(f"prometheus not ready after {timeout:.0f}s")
