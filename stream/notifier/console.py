"""A notifier that prints messages: what ``aidevops up`` uses when no bot token is set."""

from __future__ import annotations

import html
import re
import sys
from typing import TextIO

__all__ = ["ConsoleNotifier"]

_TAG = re.compile(r"<[^>]+>")


class ConsoleNotifier:
    """Writes each message, HTML tags removed, to ``out``.

    >>> import io
    >>> out = io.StringIO()
    >>> import asyncio
    >>> asyncio.run(ConsoleNotifier(out).send("42", "<b>FIRING</b> load &gt; 3"))
    >>> out.getvalue()
    '[alert to chat 42]\\nFIRING load > 3\\n\\n'
    """

    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stdout

    async def send(self, chat_id: str, text: str) -> None:
        plain = html.unescape(_TAG.sub("", text))
        self.out.write(f"[alert to chat {chat_id}]\n{plain}\n\n")
        self.out.flush()
