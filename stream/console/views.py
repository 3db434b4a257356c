"""aiohttp handlers of the console pages; each adapts a request to the stores and a template.

Every page needs a session (:mod:`stream.console.sessions`); without one a page redirects to
the login form and a JSON endpoint answers 401, showing nothing. Every form that changes
something is a POST carrying the session's CSRF token, from this site's own origin.
"""

from __future__ import annotations

import asyncio
import math
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from aiohttp import web

from aidevops.auth import Access, Authenticator
from aidevops.errors import AidevopsError, ConfigurationError
from aidevops.pb import alerts_pb2
from stream.console.live import LiveBoard, LiveSeries, group_by_target
from stream.console.series import chart_data, detector_state, fmt_time, merge_points
from stream.console.sessions import COOKIE, Session, SessionStore, login
from stream.console.tester import RouteTester
from stream.notifier.errors import TemplateError
from stream.notifier.template import GrafanaLink
from stream.storage.alert_configs import Route
from stream.storage.alerts import AlertRecord
from stream.storage.controls import Control
from stream.storage.deliveries import DeliveryRecord
from stream.storage.errors import StorageError
from stream.storage.matchers import LabelMatcher, matches_all, parse_matchers
from stream.storage.recipients import CHANNELS
from stream.storage.scores import SeriesKey
from stream.storage.store import Storage, parse_series_id, parse_time

__all__ = ["Console", "PREFIX"]

PREFIX = "/console"
DEFAULT_TENANT = "default"
MAX_RANGE_MS = 31 * 86_400_000
MAX_ALERTS = 500

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SessionHandler = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]


class BadInput(AidevopsError):
    """A query value a page cannot use; the page answers 400 with this message."""


