"""Keeping the bot token (and every channel's secrets) out of log lines and error messages.

The Bot API puts the token in every URL (``/bot<token>/sendMessage``), and both
python-telegram-bot (debug: "Set Bot API URL") and httpx (info: "HTTP Request: POST <url>")
log those URLs. :func:`install_log_redaction` attaches a filter to those libraries' loggers
that rewrites such records before any handler sees them.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse

__all__ = ["REDACTED", "Redactor", "install_log_redaction", "uninstall_log_redaction"]

REDACTED = "<redacted>"

# Libraries whose records may contain a Bot API URL or another channel's secret.
_LOGGER_PREFIXES = ("telegram", "httpx", "httpcore", "slack_sdk", "aiohttp", "botocore", "urllib3")
# Loggers those libraries create lazily (httpcore's on first use); created here in advance so
# the filter is on them when they first log.
_KNOWN_LOGGERS = (
    "telegram.Bot",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


class Redactor:
    """Replaces secrets (in plain and URL-encoded form) with ``<redacted>``.

    Examples
    --------
    >>> r = Redactor("123:ABC")
    >>> r.scrub("POST https://api.telegram.org/bot123:ABC/sendMessage")
    'POST https://api.telegram.org/bot<redacted>/sendMessage'
    >>> r.scrub("url-encoded: bot123%3AABC")
    'url-encoded: bot<redacted>'
    >>> Redactor("").scrub("nothing to hide")
    'nothing to hide'
    """

    __slots__ = ("_forms",)

    def __init__(self, *secrets: str) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms.update({secret, urllib.parse.quote(secret, safe=""), repr(secret)[1:-1]})
        # longest first, so a form containing another is replaced whole
        self._forms = tuple(sorted(forms, key=len, reverse=True))

    def __repr__(self) -> str:
        return f"Redactor({len(self._forms)} forms)"

    def scrub(self, text: str) -> str:
        """``text`` with every form of every secret replaced."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text


class _RedactingFilter(logging.Filter):
    """Rewrites a record's message and traceback text with the registered secrets removed."""

    def __init__(self) -> None:
        super().__init__("aidevops-redaction")
        self._lock = threading.Lock()
        self._secrets: dict[str, int] = {}
        self._redactor = Redactor()

    def add(self, secret: str) -> None:
        with self._lock:
            self._secrets[secret] = self._secrets.get(secret, 0) + 1
            self._redactor = Redactor(*self._secrets)

    def remove(self, secret: str) -> None:
        with self._lock:
            left = self._secrets.get(secret, 0) - 1
            if left > 0:
                self._secrets[secret] = left
            else:
                self._secrets.pop(secret, None)
            self._redactor = Redactor(*self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = self._redactor
        message = record.getMessage()
        scrubbed = redactor.scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            if redactor.scrub(text) != text:
                record.exc_info, record.exc_text = None, redactor.scrub(text)
        elif record.exc_text:
            record.exc_text = redactor.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = redactor.scrub(record.stack_info)
        return True


_FILTER = _RedactingFilter()


def _library_loggers() -> list[logging.Logger]:
    names = {*_LOGGER_PREFIXES, *_KNOWN_LOGGERS}
    names.update(
        name
        for name in list(logging.root.manager.loggerDict)
        if name.split(".", 1)[0] in _LOGGER_PREFIXES
    )
    return [logging.getLogger(name) for name in sorted(names)]


def install_log_redaction(secret: str) -> None:
    """Scrub ``secret`` from every record of the telegram, httpx and httpcore loggers.

    A logger filter only sees records created on that logger, so it is attached to each
    logger of those libraries existing now (import :mod:`telegram` first: its loggers are
    created at import). Calls are counted: each needs one :func:`uninstall_log_redaction`.
    """
    _FILTER.add(secret)
    for logger in _library_loggers():
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def uninstall_log_redaction(secret: str) -> None:
    """Undo one :func:`install_log_redaction` of ``secret``."""
    _FILTER.remove(secret)
