"""A real Alertmanager (Debian ``prometheus-alertmanager``, 0.25) on a loopback port.

Started by hand (never through systemd) with its own configuration and storage in a
temporary folder, clustering off. Its receiver is a webhook to a local URL, so a test sees
the notifications Alertmanager sends (and those a silence suppresses).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from cli.local.process import free_port

__all__ = ["BINARY", "LocalAlertmanager"]

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

_CONFIG = """\
route:
  receiver: hook
  group_by: [alertname, tenant, instance]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {webhook}
        send_resolved: true
"""


class LocalAlertmanager:
    """``with LocalAlertmanager(tmp, webhook_url) as am``: ``am.url`` is its base URL."""

    def __init__(self, workdir: Path, webhook_url: str) -> None:
        if BINARY is None:
            raise RuntimeError("prometheus-alertmanager is not installed (./dev installs it)")
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._webhook = webhook_url
        self._process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    def __enter__(self) -> LocalAlertmanager:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "alertmanager.yml"
        config.write_text(_CONFIG.format(webhook=self._webhook), encoding="utf-8")
        self._log = log = (self.workdir / "alertmanager.log").open("wb")
        assert BINARY is not None
        self._process = subprocess.Popen(
            [
                BINARY,
                f"--config.file={config}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=info",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"alertmanager exited: see {self.workdir / 'alertmanager.log'}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError("alertmanager did not become ready in 20 s")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def api(self, path: str, body: Any = None) -> Any:
        """GET (or POST ``body`` as JSON to) ``/api/v2/<path>``; the decoded answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v2/{path}",
            data=data,
            headers={"Content-Type": "application/json"},
            method="GET" if body is None else "POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            text = answer.read()
        return json.loads(text) if text else None

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts`` (``active``, ``silenced``, ``inhibited`` filters as strings)."""
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        result: list[dict[str, Any]] = self.api(f"alerts?{query}" if query else "alerts")
        return result
