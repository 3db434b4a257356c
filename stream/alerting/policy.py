"""The alert policy: turns a series' calibrated scores into firing and resolved alert events.

Pure and framework-free: :meth:`AlertPolicy.step` takes the series' previous
:class:`~stream.alerting.series_state.SeriesState` and one ``ScoreBatch`` and returns the new
state and the ``AlertEvent`` messages for the ``alerts`` topic. The Faust agent keeps the state
in a table (``to_bytes``) and publishes the events keyed by ``dedup_key``.

Rules, in order, for each point newer than the last one seen (older points are replays and
are ignored, so at-least-once redelivery emits nothing twice):

* ``OUTAGE`` (``up == 0``) fires at once with reason OUTAGE, even during warm-up: a target
  that is down is an alert whatever the model knows. The first point without the flag
  resolves it. An open ANOMALY episode is resolved first (the outage supersedes it).
* ``RESET`` (counter reset) points and points with a NaN score are neutral: they neither
  advance nor break a run.
* ``WARMUP`` points never fire and break a run of high scores; they do not resolve either.
* Otherwise a run of ``fire_points`` consecutive scores above ``fire_threshold`` fires
  (reason ANOMALY, ``started_at`` = first point of the run), unless the series is in its
  **restart grace**: for ``resume_grace_seconds`` after it comes back from staleness (its
  target was down or not scraped) or after a counter reset, its process most likely
  restarted, and a restarted process's own metrics (heap, threads, caches, GC) move by
  themselves for a while. Such a run is *held*, and the baseline is frozen, until the grace
  ends; then, at the first point past it, the held run fires if it is still going or if
  the value is still outside the range expected before the restart (a lasting change: a
  restart into a fault), dated from the run's first point, and is forgotten otherwise (a
  transient the restart explains). The detector's scores calm down within 10-20 points of
  any change, so "still going" alone would let every change that starts at a restart pass.
* While firing, ``resolve_points`` consecutive scores below ``resolve_threshold`` (hysteresis)
  resolve the episode (:attr:`Resolution.RECOVERED`) only if the last ``resolve_points``
  values are also back in the range expected before the episode (the baseline: learnt from
  calm points only, scores below ``resolve_threshold``, and frozen while firing). The
  detector adopts a lasting level change as its new normal within a few hundred points and
  its scores calm down; the value tells a *shift* (still away from its old range: the alert
  keeps firing) from a spike or a fault that ended. A shift is accepted as the new normal
  once the episode has lasted ``accept_new_normal_seconds`` with calm scores: it resolves
  with :attr:`Resolution.NEW_NORMAL` and the baseline starts afresh from the new level. A
  return to the old level scores high again (a change for the detector) and so stays in the
  same episode until scores calm down.
* A stale batch (the series ended) resolves the open episode at the last point seen
  (:attr:`Resolution.SERIES_ENDED`); an outage supersedes an open anomaly
  (:attr:`Resolution.SUPERSEDED`).

Why an episode resolved is in the event's ``resolution`` field and in
:attr:`StepResult.resolutions` (aligned with the events).

The value reported in an event and the baseline are the point's ``feature``: what the
detector saw, i.e. the sample value for gauges and the per-second rate for counters, so the
value and its expected range are comparable.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from aidevops.errors import ConfigurationError
from aidevops.pb import alerts_pb2, scores_pb2
from stream.alerting.baseline import Baseline
from stream.alerting.series_state import Episode, SeriesState

__all__ = [
    "SCHEMA_VERSION",
    "AlertPolicy",
    "PolicyConfig",
    "Resolution",
    "StepResult",
    "dedup_key",
    "group_key",
]

SCHEMA_VERSION = 1

_WARMUP = scores_pb2.SCORE_FLAG_WARMUP
_OUTAGE = scores_pb2.SCORE_FLAG_OUTAGE
_RESET = scores_pb2.SCORE_FLAG_RESET


class Resolution(enum.IntEnum):
    """Why an episode resolved; values of the ``AlertResolution`` enum of ``alerts.proto``."""

    #: Not a resolution (a FIRING event).
    UNSPECIFIED = 0
    #: Scores calmed down and the value is back in its expected range (or ``up`` is back).
    RECOVERED = 1
    #: The value stayed at a new level for ``accept_new_normal_seconds``: accepted as normal.
    NEW_NORMAL = 2
    #: The series ended (staleness marker).
    SERIES_ENDED = 3
    #: An outage of the target replaced the anomaly episode.
    SUPERSEDED = 4


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Thresholds of the alert policy, on the detector's score scale.

    A score is ``-log10(p) / 8`` where ``p`` is how likely recent behaviour this unusual is on
    the series' own history (see :mod:`stream.detection.calibration`): 0.4 is 1 point in
    1,600 and 0.2 is 1 in 40. The defaults were checked on the real detector's output: 20 000
    points of stationary Gaussian noise reach at most 0.49 with a 99.9th percentile of 0.34
    and raise no alert (about one false alert in 224,000 points), while a 10-sigma level
    shift scores 0.44, 0.62, 0.76, 0.83, ... and fires within three points (45 s at a 15 s
    scrape interval). Resolving needs ten points below 0.2, so
    an anomaly whose scores hover around the threshold stays one episode, and ten values
    back within ``baseline_k`` standard deviations of the pre-episode mean, so a lasting
    shift keeps its alert firing after the detector has adopted it; until
    ``accept_new_normal_seconds`` (one hour) have passed, when the shift is accepted as the
    new normal. 0 resolves on calm scores alone. A fire threshold of 1 (scores never exceed
    it) lets only outages fire, which a control of a series may ask for.

    Examples
    --------
    >>> PolicyConfig(fire_threshold=0.9, resolve_threshold=0.95)
    Traceback (most recent call last):
    ...
    aidevops.errors.ConfigurationError: resolve_threshold 0.95 must not exceed fire_threshold 0.9
    """

    fire_threshold: float = 0.4
    fire_points: int = 3
    resolve_threshold: float = 0.2
    resolve_points: int = 10
    baseline_alpha: float = 0.05
    baseline_k: float = 3.0
    baseline_min_points: int = 10
    accept_new_normal_seconds: float = 3600.0
    resume_grace_seconds: float = 300.0
    group_labels: tuple[str, ...] = field(default=("job", "instance"))

    def __post_init__(self) -> None:
        if not 0.0 < self.fire_threshold <= 1.0:
            raise ConfigurationError(f"fire_threshold {self.fire_threshold} must be in (0, 1]")
        if not 0.0 <= self.resolve_threshold <= self.fire_threshold:
            raise ConfigurationError(
                f"resolve_threshold {self.resolve_threshold} must not exceed "
                f"fire_threshold {self.fire_threshold}"
            )
        if self.fire_points < 1 or self.resolve_points < 1:
            raise ConfigurationError("fire_points and resolve_points must be at least 1")
        if not 0.0 < self.baseline_alpha <= 1.0:
            raise ConfigurationError(f"baseline_alpha {self.baseline_alpha} must be in (0, 1]")
        if self.baseline_k <= 0.0 or self.baseline_min_points < 1:
            raise ConfigurationError("baseline_k must be > 0 and baseline_min_points >= 1")
        if not self.accept_new_normal_seconds >= 0.0:
            raise ConfigurationError(
                f"accept_new_normal_seconds {self.accept_new_normal_seconds} must be >= 0"
            )
        if not self.resume_grace_seconds >= 0.0:
            raise ConfigurationError(
                f"resume_grace_seconds {self.resume_grace_seconds} must be >= 0"
            )


