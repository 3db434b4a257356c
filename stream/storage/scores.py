"""The scores table: merge buffered points into bucket items, and read a series back.

Writing is read-merge-write: the bucket's stored chunks are read (strongly consistent), the
new points are merged in by timestamp (a new point replaces a stored one with the same
timestamp), the bucket's items are rebuilt (:func:`stream.storage.buckets.bucket_items`) and
only the items that changed are written. So a replay rewrites nothing (it costs reads, not
writes), a partially written bucket is completed without losing what it held, and the stored
items are always a pure function of the points ever written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from stream.storage.buckets import bucket_items, series_pk, sort_key
from stream.storage.codec import ScorePoint, unpack_points
from stream.storage.dynamodb import DynamoGateway, Item

__all__ = [
    "BucketUpdate",
    "DynamoScoreStore",
    "ScoreStore",
    "SeriesKey",
    "SeriesListing",
    "StoredSeries",
]


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """A series as stored: the tenant and the 64-bit series id (xxh3 of the label set)."""

    tenant: str
    series_id: int

    @property
    def pk(self) -> str:
        return series_pk(self.tenant, self.series_id)


@dataclass(slots=True)
class BucketUpdate:
    """New points for one series and bucket, to merge into what is stored."""

    series: SeriesKey
    labels: Mapping[str, str]
    bucket_start: int
    points: Sequence[ScorePoint] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoredSeries:
    """A series that has stored scores: its key, its labels and its latest point (ms)."""

    series: SeriesKey
    labels: dict[str, str]
    last_ts: int


@dataclass(frozen=True, slots=True)
class SeriesListing:
    """The stored series found, and whether the bounded scan read the whole table."""

    series: list[StoredSeries]
    complete: bool
    items_read: int


class _Scanner(Protocol):
    def scan(self, **kwargs: Any) -> dict[str, Any]: ...


class ScoreStore(Protocol):
    """Where the sink puts scores and where readers get them."""

    def merge(self, updates: Sequence[BucketUpdate]) -> None:
        """Durably merge the points; raises :class:`~stream.storage.errors.StorageError`."""
        ...

    def read(self, series: SeriesKey, since: int, until: int) -> list[ScorePoint]:
        """Points with ``since <= timestamp < until`` (ms), oldest first."""
        ...


def _attr_int(item: Item, name: str, default: int = 0) -> int:
    value = item.get(name)
    return int(value["N"]) if value else default


class DynamoScoreStore:
    """:class:`ScoreStore` on the ``<prefix>-scores`` table."""

    def __init__(
        self, gateway: DynamoGateway, table: str, *, bucket_ms: int, retention_days: int
    ) -> None:
        self.gateway = gateway
        self.table = table
        self.bucket_ms = bucket_ms
        self.retention_days = retention_days

    def _stored_chunks(self, updates: Sequence[BucketUpdate]) -> dict[tuple[str, str], Item]:
        keys = {(u.series.pk, sort_key(u.bucket_start, 0)) for u in updates}
        found = self.gateway.get(self.table, [{"pk": {"S": p}, "sk": {"S": s}} for p, s in keys])
        stored = {(i["pk"]["S"], i["sk"]["S"]): i for i in found}
        more = []
        for (pk, sk), item in list(stored.items()):
            start = int(sk.split("#")[0])
            more += [(pk, sort_key(start, c)) for c in range(1, _attr_int(item, "chunks", 1))]
        if more:
            rest = self.gateway.get(self.table, [{"pk": {"S": p}, "sk": {"S": s}} for p, s in more])
            stored.update({(i["pk"]["S"], i["sk"]["S"]): i for i in rest})
        return stored

    def merge(self, updates: Sequence[BucketUpdate]) -> None:
        merged: dict[tuple[str, int], BucketUpdate] = {}
        for u in updates:
            key = (u.series.pk, u.bucket_start)
            if key in merged:
                merged[key].points = [*merged[key].points, *u.points]
            else:
                merged[key] = BucketUpdate(u.series, u.labels, u.bucket_start, list(u.points))
        by_bucket: dict[tuple[str, str], dict[str, Item]] = {}
        for (pk, sk), item in self._stored_chunks(list(merged.values())).items():
            by_bucket.setdefault((pk, sk.split("#")[0]), {})[sk] = item
        puts: list[Item] = []
        for u in merged.values():
            old_items = by_bucket.get((u.series.pk, f"{u.bucket_start:013d}"), {})
            old_points: list[ScorePoint] = []
            for sk in sorted(old_items):
                old_points += unpack_points(old_items[sk]["points"]["B"])
            items = bucket_items(
                u.series.tenant,
                u.series.series_id,
                u.labels,
                u.bucket_start,
                self.bucket_ms,
                [*old_points, *u.points],
                self.retention_days,
            )
            puts += [i for i in items if not _same(old_items.get(i["sk"]["S"]), i)]
        if puts:
            self.gateway.write(self.table, puts)

    def read(self, series: SeriesKey, since: int, until: int) -> list[ScorePoint]:
        """Points with ``since <= timestamp < until``, oldest first.

        Independent of this store's ``bucket_ms``: every item carries its own bucket's
        bounds, so a reader configured with another bucket length than the sink that wrote
        the items still finds them. Buckets are read newest first from ``until`` and the
        query stops at the first bucket that ends at or before ``since``.
        """
        points: list[ScorePoint] = []
        for item in self.gateway.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk <= :hi",
            ExpressionAttributeValues={
                ":pk": {"S": series.pk},
                ":hi": {"S": sort_key(max(since, until - 1), 99_999)},
            },
            ScanIndexForward=False,
        ):
            if _attr_int(item, "bucket_end", until) <= since:
                break  # this bucket and every older one end before the range
            if _attr_int(item, "last_ts", until) < since:
                continue
            if _attr_int(item, "first_ts", since) >= until:
                continue
            chunk = unpack_points(item["points"]["B"])
            points += (p for p in chunk if since <= p.timestamp < until)
        points.sort(key=lambda p: p.timestamp)
        return points

    def labels(self, series: SeriesKey) -> dict[str, str]:
        """The labels stored with the series' most recent bucket ({} if none)."""
        for item in self.gateway.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": series.pk}},
            ScanIndexForward=False,
            Limit=1,
        ):
            return {k: v["S"] for k, v in item.get("labels", {}).get("M", {}).items()}
        return {}

    def list_series(self, tenant: str | None, max_items: int = 200_000) -> SeriesListing:
        """The stored series of ``tenant`` (every tenant with None), by series id.

        The table is keyed by series (``pk`` = ``<tenant>#<id>``) and has no index by tenant,
        so this is a Scan, filtered server-side and bounded: it stops after ``max_items``
        items read (``complete`` is then False). It costs read units for every item read,
        whichever tenant it belongs to: an operator's listing, not a request path.
        """
        names = {"#l": "labels"}
        values: dict[str, Any] = {":zero": {"N": "0"}}
        condition = "chunk = :zero"
        if tenant is not None:
            condition += " AND begins_with(pk, :tenant)"
            values[":tenant"] = {"S": f"{tenant}#"}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "ProjectionExpression": "pk, #l, last_ts",
            "FilterExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnConsumedCapacity": "TOTAL",
        }
        scanner = cast(_Scanner, self.gateway.client)
        found: dict[str, StoredSeries] = {}
        read = 0
        while True:
            kwargs["Limit"] = max(1, min(1000, max_items - read))
            response = self.gateway._call("Scan", scanner.scan, **kwargs)
            self.gateway.meter.add(response, write=False)
            read += int(response.get("ScannedCount", 0))
            for item in response.get("Items", []):
                pk = item["pk"]["S"]
                owner, _, hex_id = pk.rpartition("#")
                last = _attr_int(item, "last_ts")
                if pk not in found or found[pk].last_ts < last:
                    labels = {k: v["S"] for k, v in item.get("labels", {}).get("M", {}).items()}
                    found[pk] = StoredSeries(SeriesKey(owner, int(hex_id, 16)), labels, last)
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                complete = True
                break
            if read >= max_items:
                complete = False
                break
            kwargs["ExclusiveStartKey"] = last_key
        ordered = sorted(found.values(), key=lambda s: (s.series.tenant, _sort_labels(s.labels)))
        return SeriesListing(ordered, complete, read)


def _sort_labels(labels: Mapping[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return labels.get("__name__", ""), tuple(sorted(labels.items()))


def _same(old: Item | None, new: Item) -> bool:
    """Whether a stored item already equals ``new`` (numbers compared by value)."""
    if old is None or old.keys() != new.keys():
        return False
    for name, value in new.items():
        stored: Any = old[name]
        if "N" in value:
            if float(stored.get("N", "nan")) != float(value["N"]):
                return False
        elif "B" in value:
            if bytes(stored.get("B", b"")) != value["B"]:
                return False
        elif stored != value:
            return False
    return True
