"""SNS on a local moto server, with a proxy in front that can answer SNS's failures.

moto's server speaks the SNS query protocol (and SQS, so an SQS queue subscribed to a topic
receives what was published, as an e-mail subscriber would). moto cannot be told to fail,
so :class:`SnsFailures` is a small HTTP proxy: each request goes to moto unless a failure is
scripted, answered in SNS's own XML error format (``Throttling`` 400, ``InternalError``
500, ``InvalidClientTokenId`` 403), which boto3 parses into ``ClientError`` as AWS's would.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from types import TracebackType

import aiohttp
from aiohttp import web

from tests.support.http_standin import serve

__all__ = ["SnsFailure", "SnsFailures"]

_ERROR = """<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>00000000-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>"""


@dataclass(frozen=True)
class SnsFailure:
    """One scripted SNS error answer."""

    status: int
    code: str
    message: str

    @classmethod
    def throttling(cls) -> SnsFailure:
        return cls(400, "Throttling", "Rate exceeded")

    @classmethod
    def internal(cls) -> SnsFailure:
        return cls(500, "InternalError", "Internal service error")

    @classmethod
    def bad_token(cls) -> SnsFailure:
        return cls(403, "InvalidClientTokenId", "The security token included is invalid.")


@dataclass
class SnsFailures:
    """``async with SnsFailures(moto_url) as proxy``: point boto3 at ``proxy.url``."""

    upstream: str
    failures: deque[SnsFailure] = field(default_factory=deque)
    publishes: int = 0
    _runner: web.AppRunner | None = None
    _port: int = 0
    _session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def fail(self, *failures: SnsFailure) -> None:
        """Answer the next ``Publish`` requests with ``failures``."""
        self.failures.extend(failures)

    async def __aenter__(self) -> SnsFailures:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
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
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if b"Action=Publish" in body:
            self.publishes += 1
            if self.failures:
                failure = self.failures.popleft()
                kind = "Receiver" if failure.status >= 500 else "Sender"
                return web.Response(
                    status=failure.status,
                    text=_ERROR.format(kind=kind, code=failure.code, message=failure.message),
                    content_type="text/xml",
                )
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as answer:
            return web.Response(
                status=answer.status,
                body=await answer.read(),
                headers={
                    k: v
                    for k, v in answer.headers.items()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection")
                },
            )
