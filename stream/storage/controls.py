"""Controls per tenant and label matchers: sensitivity, mute and exclusion from scoring.

A control is stored in ``<prefix>-alert-configs`` beside the routes: ``tenant`` (hash key),
``route_id`` = ``control#<12 hex digits>`` (range key, derived from the matchers),
``kind`` = ``control``, ``matchers`` (Prometheus-style strings, ``[]`` = every series of the
tenant), ``created_at`` (ms) and any of ``threshold`` (the alert policy's fire threshold for
matching series, in (0, 1]), ``mute_until`` (ms since the epoch: alerts are recorded and
published but not delivered until then) and ``exclude`` (matching series are not scored).
Route items carry no ``kind``; route listings skip controls, so old tables keep working.

One control per tenant and set of matchers: adding a control with the same matchers again
replaces it (adding the same control twice is a no-op).

Precedence when several controls match a series, each setting decided on its own:

* ``exclude``: any matching control that excludes (a series someone excluded is not scored);
* ``threshold``: the most specific matching control that sets one (more ``=`` matchers, then
  more matchers in all); among equally specific ones the lowest threshold, so a tie never
  loses an alert;
* ``mute_until``: the latest (a mute holds until every matching mute has ended).

Examples
--------
>>> quiet = Control("acme", parse_matchers('{job="batch"}'), threshold=0.7)
>>> loud = Control("acme", parse_matchers('{job="batch", instance="b1"}'), threshold=0.3)
>>> muted = Control("acme", (), mute_until=5_000)
>>> controls = ControlSet([quiet, loud, muted])
>>> controls.for_series("acme", {"job": "batch", "instance": "b1"})
SeriesControls(exclude=False, threshold=0.3, mute_until=5000)
>>> controls.for_series("acme", {"job": "batch", "instance": "b2"})
SeriesControls(exclude=False, threshold=0.7, mute_until=5000)
>>> controls.for_series("globex", {"job": "batch"})
SeriesControls(exclude=False, threshold=None, mute_until=0)
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from aidevops.errors import ConfigurationError
from stream.storage.matchers import LabelMatcher, MatcherSpec, matches_all, parse_matchers
from stream.storage.tenant_cache import TenantCache

if TYPE_CHECKING:  # the worker's engine uses ControlSet without loading botocore
    from stream.storage.dynamodb import DynamoGateway, Item

__all__ = [
    "CONTROL_KIND",
    "CONTROL_PREFIX",
    "Control",
    "ControlSet",
    "ControlStore",
    "MuteSource",
    "SeriesControls",
    "check_control",
    "control_id_for",
    "is_control_item",
]

CONTROL_PREFIX = "control#"
"""Range keys of controls start with this; route ids never do."""
CONTROL_KIND = "control"


def control_id_for(matchers: Iterable[LabelMatcher]) -> str:
    """The control id of a set of matchers (their order does not matter).

    >>> control_id_for(parse_matchers('{job="a", env="b"}'))
    'control#58f2b0ac5b07'
    >>> control_id_for(parse_matchers('{env="b", job="a"}'))
    'control#58f2b0ac5b07'
    """
    text = "\n".join(sorted(str(m) for m in matchers))
    return CONTROL_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:12]


def check_control(threshold: float | None, mute_until: int | None, exclude: bool) -> None:
    """Refuse a control that sets nothing, or a value out of range.

    >>> check_control(0.5, None, False)
    >>> check_control(None, None, False)
    Traceback (most recent call last):
    ...
    aidevops.errors.ConfigurationError: a control sets a threshold, a mute or an exclusion
    >>> check_control(1.5, None, False)
    Traceback (most recent call last):
    ...
    aidevops.errors.ConfigurationError: threshold 1.5 must be in (0, 1]
    >>> check_control(0.5, None, True)
    Traceback (most recent call last):
    ...
    aidevops.errors.ConfigurationError: an excluded series is not scored: a threshold or a \