@dataclass(frozen=True, slots=True)
class StepResult:
    """The new state of a series and the events (oldest first) its batch caused.

    ``resolutions`` is aligned with ``events``: why each RESOLVED event resolved
    (:attr:`Resolution.UNSPECIFIED` for FIRING events).
    """

    state: SeriesState
    events: list[alerts_pb2.AlertEvent]
    resolutions: list[Resolution] = field(default_factory=list)


def dedup_key(series_id: int, started_at: int) -> str:
    """The episode's stable key: ``"<series id hex>:<started_at>"``.

    Examples
    --------
    >>> dedup_key(0xABC, 1_700_000_000_000)
    '0000000000000abc:1700000000000'
    """
    return f"{series_id:016x}:{started_at}"


def group_key(
    tenant: str, series_id: int, labels: Mapping[str, str], group_labels: Iterable[str]
) -> str:
    """Key shared by the series of one target, so they can be notified together.

    Built from the tenant and the ``group_labels`` the series has; a series with none of
    them is its own group.

    Examples
    --------
    >>> group_key("acme", 1, {"job": "node", "instance": "h1:9100"}, ("job", "instance"))
    'acme/job=node,instance=h1:9100'
    >>> group_key("acme", 1, {"__name__": "x"}, ("job", "instance"))
    'acme/series=0000000000000001'
    """
    parts = [f"{name}={labels[name]}" for name in group_labels if name in labels]
    if not parts:
        return f"{tenant}/series={series_id:016x}"
    return f"{tenant}/" + ",".join(parts)


