"""Naming a series on the command line: its id, or a Prometheus selector.

``aidevops scores`` accepts ``0123456789abcdef`` (the id, 16 hex digits) or a selector such as
``node_load1{instance="host:9100",job="node"}``. A selector of equalities is a label set, and
a label set plus the tenant is the id (:func:`receiver.labelset.series_id`), so it resolves
without reading anything when that series is stored. Any other selector (a part of the
labels, ``!=``, ``=~``, ``!~``) is matched against the labels stored with the scores, read
with a bounded scan (:meth:`stream.storage.scores.DynamoScoreStore.list_series`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aidevops.errors import ConfigurationError
from receiver.labelset import describe, series_id
from stream.storage.matchers import LabelMatcher, matches_all, parse_matchers
from stream.storage.scores import DynamoScoreStore, SeriesKey, SeriesListing, StoredSeries

__all__ = ["Selector", "format_listing", "list_series", "parse_selector", "resolve_series"]

_HEX_ID = re.compile(r"(?:0x)?[0-9a-fA-F]{16}")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


@dataclass(frozen=True)
class Selector:
    """What names a series: an id, or label matchers."""

    text: str
    series_id: int | None = None
    matchers: tuple[LabelMatcher, ...] = ()

    def label_set(self) -> list[tuple[str, str]] | None:
        """The labels, sorted, when every matcher is an equality (a possible full set)."""
        if self.series_id is not None or not self.matchers:
            return None
        if any(m.op != "=" for m in self.matchers):
            return None
        pairs = sorted((m.name, m.value) for m in self.matchers if m.value != "")
        names = [name for name, _ in pairs]
        if "__name__" not in names or len(set(names)) != len(names):
            return None
        return pairs


def parse_selector(text: str) -> Selector:
    """An id (16 hex digits, optional ``0x``) or a selector ``name{label="value", ...}``.

    >>> parse_selector("00000000deadbeef").series_id == 0xDEADBEEF
    True
    >>> parse_selector('node_load1{job="node"}').label_set()
    [('__name__', 'node_load1'), ('job', 'node')]
    >>> parse_selector('{job=~"no.*"}').label_set() is None
    True
    """
    text = text.strip()
    if _HEX_ID.fullmatch(text):
        return Selector(text, series_id=int(text.removeprefix("0x"), 16))
    name = _METRIC_NAME.match(text)
    rest = text[name.end() :] if name else text
    if rest and not (rest.startswith("{") and rest.endswith("}")):
        raise ConfigurationError(
            f"cannot read series {text!r}: give its id (16 hex digits) or a selector such "
            """as 'node_load1{instance="host:9100"}'"""
        )
    matchers = parse_matchers(rest) if rest else ()
    if name:
        matchers = (LabelMatcher("__name__", "=", name.group(0)), *matchers)
    if not matchers:
        raise ConfigurationError(f"selector {text!r} matches nothing: name a metric or a label")
    return Selector(text, matchers=tuple(matchers))


def list_series(
    store: DynamoScoreStore, selector: Selector | None, tenant: str | None
) -> SeriesListing:
    """Stored series of ``tenant`` (every tenant with None) that ``selector`` matches."""
    listing = store.list_series(tenant)
    if selector is None:
        return listing
    kept = [
        s
        for s in listing.series
        if (s.series.series_id == selector.series_id)
        or (selector.series_id is None and matches_all(selector.matchers, s.labels))
    ]
    return SeriesListing(kept, listing.complete, listing.items_read)


def resolve_series(store: DynamoScoreStore, text: str, tenant: str) -> int:
    """The one series id that ``text`` names for ``tenant``.

    Raises :class:`ConfigurationError` (one line) when the selector matches no stored
    series or several (they are listed, up to five).
    """
    selector = parse_selector(text)
    if selector.series_id is not None:
        return selector.series_id
    labels = selector.label_set()
    if labels is not None:
        direct = series_id(tenant, labels)
        if store.labels(SeriesKey(tenant, direct)):
            return direct
    listing = list_series(store, selector, tenant)
    if len(listing.series) == 1:
        return listing.series[0].series.series_id
    if not listing.series:
        partial = "" if listing.complete else " (the listing stopped early: be more precise)"
        raise ConfigurationError(
            f"no stored series of tenant {tenant!r} matches {text}{partial}; "
            "list them with 'aidevops series'"
        )
    shown = ", ".join(_short(s) for s in listing.series[:5])
    more = f" and {len(listing.series) - 5} more" if len(listing.series) > 5 else ""
    raise ConfigurationError(
        f"{text} matches {len(listing.series)} series of tenant {tenant!r}: {shown}{more}; "
        "add labels to choose one"
    )


def _short(series: StoredSeries) -> str:
    return f"{series.series.series_id:016x} {describe(sorted(series.labels.items()))}"


def format_listing(listing: SeriesListing) -> list[str]:
    """Lines for ``aidevops series``: id, tenant and the labels as a selector."""
    return [
        f"{s.series.series_id:016x}\t{s.series.tenant}\t{describe(sorted(s.labels.items()), 2000)}"
        for s in listing.series
    ]
