"""The per-series detector as a River estimator: ``features -> HST -> calibration``.

:class:`SeriesDetector` is the River-contract face of one series' detector; it runs exactly
the code of :class:`~stream.detection.bank.DetectorBank` on a one-series bank, so its scores are
those the worker's batch API produces. Use the bank in the worker (vectorised over many
series); use this class for single series, notebooks and River tooling.

Examples
--------
>>> import numpy as np
>>> detector = SeriesDetector()
>>> rng = np.random.default_rng(3)
>>> for i, value in enumerate(rng.normal(50.0, 2.0, 1000)):
...     point = detector.process_one(i * 15_000, float(value))
>>> point.flags, point.score < 0.4
(<ScoreFlag.NONE: 0>, True)
>>> spike = {"timestamp": 1000 * 15_000, "value": 90.0}
>>> detector.score_one(spike) > 0.4
True
>>> detector.process_one(1000 * 15_000, 90.0).score == detector.score_one(spike)
False
>>> restored = SeriesDetector.from_bytes(detector.to_bytes())
>>> restored.process_one(1001 * 15_000, 50.0) == detector.process_one(1001 * 15_000, 50.0)
True
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, NamedTuple

import numpy as np
from river import base

from stream.detection.bank import DetectorBank
from stream.detection.config import DetectorConfig
from stream.detection.flags import ScoreFlag
from stream.detection.metric_kind import MetricKind

__all__ = ["ScoredPoint", "SeriesDetector"]

_KEY = 0


class ScoredPoint(NamedTuple):
    """One scored sample; fields as in ``ScoredPoint`` of ``scores.proto``."""

    timestamp: int
    value: float
    feature: float
    score: float
    raw_score: float
    flags: ScoreFlag


class SeriesDetector(base.AnomalyDetector):
    """Online anomaly detector of one Prometheus series (River estimator contract).

    ``x`` is ``{"timestamp": milliseconds since the epoch, "value": float}``. ``score_one``
    returns the calibrated score in ``[0, 1]`` (see :mod:`stream.detection.calibration`) and
    changes nothing; ``learn_one`` learns the sample; :meth:`process_one` does both (score,
    then learn) and also returns the flags. Replays (timestamp not after the last processed
    one) and staleness markers give ``None`` from :meth:`process_one` and 0.0 from
    ``score_one``; see :mod:`stream.detection.bank` for every case.

    Parameters
    ----------
    kind
        How samples become the feature (gauge value, counter rate, ``up``).
    n_trees, height, window_size, warmup, seed
        See :class:`~stream.detection.config.DetectorConfig`.
    """

    def __init__(
        self,
        kind: MetricKind = MetricKind.GAUGE,
        n_trees: int = DetectorConfig.n_trees,
        height: int = DetectorConfig.height,
        window_size: int = DetectorConfig.window_size,
        warmup: int = DetectorConfig.warmup,
        seed: int = DetectorConfig.seed,
    ) -> None:
        self.kind = kind
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.warmup = warmup
        self.seed = seed
        config = DetectorConfig(
            n_trees=n_trees, height=height, window_size=window_size, warmup=warmup, seed=seed
        )
        self._bank = DetectorBank(config, capacity=1)
        self._bank.add(_KEY, kind)

    def _run(self, x: dict[Hashable, Any], learn: bool) -> ScoredPoint | None:
        timestamp, value = int(x["timestamp"]), float(x["value"])
        out = self._bank.process([_KEY], np.array([timestamp]), np.array([value]), learn=learn)
        if not out.emitted[0]:
            return None
        return ScoredPoint(
            timestamp=timestamp,
            value=value,
            feature=float(out.feature[0]),
            score=float(out.score[0]),
            raw_score=float(out.raw_score[0]),
            flags=ScoreFlag(int(out.flags[0])),
        )

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        """Learn one sample (it is ignored if it is a replay)."""
        self._run(x, learn=True)

    def score_one(self, x: dict[Hashable, Any]) -> float:
        """Calibrated score of one sample, without learning it (0.0 if it would be ignored)."""
        point = self._run(x, learn=False)
        return 0.0 if point is None else point.score

    def process_one(self, timestamp: int, value: float) -> ScoredPoint | None:
        """Score, then learn, one sample; ``None`` for replays and staleness markers."""
        return self._run({"timestamp": timestamp, "value": value}, learn=True)

    def to_bytes(self) -> bytes:
        """Compact state (parameters are checked, not stored: pass them to :meth:`from_bytes`)."""
        return self._bank.state_bytes(_KEY)

    @classmethod
    def from_bytes(cls, state: bytes, **params: Any) -> SeriesDetector:
        """A detector built with ``params`` and the state saved by :meth:`to_bytes`.

        Raises
        ------
        stream.detection.bank.DetectorStateError
            The state is corrupt or was saved with other tree/window parameters.
        """
        detector = cls(**params)
        detector._bank.load_state(_KEY, state)
        return detector
