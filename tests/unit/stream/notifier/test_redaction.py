"""The token is scrubbed from records of the libraries that log Bot API URLs."""

from __future__ import annotations

import logging

import pytest
import telegram  # noqa: F401  (creates the telegram loggers)

from stream.notifier.redaction import install_log_redaction, uninstall_log_redaction

TOKEN = "777:AAF-redaction-test-token"


def test_messages_arguments_and_tracebacks_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    install_log_redaction(TOKEN)
    try:
        logging.getLogger("httpx").info("HTTP Request: POST %s", f"http://x/bot{TOKEN}/getMe")
        logging.getLogger("telegram.Bot").debug("Set Bot API URL: http://x/bot%s", TOKEN)
        try:
            raise RuntimeError(f"boom at /bot{TOKEN}/sendMessage")
        except RuntimeError:
            logging.getLogger("httpcore.connection").exception("failed")
    finally:
        uninstall_log_redaction(TOKEN)
    assert TOKEN not in caplog.text
    assert "http://x/bot<redacted>/getMe" in caplog.text
    assert "boom at /bot<redacted>/sendMessage" in caplog.text
    assert len(caplog.records) == 3
