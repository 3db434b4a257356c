"""Slack through the official ``slack-sdk``: ``chat.postMessage`` or an incoming webhook.

A route with a channel id posts with a bot token (``AsyncWebClient.chat_postMessage``); a
route without one posts to the incoming webhook its secret names (``AsyncWebhookClient``).
Both send Block Kit blocks rendered from ``deploy/templates/slack.toml`` (Slack mrkdwn; label
values escaped), with the header as the plain ``text`` fallback of notifications.

Failures, as Slack answers them, are translated like Telegram's:

* HTTP 429 (``ratelimited``): wait ``Retry-After`` when short enough, else
  :class:`DeliveryFailed` carrying it; 5xx and connection errors: backoff, then
  :class:`DeliveryFailed`.
* ``invalid_auth``, ``not_authed``, ``token_revoked``, ``account_inactive`` and a webhook's
  403/404 (``invalid_token``, ``no_service``): :class:`CredentialsRejected`.
* Anything else (``channel_not_found``, ``invalid_blocks``, 400): :class:`DeliveryRejected`.

slack-sdk's own retry handlers are off: this module retries, so one policy applies to every
channel. Tokens and webhook URLs are resolved from their references when sending and never
appear in a message, a repr or a log record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from stream.notifier.channels import Message
from stream.notifier.errors import (
    CredentialsRejected,
    DeliveryFailed,
    DeliveryRejected,
    NotificationError,
)
from stream.notifier.http import retry_after_seconds
from stream.notifier.redaction import Redactor
from stream.notifier.secrets import SecretResolver
from stream.notifier.telegram import RetryPolicy
from stream.notifier.template import TEMPLATES_DIR, MessageTemplate
from stream.storage.recipients import RecipientLike

__all__ = ["DEFAULT_SLACK_API_URL", "SLACK_TEMPLATE_PATH", "SlackChannel", "slack_template"]

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
SLACK_TEMPLATE_PATH = TEMPLATES_DIR / "slack.toml"
_BLOCK_TEXT = 3000  # Slack's limit on a section's text
_MAX_BLOCKS = 50
_AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)
_WEBHOOK_AUTH = frozenset({"invalid_token", "no_service", "no_team", "team_disabled"})

Sleep = Callable[[float], Awaitable[None]]


def mrkdwn_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn reserves.

    >>> mrkdwn_escape("<b> & <!channel>")
    '&lt;b&gt; &amp; &lt;!channel&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str) -> str:
    """Slack's ``$link``: ``<url|Grafana>``."""
    return f"<{url.replace('>', '%3E').replace('|', '%7C')}|Grafana>"


def slack_template(
    path: str | None = None, *, grafana_url_template: str | None = None, max_listed: int = 10
) -> MessageTemplate:
    """The Slack template (``path`` or ``deploy/templates/slack.toml``)."""
    from pathlib import Path

    return MessageTemplate.load(
        Path(path) if path else None,
        default=SLACK_TEMPLATE_PATH,
        grafana_url_template=grafana_url_template,
        max_listed=max_listed,
        escape=mrkdwn_escape,
        link_format=slack_link,
        max_chars=_BLOCK_TEXT,
    )


def blocks_for(template: MessageTemplate, message: Message) -> tuple[str, list[dict[str, Any]]]:
    """The fallback text and Block Kit blocks of ``message``."""
    header = template.render_header(message.notification, message.events, message.total)
    blocks: list[dict[str, Any]] = [_section(header)]
    listed = list(message.events[: template.max_listed])[: _MAX_BLOCKS - 3]
    if listed:
        blocks.append({"type": "divider"})
    blocks.extend(_section(template.render_series(event)) for event in listed)
    more = message.total - len(listed)
    if more > 0:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": template.render_more(more)}],
            }
        )
    return header[:_BLOCK_TEXT], blocks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:_BLOCK_TEXT]}}


