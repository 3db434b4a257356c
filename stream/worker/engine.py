"""The scoring engine: ``samples`` messages in, ``scores`` and ``alerts`` messages out.

Framework-free (no Faust, no Kafka client): the worker hands it raw message values with their
partitions and sends what it returns. It owns every per-series state of a worker:

* the detectors, in one :class:`~stream.detection.DetectorBank` (scored in numpy batches);
* the alert policy state of each series (:class:`~stream.alerting.series_state.SeriesState`),
  whose clock and baseline live in :class:`~stream.alerting.calm.CalmColumns` while the
  series is calm, so that a step's calm points are applied in a few numpy operations;
* what a checkpoint needs to restore both after a restart or a partition move.

Live series are bounded (``max_live_series``) and idle ones are retired to a compact
checkpoint (about 1 KB instead of the detector's working set), from which they are restored
if they come back.

Native histograms are scored through two detectors: the rate of observations (their count
as a counter) and the mean observation between scrapes (``interval_mean``), a gauge. The
point's score is the larger of the two, its feature the mean.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, cast

import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError as ProtobufDecodeError

from aidevops.batches import SamplesIndex, decode_samples
from aidevops.pb import alerts_pb2, checkpoint_pb2, samples_pb2, scores_pb2
from stream.alerting.calm import CalmColumns
from stream.alerting.errors import AlertStateError
from stream.alerting.policy import AlertPolicy
from stream.alerting.series_state import SeriesState
from stream.detection import (
    DetectorBank,
    DetectorConfig,
    DetectorStateError,
    MetricKind,
    interval_mean,
    resolve_kind,
)

if TYPE_CHECKING:
    from stream.storage.controls import ControlSet

__all__ = ["EngineOutput", "OutRecord", "Record", "ScoringEngine"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
OutRecord = tuple[int, bytes, bytes]
"""(partition, key, value) of a message to produce."""

_MEAN = 1  # sub-key of a native histogram's mean detector: (series id, _MEAN)
_WARM = 2  # sub-key of the detector learning a new series' history: (series id, _WARM)
# What the platform's processes export themselves: Prometheus scrapes it and remote-writes
# it back, and scoring it would feed the platform its own output (a worker's counters raised
# false anomalies when a target died). The README shows the write_relabel_configs that keep
# them out of remote-write altogether.
OWN_METRIC_PREFIXES = ("anomaly_", "aidevops_")
# Kinds guessed from a name alone (resolve_kind without a metadata type): the metadata may
# say otherwise. Prometheus sends metadata apart from samples, once a minute by default
# (metadata_config.send_interval), so a series is often first seen before its type is known:
# node_filesystem_avail_bytes, a declared gauge taken for an untyped counter, missed a disk
# filling up (a drop that looked like a counter's reset) in the live fault benchmark.
_GUESSED = frozenset((MetricKind.UNTYPED, MetricKind.LIKELY_COUNTER))
# Kinds whose new detectors learn their history from Prometheus (begin_bootstrap); ``up`` is
# not modelled, and a likely counter waits for the metadata that makes it a counter.
_WARMED = frozenset(
    (MetricKind.GAUGE, MetricKind.COUNTER, MetricKind.UNTYPED, MetricKind.SCRAPE_COUNT)
)
METADATA_WAIT_MS = 150_000
"""How long a series first seen without metadata waits for it, in the receiver's time (its
``received_at``), by default: two and a half of Prometheus' default metadata intervals. Until
then its batches are read whole (not from the samples index), so that the first one carrying
metadata resolves its kind again; a kind that changes restarts its detector."""


@dataclass(slots=True)
class _Series:
    partition: int
    kind: MetricKind
    last_seen: float
    # ScoreBatch fields 1-5 (version, tenant, id, labels, type), encoded once per series
    header: bytes = b""
    key: bytes = b""  # the series' Kafka key (its id, 8 bytes big-endian)
    policy: SeriesState | None = None
    histogram_count: float = math.nan
    histogram_sum: float = math.nan
    dirty: bool = True
    rules: AlertPolicy | None = None  # a control's threshold; None: the engine's policy
    row: int = -1  # of its calm alert state in the engine's CalmColumns


@dataclass(slots=True)
class _Fresh:
    """A new series waiting for (or learning) its history in a second detector."""

    timestamps: list[int] = field(default_factory=list)  # live samples since admission
    values: list[float] = field(default_factory=list)
    # Set when the fetch answered: timestamps (ms) and values (arrays: weeks of them).
    history: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None = None
    rhythm_points: int = 0  # the history's first points teach the rhythms only
    learned: int = 0  # points of history + live the warm detector has learned


class Offer(NamedTuple):
    """A new series whose history is wanted (:meth:`ScoringEngine.take_offered`)."""

    series_id: int
    labels: dict[str, str]
    first_ms: int  # its first live sample's timestamp: the history ends before it
    kind: MetricKind


@dataclass(slots=True)
class _Points:
    """Samples of several detectors, gathered for one call of the bank."""

    keys: list[object] = field(default_factory=list)
    kinds: list[MetricKind] = field(default_factory=list)
    stamps: list[npt.NDArray[np.int64]] = field(default_factory=list)
    values: list[npt.NDArray[np.float64]] = field(default_factory=list)

    def extend(
        self, key: object, kind: MetricKind, stamps: npt.ArrayLike, values: npt.ArrayLike
    ) -> None:
        t = np.asarray(stamps, dtype=np.int64)
        if len(t):
            self.keys.extend([key] * len(t))
            self.kinds.extend([kind] * len(t))
            self.stamps.append(t)
            self.values.append(np.asarray(values, dtype=np.float64))

    def columns(
        self,
    ) -> tuple[list[object], npt.NDArray[np.int64], npt.NDArray[np.float64], list[MetricKind]]:
        return self.keys, np.concatenate(self.stamps), np.concatenate(self.values), self.kinds


@dataclass(slots=True)
class _Queued:
    """The samples one call queues for scoring: columns shared by the whole call."""

    batches: list[tuple[int, _Series]] = field(default_factory=list)  # (series id, series)
    keys: list[object] = field(default_factory=list)  # per sample: its detector's key
    stamps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    kinds: list[MetricKind] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)  # per sample: its index in ``batches``


@dataclass(slots=True)
class EngineOutput:
    """What one call of :meth:`ScoringEngine.process` produced."""

    scores: list[OutRecord] = field(default_factory=list)
    alerts: list[OutRecord] = field(default_factory=list)
    samples: int = 0
    malformed: int = 0
    # For /metrics: (series id, its ScoreBatch bytes, latest score, open alert episode:
    # 0 none, 1 anomaly, 2 outage, ended); the bytes are parsed only for a series new to
    # /metrics or one that ended.
    exported: list[tuple[int, bytes, float, int, bool]] = field(default_factory=list)
    # When the receiver took the oldest series batch of this call (ms, 0 if none said)
    oldest_received_at: int = 0


def _key(series_id: int) -> bytes:
    return series_id.to_bytes(8, "big")


_STALE = b"\x38\x01"  # ScoreBatch.stale = true

# A ScoredPoint as ScoreBatch.points (field 6, length-delimited), in a fixed width so that a
# whole step's points encode in a few numpy operations. The timestamp is an int64 varint
# written in its full ten bytes (continuation bits on the first nine): a valid encoding that
# every protobuf parser reads (varints are up to ten bytes), just not the shortest. Flags are
# below 128, so one byte.
_POINT = np.dtype(
    [
        ("field", "u1"),
        ("length", "u1"),
        ("ts_tag", "u1"),
        ("ts", "u1", 10),
        ("value_tag", "u1"),
        ("value", "<f8"),
        ("feature_tag", "u1"),
        ("feature", "<f8"),
        ("score_tag", "u1"),
        ("score", "<f8"),
        ("raw_tag", "u1"),
        ("raw", "<f8"),
        ("flags_tag", "u1"),
        ("flags", "u1"),
    ]
)
_SHIFTS = np.arange(10, dtype=np.uint64) * np.uint64(7)
_CONTINUE = np.array([0x80] * 9 + [0], dtype=np.uint8)


def encode_points(
    timestamp: npt.NDArray[np.int64],
    value: npt.NDArray[np.float64],
    feature: npt.NDArray[np.float64],
    score: npt.NDArray[np.float64],
    raw: npt.NDArray[np.float64],
    flags: npt.NDArray[np.uint32],
) -> bytes:
    """Points as consecutive ``ScoreBatch.points`` fields, ``POINT_BYTES`` bytes each.

    >>> one = encode_points(np.array([5]), np.array([1.5]), np.array([2.0]),
    ...     np.array([0.25]), np.array([0.0]), np.array([4], dtype=np.uint32))
    >>> scores_pb2.ScoreBatch.FromString(one).points[0] == scores_pb2.ScoredPoint(
    ...     timestamp=5, value=1.5, feature=2.0, score=0.25, flags=4)
    True
    >>> len(one) == POINT_BYTES
    True
    """
    out = np.empty(len(timestamp), dtype=_POINT)
    out["field"], out["length"] = 0x32, POINT_BYTES - 2
    out["ts_tag"], out["value_tag"], out["feature_tag"] = 0x08, 0x11, 0x19
    out["score_tag"], out["raw_tag"], out["flags_tag"] = 0x21, 0x29, 0x30
    bits = np.asarray(timestamp, dtype=np.int64).view(np.uint64)
    groups = (bits[:, None] >> _SHIFTS) & np.uint64(0x7F)
    out["ts"] = groups.astype(np.uint8) | _CONTINUE
    out["value"], out["feature"], out["score"], out["raw"] = value, feature, score, raw
    out["flags"] = flags
    return out.tobytes()


POINT_BYTES = _POINT.itemsize


Record = Sequence[samples_pb2.SeriesBatch]
"""The series of one ``samples`` record (or of a part of one), decoded."""


class ScoringEngine:
    """Per-series detectors and alert policy for the partitions one worker owns.

    Parameters
    ----------
    policy
        Decides alerts from scores.
    detector_config
        Shared by every detector (their tree structure is shared too).
    max_live_series
        Detectors kept in memory; beyond it the least recently seen series is retired.
    idle_seconds
        A series not seen for this long is retired by :meth:`retire_idle`.
    clock
        Wall-clock seconds; injected so tests control time.
    metadata_wait_ms
        How long a series first seen without metadata waits for it (:data:`METADATA_WAIT_MS`).
    """

    def __init__(
        self,
        policy: AlertPolicy,
        detector_config: DetectorConfig | None = None,
        max_live_series: int = 100_000,
        idle_seconds: float = 3600.0,
        clock: Callable[[], float] | None = None,
        history_tenants: frozenset[str] = frozenset(),
        metadata_wait_ms: int = METADATA_WAIT_MS,
    ):
        import time

        self.policy = policy
        self.bank = DetectorBank(detector_config)
        # While a series is calm its alert state's clock and baseline live here (see
        # stream.alerting.calm): _state() brings the SeriesState object up to date.
        self._calm = CalmColumns()
        self.max_live_series = max_live_series
        self.idle_seconds = idle_seconds
        self.clock = clock or time.time
        self._series: dict[int, _Series] = {}
        # Retired or restored-but-not-yet-seen series: their checkpoint bytes.
        self._dormant: dict[int, tuple[int, bytes]] = {}
        self._pending_retired: list[OutRecord] = []
        # Series not scored: the platform's own metrics and those a control excludes. A
        # decision is cheap to make again (one label match), so the set is forgotten when
        # it reaches skipped_limit: series churn (a pod per deploy) must not grow it forever.
        self._skipped: set[int] = set()
        self.skipped_limit = 100_000
        self.controls: ControlSet | None = None
        self._policies: dict[float, AlertPolicy] = {}
        # Warm-up from history (see begin_bootstrap): new series of these tenants are
        # offered for a history fetch; their live samples are kept until it arrives.
        self.history_tenants = history_tenants
        self.bootstrap_buffer = self.bank.config.warmup
        self._fresh: dict[int, _Fresh] = {}
        self.corrupt_checkpoints = 0  # unreadable checkpoints met (those series restarted)
        # Series whose kind was guessed without metadata: until when (receiver time, ms)
        # their metadata may still change it (see METADATA_WAIT_MS).
        self._awaiting: dict[int, int] = {}
        self.metadata_wait_ms = metadata_wait_ms
        self._offered: list[Offer] = []

    # -- state ---------------------------------------------------------------------------------

    @property
    def live_series(self) -> int:
        return len(self._series)

    @property
    def dormant_series(self) -> int:
        return len(self._dormant)

    def restore(self, partition: int, series_id: int, checkpoint: bytes) -> None:
        """Remember a checkpoint read back from Kafka; the detector is rebuilt on first use.

        An empty ``checkpoint`` is a tombstone and forgets the series.
        """
        if series_id in self._series:
            return  # live state is newer than anything in the checkpoint topic
        if checkpoint:
            self._dormant[series_id] = (partition, checkpoint)
        else:
            self._dormant.pop(series_id, None)

    def checkpoint(self, series_id: int) -> bytes:
        """Serialize one live series (detector, policy, histogram memory)."""
        return self._checkpoints([series_id])[0]

    def _checkpoints(self, series_ids: Sequence[int]) -> list[bytes]:
        """Serialize live series; their detectors are serialized together (one pass)."""
        with_detector = [sid for sid in series_ids if sid in self.bank]
        states = dict(zip(with_detector, self.bank.state_bytes_many(with_detector), strict=True))
        out = []
        for series_id in series_ids:
            series = self._series[series_id]
            message = checkpoint_pb2.SeriesCheckpoint(
                schema_version=SCHEMA_VERSION,
                series_id=series_id,
                kind=int(series.kind),
                detector=states.get(series_id, b""),
                policy=state.to_bytes() if (state := self._state(series)) is not None else b"",
                histogram_count=series.histogram_count,
                histogram_sum=series.histogram_sum,
                last_seen=int(series.last_seen * 1000),
                metadata_due=self._awaiting.get(series_id, 0),
            )
            if (series_id, _MEAN) in self.bank:
                message.mean_detector = self.bank.state_bytes((series_id, _MEAN))
            out.append(message.SerializeToString())
        return out

    def collect_dirty(self, limit: int | None = None) -> list[OutRecord]:
        """Checkpoints of series changed since they were last collected (at most ``limit``)."""
        dirty: list[int] = []
        for series_id, series in self._series.items():
            if series.dirty:
                dirty.append(series_id)
                series.dirty = False
                if limit is not None and len(dirty) >= limit:
                    break
        return [
            (self._series[sid].partition, _key(sid), data)
            for sid, data in zip(dirty, self._checkpoints(dirty), strict=True)
        ]

    def partition_checkpoints(self, partition: int) -> list[bytes]:
        """Checkpoints of every series of ``partition``, live and dormant (for snapshots)."""
        out = self._checkpoints(
            [sid for sid, s in self._series.items() if s.partition == partition]
        )
        out.extend(data for p, data in self._dormant.values() if p == partition)
        return out

    def retire(self, series_id: int) -> OutRecord:
        """Drop a live series to its checkpoint (kept dormant); returns the record to produce."""
        series = self._series[series_id]
        record = (series.partition, series.key, self.checkpoint(series_id))
        self._dormant[series_id] = (series.partition, record[2])
        self._drop(series_id)
        return record

    def retire_idle(self, now: float | None = None) -> list[OutRecord]:
        """Retire series not seen for ``idle_seconds``."""
        now = self.clock() if now is None else now
        idle = [sid for sid, s in self._series.items() if now - s.last_seen > self.idle_seconds]
        return [self.retire(sid) for sid in idle]

    def forget_dormant(self, older_than: float) -> list[OutRecord]:
        """Drop dormant checkpoints last seen before ``older_than``; returns tombstones."""
        out = []
        for series_id, (partition, data) in list(self._dormant.items()):
            last_seen = checkpoint_pb2.SeriesCheckpoint.FromString(data).last_seen / 1000
            if last_seen < older_than:
                del self._dormant[series_id]
                out.append((partition, _key(series_id), b""))
        return out

    def drop_partitions(self, partitions: Iterable[int]) -> list[int]:
        """Forget everything of partitions this worker no longer owns (no checkpoint).

        Returns the live series dropped.
        """
        gone = set(partitions)
        live = [sid for sid, s in self._series.items() if s.partition in gone]
        for series_id in live:
            self._drop(series_id)
        for series_id, (partition, _) in list(self._dormant.items()):
            if partition in gone:
                del self._dormant[series_id]
        return live

    def _state(self, series: _Series) -> SeriesState | None:
        """The series' alert state, brought up to date from the calm columns."""
        return self._calm.sync(series.row, series.policy)

    def _set_state(self, series: _Series, state: SeriesState | None) -> None:
        series.policy = state
        self._calm.load(series.row, state)

    def _set_rules(self, series: _Series, rules: AlertPolicy | None) -> None:
        series.rules = rules
        self._calm.set_policy(series.row, rules or self.policy)

    def _drop(self, series_id: int) -> None:
        self._abandon(series_id)
        self._awaiting.pop(series_id, None)
        self._calm.remove(self._series.pop(series_id).row)
        for key in (series_id, (series_id, _MEAN)):
            if key in self.bank:
                self.bank.evict(key)

    def _admit(self, series_id: int, batch: samples_pb2.SeriesBatch, partition: int) -> _Series:
        kind = _kind(batch)
        series = _Series(
            partition=partition,
            kind=kind,
            last_seen=self.clock(),
            header=_header(series_id, batch),
            key=_key(series_id),
            row=self._calm.add(self.policy),
        )
        dormant = self._dormant.pop(series_id, None)
        restored = False
        if dormant is not None:
            try:
                self._restore_into(series, series_id, dormant[1])
                restored = True
            except (ProtobufDecodeError, DetectorStateError, AlertStateError, ValueError) as exc:
                # One unreadable checkpoint must not stop a worker: that series starts afresh.
                log.warning(
                    "checkpoint of series %016x unreadable, starting fresh: %s", series_id, exc
                )
                self.corrupt_checkpoints += 1
                for key in (series_id, (series_id, _MEAN)):
                    if key in self.bank:
                        self.bank.evict(key)
                series.kind = kind
                self._set_state(series, None)
                self._awaiting.pop(series_id, None)
        if restored:
            if series_id in self._awaiting:
                self._settle_kind(series_id, series, batch)
        elif self.metadata_wait_ms and kind in _GUESSED and not _has_metadata(batch):
            self._awaiting[series_id] = _received_at(batch) + self.metadata_wait_ms
        if dormant is None:
            self._offer_history(series_id, kind, batch)
        if len(self._series) >= self.max_live_series:
            oldest = min(self._series, key=lambda sid: self._series[sid].last_seen)
            self._pending_retired.append(self.retire(oldest))
        self._series[series_id] = series
        return series

    def _offer_history(
        self, series_id: int, kind: MetricKind, batch: samples_pb2.SeriesBatch
    ) -> None:
        """Offer a series whose detector starts now for a history fetch (take_offered)."""
        if (
            batch.tenant in self.history_tenants
            and batch.samples
            and kind in _WARMED
            and series_id not in self._fresh
        ):
            labels = {lb.name: lb.value for lb in batch.labels}
            self._fresh[series_id] = _Fresh()
            self._offered.append(Offer(series_id, labels, batch.samples[0].timestamp, kind))

    def _restore_into(self, series: _Series, series_id: int, data: bytes) -> None:
        saved = checkpoint_pb2.SeriesCheckpoint.FromString(data)
        series.kind = MetricKind(saved.kind)
        if saved.detector:
            self.bank.load_state(series_id, saved.detector)
        if saved.mean_detector:
            self.bank.load_state((series_id, _MEAN), saved.mean_detector)
        if saved.policy:
            self._set_state(series, SeriesState.from_bytes(saved.policy))
        series.histogram_count = saved.histogram_count
        series.histogram_sum = saved.histogram_sum
        if saved.metadata_due:
            self._awaiting[series_id] = saved.metadata_due

    def _settle_kind(
        self,
        series_id: int,
        series: _Series,
        batch: samples_pb2.SeriesBatch,
        flush: Callable[[], None] | None = None,
    ) -> None:
        """A series awaiting its metadata: take the kind it gives, or stop waiting for it.

        ``flush`` scores what the call has queued so far: the series' earlier samples in
        the call must meet the detector of its old kind, as they would in a call of their
        own (a call's outputs do not depend on how records are grouped into calls).
        """
        if not _has_metadata(batch):
            if _received_at(batch) > self._awaiting[series_id]:
                del self._awaiting[series_id]  # none came: the guess stands
            return
        del self._awaiting[series_id]
        kind = _kind(batch)
        header = _header(series_id, batch)
        series.dirty = True  # its checkpoint waits no more
        if kind == series.kind and header == series.header:
            return
        if flush is not None:
            flush()
        series.header = header
        if kind == series.kind:
            return
        series.kind = kind
        # A fresh detector unless it already holds this kind (a likely counter demoted to
        # the gauge its metadata declares); one learning history relearns it as this kind.
        if series_id in self.bank and self.bank.kind(series_id) != kind:
            self.bank.add(series_id, kind)
        fresh = self._fresh.get(series_id)
        if fresh is not None and fresh.history is not None:
            self.bank.add((series_id, _WARM), kind)
            fresh.learned = 0
        elif fresh is None:
            # Its detector starts again: from its history, as a new series' would.
            self._offer_history(series_id, kind, batch)

    # -- warm-up from history ------------------------------------------------------------------

    def take_offered(self) -> list[Offer]:
        """New series whose history is wanted."""
        offered, self._offered = self._offered, []
        return [o for o in offered if o.series_id in self._fresh]

    def begin_bootstrap(
        self,
        series_id: int,
        timestamps: list[int],
        values: list[float],
        rhythm_points: int = 0,
    ) -> None:
        """History for a fresh series: a second detector learns it, then the live samples.

        The series keeps being scored by its own (cold) detector meanwhile. The second
        detector learns the history and then every live sample seen so far, a bounded
        number per :meth:`bootstrap_step`; once it has caught up it replaces the cold one.
        The result does not depend on when the history arrived: the detector has learned
        the history, then every live sample, in order, as if it had run all along.

        The first ``rhythm_points`` points of the history (a long range at a coarse step,
        older than the rest) teach the detector's daily and weekly profiles only
        (:meth:`~stream.detection.bank.DetectorBank.learn_rhythms`).
        """
        fresh = self._fresh.get(series_id)
        series = self._series.get(series_id)
        if fresh is None or series is None or fresh.history is not None:
            return
        stamps = np.asarray(timestamps, dtype=np.int64)
        keep = stamps < fresh.timestamps[0] if fresh.timestamps else np.ones(len(stamps), bool)
        if not keep.any():
            self._abandon(series_id)
            return
        fresh.history = (stamps[keep], np.asarray(values, dtype=np.float64)[keep])
        fresh.rhythm_points = int(keep[:rhythm_points].sum())
        self.bank.add((series_id, _WARM), series.kind)

    def abandon_bootstrap(self, series_id: int) -> None:
        """No history for this series (none, or the fetch failed): it warms up live."""
        self._abandon(series_id)

    def _abandon(self, series_id: int) -> None:
        fresh = self._fresh.pop(series_id, None)
        if fresh is not None and fresh.history is not None and (series_id, _WARM) in self.bank:
            self.bank.evict((series_id, _WARM))

    @property
    def bootstrapping(self) -> int:
        """Series whose second detector is learning history."""
        return sum(1 for f in self._fresh.values() if f.history is not None)

    def bootstrap_step(self, max_points: int) -> int:
        """Let every bootstrapping detector learn up to ``max_points`` more points.

        All of them learn in one vectorised call (the cost grows with ``max_points``, not
        with the number of series), after one for the points that teach rhythms only,
        which come before the others in every series. A detector that has learned its
        history and every live sample so far replaces the series' cold one. Returns the
        points learned.
        """
        rhythm, model = _Points(), _Points()
        done: list[int] = []
        for series_id, fresh in self._fresh.items():
            if fresh.history is None:
                continue
            hist_t, hist_v = fresh.history
            key = (series_id, _WARM)
            kind = self.bank.kind(key)
            first, end = fresh.learned, fresh.learned + max_points
            split = min(max(fresh.rhythm_points, first), end)
            rhythm.extend(key, kind, hist_t[first:split], hist_v[first:split])
            model.extend(key, kind, hist_t[split:end], hist_v[split:end])
            live = slice(max(first - len(hist_t), 0), max(end - len(hist_t), 0))
            model.extend(key, kind, fresh.timestamps[live], fresh.values[live])
            total = len(hist_t) + len(fresh.timestamps)
            fresh.learned = min(end, total)
            if fresh.learned == total:
                done.append(series_id)
        if rhythm.keys:
            self.bank.learn_rhythms(*rhythm.columns())
        if model.keys:
            self.bank.process(*model.columns())
        for series_id in done:
            warm = (series_id, _WARM)
            series = self._series.get(series_id)
            if series is not None:
                self.bank.load_state(series_id, self.bank.state_bytes(warm))
                series.dirty = True
            self.bank.evict(warm)
            del self._fresh[series_id]
        return len(rhythm.keys) + len(model.keys)

    # -- controls (stream.storage.controls) ---------------------------------------------------

    def set_controls(self, controls: ControlSet) -> list[int]:
        """Decide new series with ``controls`` from now on; returns the live series.

        Skipped series are decided again at their next batch; the live ones returned are
        decided again by :meth:`apply_controls` (in slices, by the caller). Matching runs
        there and when a series is admitted, never per sample.
        """
        self.controls = controls
        self._skipped.clear()
        return list(self._series)

    def apply_controls(self, series_ids: Iterable[int]) -> EngineOutput:
        """Decide these live series again under the current controls.

        A series a control now excludes ends as if it had gone stale: a stale ``scores``
        batch, its open alert resolved (*series ended*), and it loses its detector and its
        checkpoint (a tombstone goes out with :meth:`take_retired`). The others get the
        threshold the controls give them. Series no longer live are passed over.
        """
        out = EngineOutput()
        for series_id in series_ids:
            series = self._series.get(series_id)
            if series is None:
                continue
            scored, rules = self._controlled(scores_pb2.ScoreBatch.FromString(series.header))
            if scored:
                self._set_rules(series, rules)
                continue
            value = series.header + _STALE
            key = series.key
            out.scores.append((series.partition, key, value))
            ended = (series.rules or self.policy).step(
                self._state(series), scores_pb2.ScoreBatch.FromString(value)
            )
            for event in ended.events:
                out.alerts.append((series.partition, event.dedup_key.encode(), _encode(event)))
            out.exported.append((series_id, value, 0.0, 0, True))
            self._pending_retired.append((series.partition, key, b""))
            self._drop(series_id)
        return out

    def _controlled(
        self, batch: samples_pb2.SeriesBatch | scores_pb2.ScoreBatch
    ) -> tuple[bool, AlertPolicy | None]:
        """Whether the series is scored (not an own metric, not excluded), and its policy."""
        if _is_own(batch):
            return False, None
        if not self.controls:
            return True, None
        labels = {lb.name: lb.value for lb in batch.labels}
        decided = self.controls.for_series(batch.tenant, labels)
        if decided.exclude or decided.threshold is None:
            return not decided.exclude, None
        rules = self._policies.get(decided.threshold)
        if rules is None:
            rules = self.policy.with_threshold(decided.threshold)
            self._policies[decided.threshold] = rules
        return True, rules

    # -- scoring -------------------------------------------------------------------------------

    def process(
        self, messages: Sequence[tuple[int, bytes | Record | SamplesIndex]]
    ) -> EngineOutput:
        """Score a batch of ``samples`` messages (partition, value); score first, then learn.

        A value is a record's bytes, its series already decoded
        (:func:`aidevops.batches.decode_samples`), or its index
        (:func:`aidevops.batches.decode_index`, every series' samples in it), by a caller
        that had to look inside it. Messages that do not decode are counted in
        ``malformed`` and skipped: one bad record must not stop a partition.
        """
        out = EngineOutput()
        now = self.clock()
        live, fresh, awaiting = self._series, self._fresh, self._awaiting
        queued = _Queued()
        batches, keys, stamps = queued.batches, queued.keys, queued.stamps
        values, kinds, owner = queued.values, queued.kinds, queued.owner
        for partition, raw in messages:
            if isinstance(raw, SamplesIndex):
                if self._take_index(raw, partition, now, queued, out):
                    continue
                raw = raw.raw  # a series needs its own message (labels): decode them all
            if isinstance(raw, bytes):
                try:
                    record = decode_samples(raw)
                except ProtobufDecodeError:
                    out.malformed += 1
                    continue
            else:
                record = raw
            for batch in record:
                received = batch.received_at
                if received and (not out.oldest_received_at or received < out.oldest_received_at):
                    out.oldest_received_at = received
                series_id = batch.series_id
                series = live.get(series_id)
                samples = batch.samples
                if (
                    series is None
                    or fresh
                    or len(samples) != 1
                    or batch.histograms
                    or series_id in awaiting
                ):
                    self._take(batch, partition, now, queued, out)
                    continue
                # The common case, inlined: one plain sample of a live series.
                series.last_seen = now
                series.partition = partition
                owner.append(len(batches))
                batches.append((series_id, series))
                sample = samples[0]
                keys.append(series_id)
                stamps.append(sample.timestamp)
                values.append(sample.value)
                kinds.append(series.kind)
        self._score(queued, out)
        return out

    def _take_index(
        self,
        index: SamplesIndex,
        partition: int,
        now: float,
        queued: _Queued,
        out: EngineOutput,
    ) -> bool:
        """Queue a whole record from its index, if every series in it is live (or excluded).

        The steady state: no series' message is parsed, no sample touched one by one. False
        (nothing queued) when a series must be admitted or is bootstrapping: those need
        their labels, and the caller decodes the record instead.
        """
        batches, keys, stamps = queued.batches, queued.keys, queued.stamps
        values, kinds, owner = queued.values, queued.kinds, queued.owner
        ids: list[int] = index.series_ids.tolist()
        found = list(map(self._series.get, ids))
        fresh = self._fresh
        if fresh and any(series_id in fresh for series_id in ids):
            return False
        if self._awaiting and not self._awaiting.keys().isdisjoint(ids):
            return False  # their metadata may be in their messages
        counts, timestamps, sample_values = index.counts, index.timestamps, index.values
        if None in found:
            skipped = self._skipped
            keep = [series is not None for series in found]
            if any(not kept and i not in skipped for kept, i in zip(keep, ids, strict=True)):
                return False
            # Only excluded series are missing: leave their samples out.
            mask = np.asarray(keep, dtype=np.bool_)
            by_sample = np.repeat(mask, counts)
            timestamps, sample_values = timestamps[by_sample], sample_values[by_sample]
            counts = counts[mask]
            ids = [i for i, kept in zip(ids, keep, strict=True) if kept]
            found = [series for series in found if series is not None]
        received = index.received_at
        if received and (not out.oldest_received_at or received < out.oldest_received_at):
            out.oldest_received_at = received
        live = cast("list[_Series]", found)
        first, n = len(batches), len(live)
        batches.extend(zip(ids, live, strict=True))
        for series in live:
            series.last_seen = now
            series.partition = partition
        series_kinds = [series.kind for series in live]
        if len(timestamps) == n:  # the common case: one sample a series
            keys.extend(ids)
            kinds.extend(series_kinds)
            owner.extend(range(first, first + n))
        else:
            keys.extend(np.repeat(np.asarray(ids, dtype=np.uint64), counts).tolist())
            kinds.extend(
                kind
                for kind, count in zip(series_kinds, counts.tolist(), strict=True)
                for _ in range(count)
            )
            owner.extend(np.repeat(np.arange(first, first + n), counts).tolist())
        stamps.extend(timestamps.tolist())
        values.extend(sample_values.tolist())
        return True

    def _take(
        self,
        batch: samples_pb2.SeriesBatch,
        partition: int,
        now: float,
        queued: _Queued,
        out: EngineOutput,
    ) -> None:
        """Queue one series' samples for scoring (columns shared by the whole call)."""
        batches, keys, stamps = queued.batches, queued.keys, queued.stamps
        values, kinds, owner = queued.values, queued.kinds, queued.owner
        series_id = batch.series_id
        series = self._series.get(series_id)
        if series is None:
            if series_id in self._skipped:
                return
            scored, rules = self._controlled(batch)
            if not scored:
                if len(self._skipped) >= self.skipped_limit:
                    self._skipped.clear()
                self._skipped.add(series_id)
                return
            series = self._admit(series_id, batch, partition)
            self._set_rules(series, rules)
        elif series_id in self._awaiting:
            self._settle_kind(series_id, series, batch, lambda: self._flush(queued, out))
        series.last_seen = now
        series.partition = partition
        index = len(batches)
        batches.append((series_id, series))
        samples = batch.samples
        fresh = self._fresh.get(series_id) if self._fresh else None
        if fresh is not None:
            fresh.timestamps.extend(sample.timestamp for sample in samples)
            fresh.values.extend(sample.value for sample in samples)
            if len(fresh.timestamps) > self.bootstrap_buffer:
                self._abandon(series_id)  # warmed up live meanwhile: history is moot
        if samples:
            n = len(samples)
            keys.extend([series_id] * n)
            stamps.extend([sample.timestamp for sample in samples])
            values.extend([sample.value for sample in samples])
            kinds.extend([series.kind] * n)
            owner.extend([index] * n)
        for histogram in batch.histograms:
            count = (
                histogram.count_float
                if histogram.HasField("count_float")
                else float(histogram.count_int)
            )
            mean = interval_mean(series.histogram_count, series.histogram_sum, count, histogram.sum)
            series.histogram_count, series.histogram_sum = count, histogram.sum
            keys.extend((series_id, (series_id, _MEAN)))
            stamps.extend((histogram.timestamp, histogram.timestamp))
            values.extend((count, mean))
            kinds.extend((MetricKind.COUNTER, MetricKind.GAUGE))
            owner.extend((index, index))

    def _flush(self, queued: _Queued, out: EngineOutput) -> None:
        """Score what is queued now and empty the queue (its lists stay the same objects)."""
        self._score(queued, out)
        queued.batches.clear()
        queued.keys.clear()
        queued.stamps.clear()
        queued.values.clear()
        queued.kinds.clear()
        queued.owner.clear()

    def _score(
        self,
        queued: _Queued,
        out: EngineOutput,
    ) -> None:
        """Score the queued samples, then encode scores and step the alert policy."""
        batches, keys, stamps = queued.batches, queued.keys, queued.stamps
        values, kinds, owner = queued.values, queued.kinds, queued.owner
        out.samples += len(keys)
        stamp_array, value_array = np.asarray(stamps, dtype=np.int64), np.asarray(values)
        scored = self.bank.process(keys, stamp_array, value_array, kinds)
        feature, score, flags = scored.feature, scored.score, scored.flags
        owners = np.asarray(owner, dtype=np.int64)
        stale = np.zeros(len(batches), dtype=bool)
        stale[owners[scored.stale]] = True
        keep = scored.emitted & ~scored.stale
        means = [i for i, key in enumerate(keys) if isinstance(key, tuple)]
        if means:
            # A histogram's mean merges into the point of its count (same series, same time).
            for i in means:
                if keep[i] and i > 0 and keep[i - 1]:
                    feature[i - 1] = feature[i]
                    score[i - 1] = max(score[i - 1], score[i])
                    flags[i - 1] |= flags[i]
                keep[i] = False
        chosen = np.flatnonzero(keep)
        encoded = encode_points(
            stamp_array[chosen],
            value_array[chosen],
            feature[chosen],
            score[chosen],
            scored.raw_score[chosen],
            flags[chosen],
        )
        count_array = np.bincount(owners[chosen], minlength=len(batches))
        points_ts, points_score = stamp_array[chosen], score[chosen]
        points_feature, points_flags = feature[chosen], flags[chosen]
        calm = self._step_calm(
            batches, count_array, stale, points_ts, points_score, points_feature, points_flags
        ).tolist()
        counts = count_array.tolist()
        ended = stale.tolist()
        scores = points_score.tolist()
        start = 0
        default_policy = self.policy
        out_scores, exported = out.scores, out.exported
        for (series_id, series), n, is_stale, is_calm in zip(
            batches, counts, ended, calm, strict=True
        ):
            end = start + n
            if not n and not is_stale:
                continue  # replays: nothing new was learned or scored
            value = series.header + encoded[start * POINT_BYTES : end * POINT_BYTES]
            last = scores[end - 1] if n else 0.0
            series.dirty = True
            start = end
            if is_calm:
                # The common case: no episode can open or close; no message to build.
                out_scores.append((series.partition, series.key, value))
                exported.append((series_id, value, last, 0, False))
                continue
            if is_stale:
                value += _STALE
            score_batch = scores_pb2.ScoreBatch.FromString(value)
            out.scores.append((series.partition, series.key, value))
            result = (series.rules or default_policy).step(self._state(series), score_batch)
            self._set_state(series, result.state)
            for event in result.events:
                out.alerts.append((series.partition, event.dedup_key.encode(), _encode(event)))
            # Stale batches too: the exporter drops a series that ended.
            episode = int(result.state.episode)
            out.exported.append((series_id, value, last, episode, is_stale))

    def _step_calm(
        self,
        batches: list[tuple[int, _Series]],
        counts: npt.NDArray[np.intp],
        stale: npt.NDArray[np.bool_],
        timestamp: npt.NDArray[np.int64],
        score: npt.NDArray[np.float64],
        feature: npt.NDArray[np.float64],
        flags: npt.NDArray[np.uint32],
    ) -> npt.NDArray[np.bool_]:
        """Apply the series batches that are one calm point to the calm columns.

        Returns which were applied (AlertPolicy.step_calm, vectorised: see
        stream.alerting.calm); the others go through AlertPolicy.step, in order. A series
        met more than once in the call is stepped in its batches' order, calmly up to the
        first batch that is not calm: that one and every later one take the slow way.
        """
        n = len(batches)
        rows = np.fromiter((series.row for _, series in batches), dtype=np.intp, count=n)
        candidate = (counts == 1) & ~stale & self._calm.calm[rows]
        applied = np.zeros(n, dtype=np.bool_)
        if not candidate.any():
            return applied
        first = np.cumsum(counts) - counts  # each batch's first point
        groups, inverse = np.unique(rows, return_inverse=True)
        if len(groups) == n:  # the common case: each series once
            at = np.flatnonzero(candidate)
            p = first[at]
            applied[at] = self._calm.step(rows[at], timestamp[p], score[p], feature[p], flags[p])
            return applied
        # rank: how many earlier batches of the call belong to the same series
        order = np.argsort(inverse, kind="stable")
        ordered = inverse[order]
        starts = np.flatnonzero(np.append(True, ordered[1:] != ordered[:-1]))
        rank = np.empty(n, dtype=np.intp)
        rank[order] = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
        slow = ~candidate & ((counts > 0) | stale)  # batches with no point and not stale: none
        blocked = np.zeros(len(groups), dtype=np.bool_)
        for r in range(int(rank.max()) + 1):
            at = np.flatnonzero(rank == r)
            group = inverse[at]
            go = candidate[at] & ~blocked[group]
            chosen = at[go]
            if len(chosen):
                p = first[chosen]
                applied[chosen] = self._calm.step(
                    rows[chosen], timestamp[p], score[p], feature[p], flags[p]
                )
            blocked[group] |= slow[at] | (go & ~applied[at])
        return applied

    def take_retired(self) -> list[OutRecord]:
        """Checkpoints of series retired by the live-series cap during the last batch."""
        retired, self._pending_retired = self._pending_retired, []
        return retired


