"""The controls a worker applies: every tenant's, re-read from the alert-configs table.

The worker reads them once before it scores its first record and then every
``controls_refresh_seconds``. When DynamoDB does not answer, the last controls read stay in
force (none before the first successful read) and the failure is logged once, until a read
succeeds again. Only a change of what scoring depends on (thresholds, exclusions) is handed
to the engine: a mute is the notifier's business.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aidevops.errors import AidevopsError
from stream.storage.controls import ControlSet

__all__ = ["WorkerControls"]

log = logging.getLogger(__name__)


class WorkerControls:
    """The last controls read, and whether a new read changes them.

    Parameters
    ----------
    read
        Reads every tenant's controls (``ControlStore.everything``); blocking, so it runs
        in a thread.
    """

    def __init__(self, read: Callable[[], ControlSet]) -> None:
        self._read = read
        self.current: ControlSet | None = None
        self._failing = False

    def __repr__(self) -> str:
        return f"WorkerControls({self.current!r}, failing={self._failing})"

    async def refresh(self) -> ControlSet | None:
        """Read the controls; the new set when scoring must change, else ``None``."""
        try:
            fresh = await asyncio.to_thread(self._read)
        except AidevopsError as exc:  # DynamoDB down or refusing, or an unreadable item
            if not self._failing:
                kept = "the last ones read" if self.current is not None else "none"
                log.warning("controls unreadable, scoring with %s until they are: %s", kept, exc)
                self._failing = True
            return None
        if self._failing:
            log.info("controls readable again (%d)", len(fresh))
            self._failing = False
        previous, self.current = self.current, fresh
        if previous is not None and previous.scoring_key() == fresh.scoring_key():
            return None
        if previous is None and not fresh.scoring_key():
            return None
        return fresh