class AlertPolicy:
    """Decides, point by point, when a series' alert fires and resolves.

    Stateless itself (the per-series state is passed in and returned), so one instance
    serves every series of a worker.

    Examples
    --------
    >>> from aidevops.pb import scores_pb2
    >>> batch = scores_pb2.ScoreBatch(tenant="acme", series_id=7)
    >>> _ = batch.labels.add(name="instance", value="h1")
    >>> for t, s in enumerate([0.1, 0.6, 0.7, 0.5, 0.3] + [0.1] * 10):
    ...     _ = batch.points.add(timestamp=1000 * (t + 1), value=5.0, feature=5.0, score=s)
    >>> result = AlertPolicy(PolicyConfig()).step(None, batch)
    >>> [(alerts_pb2.AlertState.Name(e.state), e.dedup_key, e.event_at) for e in result.events]
    [('ALERT_STATE_FIRING', '0000000000000007:2000', 4000), \
('ALERT_STATE_RESOLVED', '0000000000000007:2000', 15000)]
    >>> AlertPolicy(PolicyConfig()).step(result.state, batch).events  # a replay
    []
    """

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config
        # What step_calm reads for every point, one attribute away instead of two.
        self._fire_threshold = config.fire_threshold
        self._resolve_threshold = config.resolve_threshold
        self._alpha = config.baseline_alpha
        self._grace_ms = round(1000.0 * config.resume_grace_seconds)

    def __repr__(self) -> str:
        return f"AlertPolicy({self.config!r})"

    def with_threshold(self, fire_threshold: float) -> AlertPolicy:
        """This policy firing at ``fire_threshold`` (a control's sensitivity for its series).

        The resolve threshold is kept unless it is above the new fire threshold, where it
        becomes that threshold.

        >>> policy = AlertPolicy(PolicyConfig()).with_threshold(0.1).config
        >>> policy.fire_threshold, policy.resolve_threshold
        (0.1, 0.1)
        """
        cfg = self.config
        return AlertPolicy(
            replace(
                cfg,
                fire_threshold=fire_threshold,
                resolve_threshold=min(cfg.resolve_threshold, fire_threshold),
            )
        )

    def step_calm(
        self, state: SeriesState | None, timestamp: int, score: float, feature: float, flags: int
    ) -> bool:
        """Apply one point to ``state`` in place if it cannot open or close an episode.

        The common case of a healthy series: no episode is open and no run of high scores
        is under way, and the point is no outage and does not start a run. Such a point only
        moves the series' clock and baseline, exactly as :meth:`step` would, without a
        message or a copy of the state. For any other point nothing is changed and False
        is returned: the caller applies it with :meth:`step`.

        >>> policy = AlertPolicy(PolicyConfig())
        >>> state = SeriesState(last_ts=1000)
        >>> policy.step_calm(state, 2000, 0.1, 5.0, 0), state.last_ts, state.baseline.count
        (True, 2000, 1)
        >>> policy.step_calm(state, 3000, 0.9, 5.0, 0), state.last_ts  # would start a run
        (False, 2000)
        """
        if state is None or not state.calm or flags & (_OUTAGE | _RESET):
            return False  # an outage opens an episode, a reset starts a restart grace
        if timestamp <= state.last_ts:
            return True  # a replay: step() ignores it too
        if score == score:  # not NaN
            if not flags & _WARMUP and score > self._fire_threshold:
                return False
            if score < self._resolve_threshold:
                state.baseline = state.baseline.update(feature, self._alpha)
        state.last_ts = timestamp
        state.stale = False
        return True

    def step(self, state: SeriesState | None, batch: scores_pb2.ScoreBatch) -> StepResult:
        """Apply one batch of a series' scores to its state.

        Parameters
        ----------
        state
            The series' state after its previous batch, or ``None`` for a new series.
        batch
            The series' scored points (oldest first) from the ``scores`` topic.

        Returns
        -------
        StepResult
            The new state (``state`` is not modified) and the events, oldest first.
        """
        emitter = _Emitter(batch, self.config)
        st = SeriesState() if state is None else state.copy()
        for point in batch.points:
            if point.timestamp <= st.last_ts:
                continue
            if st.stale or point.flags & _RESET:
                st.grace_until = point.timestamp + self._grace_ms
            st.last_ts = point.timestamp
            st.stale = False
            self._point(st, point, emitter)
        if batch.stale and not st.stale:
            if st.episode is not Episode.NONE:
                emitter.resolved(st, st.last_ts, math.nan, math.nan, Resolution.SERIES_ENDED)
            st = SeriesState(last_ts=st.last_ts, stale=True, baseline=st.baseline)
        return StepResult(st, emitter.events, emitter.resolutions)

    def _point(self, st: SeriesState, p: scores_pb2.ScoredPoint, out: _Emitter) -> None:
        cfg = self.config
        if p.flags & _OUTAGE:
            if st.episode is Episode.OUTAGE:
                st.peak = max(st.peak, p.score)
                return
            if st.episode is Episode.ANOMALY:
                out.resolved(st, p.timestamp, p.score, p.feature, Resolution.SUPERSEDED)
            st.above = st.below = st.inside = 0
            st.held = False
            st.episode, st.started_at, st.peak = Episode.OUTAGE, p.timestamp, p.score
            out.firing(st, p)
            return
        if st.episode is Episode.OUTAGE:
            out.resolved(st, p.timestamp, p.score, p.feature, Resolution.RECOVERED)
            st.episode, st.above, st.below = Episode.NONE, 0, 0
            return
        if p.flags & _RESET or math.isnan(p.score):
            return
        warmup = bool(p.flags & _WARMUP)
        if st.episode is Episode.ANOMALY:
            if warmup:
                return
            st.peak = max(st.peak, p.score)
            st.below = st.below + 1 if p.score < cfg.resolve_threshold else 0
            st.inside = st.inside + 1 if _in_range(st.baseline, p.feature, cfg) else 0
            if st.below < cfg.resolve_points:
                return
            accept_ms = 1000.0 * cfg.accept_new_normal_seconds
            if accept_ms == 0 or st.inside >= cfg.resolve_points:
                resolution = Resolution.RECOVERED
            elif p.timestamp - st.started_at >= accept_ms:
                resolution = Resolution.NEW_NORMAL
            else:
                return
            out.resolved(st, p.timestamp, p.score, p.feature, resolution)
            st.episode, st.above, st.below, st.inside = Episode.NONE, 0, 0, 0
            if resolution is Resolution.NEW_NORMAL:
                st.baseline = Baseline()  # learn the new level's range afresh
            return
        high = not warmup and p.score > cfg.fire_threshold
        in_grace = p.timestamp < st.grace_until
        if st.held and not in_grace:
            st.held = False
            if not (high and st.above) and not _in_range(st.baseline, p.feature, cfg):
                self._fire(st, p, out)  # the change the held run marked has lasted
                return
            # else: a run still going fires by the rule below, a transient is forgotten
        if high:
            if st.above == 0 and not st.held:
                st.run_start, st.run_peak = p.timestamp, p.score
            st.above += 1
            st.run_peak = max(st.run_peak, p.score)
            if st.above >= cfg.fire_points:
                if in_grace:
                    st.held = True
                else:
                    self._fire(st, p, out)
            return
        st.above = 0
        if not in_grace and p.score < cfg.resolve_threshold:
            # Only calm points teach the range: the first points of a fault often score
            # between the two thresholds before its run fires, and learnt, they would widen
            # the range the episode's end is judged by until it holds the fault's own value.
            st.baseline = st.baseline.update(p.feature, cfg.baseline_alpha)

    @staticmethod
    def _fire(st: SeriesState, p: scores_pb2.ScoredPoint, out: _Emitter) -> None:
        """Open an ANOMALY episode for the run that started at ``st.run_start``."""
        st.episode, st.started_at, st.peak = Episode.ANOMALY, st.run_start, st.run_peak
        st.above = st.below = st.inside = 0
        out.firing(st, p)


