"""The read API process (``aidevops api``): stored scores and alerts over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from aidevops.auth import Authenticator
from stream.api.routes import add_routes, auth_middleware
from stream.api.settings import ApiSettings
from stream.console.app import PREFIX, add_console
from stream.console.live import LiveBoard
from stream.console.tester import NotifierRouteTester
from stream.storage.store import Storage

__all__ = ["create_api_app", "serve_api"]

STORAGE = web.AppKey("storage", Storage)


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def create_api_app(
    storage: Storage, auth: Authenticator | None = None, settings: ApiSettings | None = None
) -> web.Application:
    """The read API: ``GET /api/v1/series/{series_id}/scores`` (the dashboard uses it).

    With ``auth`` every route but ``/healthz`` and the console asks for credentials, scoped
    per tenant; the console (``/console``) asks for a login with the same credentials. With
    ``settings`` the console follows live scores and can send route tests.
    """
    auth = auth or Authenticator()
    app = web.Application(middlewares=[auth_middleware(auth, open_prefix=PREFIX)])
    app[STORAGE] = storage
    app.router.add_get("/healthz", _healthz)
    add_routes(app, storage)
    if settings is None:
        add_console(app, storage, auth)
    else:
        add_console(
            app,
            storage,
            auth,
            board=LiveBoard(max_series=settings.console_live_max_series),
            follow=settings,
            lookback_seconds=settings.console_live_lookback_seconds,
            tester=NotifierRouteTester(settings),
            grafana_url_template=settings.grafana_url_template,
            secure_cookie=settings.console_secure_cookie,
            session_seconds=settings.console_session_seconds,
        )

    async def close(app: web.Application) -> AsyncIterator[None]:
        yield
        app[STORAGE].close()

    app.cleanup_ctx.append(close)
    return app


def serve_api(settings: ApiSettings) -> None:
    """Serve the read API until SIGTERM or SIGINT."""
    web.run_app(
        create_api_app(
            Storage.from_settings(settings), Authenticator.from_settings(settings), settings
        ),
        host=settings.api_host,
        port=settings.api_port,
        print=None,
        access_log=None,
    )