mute has no effect with exclude
    """
    if threshold is None and mute_until is None and not exclude:
        raise ConfigurationError("a control sets a threshold, a mute or an exclusion")
    if threshold is not None and not (math.isfinite(threshold) and 0.0 < threshold <= 1.0):
        raise ConfigurationError(f"threshold {threshold} must be in (0, 1]")
    if mute_until is not None and mute_until <= 0:
        raise ConfigurationError(f"mute_until {mute_until} must be a time (ms since the epoch)")
    if exclude and (threshold is not None or mute_until is not None):
        raise ConfigurationError(
            "an excluded series is not scored: a threshold or a mute has no effect with exclude"
        )


@dataclass(frozen=True, slots=True)
class Control:
    """One control of a tenant: label matchers and what they set."""

    tenant: str
    matchers: tuple[LabelMatcher, ...]
    threshold: float | None = None
    mute_until: int | None = None
    exclude: bool = False
    created_at: int = 0

    @property
    def control_id(self) -> str:
        return control_id_for(self.matchers)

    @property
    def specificity(self) -> tuple[int, int]:
        """(equality matchers, all matchers): the larger, the more specific."""
        return sum(1 for m in self.matchers if m.op == "="), len(self.matchers)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)


@dataclass(frozen=True, slots=True)
class SeriesControls:
    """What the controls in force say of one series (``mute_until`` 0: not muted)."""

    exclude: bool = False
    threshold: float | None = None
    mute_until: int = 0


NO_CONTROLS = SeriesControls()


class ControlSet:
    """The controls in force, by tenant; :meth:`for_series` applies the precedence rules."""

    def __init__(self, controls: Iterable[Control] = ()) -> None:
        self._by_tenant: dict[str, tuple[Control, ...]] = {}
        for control in sorted(controls, key=lambda c: (c.tenant, c.control_id)):
            self._by_tenant[control.tenant] = (*self._by_tenant.get(control.tenant, ()), control)

    def __repr__(self) -> str:
        return f"ControlSet({len(self)} controls)"

    def __len__(self) -> int:
        return sum(map(len, self._by_tenant.values()))

    def scoring_key(self) -> tuple[tuple[str, str, float | None, bool], ...]:
        """What the scoring depends on (thresholds, exclusions): equal keys score alike."""
        return tuple(
            (c.tenant, c.control_id, c.threshold, c.exclude)
            for controls in self._by_tenant.values()
            for c in controls
            if c.threshold is not None or c.exclude
        )

    def for_series(self, tenant: str, labels: Mapping[str, str]) -> SeriesControls:
        """The series' exclusion, threshold and mute (see the module docstring)."""
        found = [c for c in self._by_tenant.get(tenant, ()) if c.matches(labels)]
        if not found:
            return NO_CONTROLS
        with_threshold = [c for c in found if c.threshold is not None]
        threshold = None
        if with_threshold:
            best = max(
                with_threshold,
                key=lambda c: (c.specificity, -(c.threshold or 0.0)),
            )
            threshold = best.threshold
        return SeriesControls(
            exclude=any(c.exclude for c in found),
            threshold=threshold,
            mute_until=max(c.mute_until or 0 for c in found),
        )


def is_control_item(item: Item) -> bool:
    """Whether an alert-configs item is a control (not a route)."""
    return bool(item.get("kind", {}).get("S") == CONTROL_KIND)


def _control_from_item(item: Item) -> Control:
    return Control(
        tenant=item["tenant"]["S"],
        matchers=parse_matchers([v["S"] for v in item.get("matchers", {}).get("L", [])]),
        threshold=float(item["threshold"]["N"]) if "threshold" in item else None,
        mute_until=int(item["mute_until"]["N"]) if "mute_until" in item else None,
        exclude=bool(item.get("exclude", {}).get("BOOL", False)),
        created_at=int(item.get("created_at", {}).get("N", "0")),
    )