class _Emitter:
    """Builds the ``AlertEvent`` messages of one batch."""

    def __init__(self, batch: scores_pb2.ScoreBatch, config: PolicyConfig) -> None:
        self._batch = batch
        self._config = config
        self._group: str | None = None  # built on the first event: most batches have none
        self.events: list[alerts_pb2.AlertEvent] = []
        self.resolutions: list[Resolution] = []

    def firing(self, st: SeriesState, p: scores_pb2.ScoredPoint) -> None:
        self._emit(st, alerts_pb2.ALERT_STATE_FIRING, p.timestamp, p.score, p.feature)
        self.resolutions.append(Resolution.UNSPECIFIED)

    def resolved(
        self, st: SeriesState, event_at: int, score: float, value: float, why: Resolution
    ) -> None:
        self._emit(st, alerts_pb2.ALERT_STATE_RESOLVED, event_at, score, value)
        self.events[-1].resolution = alerts_pb2.AlertResolution.ValueType(int(why))
        self.resolutions.append(why)

    def _emit(
        self,
        st: SeriesState,
        state: alerts_pb2.AlertState.ValueType,
        event_at: int,
        score: float,
        value: float,
    ) -> None:
        batch, cfg = self._batch, self._config
        if self._group is None:
            labels = {label.name: label.value for label in batch.labels}
            self._group = group_key(batch.tenant, batch.series_id, labels, cfg.group_labels)
        low, high = _range(st.baseline, cfg)
        event = alerts_pb2.AlertEvent(
            schema_version=SCHEMA_VERSION,
            tenant=batch.tenant,
            series_id=batch.series_id,
            dedup_key=dedup_key(batch.series_id, st.started_at),
            state=state,
            reason=alerts_pb2.AlertReason.ValueType(int(st.episode)),
            started_at=st.started_at,
            event_at=event_at,
            score=score,
            peak_score=max(st.peak, score) if not math.isnan(score) else st.peak,
            value=value,
            baseline_low=low,
            baseline_high=high,
            group_key=self._group,
        )
        event.labels.extend(batch.labels)
        self.events.append(event)


def _range(baseline: Baseline, cfg: PolicyConfig) -> tuple[float, float]:
    return baseline.expected_range(cfg.baseline_k, cfg.baseline_min_points)


def _in_range(baseline: Baseline, value: float, cfg: PolicyConfig) -> bool:
    """Whether ``value`` is in the expected range (True when the range or value is unknown)."""
    low, high = _range(baseline, cfg)
    if math.isnan(low) or math.isnan(value):
        return True
    return low <= value <= high
