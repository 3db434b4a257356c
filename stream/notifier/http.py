"""JSON over HTTP with the retries every webhook-style service needs (aiohttp).

Used by the PagerDuty Events v2, generic webhook and Alertmanager outputs. One place decides
what a status means, the same way the Telegram boundary does:

* 2xx: accepted.
* 429: wait ``Retry-After`` (seconds or an HTTP date) when it is at most
  ``max_retry_after`` and attempts remain; otherwise :class:`DeliveryFailed` carrying it, so
  the caller defers the message instead of blocking.
* 5xx, connection errors, timeouts: exponential backoff, then :class:`DeliveryFailed`.
* 401, 403: :class:`CredentialsRejected`; any other 4xx: :class:`DeliveryRejected`. Never
  retried.

Error messages name the service and the status, never the URL's secret parts: callers pass
a ``where`` that is safe to show, and a :class:`~stream.notifier.redaction.Redactor` scrubs
the answer's excerpt.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

from stream.notifier.errors import CredentialsRejected, DeliveryFailed, DeliveryRejected
from stream.notifier.redaction import Redactor
from stream.notifier.telegram import RetryPolicy

__all__ = ["JsonPoster", "retry_after_seconds"]

Sleep = Callable[[float], Awaitable[None]]
_EXCERPT = 200


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or an HTTP date).

    Examples
    --------
    >>> retry_after_seconds("7")
    7.0
    >>> at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    >>> retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", now=at)
    30.0
    >>> retry_after_seconds("soon") is None
    True
    """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - current).total_seconds())


class JsonPoster:
    """POSTs JSON documents with :class:`RetryPolicy`; open with ``async with``.

    Parameters
    ----------
    service
        Name used in error messages (``"pagerduty"``).
    retry
        Attempts and backoff.
    timeout
        Total seconds per attempt.
    sleep
        How to wait between attempts (injected so tests observe the waits).
    """

    def __init__(
        self,
        service: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.service = service
        self.retry = retry or RetryPolicy()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"JsonPoster({self.service!r}, retry={self.retry!r})"

    async def __aenter__(self) -> JsonPoster:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self,
        url: str,
        body: Any,
        *,
        where: str,
        headers: Mapping[str, str] | None = None,
        redactor: Redactor | None = None,
    ) -> Any:
        """POST ``body`` as JSON; return the decoded answer (``None`` if not JSON)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        scrub = (redactor or Redactor()).scrub
        data = json.dumps(body, separators=(",", ":")).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._session.post(url, data=data, headers=all_headers) as response:
                    text = await response.text()
                    status = response.status
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}"
                if attempt >= self.retry.max_attempts:
                    raise DeliveryFailed(
                        f"{self.service} {where} failed after {attempt} attempt(s): {problem}"
                    ) from None
                await self._sleep(self.retry.delay(attempt))
                continue
            if 200 <= status < 300:
                try:
                    return json.loads(text) if text else None
                except ValueError:
                    return None
            detail = (
                f"{self.service} {where} failed after {attempt} attempt(s): "
                f"HTTP {status} {scrub(text[:_EXCERPT])}".rstrip()
            )
            if status == 429:
                if (
                    attempt < self.retry.max_attempts
                    and (retry_after or 0.0) <= self.retry.max_retry_after
                ):
                    await self._sleep(retry_after if retry_after is not None else 1.0)
                    continue
                raise DeliveryFailed(detail, retry_after=retry_after)
            if status >= 500:
                if attempt < self.retry.max_attempts:
                    await self._sleep(self.retry.delay(attempt))
                    continue
                raise DeliveryFailed(detail, retry_after=retry_after)
            if status in (401, 403):
                raise CredentialsRejected(detail)
            raise DeliveryRejected(detail)
