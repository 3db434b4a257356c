"""All live series' detectors of a worker, scored and learnt a batch at a time.

:class:`DetectorBank` holds the state of every series in a few numpy arrays (one row per
series) and processes a batch of ``(series, timestamp, value)`` samples with vectorised numpy,
one *round* per position: if a batch carries several samples of one series they are handled
in time order, each scored before it is learnt (causal).

Per sample, in order:

1. **replay**: ``timestamp <= last timestamp processed`` for the series -> ignored, nothing
   changes (``emitted`` is False), so an at-least-once replay cannot corrupt state;
2. **staleness marker** -> not scored (``emitted`` False, ``stale`` True); the next sample starts
   fresh feature state (no rate or delta across the gap). The model and its warm-up are kept;
3. ``up`` series -> score 1.0 with OUTAGE when the value is 0, else 0.0; no model;
4. **other NaN/±Inf** -> score 0.0 flagged WARMUP (not alert-grade: there is nothing to judge),
   not learnt, feature state untouched;
5. **priming**: the first sample (after creation or staleness) of a counter only gives a
   previous value for the rate; the first base value only gives a previous value for the delta:
   score 0.0 flagged WARMUP, not learnt;
6. **model**: features -> HST raw score -> calibrated score (0.0 flagged WARMUP until
   ``warmup`` points were learnt), then the point is learnt.

Examples
--------
>>> import numpy as np
>>> bank = DetectorBank()
>>> rng = np.random.default_rng(0)
>>> values = np.concatenate([rng.normal(10, 1, 1000), [30.0]])
>>> result = bank.process([7] * len(values), np.arange(len(values)) * 15_000, values)
>>> bool(result.flags[0] & ScoreFlag.WARMUP), bool(result.flags[-1] & ScoreFlag.WARMUP)
(True, False)
>>> bool(result.score[-1] > 0.4), float(np.median(result.score[400:-1])) < 0.1
(True, True)
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import cramjam
import numpy as np
import numpy.typing as npt

from aidevops.errors import AidevopsError
from stream.detection.calibration import (
    N_BINS,
    ordinary,
    score_from_probability,
    smoothed_surprise,
    surprise,
    tail_probability,
    update_histogram,
)
from stream.detection.config import MAX_CENSOR_HOLD, DetectorConfig
from stream.detection.features import (
    FEATURES,
    counter_increase,
    ew_alpha,
    ew_update,
    squash,
    standardise,
)
from stream.detection.flags import ScoreFlag
from stream.detection.forest import Forest, shared_forest
from stream.detection.metric_kind import MetricKind
from stream.detection.prior import calibration_prior
from stream.detection.season import N_BINS as N_TIME_BINS
from stream.detection.season import (
    N_WEEK_BINS,
    Rhythm,
    RhythmParams,
    expected_rhythm,
    learn_rhythm,
)
from stream.detection.staleness import stale_mask

__all__ = ["RHYTHM_GAIN", "BatchScores", "DetectorBank", "DetectorStateError"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

_HAS_PREV_VALUE = 1  # a previous raw value (and timestamp) for the counter rate
_HAS_PREV_X = 2  # a previous base value for the delta feature
_EPISODE = 4  # the last scored point was quarantined, or the echo of a quarantined one
_NO_TIMESTAMP = np.iinfo(np.int64).min
_DEMOTE_WITHIN = 10  # a likely counter decreasing twice within this many samples is a gauge
#: A point is flagged RHYTHM when its bin's profile is ready and trusted at least this much:
#: the learnt rhythm then carries at least half of the expected departure from the mean.
RHYTHM_GAIN = 0.5
_STATE_MAGIC = b"AIDD"
_STATE_VERSION = 8  # 2: smoothed surprise ("cal_level"); 3: daily profile ("season_*");
# 4: the same fields, LZ4-compressed (a fifth of zlib's time: checkpoints serialise every
# live series every interval); 5: weekly profile ("week_*", after "cal_hist"); 6: the mean
# the gains are checked around ("gain_mean"); 7: the daily bins' spreads ("season_dev" to
# "visit_bin"); 8: the scaling held through a quarantined run ("held_mean" to "held_run",
# last). Versions 7, 6, 5, 4 and 3 (zlib) still load, the last two with an empty weekly
# profile, and so does 1.
_V4_LAST_NAME = "cal_hist"
_V5_LAST_NAME = "week_weight"
_V6_LAST_NAME = "gain_mean"
_V7_LAST_NAME = "visit_bin"
_HEADER = struct.Struct("<4sBHBHBq")  # magic, version, n_trees, height, window, features, seed


class DetectorStateError(AidevopsError):
    """A serialized detector state is corrupt or was made with incompatible parameters."""


class BatchScores(NamedTuple):
    """Per-sample results of :meth:`DetectorBank.process`, aligned with its inputs.

    Attributes
    ----------
    score
        Calibrated score in ``[0, 1]``; 1.0 for ``up == 0``; 0.0 when flagged WARMUP.
    raw_score
        The HST score (NaN when the model was not consulted).
    feature
        The base value the detector saw: the value (gauge) or per-second rate (counter).
    flags
        Bitwise OR of :class:`~stream.detection.flags.ScoreFlag`.
    emitted
        False for replays and staleness markers: no scored point exists for them.
    stale
        True for staleness markers: the series ended here.
    """

    score: FloatArray
    raw_score: FloatArray
    feature: FloatArray
    flags: npt.NDArray[np.uint32]
    emitted: npt.NDArray[np.bool_]
    stale: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class _Field:
    name: str
    dtype: type[np.generic]
    shape: tuple[int, ...]


# Version 1 states hold the fields up to feat_var, then a 64-bin histogram of single surprises.
_V1_LAST_NAME = "feat_var"
_V1_CAL_HIST = _Field("cal_hist_v1", np.float32, (64,))


class DetectorBank:
    """Detectors of many series sharing one tree structure; per-series state in numpy rows.

    Parameters
    ----------
    config
        Parameters shared by every series of the bank.
    capacity
        Initial number of series rows (grows by doubling).
    """

    def __init__(self, config: DetectorConfig | None = None, capacity: int = 1024) -> None:
        self.config = config if config is not None else DetectorConfig()
        cfg = self.config
        self.forest: Forest = shared_forest(cfg.n_trees, cfg.height, FEATURES, cfg.seed)
        leaves = 1 << cfg.height
        n_features = len(FEATURES)
        self._fields = (
            _Field("r_cum", np.uint8, (cfg.n_trees, leaves + 1)),
            _Field("l_leaf", np.uint8, (cfg.n_trees, leaves)),
            _Field("kind", np.uint8, ()),
            _Field("status", np.uint8, ()),
            _Field("window_count", np.uint16, ()),
            _Field("since_decrease", np.uint16, ()),
            _Field("n_learned", np.int64, ()),
            _Field("last_ts", np.int64, ()),
            _Field("prev_ts", np.int64, ()),
            _Field("prev_value", np.float64, ()),
            _Field("prev_x", np.float64, ()),
            _Field("feat_mean", np.float64, (n_features,)),
            _Field("feat_var", np.float64, (n_features,)),
            _Field("cal_level", np.float64, ()),
            _Field("x_mean", np.float64, ()),
            _Field("season_xy", np.float64, ()),
            _Field("season_yy", np.float64, ()),
            _Field("season_n", np.int64, ()),
            _Field("season_mean", np.float32, (N_TIME_BINS,)),
            _Field("season_weight", np.float16, (N_TIME_BINS,)),
            _Field("cal_hist", np.float32, (N_BINS,)),
            _Field("week_xy", np.float64, ()),
            _Field("week_yy", np.float64, ()),
            _Field("week_n", np.int64, ()),
            _Field("week_mean", np.float32, (N_WEEK_BINS,)),
            _Field("week_weight", np.uint16, (N_WEEK_BINS,)),
            _Field("gain_mean", np.float64, ()),
            _Field("season_dev", np.float16, (N_TIME_BINS,)),
            _Field("dev_last", np.uint8, (N_TIME_BINS,)),
            _Field("dev_mean", np.float64, ()),
            _Field("visit_sum", np.float64, ()),
            _Field("visit_q", np.float64, ()),
            _Field("visit_scale", np.float64, ()),
            _Field("visit_bin", np.int16, ()),
            _Field("held_mean", np.float64, (n_features,)),
            _Field("held_var", np.float64, (n_features,)),
            _Field("held_run", np.uint16, ()),
        )
        # What versions 3 and 4 of a state hold: the fields before the weekly profile; and
        # versions 5, 6 and 7: those before the fields the next version added.
        names = [f.name for f in self._fields]
        self._v4_fields = self._fields[: names.index(_V4_LAST_NAME) + 1]
        self._v5_fields = self._fields[: names.index(_V5_LAST_NAME) + 1]
        self._v6_fields = self._fields[: names.index(_V6_LAST_NAME) + 1]
        self._v7_fields = self._fields[: names.index(_V7_LAST_NAME) + 1]
        # The LZ4-compressed layouts (versions 4 on) by their header, made once.
        self._lz4_layouts = {
            self._header(): self._fields,
            self._header(version=7): self._v7_fields,
            self._header(version=6): self._v6_fields,
            self._header(version=5): self._v5_fields,
            self._header(version=4): self._v4_fields,
        }
        self._rhythm = RhythmParams(
            cfg.season_days,
            cfg.season_prior,
            cfg.weekly,
            cfg.week_memory,
            cfg.week_ready,
            cfg.calibration_span,
            cfg.feature_span,
            cfg.season_spread,
        )
        self._arrays: dict[str, np.ndarray[Any, Any]] = {}
        self._capacity = 0
        self._slots: dict[Hashable, int] = {}
        self._free: list[int] = []
        self._grow(max(1, capacity))

    # -- series management -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    @property
    def row_bytes(self) -> int:
        """Bytes of state arrays per series row."""
        return sum(
            int(np.prod(f.shape, dtype=np.int64)) * np.dtype(f.dtype).itemsize for f in self._fields
        )

    def keys(self) -> list[Hashable]:
        """The series currently held."""
        return list(self._slots)

    def add(self, key: Hashable, kind: MetricKind = MetricKind.GAUGE) -> None:
        """Start a fresh detector for ``key`` (replacing any existing one)."""
        slot = self._slots.get(key)
        if slot is None:
            slot = self._free.pop() if self._free else self._next_slot()
            self._slots[key] = slot
        self._reset_slot(slot, kind)

    def _admit(
        self,
        keys: Sequence[Hashable],
        kinds: Sequence[MetricKind] | None,
        found: list[int | None],
    ) -> None:
        """Give the keys not held yet (``None`` in ``found``) fresh rows, filled in place.

        The new rows are reset together, one assignment per field instead of one per field
        and series (admitting many series at once is common: a worker's first batches).
        """
        new: list[int] = []
        new_kinds: list[int] = []
        for i, slot in enumerate(found):
            if slot is not None:
                continue
            key = keys[i]
            slot = self._slots.get(key)  # a key repeated in the batch was admitted above
            if slot is None:
                slot = self._free.pop() if self._free else self._next_slot()
                self._slots[key] = slot
                new.append(slot)
                new_kinds.append(int(kinds[i]) if kinds is not None else int(MetricKind.GAUGE))
            found[i] = slot
        self._reset_rows(np.asarray(new, dtype=np.intp), new_kinds)

    def evict(self, key: Hashable) -> None:
        """Forget ``key`` (an idle series); its row is reused. Unknown keys are ignored."""
        slot = self._slots.pop(key, None)
        if slot is not None:
            self._free.append(slot)

    def kind(self, key: Hashable) -> MetricKind:
        """Current kind of ``key`` (a likely counter may have been demoted to a gauge)."""
        return MetricKind(int(self._arrays["kind"][self._slots[key]]))

    def _next_slot(self) -> int:
        used = len(self._slots) + len(self._free)
        if used >= self._capacity:
            self._grow(2 * self._capacity)
        return used

    def _grow(self, capacity: int) -> None:
        for field in self._fields:
            new = np.zeros((capacity, *field.shape), dtype=field.dtype)
            old = self._arrays.get(field.name)
            if old is not None:
                new[: len(old)] = old
            self._arrays[field.name] = new
        self._capacity = capacity

    def _reset_slot(self, slot: int, kind: MetricKind) -> None:
        self._reset_rows(np.array([slot], dtype=np.intp), [int(kind)])

    def _reset_rows(self, rows: IntArray, kinds: Sequence[int]) -> None:
        """Fresh detector state in ``rows`` (one assignment per field for all of them)."""
        for field in self._fields:
            self._arrays[field.name][rows] = 0
        self._arrays["kind"][rows] = kinds
        self._arrays["last_ts"][rows] = _NO_TIMESTAMP
        self._arrays["since_decrease"][rows] = _DEMOTE_WITHIN

    # -- state serialization -----------------------------------------------------------------

    def _header(self, version: int = _STATE_VERSION) -> bytes:
        cfg = self.config
        return _HEADER.pack(
            _STATE_MAGIC,
            version,
            cfg.n_trees,
            cfg.height,
            cfg.window_size,
            len(FEATURES),
            cfg.seed,
        )

    def state_bytes(self, key: Hashable) -> bytes:
        """Compact, self-describing state of one series (about 1 KB, LZ4-compressed).

        Restoring it with :meth:`load_state` gives identical subsequent scores.
        """
        return self.state_bytes_many([key])[0]

    def state_bytes_many(self, keys: Sequence[Hashable]) -> list[bytes]:
        """:meth:`state_bytes` of many series: their rows are gathered in one pass per field.

        >>> bank = DetectorBank(DetectorConfig())
        >>> _ = bank.process([1, 2], [0, 0], [1.0, 2.0])
        >>> bank.state_bytes_many([1, 2]) == [bank.state_bytes(1), bank.state_bytes(2)]
        True
        """
        header = self._header()
        out: list[bytes] = []
        for start in range(0, len(keys), 256):  # bounded scratch memory, reused pages
            part = keys[start : start + 256]
            slots = np.fromiter((self._slots[k] for k in part), dtype=np.intp, count=len(part))
            rows = np.hstack(
                [
                    np.ascontiguousarray(self._arrays[f.name][slots])
                    .reshape(len(part), -1)
                    .view(np.uint8)
                    for f in self._fields
                ]
            )
            out.extend(header + bytes(cramjam.lz4.compress_block(row.tobytes())) for row in rows)
        return out

    def load_state(self, key: Hashable, state: bytes) -> None:
        """Restore ``key`` from :meth:`state_bytes` output (replacing any existing detector).

        A version 1 state (written before calibration judged smoothed surprises and before
        the daily profile) keeps its trees' masses, feature scaling and replay guard; its
        calibration history does not fit the current one, so calibration starts afresh and
        the series is flagged WARMUP for ``warmup - window_size`` more points (instead of
        ``warmup`` for a new series). A version 3 or 4 state (before the weekly profile) keeps
        everything it has; its weekly profile starts empty. Before version 6, the gains'
        checks start around the running mean (``x_mean``); before version 7, the bins' spreads
        start empty; before version 8, no quarantined run is open.

        Raises
        ------
        DetectorStateError
            The bytes are corrupt or were made with different tree/window parameters.
        """
        prefix, rest = state[: _HEADER.size], state[_HEADER.size :]
        fields = self._lz4_layouts.get(prefix)
        try:
            if fields is not None:
                body = bytes(cramjam.lz4.decompress_block(rest))
            elif prefix == self._header(version=3):
                fields = self._v4_fields
                body = zlib.decompress(rest)
            elif prefix == self._header(version=1):
                last = [f.name for f in self._fields].index(_V1_LAST_NAME)
                fields = (*self._fields[: last + 1], _V1_CAL_HIST)
                body = zlib.decompress(rest)
            else:
                raise DetectorStateError("detector state made with other parameters (or corrupt)")
        except (zlib.error, cramjam.DecompressionError) as exc:
            raise DetectorStateError(f"corrupt detector state: {exc}") from None
        sizes = [int(np.prod(f.shape, dtype=np.int64)) * np.dtype(f.dtype).itemsize for f in fields]
        if len(body) != sum(sizes):
            raise DetectorStateError("corrupt detector state: wrong length")
        self.add(key)
        slot = self._slots[key]
        offset = 0
        for field, size in zip(fields, sizes, strict=True):
            if field is not _V1_CAL_HIST:
                row = np.frombuffer(
                    body,
                    dtype=field.dtype,
                    count=size // np.dtype(field.dtype).itemsize,
                    offset=offset,
                )
                self._arrays[field.name][slot] = row.reshape(field.shape)
            offset += size
        a = self._arrays
        if fields[-1] is _V1_CAL_HIST:
            a["n_learned"][slot] = min(int(a["n_learned"][slot]), self.config.window_size)
            a["x_mean"][slot] = a["feat_mean"][slot, FEATURES.index("level")]
        if len(fields) < len(self._v6_fields):  # before version 6: the running mean will do
            a["gain_mean"][slot] = a["x_mean"][slot]

    # -- processing ----------------------------------------------------------------------------

    def process(
        self,
        keys: Sequence[Hashable],
        timestamps_ms: npt.ArrayLike,
        values: npt.ArrayLike,
        kinds: Sequence[MetricKind] | None = None,
        *,
        learn: bool = True,
        rhythm_only: bool = False,
    ) -> BatchScores:
        """Score, then learn, a batch of samples (any series, any order across series).

        Parameters
        ----------
        keys
            Series key of each sample (e.g. the 64-bit series id).
        timestamps_ms
            Sample timestamps, milliseconds since the Unix epoch.
        values
            Sample values (float64; staleness markers keep their bits).
        kinds
            Kind of each sample's series, used only when the series is new (default GAUGE).
        learn
            False scores without changing any state (River's ``score_one``).
        rhythm_only
            The samples teach the series' rhythms and nothing else, and are not scored
            (see :meth:`learn_rhythms`).

        Returns
        -------
        Results aligned with the inputs.
        """
        ts = np.asarray(timestamps_ms, dtype=np.int64).reshape(-1)
        vals = np.asarray(values, dtype=np.float64).reshape(-1)
        n = len(keys)
        if ts.shape != (n,) or vals.shape != (n,):
            raise ValueError("keys, timestamps_ms and values must have the same length")
        get = self._slots.get
        found = [get(key) for key in keys]
        if None in found:
            self._admit(keys, kinds, found)
        slots = np.fromiter(found, dtype=np.intp, count=n)
        repeated = len(set(found)) < n
        out = BatchScores(
            score=np.zeros(n, dtype=np.float64),
            raw_score=np.full(n, np.nan),
            feature=np.full(n, np.nan),
            flags=np.zeros(n, dtype=np.uint32),
            emitted=np.ones(n, dtype=np.bool_),
            stale=np.zeros(n, dtype=np.bool_),
        )
        if not learn and repeated:
            raise ValueError("learn=False needs at most one sample per series")
        if not learn and rhythm_only:
            raise ValueError("rhythm_only learns: it cannot go with learn=False")
        if not repeated:
            self._round(np.arange(n, dtype=np.intp), slots, ts, vals, out, learn, rhythm_only)
        else:
            # rank: how many earlier samples of the batch belong to the same series
            order = np.argsort(slots, kind="stable")
            ordered = slots[order]
            first = np.ones(n, dtype=bool)
            first[1:] = ordered[1:] != ordered[:-1]
            starts = np.flatnonzero(first)
            rank = np.empty(n, dtype=np.intp)
            rank[order] = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
            for r in range(int(rank.max()) + 1):
                idx = np.flatnonzero(rank == r)
                self._round(idx, slots[idx], ts[idx], vals[idx], out, learn, rhythm_only)
        return out

    def learn_rhythms(
        self,
        keys: Sequence[Hashable],
        timestamps_ms: npt.ArrayLike,
        values: npt.ArrayLike,
        kinds: Sequence[MetricKind] | None = None,
    ) -> None:
        """Learn samples into the series' daily and weekly profiles and their gains only.

        For a long, coarse history of a series (weeks at a 5 min step) that comes before
        the samples its model will learn: the profiles need days and weeks, which a history
        at the live resolution cannot hold, while the trees, the feature scaling and the
        calibration must learn the live resolution, whose changes between points are not
        those of a 5 min step. The samples also move what follows them (the previous value,
        a counter's rate, the metric kind's evidence), as :meth:`process` would; the model
        learns nothing and nothing is scored, so the series is still warming up after.
        """
        self.process(keys, timestamps_ms, values, kinds, rhythm_only=True)

    def _round(
        self,
        idx: IntArray,
        slots: IntArray,
        ts: npt.NDArray[np.int64],
        vals: FloatArray,
        out: BatchScores,
        learn: bool,
        rhythm_only: bool = False,
    ) -> None:
        """One sample per series: idx (into ``out``), slots, timestamps and values align."""
        a = self._arrays
        cfg = self.config
        warm = np.uint32(ScoreFlag.WARMUP)
        live = ts > a["last_ts"][slots]
        out.emitted[idx[~live]] = False
        if not live.all():
            idx, slots, ts, vals = idx[live], slots[live], ts[live], vals[live]
        if learn:
            a["last_ts"][slots] = ts

        stale = stale_mask(vals)
        if stale.any():
            out.emitted[idx[stale]] = False
            out.stale[idx[stale]] = True
            if learn:
                a["status"][slots[stale]] &= np.uint8(~(_HAS_PREV_VALUE | _HAS_PREV_X) & 0xFF)
            keep = ~stale
            idx, slots, ts, vals = idx[keep], slots[keep], ts[keep], vals[keep]

        kind = a["kind"][slots]
        failed = (kind == MetricKind.SCRAPE_COUNT) & (vals == 0.0)
        if failed.any():
            # What Prometheus writes for a failed scrape, whose `up` reports it: a gap.
            out.emitted[idx[failed]] = False
            keep = ~failed
            idx, slots, ts, vals, kind = idx[keep], slots[keep], ts[keep], vals[keep], kind[keep]
        up = kind == MetricKind.UP
        if up.any():
            down = vals[up] == 0.0
            out.score[idx[up]] = np.where(down, 1.0, 0.0)
            out.flags[idx[up]] |= np.where(down, np.uint32(ScoreFlag.OUTAGE), np.uint32(0))
            out.feature[idx[up]] = vals[up]
        finite = np.isfinite(vals)
        out.flags[idx[~finite & ~up]] |= warm
        model = finite & ~up
        if not model.all():
            idx, slots, ts, vals, kind = (
                idx[model],
                slots[model],
                ts[model],
                vals[model],
                kind[model],
            )
        if len(idx) == 0:
            return

        status = a["status"][slots]
        likely = (kind == MetricKind.LIKELY_COUNTER) | (kind == MetricKind.UNTYPED)
        counter = (kind == MetricKind.COUNTER) | likely
        has_prev_value = (status & _HAS_PREV_VALUE) != 0
        x = vals.copy()
        if counter.any():
            prev_value = a["prev_value"][slots]
            increase, reset = counter_increase(prev_value, vals)
            if learn:
                decreased = counter & has_prev_value & reset
                demote = likely & (
                    (vals < 0) | (decreased & (a["since_decrease"][slots] < _DEMOTE_WITHIN))
                )
                # An untyped series has not even its name for it: a decrease that keeps
                # more than half the value is a gauge's, not a reset (which restarts
                # near 0), so it is demoted at once.
                demote |= (kind == MetricKind.UNTYPED) & decreased & (vals > 0.5 * prev_value)
                since = a["since_decrease"][slots]
                a["since_decrease"][slots] = np.where(
                    decreased, 0, np.minimum(since.astype(np.int64) + 1, _DEMOTE_WITHIN)
                )
                if demote.any():
                    for slot in slots[demote]:
                        last_ts = a["last_ts"][slot]
                        self._reset_slot(int(slot), MetricKind.GAUGE)
                        a["last_ts"][slot] = last_ts
                    kind = np.where(demote, np.uint8(MetricKind.GAUGE), kind)
                    counter &= ~demote
                    has_prev_value &= ~demote
                    status = np.where(demote, np.uint8(0), status)
            dt = (ts - a["prev_ts"][slots]) / 1000.0
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = increase / dt
            x = np.where(counter, rate, vals)
            flag_reset = counter & has_prev_value & reset
            out.flags[idx[flag_reset]] |= np.uint32(ScoreFlag.RESET)
        primed = ~counter | has_prev_value
        has_prev_x = primed & ((status & _HAS_PREV_X) != 0)
        out.feature[idx[primed]] = x[primed]
        out.flags[idx[~has_prev_x]] |= warm
        y = x
        rhythm: Rhythm | None = None
        if cfg.seasonal:
            # The model sees x minus the part of its profiles that has proved predictive.
            dt_ms = np.where(has_prev_value, ts - a["prev_ts"][slots], 0)
            rhythm = expected_rhythm(a, slots, ts, x, dt_ms, self._rhythm, RHYTHM_GAIN)
            y = rhythm.y
            if rhythm.rhythm.any():
                out.flags[idx[rhythm.rhythm]] |= np.uint32(ScoreFlag.RHYTHM)
        delta = y - a["prev_x"][slots]
        if learn:
            if rhythm is not None:
                learn_rhythm(a, slots, rhythm, primed, self._rhythm, rhythm_only)
            a["prev_value"][slots] = vals
            a["prev_ts"][slots] = ts
            a["prev_x"][slots[primed]] = y[primed]
            new_status = status | np.uint8(_HAS_PREV_VALUE)
            new_status[primed] |= np.uint8(_HAS_PREV_X)
            a["status"][slots] = new_status
        if rhythm_only:
            return
        if not has_prev_x.all():
            idx, slots, y, delta = (
                idx[has_prev_x],
                slots[has_prev_x],
                y[has_prev_x],
                delta[has_prev_x],
            )
        if len(idx) > 0:
            self._model(idx, slots, np.stack([delta, y], axis=1), out, learn)

    def _echoes(
        self, candidates: npt.NDArray[np.bool_], hist: npt.NDArray[np.float32], raw: FloatArray
    ) -> npt.NDArray[np.bool_]:
        """Rows whose level is the echo of a quarantined point, which the calibration history
        skips (``censor_release`` in :class:`~stream.detection.config.DetectorConfig`): a
        ``candidates`` row (scored, not quarantined, still improbable, of a series in an
        episode) whose own point is ordinary, so that only the smoothing's memory of the
        refused points keeps its level up."""
        echo = np.zeros(len(candidates), dtype=np.bool_)
        rows = np.flatnonzero(candidates)
        if len(rows) > 0:
            own = surprise(raw[rows])
            echo[rows] = ordinary(hist[rows], own, self.config.tail_fraction)
        return echo

    def _hold(
        self,
        slots: IntArray,
        open_episode: npt.NDArray[np.bool_],
        quarantined: npt.NDArray[np.bool_],
        echo: npt.NDArray[np.bool_],
        f: FloatArray,
        alpha: FloatArray,
        before: tuple[FloatArray, FloatArray],
        learnt: tuple[FloatArray, FloatArray],
    ) -> None:
        """Keep a passing fault out of the feature scaling (``censor_hold`` in
        :class:`~stream.detection.config.DetectorConfig`), in place in ``learnt``: the
        scaling's mean and variance after this round (``before`` it, learning ``f``).

        Through a run of quarantined points the scaling stays as it was (``before``), while
        ``held_mean`` and ``held_var`` learn every point of the run, and its echo, as the
        scaling would have. The run's ``censor_hold``-th quarantined point (its echo does
        not count) makes it a lasting change: the scaling takes the held copy and learns on
        from there. A point neither quarantined nor an echo ends the run, and the held copy
        is dropped: the fault is forgotten. A run only goes on in an ``open_episode`` (a
        series whose last scored point was quarantined or an echo), so only those rows and
        the ``quarantined`` ones are read."""
        a = self._arrays
        rows = np.flatnonzero(open_episode | quarantined)  # a run may go on, or starts
        if len(rows) == 0:
            return
        s = slots[rows]
        run = a["held_run"][s].astype(np.int64)
        mean, var = before[0][rows], before[1][rows]
        going = (run > 0)[:, None]
        held_mean, held_var = ew_update(
            np.where(going, a["held_mean"][s], mean),
            np.where(going, a["held_var"][s], var),
            f[rows],
            alpha[rows],
        )
        q = quarantined[rows]
        run = np.where(q, np.minimum(run + 1, MAX_CENSOR_HOLD), np.where(echo[rows], run, 0))
        frozen = (q & (run < self.config.censor_hold))[:, None]
        lasting = (q & (run >= self.config.censor_hold))[:, None]
        learnt[0][rows] = np.where(frozen, mean, np.where(lasting, held_mean, learnt[0][rows]))
        learnt[1][rows] = np.where(frozen, var, np.where(lasting, held_var, learnt[1][rows]))
        a["held_mean"][s], a["held_var"][s] = held_mean, held_var
        a["held_run"][s] = run

    def _model(
        self, idx: IntArray, slots: IntArray, f: FloatArray, out: BatchScores, learn: bool
    ) -> None:
        """Features -> HST -> calibration, then learning, for rows with complete features."""
        a = self._arrays
        cfg = self.config
        forest = self.forest
        mean, var = a["feat_mean"][slots], a["feat_var"][slots]
        u = squash(standardise(f, mean, var), cfg.squash_scale)
        leaves = forest.leaf_indices(u)
        n_learned = a["n_learned"][slots]
        scored = n_learned >= cfg.window_size  # HST has a reference window
        raw = np.zeros(len(idx))
        if scored.any():
            raw[scored] = forest.raw_scores(
                a["r_cum"], slots[scored], leaves[scored], cfg.window_size
            )
        n_cal = np.maximum(n_learned - cfg.window_size, 0)
        level = smoothed_surprise(a["cal_level"][slots], surprise(raw), n_cal, cfg.smoothing)
        hist = a["cal_hist"][slots]
        n_eff = np.minimum(n_cal, cfg.calibration_span).astype(np.float64)
        if cfg.calibration_prior > 0:
            # Pseudo-observations completing a short history: all of them while the series is
            # young, fading to none as its own history fills the span.
            prior_count = np.clip(cfg.calibration_span - n_eff, 0.0, cfg.calibration_prior)
            p = tail_probability(
                hist, n_eff, level, cfg.tail_fraction, calibration_prior(), prior_count
            )
        else:
            p = tail_probability(hist, n_eff, level, cfg.tail_fraction)
        score = score_from_probability(p, cfg.decades)
        warming = n_learned < cfg.warmup
        out.score[idx] = np.where(warming, 0.0, score)
        out.raw_score[idx] = raw
        out.flags[idx[warming]] |= np.uint32(ScoreFlag.WARMUP)
        if not learn:
            return

        alpha = ew_alpha(n_learned, cfg.feature_span)[:, None]
        new_mean, new_var = ew_update(mean, var, f, alpha)
        # Quarantine: an extreme point of a series with a history of its own joins neither the
        # trees' next reference window nor the calibration history, so a fault is not learnt
        # as normal while it lasts, and scores as high when it comes back. The feature scaling
        # learns it once the run of such points proves a lasting change (_hold): the change
        # is then adopted as its z-scores shrink. The calibration history also skips the
        # quarantined points' echo (see _echoes).
        quarantined = np.zeros(len(idx), dtype=np.bool_)
        echo = quarantined
        if cfg.censor_probability > 0:
            quarantined = scored & (n_eff >= cfg.censor_after) & (p < cfg.censor_probability)
            status = a["status"][slots]
            episode = np.uint8(_EPISODE)
            open_episode = (status & episode) != 0
            echo = self._echoes(
                open_episode & scored & ~quarantined & (p < cfg.censor_release), hist, raw
            )
            a["status"][slots] = np.where(
                quarantined | echo,
                status | episode,
                np.where(scored, status & ~episode, status),
            )
            self._hold(
                slots, open_episode, quarantined, echo, f, alpha, (mean, var), (new_mean, new_var)
            )
        a["feat_mean"][slots], a["feat_var"][slots] = new_mean, new_var
        t_slots, t_leaves = slots, leaves  # the rows the trees learn
        if quarantined.any():
            t_slots, t_leaves = slots[~quarantined], leaves[~quarantined]
        n_trees = forest.n_trees
        l_flat = a["l_leaf"].reshape(-1)
        l_flat[(t_slots[:, None] * n_trees + np.arange(n_trees)) * forest.n_leaves + t_leaves] += 1
        window_count = a["window_count"][t_slots] + 1
        full = window_count >= cfg.window_size
        if full.any():
            pivot = t_slots[full]
            # In uint8, as stored: a window's masses sum to window_size <= 255, so nothing
            # overflows, and no uint64 temporary eight times the size is made.
            a["r_cum"][pivot, :, 1:] = np.cumsum(a["l_leaf"][pivot], axis=-1, dtype=np.uint8)
            a["l_leaf"][pivot] = 0
            window_count[full] = 0
        a["window_count"][t_slots] = window_count
        if scored.any():
            s = slots[scored]
            cal_alpha = ew_alpha(n_cal[scored], cfg.calibration_span)
            if quarantined.any():
                cal_alpha = np.where(quarantined[scored], 0.0, cal_alpha)
            if echo.any():
                cal_alpha = np.where(echo[scored], 0.0, cal_alpha)
            a["cal_hist"][s] = update_histogram(hist[scored], level[scored], cal_alpha)
            a["cal_level"][s] = level[scored]
        a["n_learned"][slots] = n_learned + 1