class SlackChannel:
    """Slack, for routes of channel ``slack``; see the module docstring.

    Parameters
    ----------
    template
        The Slack template (:func:`slack_template`).
    secrets
        Resolves the route's token or webhook URL reference.
    api_url
        Web API base URL (``https://slack.com/api/``).
    retry
        Attempts, backoff and the longest ``Retry-After`` waited in place.
    timeout
        Seconds per request.
    sleep
        How to wait between attempts.
    """

    def __init__(
        self,
        template: MessageTemplate,
        secrets: SecretResolver,
        *,
        api_url: str = DEFAULT_SLACK_API_URL,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.template = template
        self._secrets = secrets
        self._api_url = api_url if api_url.endswith("/") else api_url + "/"
        self._retry = retry or RetryPolicy()
        self._timeout = timeout
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"SlackChannel(api_url={self._api_url!r}, retry={self._retry!r})"

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(self, recipient: RecipientLike, message: Message) -> None:
        text, blocks = blocks_for(self.template, message)
        await self._post(recipient, text, blocks)

    async def deliver_test(self, recipient: RecipientLike) -> None:
        text = self.template.render_test(
            chat_id=recipient.chat_id or "webhook",
            tenant=recipient.tenant,
            route_id=recipient.route_id,
        )
        await self._post(recipient, text, [_section(text)])

    async def _post(
        self, recipient: RecipientLike, text: str, blocks: list[dict[str, Any]]
    ) -> None:
        secret = (await self._secrets.resolve(recipient.secret_ref)).get_secret_value()
        redactor = Redactor(secret)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        where = (
            f"slack chat.postMessage to {recipient.chat_id}"
            if recipient.chat_id
            else f"slack webhook of route {recipient.route_id}"
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                if recipient.chat_id:
                    await self._post_message(secret, recipient.chat_id, text, blocks)
                else:
                    await self._post_webhook(secret, text, blocks)
                return
            except _Retry as retry:
                error = retry.error(where, attempt, redactor)
                wait = retry.wait(attempt, self._retry)
                if wait is None:
                    raise error from None
                await self._sleep(wait)
            except NotificationError as exc:
                raise type(exc)(f"{where}: {redactor.scrub(str(exc))}") from None

    async def _post_message(
        self, token: str, channel: str, text: str, blocks: list[dict[str, Any]]
    ) -> None:
        client = AsyncWebClient(
            token=token,
            base_url=self._api_url,
            timeout=int(self._timeout),
            session=self._session,
            retry_handlers=[],
        )
        try:
            await client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except SlackApiError as exc:
            status, headers, error = _slack_error(exc)
            _raise_for(status, headers, error, auth_errors=_AUTH_ERRORS)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _Retry(None, f"{type(exc).__name__}") from None

    async def _post_webhook(self, url: str, text: str, blocks: list[dict[str, Any]]) -> None:
        client = AsyncWebhookClient(
            url, timeout=int(self._timeout), session=self._session, retry_handlers=[]
        )
        try:
            response = await client.send(text=text, blocks=blocks)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _Retry(None, f"{type(exc).__name__}") from None
        if response.status_code == 200:
            return
        _raise_for(
            response.status_code,
            dict(response.headers or {}),
            str(response.body or "").strip(),
            auth_errors=_WEBHOOK_AUTH,
        )


class _Retry(Exception):
    """A transient failure inside one attempt (429, 5xx, connection)."""

    def __init__(self, retry_after: float | None, detail: str, *, limited: bool = False) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.detail = detail
        self.limited = limited

    def wait(self, attempt: int, policy: RetryPolicy) -> float | None:
        if attempt >= policy.max_attempts:
            return None
        if self.limited:
            wait = self.retry_after if self.retry_after is not None else 1.0
            return wait if wait <= policy.max_retry_after else None
        return policy.delay(attempt)

    def error(self, where: str, attempt: int, redactor: Redactor) -> DeliveryFailed:
        return DeliveryFailed(
            f"{where} failed after {attempt} attempt(s): {redactor.scrub(self.detail)}",
            retry_after=self.retry_after,
        )


def _slack_error(exc: SlackApiError) -> tuple[int, dict[str, str], str]:
    response = exc.response
    status: int = getattr(response, "status_code", None) or getattr(response, "status", 0) or 0
    headers = dict(getattr(response, "headers", {}) or {})
    data = getattr(response, "data", None)
    error = data.get("error", "") if isinstance(data, dict) else ""
    return status, {str(k): str(v) for k, v in headers.items()}, str(error)


def _raise_for(
    status: int, headers: dict[str, str], error: str, *, auth_errors: frozenset[str]
) -> None:
    retry_after = retry_after_seconds(
        next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    )
    detail = f"HTTP {status} {error}".strip()
    if status == 429 or error == "ratelimited":
        raise _Retry(retry_after, detail, limited=True)
    if status >= 500 or status == 0:
        raise _Retry(retry_after, detail)
    if error in auth_errors or status in (401, 403):
        raise CredentialsRejected(detail)
    raise DeliveryRejected(detail)
