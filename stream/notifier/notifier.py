"""The port every notification channel implements."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Notifier"]


class Notifier(Protocol):
    """A channel that delivers one rendered message to one chat."""

    async def send(self, chat_id: str, text: str) -> None:
        """Deliver ``text`` to ``chat_id``; return only once the channel accepted it.

        Raises :class:`~stream.notifier.errors.DeliveryFailed` (transient: retry later) or
        :class:`~stream.notifier.errors.DeliveryRejected` (permanent).
        """
        ...
