"""Mounting the console on the API application: routes, templates, static files, live scores."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import jinja2
from aiohttp import web

from aidevops.auth import Authenticator
from aidevops.settings import KafkaSettings
from stream.console.live import LiveBoard, follow_scores
from stream.console.sessions import SessionStore
from stream.console.tester import RouteTester
from stream.console.views import PREFIX, Console
from stream.storage.store import Storage

__all__ = ["CONSOLE", "PREFIX", "add_console", "templates"]

CONSOLE = web.AppKey("console", Console)
HERE = Path(__file__).resolve().parent


def templates() -> jinja2.Environment:
    """The console's templates, autoescaped (every value is HTML-escaped unless marked)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def add_console(
    app: web.Application,
    storage: Storage,
    auth: Authenticator,
    *,
    board: LiveBoard | None = None,
    follow: KafkaSettings | None = None,
    lookback_seconds: float = 3600.0,
    tester: RouteTester | None = None,
    grafana_url_template: str | None = None,
    secure_cookie: bool = True,
    session_seconds: float = 8 * 3600.0,
) -> Console:
    """Serve the console under ``/console``; with ``follow``, live scores from that broker."""
    console = Console(
        storage=storage,
        auth=auth,
        board=board or LiveBoard(),
        templates=templates(),
        tester=tester,
        grafana_url_template=grafana_url_template,
        secure_cookie=secure_cookie,
        sessions=SessionStore(ttl_seconds=session_seconds),
    )
    app[CONSOLE] = console
    page = console.page
    r = app.router
    r.add_get(PREFIX, console.index)
    r.add_get(f"{PREFIX}/", console.index)
    r.add_get(f"{PREFIX}/login", console.login_form)
    r.add_post(f"{PREFIX}/login", console.login_submit)
    r.add_post(f"{PREFIX}/logout", page(console.logout))
    r.add_get(f"{PREFIX}/now", page(console.now_page))
    r.add_get(f"{PREFIX}/now.json", page(console.now_json, json=True))
    r.add_get(f"{PREFIX}/series/{{series_id}}", page(console.series_page))
    r.add_get(f"{PREFIX}/series/{{series_id}}/raw.json", page(console.series_raw, json=True))
    r.add_get(f"{PREFIX}/alerts", page(console.alerts_page))
    r.add_get(f"{PREFIX}/config", page(console.config_page))
    r.add_post(f"{PREFIX}/config/routes", page(console.route_save))
    r.add_post(f"{PREFIX}/config/routes/{{route_id}}/delete", page(console.route_delete))
    r.add_post(f"{PREFIX}/config/routes/{{route_id}}/test", page(console.route_test))
    r.add_post(f"{PREFIX}/config/controls", page(console.control_save))
    r.add_post(f"{PREFIX}/config/controls/{{control_id}}/delete", page(console.control_delete))
    r.add_static(f"{PREFIX}/static", HERE / "static", append_version=True)
    if follow is not None:
        settings = follow

        async def live(app: web.Application) -> AsyncIterator[None]:
            stop = asyncio.Event()
            task = asyncio.create_task(
                follow_scores(console.board, settings, stop, lookback_seconds=lookback_seconds)
            )
            yield
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)

        app.cleanup_ctx.append(live)
    return console