def _kind(batch: samples_pb2.SeriesBatch) -> MetricKind:
    """The kind of a series from its name, its ``quantile`` label and its metadata type."""
    name = next((lb.value for lb in batch.labels if lb.name == "__name__"), "")
    quantile = any(lb.name == "quantile" for lb in batch.labels)
    return resolve_kind(name, int(batch.metric_type), quantile=quantile)


def _header(series_id: int, batch: samples_pb2.SeriesBatch) -> bytes:
    """ScoreBatch fields 1-5 of a series (version, tenant, id, labels, type)."""
    return scores_pb2.ScoreBatch(
        schema_version=SCHEMA_VERSION,
        tenant=batch.tenant,
        series_id=series_id,
        labels=batch.labels,
        metric_type=batch.metric_type,
    ).SerializeToString()


def _has_metadata(batch: samples_pb2.SeriesBatch) -> bool:
    """Whether the receiver knew the series' metadata: a type, or else its help or unit.

    An exporter's untyped metric still has its help text (Prometheus sends type UNKNOWN).
    """
    return bool(batch.metric_type or batch.help or batch.unit)


def _received_at(batch: samples_pb2.SeriesBatch) -> int:
    """When the receiver took the batch (ms); its last sample's time if it does not say."""
    if batch.received_at:
        return batch.received_at
    return batch.samples[-1].timestamp if batch.samples else 0


def _is_own(batch: samples_pb2.SeriesBatch | scores_pb2.ScoreBatch) -> bool:
    """The platform's own metrics (``anomaly_*``, ``aidevops_*``): never scored.

    >>> _is_own(samples_pb2.SeriesBatch(labels=[{"name": "__name__",
    ...     "value": "aidevops_worker_messages_total"}]))
    True
    >>> _is_own(samples_pb2.SeriesBatch(labels=[{"name": "__name__", "value": "node_load1"}]))
    False
    """
    return any(
        lb.name == "__name__" and lb.value.startswith(OWN_METRIC_PREFIXES) for lb in batch.labels
    )


def _encode(event: alerts_pb2.AlertEvent) -> bytes:
    return event.SerializeToString()