@dataclass
class Console:
    """The console's dependencies and its handlers."""

    storage: Storage
    auth: Authenticator
    board: LiveBoard
    templates: jinja2.Environment
    tester: RouteTester | None = None
    grafana_url_template: str | None = None
    secure_cookie: bool = True
    sessions: SessionStore = field(default_factory=SessionStore)

    # -- plumbing ------------------------------------------------------------------------

    def render(
        self, name: str, session: Session | None, status: int = 200, **context: Any
    ) -> web.Response:
        page = self.templates.get_template(name).render(
            session=session,
            operator=session is not None and session.access.tenant is None,
            prefix=PREFIX,
            fmt_time=fmt_time,
            **context,
        )
        return web.Response(
            text=page,
            status=status,
            content_type="text/html",
            headers={
                "Cache-Control": "no-store",
                "X-Frame-Options": "DENY",
                "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; "
                "form-action 'self'; base-uri 'none'",
                "Referrer-Policy": "same-origin",
            },
        )

    def page(self, handler: SessionHandler, *, json: bool = False) -> Handler:
        """``handler`` behind a session: the login page (or 401 for JSON) without one."""

        async def handle(request: web.Request) -> web.StreamResponse:
            session = self.sessions.get(request.cookies.get(COOKIE))
            fresh = None
            if session is None:
                if self.auth.enabled:
                    if json:
                        raise web.HTTPUnauthorized(text="log in first")
                    raise web.HTTPSeeOther(f"{PREFIX}/login")
                # no credential configured: anyone is the operator, as on the API; the
                # session is still what carries the forms' CSRF token
                fresh = session = self.sessions.open(Access(None))
            if request.method == "POST":
                await self._check_form(request, session)
            try:
                response = await handler(request, session)
            except BadInput as exc:
                response = self.render("error.html", session, 400, message=str(exc))
            except StorageError as exc:
                response = self.render("error.html", session, 503, message=str(exc))
            if fresh is not None:
                self._set_cookie(response, fresh)
            return response

        return handle

    def _set_cookie(self, response: web.StreamResponse, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            session.sid,
            path=PREFIX,
            httponly=True,
            secure=self.secure_cookie,
            samesite="Strict",
            max_age=int(self.sessions.ttl_seconds),
        )

    @staticmethod
    def _same_origin(request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if not origin or origin == "null":
            return False
        return urllib.parse.urlsplit(origin).netloc == request.host

    async def _check_form(self, request: web.Request, session: Session) -> None:
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="cross-origin form refused")
        form = await request.post()
        token = form.get("csrf")
        if not session.csrf_ok(token if isinstance(token, str) else None):
            raise web.HTTPForbidden(text="form token missing or stale: reload the page")

    def tenant(self, session: Session, requested: str | None) -> str:
        """The tenant a request acts for; a tenant's login acts for its own only."""
        tenant = session.access.resolve(requested or None, DEFAULT_TENANT)
        if tenant is None:
            raise web.HTTPForbidden(text=f"this login reads tenant {session.access.tenant!r} only")
        return tenant

    # -- login ---------------------------------------------------------------------------

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        return self.render("login.html", None, message="")

    async def login_submit(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="cross-origin form refused")
        form = await request.post()
        access = login(
            self.auth,
            str(form.get("username", "")),
            str(form.get("password", "")),
            str(form.get("token", "")),
        )
        if access is None:
            return self.render("login.html", None, 401, message="wrong credentials")
        session = self.sessions.open(access)
        redirect = web.HTTPSeeOther(f"{PREFIX}/now")
        self._set_cookie(redirect, session)
        raise redirect

    async def logout(self, request: web.Request, session: Session) -> web.StreamResponse:
        self.sessions.close(session.sid)
        redirect = web.HTTPSeeOther(f"{PREFIX}/login")
        redirect.del_cookie(COOKIE, path=PREFIX)
        raise redirect

    async def index(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther(f"{PREFIX}/now")

    # -- Now -----------------------------------------------------------------------------

    def _now_filters(
        self, request: web.Request, session: Session
    ) -> tuple[str | None, tuple[LabelMatcher, ...], float]:
        requested = request.query.get("tenant", "")
        tenant = session.access.tenant or (requested or None)
        if session.access.tenant is not None and requested not in ("", session.access.tenant):
            raise web.HTTPForbidden(text=f"this login reads tenant {session.access.tenant!r} only")
        try:
            matchers = parse_matchers(request.query.get("match", ""))
        except ConfigurationError as exc:
            raise BadInput(str(exc)) from None
        try:
            min_score = float(request.query.get("min_score") or 0.0)
        except ValueError:
            raise BadInput("min score must be a number between 0 and 1") from None
        if not 0.0 <= min_score <= 1.0:
            raise BadInput("min score must be a number between 0 and 1")
        return tenant, matchers, min_score

    def _now_groups(
        self, tenant: str | None, matchers: Sequence[LabelMatcher], min_score: float
    ) -> list[dict[str, Any]]:
        return [
            {"target": name, "series": [_series_json(s) for s in members]}
            for name, members in group_by_target(self.board.top(tenant, matchers, min_score))
        ]

    async def now_page(self, request: web.Request, session: Session) -> web.StreamResponse:
        query = {k: request.query.get(k, "") for k in ("tenant", "match", "min_score")}
        try:
            tenant, matchers, min_score = self._now_filters(request, session)
        except BadInput as exc:
            return self.render(
                "now.html",
                session,
                400,
                groups=[],
                query=query,
                message=str(exc),
                tenants=self._tenants(session),
                board=self.board,
            )
        return self.render(
            "now.html",
            session,
            groups=self._now_groups(tenant, matchers, min_score),
            query=query,
            message="",
            tenants=self._tenants(session),
            board=self.board,
        )

    async def now_json(self, request: web.Request, session: Session) -> web.StreamResponse:
        try:
            tenant, matchers, min_score = self._now_filters(request, session)
        except BadInput as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(
            {
                "connected": self.board.connected,
                "error": self.board.error,
                "groups": self._now_groups(tenant, matchers, min_score),
            },
            headers={"Cache-Control": "no-store"},
        )

    def _tenants(self, session: Session) -> list[str]:
        if session.access.tenant is not None:
            return [session.access.tenant]
        return self.board.tenants()

    # -- a series ------------------------------------------------------------------------

    def _range(self, request: web.Request) -> tuple[int, int]:
        now = int(time.time() * 1000)
        try:
            until = parse_time(request.query.get("until") or "now", now)
            since = parse_time(request.query.get("since") or "-1h", now)
        except ConfigurationError as exc:
            raise BadInput(str(exc)) from None
        if until <= since or until - since > MAX_RANGE_MS:
            raise BadInput("need since < until, at most 31 days apart")
        return since, until

    def _series_id(self, request: web.Request) -> int:
        try:
            return parse_series_id(request.match_info["series_id"])
        except ConfigurationError as exc:
            raise BadInput(str(exc)) from None

    async def series_page(self, request: web.Request, session: Session) -> web.StreamResponse:
        tenant = self.tenant(session, request.query.get("tenant"))
        series_id = self._series_id(request)
        since, until = self._range(request)
        stored, alerts, labels = await asyncio.to_thread(
            self._stored, tenant, series_id, since, until
        )
        live = self.board.get(tenant, series_id)
        recent = [p for p in (live.points if live else ()) if since <= p.timestamp < until]
        points = merge_points(stored, recent)
        if live is not None:
            labels = labels or live.labels
        if not points and not labels:
            raise web.HTTPNotFound(text="no such series for this tenant")
        data = chart_data(points, alerts)
        return self.render(
            "series.html",
            session,
            tenant=tenant,
            series_id=f"{series_id:016x}",
            labels=labels,
            data=data,
            points=len(points),
            stored=len(stored),
            live=len(recent),
            state=detector_state(points, stale=bool(live and live.stale)),
            alerts=alerts,
            grafana=self._grafana(tenant, series_id, labels, since, until),
            query={k: request.query.get(k, "") for k in ("since", "until")},
        )

    def _stored(
        self, tenant: str, series_id: int, since: int, until: int
    ) -> tuple[list[Any], list[AlertRecord], dict[str, str]]:
        report_points = self.storage.read_scores(series_id, since, until, tenant)
        alerts = self.storage.recent_alerts(series_id, tenant, limit=50)
        labels = self.storage.scores.labels(SeriesKey(tenant, series_id))
        return report_points, alerts, labels

    def _grafana(
        self, tenant: str, series_id: int, labels: dict[str, str], since: int, until: int
    ) -> str:
        if not self.grafana_url_template:
            return ""
        try:
            link = GrafanaLink(self.grafana_url_template)
        except TemplateError:
            return ""
        pad = 30 * 60 * 1000  # GrafanaLink pads an episode by this much; a range is not padded
        event = alerts_pb2.AlertEvent(
            tenant=tenant, series_id=series_id, started_at=since + pad, event_at=until - pad
        )
        for name, value in sorted(labels.items()):
            event.labels.add(name=name, value=value)
        return link.url(event)

    async def series_raw(self, request: web.Request, session: Session) -> web.StreamResponse:
        tenant = self.tenant(session, request.query.get("tenant"))
        series_id = self._series_id(request)
        live = self.board.get(tenant, series_id)
        return web.json_response(
            {
                "tenant": tenant,
                "series_id": f"{series_id:016x}",
                "topic": "scores",
                "labels": live.labels if live else {},
                "stale": bool(live and live.stale),
                "points": live.ring.raw() if live else [],
            },
            headers={"Cache-Control": "no-store"},
        )

    # -- alerts --------------------------------------------------------------------------

    async def alerts_page(self, request: web.Request, session: Session) -> web.StreamResponse:
        tenant = self.tenant(session, request.query.get("tenant"))
        query = {k: request.query.get(k, "") for k in ("since", "until", "match", "state")}
        since, until = self._range_default(request, "-24h")
        try:
            matchers = parse_matchers(query["match"])
        except ConfigurationError as exc:
            raise BadInput(str(exc)) from None
        state = query["state"].upper()
        if state not in ("", "FIRING", "RESOLVED"):
            raise BadInput("state is FIRING, RESOLVED or empty")
        alerts, deliveries = await asyncio.to_thread(
            self._alerts, tenant, since, until, matchers, state
        )
        return self.render(
            "alerts.html",
            session,
            tenant=tenant,
            alerts=alerts,
            deliveries=deliveries,
            query=query,
            limit=MAX_ALERTS,
        )

    def _range_default(self, request: web.Request, since: str) -> tuple[int, int]:
        if not request.query.get("since"):
            request = request.clone(rel_url=request.rel_url.update_query(since=since))
        return self._range(request)

    def _alerts(
        self,
        tenant: str,
        since: int,
        until: int,
        matchers: Sequence[LabelMatcher],
        state: str,
    ) -> tuple[list[AlertRecord], dict[tuple[str, str], list[DeliveryRecord]]]:
        found = [
            a
            for a in self.storage.alerts.between(tenant, since, until)
            if (not state or a.state == state) and matches_all(matchers, a.labels)
        ]
        found.sort(key=lambda a: a.event_at, reverse=True)
        found = found[:MAX_ALERTS]
        deliveries = self.storage.deliveries.of(tenant, {a.dedup_key for a in found})
        return found, deliveries

    # -- alert configuration -------------------------------------------------------------

    async def config_page(self, request: web.Request, session: Session) -> web.StreamResponse:
        tenant = self.tenant(session, request.query.get("tenant"))
        routes = await asyncio.to_thread(self.storage.configs.list, tenant)
        editing = next((r for r in routes if r.route_id == request.query.get("edit")), None)
        return await self._config(session, tenant, routes=routes, form=_form_of(editing))

    def _configuration(self, tenant: str) -> tuple[list[Route], list[Control]]:
        return self.storage.configs.list(tenant), self.storage.controls.list(tenant)

    async def _config(
        self,
        session: Session,
        tenant: str,
        *,
        status: int = 200,
        routes: list[Route] | None = None,
        form: dict[str, str] | None = None,
        control_form: dict[str, str] | None = None,
        message: str = "",
        error: str = "",
    ) -> web.Response:
        fresh, controls = await asyncio.to_thread(self._configuration, tenant)
        return self.render(
            "config.html",
            session,
            status,
            tenant=tenant,
            routes=fresh if routes is None else routes,
            channels=CHANNELS,
            form=form or _form_of(None),
            controls=controls,
            control_form=control_form or {"matchers": "", "threshold": "", "mute": ""},
            message=message,
            error=error,
            tester=self.tester is not None,
        )

    async def route_save(self, request: web.Request, session: Session) -> web.StreamResponse:
        form = await request.post()
        tenant = self.tenant(session, str(form.get("tenant", "")))
        fields = {
            name: str(form.get(name, "")).strip()
            for name in ("channel", "destination", "secret_ref", "matchers", "replaces")
        }
        try:
            matchers = parse_matchers(fields["matchers"])
        except ConfigurationError as exc:
            return await self._config(
                session, tenant, status=400, form=_safe_form(fields, str(exc)), error=str(exc)
            )
        try:
            route = await asyncio.to_thread(
                self.storage.configs.add,
                tenant,
                fields["destination"],
                [str(m) for m in matchers],
                channel=fields["channel"],
                secret_ref=fields["secret_ref"],
            )
        except ConfigurationError as exc:
            return await self._config(
                session, tenant, status=400, form=_safe_form(fields, str(exc)), error=str(exc)
            )
        replaced = fields["replaces"]
        if replaced and replaced != route.route_id:
            await asyncio.to_thread(self.storage.configs.remove, tenant, replaced)
        verb = "updated" if replaced else "created"
        return await self._config(session, tenant, message=f"route {route.route_id} {verb}")

    async def route_delete(self, request: web.Request, session: Session) -> web.StreamResponse:
        route_id = request.match_info["route_id"]
        return await self._delete(request, session, self.storage.configs.remove, route_id)

    async def _delete(
        self,
        request: web.Request,
        session: Session,
        remove: Callable[[str, str], bool],
        item_id: str,
    ) -> web.StreamResponse:
        """Delete a route or a control of the form's tenant (what ``remove`` deletes)."""
        form = await request.post()
        tenant = self.tenant(session, str(form.get("tenant", "")))
        existed = await asyncio.to_thread(remove, tenant, item_id)
        if not existed:
            return await self._config(
                session, tenant, status=404, error=f"no {item_id} for tenant {tenant}"
            )
        return await self._config(session, tenant, message=f"{item_id} deleted")

    async def route_test(self, request: web.Request, session: Session) -> web.StreamResponse:
        form = await request.post()
        tenant = self.tenant(session, str(form.get("tenant", "")))
        route_id = request.match_info["route_id"]
        routes = await asyncio.to_thread(self.storage.configs.list, tenant)
        route = next((r for r in routes if r.route_id == route_id), None)
        if route is None:
            return await self._config(
                session, tenant, status=404, routes=routes, error=f"no route {route_id}"
            )
        if self.tester is None:
            return await self._config(
                session, tenant, status=503, routes=routes, error="no test sender configured"
            )
        failure = await self.tester(route.recipient)
        if failure is not None:
            return await self._config(
                session,
                tenant,
                status=502,
                routes=routes,
                error=f"test to route {route_id} failed: {failure}",
            )
        return await self._config(
            session, tenant, routes=routes, message=f"test message accepted by route {route_id}"
        )

    async def control_save(self, request: web.Request, session: Session) -> web.StreamResponse:
        form = await request.post()
        tenant = self.tenant(session, str(form.get("tenant", "")))
        fields = {
            name: str(form.get(name, "")).strip() for name in ("matchers", "threshold", "mute")
        }
        exclude = form.get("exclude") == "on"
        try:
            matchers = parse_matchers(fields["matchers"])
            threshold = _threshold(fields["threshold"])
            mute_until = _mute_until(fields["mute"], int(time.time() * 1000))
            control = await asyncio.to_thread(
                self.storage.controls.add,
                tenant,
                [str(m) for m in matchers],
                threshold=threshold,
                mute_until=mute_until,
                exclude=exclude,
            )
        except ConfigurationError as exc:
            return await self._config(
                session, tenant, status=400, control_form=fields, error=str(exc)
            )
        return await self._config(session, tenant, message=f"{control.control_id} saved")

    async def control_delete(self, request: web.Request, session: Session) -> web.StreamResponse:
        control_id = request.match_info["control_id"]
        return await self._delete(request, session, self.storage.controls.remove, control_id)


def _threshold(text: str) -> float | None:
    """The form's threshold: empty for none.

    >>> _threshold(""), _threshold("0.7")
    (None, 0.7)
    """
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigurationError(f"threshold {text!r} is not a number in (0, 1]") from None


def _mute_until(text: str, now_ms: int) -> int | None:
    """The form's mute: empty for none, a duration from now (``2h``) or a time (RFC 3339).

    >>> _mute_until("", 0), _mute_until("90m", 1000), _mute_until("1970-01-02T00:00:00Z", 0)
    (None, 5401000, 86400000)
    >>> _mute_until("2020-01-01T00:00:00Z", 1_700_000_000_000)
    Traceback (most recent call last):
    ...
    aidevops.errors.ConfigurationError: a mute must end in the future: 2020-01-01T00:00:00Z
    """
    if not text:
        return None
    until = parse_time(text, now_ms, ahead=True)
    if until <= now_ms:
        raise ConfigurationError(f"a mute must end in the future: {text}")
    return until


def _series_json(s: LiveSeries) -> dict[str, Any]:
    latest = s.latest
    value = latest.value if latest is not None else math.nan
    return {
        "tenant": s.tenant,
        "series_id": f"{s.series_id:016x}",
        "name": s.labels.get("__name__", ""),
        "labels": {k: v for k, v in sorted(s.labels.items()) if k != "__name__"},
        "score": round(s.score, 4),
        "value": value if math.isfinite(value) else None,
        "at": fmt_time(latest.timestamp) if latest is not None else "",
        "warming_up": bool(latest is not None and latest.flags & 1),
        "outage": bool(latest is not None and latest.flags & 2),
    }


def _form_of(route: Route | None) -> dict[str, str]:
    if route is None:
        return {
            "channel": "webhook",
            "destination": "",
            "secret_ref": "",
            "matchers": "",
            "replaces": "",
        }
    return {
        "channel": route.channel,
        "destination": route.chat_id,
        "secret_ref": route.secret_ref,
        "matchers": ", ".join(str(m) for m in route.matchers),
        "replaces": route.route_id,
    }


def _safe_form(fields: dict[str, str], error: str) -> dict[str, str]:
    """The submitted form to show again, without a field that may hold a secret in clear."""
    out = dict(fields)
    if "secret" in error or "credentials" in error:
        out["secret_ref"] = ""
        out["destination"] = ""
    return out
