"""Per-tenant memory of what was already checked, bounded in bytes."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

__all__ = ["TenantCache"]

V = TypeVar("V")

_EMPTY: Mapping[bytes, object] = {}


class TenantCache(Generic[V]):
    """A map ``tenant -> {key bytes -> value}`` whose estimated size stays under ``max_bytes``.

    The cost of an entry is ``len(key) + overhead + extra(value)`` bytes, where ``overhead``
    is what the key object, the dictionary slot and the value cost beyond the key's own
    bytes and ``extra`` the variable part of the value (the receiver's tests check the
    estimate against :mod:`tracemalloc`). When an entry would pass the
    budget, the older half of every tenant's entries is forgotten (dicts keep insertion
    order). An entry larger than the whole budget is not remembered. Tenants never share
    entries: a lookup only sees its own tenant's keys.

    >>> cache = TenantCache[int](max_bytes=1000, overhead=100)
    >>> cache.put("a", b"x" * 50, 1)
    >>> cache.for_tenant("a").get(b"x" * 50), cache.for_tenant("b").get(b"x" * 50)
    (1, None)
    >>> for i in range(20):
    ...     cache.put("a", bytes([i]) * 50, i)
    >>> cache.bytes <= 1000, len(cache)
    (True, 6)
    """

    def __init__(
        self, max_bytes: int, overhead: int, extra: Callable[[V], int] | None = None
    ) -> None:
        self.max_bytes = max_bytes
        self.overhead = overhead
        self.bytes = 0
        self._extra = extra
        self._tenants: dict[str, dict[bytes, V]] = {}

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._tenants.values())

    def for_tenant(self, tenant: str) -> Mapping[bytes, V]:
        """The tenant's entries, for fast lookups in a loop (do not keep across ``put``)."""
        entries = self._tenants.get(tenant)
        return entries if entries is not None else _EMPTY  # type: ignore[return-value]

    def cost(self, key: bytes, value: V) -> int:
        """Estimated bytes of one entry."""
        return len(key) + self.overhead + (self._extra(value) if self._extra else 0)

    def put(self, tenant: str, key: bytes, value: V) -> None:
        """Remember ``value`` under ``key`` for ``tenant``."""
        cost = self.cost(key, value)
        if cost > self.max_bytes:
            return
        entries = self._tenants.get(tenant)
        if entries is not None and key in entries:
            self.bytes -= self.cost(key, entries.pop(key))
        if self.bytes + cost > self.max_bytes:
            self._forget_older_half(self.bytes + cost - self.max_bytes)
        self._tenants.setdefault(tenant, {})[key] = value
        self.bytes += cost

    def clear(self) -> None:
        self._tenants.clear()
        self.bytes = 0

    def _forget_older_half(self, at_least: int) -> None:
        while self.bytes and at_least > 0:
            before = self.bytes
            for tenant, entries in list(self._tenants.items()):
                kept = dict(itertools.islice(entries.items(), len(entries) // 2, None))
                if kept:
                    self._tenants[tenant] = kept
                else:
                    del self._tenants[tenant]
            self.bytes = sum(
                self.cost(key, value) for e in self._tenants.values() for key, value in e.items()
            )
            at_least -= before - self.bytes
