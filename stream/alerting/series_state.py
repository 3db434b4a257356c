"""Per-series alert state: small, and serializable so it survives a worker restart.

The state is what the policy must remember between two points of one series: where the
current run of high scores started, whether an episode is open, and the value baseline.
:meth:`SeriesState.to_bytes` packs it into 83 bytes (a Faust table value or a checkpoint);
:meth:`SeriesState.from_bytes` also reads the 71- and 75-byte records of versions 1 and 2.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from stream.alerting.baseline import Baseline
from stream.alerting.errors import AlertStateError

__all__ = ["Episode", "SeriesState"]

_VERSION = 3
# version, last_ts, flags, above, run_start, run_peak, below, inside, episode, started_at,
# peak, baseline count, mean, variance, grace_until
_LAYOUT = struct.Struct("<BqBIqdIIBqdIddq")
# Version 2 had no ``grace_until``, version 1 no ``inside`` either.
_LAYOUT_V2 = struct.Struct("<BqBIqdIIBqdIdd")
_LAYOUT_V1 = struct.Struct("<BqBIqdIBqdIdd")
_STALE = 0x01
_HELD = 0x02


class Episode(enum.IntEnum):
    """Which kind of alert episode is open for a series (values match ``AlertReason``)."""

    NONE = 0
    ANOMALY = 1
    OUTAGE = 2


@dataclass(slots=True)
class SeriesState:
    """What the alert policy remembers about one series.

    Attributes
    ----------
    last_ts
        Timestamp (ms) of the newest point seen; older or equal points are replays.
        ``-1`` before the first point.
    stale
        The series ended (staleness marker) and no point came since.
    above
        Consecutive points with a score above the firing threshold (not yet firing).
    run_start, run_peak
        Timestamp of the first point and highest score of that run.
    below
        While firing: consecutive points with a score below the resolve threshold.
    inside
        While firing: consecutive points whose value is back in the pre-episode range.
    episode
        The open episode, if any.
    started_at, peak
        Start (ms) and highest score of the open episode.
    baseline
        Expected range of the value from recent non-anomalous points.
    grace_until
        Timestamp (ms) before which no run of high scores fires: the series came back after
        it ended (staleness) or its counter reset, so its process most likely restarted.
    held
        A run reached the firing length inside that grace: it is judged when the grace ends
        (``run_start`` and ``run_peak`` are its start and peak).

    Examples
    --------
    >>> s = SeriesState(last_ts=1_700_000_000_000, episode=Episode.ANOMALY, started_at=5)
    >>> blob = s.to_bytes()
    >>> len(blob)
    83
    >>> SeriesState.from_bytes(blob) == s
    True
    >>> SeriesState.from_bytes(b"junk")
    Traceback (most recent call last):
    ...
    stream.alerting.errors.AlertStateError: alert state has 4 bytes, expected 83
    """

    last_ts: int = -1
    stale: bool = False
    above: int = 0
    run_start: int = 0
    run_peak: float = 0.0
    below: int = 0
    inside: int = 0
    episode: Episode = Episode.NONE
    started_at: int = 0
    peak: float = 0.0
    baseline: Baseline = field(default_factory=Baseline)
    grace_until: int = 0
    held: bool = False

    @property
    def calm(self) -> bool:
        """Whether a point can only move the clock and the baseline, or start a run.

        True while no episode is open, no run is under way and nothing is pending; False for
        a series that ended (its return starts a restart grace), one in its grace (the
        baseline is frozen and a held run is judged when it ends) and one that has seen no
        point yet. :meth:`~stream.alerting.policy.AlertPolicy.step_calm` and
        :class:`~stream.alerting.calm.CalmColumns` take only calm states.
        """
        return (
            self.episode is Episode.NONE
            and not self.above
            and not self.stale
            and not self.held
            and self.grace_until <= self.last_ts
        )

    def copy(self) -> SeriesState:
        """A shallow copy (the baseline is immutable, so this is a full copy)."""
        return SeriesState(
            self.last_ts,
            self.stale,
            self.above,
            self.run_start,
            self.run_peak,
            self.below,
            self.inside,
            self.episode,
            self.started_at,
            self.peak,
            self.baseline,
            self.grace_until,
            self.held,
        )

    def to_bytes(self) -> bytes:
        """Pack into a fixed 83-byte little-endian record (first byte: format version)."""
        return _LAYOUT.pack(
            _VERSION,
            self.last_ts,
            (_STALE if self.stale else 0) | (_HELD if self.held else 0),
            min(self.above, 0xFFFFFFFF),
            self.run_start,
            self.run_peak,
            min(self.below, 0xFFFFFFFF),
            min(self.inside, 0xFFFFFFFF),
            int(self.episode),
            self.started_at,
            self.peak,
            self.baseline.count,
            self.baseline.mean,
            self.baseline.variance,
            self.grace_until,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SeriesState:
        """Unpack :meth:`to_bytes` output or an older record; else :class:`AlertStateError`."""
        if len(data) == _LAYOUT_V1.size and data[:1] == b"\x01":
            fields = list(_LAYOUT_V1.unpack(data))
            fields.insert(7, 0)  # inside
            fields[0] = _VERSION
            fields.append(0)  # grace_until
        elif len(data) == _LAYOUT_V2.size and data[:1] == b"\x02":
            fields = [*_LAYOUT_V2.unpack(data), 0]
            fields[0] = _VERSION
        elif len(data) != _LAYOUT.size:
            raise AlertStateError(f"alert state has {len(data)} bytes, expected {_LAYOUT.size}")
        else:
            fields = list(_LAYOUT.unpack(data))
        (
            version,
            last_ts,
            flags,
            above,
            run_start,
            run_peak,
            below,
            inside,
            episode,
            started_at,
            peak,
            count,
            mean,
            variance,
            grace_until,
        ) = fields
        if version != _VERSION:
            raise AlertStateError(f"alert state version {version} is not supported")
        try:
            kind = Episode(episode)
        except ValueError:
            raise AlertStateError(f"alert state has unknown episode kind {episode}") from None
        return cls(
            last_ts=last_ts,
            stale=bool(flags & _STALE),
            above=above,
            run_start=run_start,
            run_peak=run_peak,
            below=below,
            inside=inside,
            episode=kind,
            started_at=started_at,
            peak=peak,
            baseline=Baseline(count, mean, variance),
            grace_until=grace_until,
            held=bool(flags & _HELD),
        )
