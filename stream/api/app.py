"""The read API process (``aidevops api``): stored scores and alerts over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from aidevops.auth import Authenticator
from stream.api.routes import add_routes, auth_middleware
from stream.api.settings import ApiSettings
from stream.storage.store import Storage

__all__ = ["create_api_app", "serve_api"]

STORAGE = web.AppKey("storage", Storage)


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def create_api_app(storage: Storage, auth: Authenticator | None = None) -> web.Application:
    """The read API: ``GET /api/v1/series/{series_id}/scores`` (the dashboard uses it).

    With ``auth`` every route but ``/healthz`` asks for credentials, scoped per tenant.
    """
    app = web.Application(middlewares=[auth_middleware(auth or Authenticator())])
    app[STORAGE] = storage
    app.router.add_get("/healthz", _healthz)
    add_routes(app, storage)

    async def close(app: web.Application) -> AsyncIterator[None]:
        yield
        app[STORAGE].close()

    app.cleanup_ctx.append(close)
    return app


def serve_api(settings: ApiSettings) -> None:
    """Serve the read API until SIGTERM or SIGINT."""
    web.run_app(
        create_api_app(Storage.from_settings(settings), Authenticator.from_settings(settings)),
        host=settings.api_host,
        port=settings.api_port,
        print=None,
        access_log=None,
    )
