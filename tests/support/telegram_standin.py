"""A local stand-in for the Telegram Bot API, for python-telegram-bot's real ``Bot``.

It speaks the Bot API over HTTP on ``127.0.0.1`` (a free port): ``POST /bot<token>/<method>``
with form, multipart or JSON parameters, answering the Bot API envelope
``{"ok": true, "result": ...}`` for ``getMe`` and ``sendMessage``. Every request is recorded,
and failures can be scripted per method (429 with ``retry_after``, 5xx, 400, slow replies).
Point a bot at it with ``Bot(token, base_url=standin.base_url)``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

__all__ = ["Received", "Reply", "TelegramStandin"]

JSON = dict[str, Any]


@dataclass(frozen=True)
class Received:
    """One request the stand-in received, and the status it answered."""

    method: str
    token: str
    params: dict[str, str]
    status: int

    @property
    def ok(self) -> bool:
        """Whether the stand-in accepted the request (HTTP 200)."""
        return self.status == 200


@dataclass(frozen=True)
class Reply:
    """A scripted answer to one request; ``body=None`` means the normal success envelope."""

    status: int = 200
    body: JSON | None = None
    delay: float = 0.0

    @classmethod
    def too_many_requests(cls, retry_after: int) -> Reply:
        """HTTP 429 with ``parameters.retry_after``, as Telegram's flood control answers."""
        return cls(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {retry_after}",
                "parameters": {"retry_after": retry_after},
            },
        )

    @classmethod
    def server_error(cls, status: int = 502) -> Reply:
        """A 5xx answer (Telegram answers 502 Bad Gateway when overloaded)."""
        return cls(status, {"ok": False, "error_code": status, "description": "Bad Gateway"})

    @classmethod
    def bad_request(cls, description: str = "Bad Request: chat not found") -> Reply:
        """HTTP 400, e.g. an unknown chat or malformed HTML."""
        return cls(400, {"ok": False, "error_code": 400, "description": description})

    @classmethod
    def slow(cls, delay: float) -> Reply:
        """A success answered only after ``delay`` seconds (to provoke client timeouts)."""
        return cls(200, None, delay)


@dataclass
class TelegramStandin:
    """The stand-in server; use as ``async with TelegramStandin(token) as standin``."""

    token: str
    bot_username: str = "aidevops_test_bot"
    requests: list[Received] = field(default_factory=list)
    _scripts: defaultdict[str, deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    _runner: web.AppRunner | None = None
    _port: int = 0
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """The value for ``Bot(base_url=...)``: the token is appended to it."""
        return f"{self.url}/bot"

    def script(self, method: str, *replies: Reply) -> None:
        """Answer the next requests of ``method`` with ``replies``, then succeed again."""
        self._scripts[method].extend(replies)

    def received(self, method: str = "sendMessage") -> list[Received]:
        """The requests of ``method`` received so far, in order."""
        return [r for r in self.requests if r.method == method]

    def delivered(self) -> list[Received]:
        """``sendMessage`` requests that were accepted."""
        return [r for r in self.received("sendMessage") if r.ok]

    async def __aenter__(self) -> TelegramStandin:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
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

    async def _handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        params = await _params(request)
        reply = self._next_reply(token, method)
        self.requests.append(Received(method, token, params, reply.status))
        if reply.delay:
            await asyncio.sleep(reply.delay)
        body = reply.body if reply.body is not None else self._success(method, params)
        return web.json_response(body, status=reply.status)

    def _next_reply(self, token: str, method: str) -> Reply:
        if token != self.token:
            return Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        if method not in ("getMe", "sendMessage"):
            return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        queue = self._scripts[method]
        return queue.popleft() if queue else Reply()

    def _success(self, method: str, params: dict[str, str]) -> JSON:
        if method == "getMe":
            user = {
                "id": 4242,
                "is_bot": True,
                "first_name": "aidevops",
                "username": self.bot_username,
            }
            return {"ok": True, "result": user}
        chat_id = int(params.get("chat_id", "0"))
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group", "title": "t"},
            "text": params.get("text", ""),
        }
        return {"ok": True, "result": message}


async def _params(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        data = await request.json()
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}
