"""A scriptable local HTTP server that records JSON requests: the base of the stand-ins for
PagerDuty Events v2, Slack and generic webhook receivers (Alertmanager's webhook too).

Each stand-in registers handlers that answer like the real service; failures are scripted
per path (``script(path, Reply(...))``): 429 with ``Retry-After``, 5xx, 401/403.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

__all__ = ["HttpStandin", "Request", "Reply", "serve"]


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on a free loopback port: its runner (to clean up) and the port."""
    runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]


@dataclass(frozen=True)
class Request:
    """One request received and the status answered."""

    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    status: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Reply:
    """A scripted answer; ``body`` is sent as JSON (a ``str`` as plain text)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def too_many_requests(cls, retry_after: int, body: Any = None) -> Reply:
        return cls(429, body, {"Retry-After": str(retry_after)})

    @classmethod
    def server_error(cls, status: int = 503) -> Reply:
        return cls(status, "upstream unavailable")


Handler = Callable[[web.Request, Any], Awaitable[Reply]]


@dataclass
class HttpStandin:
    """Use as ``async with HttpStandin() as s``; ``s.url`` is ``http://127.0.0.1:<port>``."""

    requests: list[Request] = field(default_factory=list)
    _handlers: dict[str, Handler] = field(default_factory=dict)
    _scripts: defaultdict[str, deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    _runner: web.AppRunner | None = None
    _port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def route(self, path: str, handler: Handler) -> None:
        """Answer POSTs to ``path`` (a prefix when it ends with ``/``) with ``handler``."""
        self._handlers[path] = handler

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with ``replies`` (before any handler)."""
        self._scripts[path].extend(replies)

    def received(self, path: str | None = None) -> list[Request]:
        return [r for r in self.requests if path is None or r.path.startswith(path)]

    def accepted(self, path: str | None = None) -> list[Request]:
        return [r for r in self.received(path) if r.ok]

    async def __aenter__(self) -> HttpStandin:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner, self._port = await serve(app)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _handler_for(self, path: str) -> Handler | None:
        if path in self._handlers:
            return self._handlers[path]
        for prefix, handler in self._handlers.items():
            if prefix.endswith("/") and path.startswith(prefix):
                return handler
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body: Any
        if request.content_type == "application/json":
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        else:
            body = dict((await request.post()).items()) if raw else None
        path = request.path
        queue = self._scripts.get(path)
        if queue:
            reply = queue.popleft()
        else:
            handler = self._handler_for(path)
            reply = await handler(request, body) if handler else Reply(404, "not found")
        self.requests.append(Request(path, dict(request.headers), body, raw, reply.status))
        if isinstance(reply.body, str):
            return web.Response(status=reply.status, text=reply.body, headers=reply.headers)
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)