class MuteSource(Protocol):
    """Where the notifier learns whether a series' alerts are muted (the controls)."""

    async def muted_until(self, tenant: str, labels: Mapping[str, str]) -> int:
        """Until when (ms since the epoch) the series' alerts are muted; 0 when not."""
        ...


class ControlStore:
    """Controls in ``<prefix>-alert-configs``; the notifier's mute source.

    ``muted_until`` caches a tenant's controls for ``cache_seconds`` (as the routes are), so
    a burst of alerts costs one query; ``add``/``remove`` in this process clear the cache.
    """

    def __init__(
        self,
        gateway: DynamoGateway,
        table: str,
        *,
        cache_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gateway = gateway
        self.table = table
        self._cache = TenantCache(
            lambda tenant: ControlSet(self.list(tenant)), cache_seconds, clock
        )

    def add(
        self,
        tenant: str,
        matchers: MatcherSpec = (),
        *,
        threshold: float | None = None,
        mute_until: int | None = None,
        exclude: bool = False,
        created_at: int | None = None,
    ) -> Control:
        """Store a control, replacing the tenant's control with the same matchers."""
        parsed = parse_matchers(matchers)
        check_control(threshold, mute_until, exclude)
        control = Control(
            tenant=tenant,
            matchers=parsed,
            threshold=threshold,
            mute_until=mute_until,
            exclude=exclude,
            created_at=created_at if created_at is not None else int(time.time() * 1000),
        )
        item: Item = {
            "tenant": {"S": tenant},
            "route_id": {"S": control.control_id},
            "kind": {"S": CONTROL_KIND},
            "matchers": {"L": [{"S": str(m)} for m in parsed]},
            "created_at": {"N": str(control.created_at)},
        }
        if threshold is not None:
            item["threshold"] = {"N": repr(float(threshold))}
        if mute_until is not None:
            item["mute_until"] = {"N": str(int(mute_until))}
        if exclude:
            item["exclude"] = {"BOOL": True}
        self.gateway.put(self.table, item)
        self._cache.forget(tenant)
        return control

    def list(self, tenant: str) -> builtins.list[Control]:
        """The tenant's controls, by id."""
        return [
            _control_from_item(item)
            for item in self.gateway.query(
                TableName=self.table,
                KeyConditionExpression="tenant = :t AND begins_with(route_id, :c)",
                ExpressionAttributeValues={":t": {"S": tenant}, ":c": {"S": CONTROL_PREFIX}},
                ConsistentRead=True,
            )
            if is_control_item(item)
        ]

    def remove(self, tenant: str, control_id: str) -> bool:
        """Delete a control (``control#...``, or the hex part alone); True if it existed."""
        if not control_id.startswith(CONTROL_PREFIX):
            control_id = CONTROL_PREFIX + control_id
        self._cache.forget(tenant)
        return self.gateway.delete(
            self.table, {"tenant": {"S": tenant}, "route_id": {"S": control_id}}
        )

    def everything(self) -> ControlSet:
        """Every tenant's controls (a scan of the table: it holds routes and controls only)."""
        items = self.gateway.scan(
            TableName=self.table,
            FilterExpression="#k = :c",
            ExpressionAttributeNames={"#k": "kind"},
            ExpressionAttributeValues={":c": {"S": CONTROL_KIND}},
            ConsistentRead=True,
        )
        return ControlSet(_control_from_item(item) for item in items if is_control_item(item))

    def for_tenant(self, tenant: str) -> ControlSet:
        """The tenant's controls, cached ``cache_seconds``."""
        return self._cache.get(tenant)

    async def muted_until(self, tenant: str, labels: Mapping[str, str]) -> int:
        """Until when (ms) alerts of the series with ``labels`` are muted; 0 when not."""
        controls = await asyncio.to_thread(self.for_tenant, tenant)
        return controls.for_series(tenant, labels).mute_until
