"""Local stand-ins that speak Slack's, PagerDuty's and a webhook receiver's wire protocols.

Each is a :class:`~tests.support.http_standin.HttpStandin` with handlers answering like the
real service, so the real client libraries (slack-sdk, aiohttp) are exercised end to end:

* **Slack Web API** ``POST /api/chat.postMessage`` (bearer token; ``{"ok": false, "error":
  "invalid_auth"}`` for an unknown token, ``channel_not_found`` for an unknown channel) and
  **incoming webhooks** ``POST /services/T…/B…/<secret>`` (``ok`` as text; 403
  ``invalid_token``, 404 ``no_service``). Rate limiting is HTTP 429 with ``Retry-After`` and
  ``{"ok": false, "error": "ratelimited"}``.
* **PagerDuty Events API v2** ``POST /v2/enqueue``: 202 ``{"status": "success", ...}``; an
  unknown routing key is 400 ``invalid event``; 429 when throttled.
* **Webhook receiver** ``POST /hook``: 200, or 401 without the expected bearer token.
"""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web

from tests.support.http_standin import HttpStandin, Reply

__all__ = ["pagerduty_standin", "slack_standin", "webhook_standin"]


def slack_standin(tokens: set[str], channels: set[str], hooks: set[str]) -> HttpStandin:
    """Slack: bot ``tokens`` may post to ``channels``; ``hooks`` are valid webhook paths."""
    standin = HttpStandin()
    ts = itertools.count(1)

    async def post_message(request: web.Request, body: Any) -> Reply:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in tokens:
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        if not isinstance(body, dict) or body.get("channel") not in channels:
            return Reply(200, {"ok": False, "error": "channel_not_found"})
        return Reply(
            200, {"ok": True, "channel": body["channel"], "ts": f"1700000000.{next(ts):06d}"}
        )

    async def webhook(request: web.Request, body: Any) -> Reply:
        if request.path not in hooks:
            return Reply(404 if request.path.count("/") < 5 else 403, "invalid_token")
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return Reply(400, "invalid_payload")
        return Reply(200, "ok")

    standin.route("/api/chat.postMessage", post_message)
    standin.route("/services/", webhook)
    return standin


def pagerduty_standin(routing_keys: set[str]) -> HttpStandin:
    """PagerDuty Events v2 accepting events for ``routing_keys``."""
    standin = HttpStandin()

    async def enqueue(request: web.Request, body: Any) -> Reply:
        if not isinstance(body, dict) or body.get("routing_key") not in routing_keys:
            return Reply(
                400,
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": ["Invalid routing key"],
                },
            )
        if body.get("event_action") not in ("trigger", "acknowledge", "resolve"):
            return Reply(400, {"status": "invalid event", "message": "bad event_action"})
        if body["event_action"] == "trigger" and not body.get("payload", {}).get("summary"):
            return Reply(400, {"status": "invalid event", "message": "'payload.summary' missing"})
        return Reply(
            202,
            {"status": "success", "message": "Event processed", "dedup_key": body.get("dedup_key")},
        )

    standin.route("/v2/enqueue", enqueue)
    return standin


def webhook_standin(token: str | None = None) -> HttpStandin:
    """A webhook receiver at ``/hook`` requiring ``Bearer token`` when one is given."""
    standin = HttpStandin()

    async def hook(request: web.Request, body: Any) -> Reply:
        if token is not None and request.headers.get("Authorization") != f"Bearer {token}":
            return Reply(401, {"error": "unauthorized"})
        return Reply(200, "")

    standin.route("/hook", hook)
    return standin
