"""aiohttp adapter for reading scores: ``GET /api/v1/series/{series_id}/scores``.

Query parameters: ``since`` and ``until`` (epoch ms, RFC 3339, ``now`` or ``-1h``; default the
last hour), ``tenant`` (default: the ``X-Scope-OrgID`` header, else ``default``). The answer is
:meth:`stream.storage.store.Storage.series_report` as JSON.

Every request is authenticated (:mod:`aidevops.auth`) when credentials are configured: the
operator may read any tenant; a tenant's token reads its own tenant only (403 otherwise).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from aidevops.auth import Access, Authenticator
from aidevops.errors import ConfigurationError
from stream.storage.errors import StorageError, StorageUnavailable
from stream.storage.store import Storage, parse_series_id, parse_time

__all__ = ["ACCESS", "SCORES_ROUTE", "add_routes", "auth_middleware", "scores_handler"]

SCORES_ROUTE = "/api/v1/series/{series_id}/scores"
MAX_RANGE_MS = 31 * 86_400_000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ACCESS = web.RequestKey("access", Access)
OPEN_PATHS = frozenset({"/healthz"})


def auth_middleware(
    auth: Authenticator, open_prefix: str | None = None
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """401 without valid credentials (except /healthz); who the request acts as otherwise.

    Paths under ``open_prefix`` (the console, which has its own login) pass through.
    """

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS or (
            open_prefix is not None
            and (request.path == open_prefix or request.path.startswith(open_prefix + "/"))
        ):
            return await handler(request)
        access = auth.access(request.headers.get("Authorization"))
        if access is None:
            raise web.HTTPUnauthorized(
                text="missing or wrong credentials", headers={"WWW-Authenticate": auth.challenge}
            )
        request[ACCESS] = access
        return await handler(request)

    return check


def scores_handler(storage: Storage, tenant_header: str = "X-Scope-OrgID") -> Handler:
    """A handler bound to ``storage``; the lead mounts it (see :func:`add_routes`)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        now = int(time.time() * 1000)
        try:
            series_id = parse_series_id(request.match_info["series_id"])
            until = parse_time(request.query.get("until", "now"), now)
            since = parse_time(request.query.get("since", "-1h"), now)
        except ConfigurationError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        if until <= since or until - since > MAX_RANGE_MS:
            raise web.HTTPBadRequest(text="need since < until, at most 31 days apart")
        requested = request.query.get("tenant") or request.headers.get(tenant_header)
        access = request.get(ACCESS, Access(None))
        tenant = access.resolve(requested, "default")
        if tenant is None:
            raise web.HTTPForbidden(text=f"this token reads tenant {access.tenant!r} only")
        try:
            report = await asyncio.to_thread(storage.series_report, series_id, since, until, tenant)
        except StorageUnavailable as exc:
            raise web.HTTPServiceUnavailable(text=str(exc)) from exc
        except StorageError as exc:
            raise web.HTTPInternalServerError(text=str(exc)) from exc
        return web.json_response(report)

    return handle


def add_routes(app: web.Application, storage: Storage) -> None:
    """Mount the read routes on ``app``."""
    app.router.add_get(SCORES_ROUTE, scores_handler(storage))
