"""Container health check of the aidevops image; exit status 0 when every target is healthy.

Targets (arguments; default ``http://127.0.0.1:9201/healthz``, the receiver's):

- ``http://...``: a GET answered 2xx within 5 s. The operator's bearer token is sent when
  the process has one (``AIDEVOPS_AUTH_BEARER_TOKEN`` or the mounted secret file), since the
  worker's ``/metrics`` asks for it.
- ``tcp://host:port``: the port accepts a connection (a dependency of a process without a
  port of its own: the sink's and the notifier's broker and DynamoDB).
- ``writable:/path``: the directory can be written by this user (the notifier's sent log).

Only the standard library: it runs in the image with nothing else installed.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import urllib.parse
import urllib.request

TIMEOUT = 5.0
TOKEN_FILE = os.environ.get("AUTH_TOKEN_FILE", "/run/secrets/aidevops_token")


def _token() -> str | None:
    token = os.environ.get("AIDEVOPS_AUTH_BEARER_TOKEN")
    if token:
        return token
    try:
        with open(TOKEN_FILE) as file:
            return file.read().strip() or None
    except OSError:
        return None


def check(target: str) -> str | None:
    """None when ``target`` is healthy, else why not."""
    try:
        if target.startswith(("http://", "https://")):
            request = urllib.request.Request(target)
            token = _token()
            if token:
                request.add_header("Authorization", f"Bearer {token}")
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                response.read()
            return None
        if target.startswith("tcp://"):
            address = urllib.parse.urlsplit(target)
            with socket.create_connection((address.hostname, address.port), timeout=TIMEOUT):
                return None
        if target.startswith("writable:"):
            with tempfile.TemporaryFile(dir=target.removeprefix("writable:")):
                return None
    except OSError as exc:  # URLError, HTTPError and socket errors are all OSError
        return f"{target}: {exc}"
    return f"{target}: unknown kind of target"


def main(argv: list[str]) -> int:
    failures = [f for f in map(check, argv or ["http://127.0.0.1:9201/healthz"]) if f]
    for failure in failures:
        print(f"unhealthy: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
