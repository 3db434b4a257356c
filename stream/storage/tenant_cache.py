"""What was read of one tenant's alert configs, reused for a while.

The notifier looks up a tenant's routes and mutes for every alert; a burst of alerts must
cost one query per tenant, not one per alert.

Examples
--------
>>> reads = []
>>> now = [0.0]
>>> cache = TenantCache(lambda tenant: reads.append(tenant) or len(reads), 30.0, lambda: now[0])
>>> cache.get("acme"), cache.get("acme"), reads
(1, 1, ['acme'])
>>> now[0] = 31.0
>>> cache.get("acme"), reads
(2, ['acme', 'acme'])
>>> cache.forget("acme"); cache.get("acme")
3
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["TenantCache"]

T = TypeVar("T")


class TenantCache(Generic[T]):
    """``load(tenant)`` at most once every ``seconds`` per tenant (``forget`` reloads)."""

    def __init__(self, load: Callable[[str], T], seconds: float, clock: Callable[[], float]):
        self._load = load
        self._seconds = seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, T]] = {}

    def get(self, tenant: str) -> T:
        now = self._clock()
        entry = self._entries.get(tenant)
        if entry is None or now - entry[0] > self._seconds:
            entry = (now, self._load(tenant))
            self._entries[tenant] = entry
        return entry[1]

    def forget(self, tenant: str) -> None:
        """Read the tenant afresh next time (this process changed it)."""
        self._entries.pop(tenant, None)
