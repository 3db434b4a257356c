"""The alert states of calm series in numpy columns, stepped many series at a time.

Most points of a healthy series change nothing but its clock and its value baseline
(:meth:`~stream.alerting.policy.AlertPolicy.step_calm`): no episode is open, no run of high
scores is under way, and the point neither is an outage nor starts a run. Stepping them one
series at a time cost a Python call and a new baseline tuple per point; here the clock and the
baseline of every calm series (never a stale one) live in columns (one row per series)
and a whole batch of points is applied with a few numpy operations, with the arithmetic of
:meth:`~stream.alerting.baseline.Baseline.update`, operation for operation, so the results
are the same bits.

A row mirrors a :class:`~stream.alerting.series_state.SeriesState` while that state is calm
(:meth:`CalmColumns.load`); the object's clock and baseline are then behind the columns
until :meth:`CalmColumns.sync` writes them back, which the owner does before it hands the
state to :meth:`~stream.alerting.policy.AlertPolicy.step` or serializes it.

Examples
--------
>>> import numpy as np
>>> from stream.alerting.policy import AlertPolicy, PolicyConfig
>>> columns = CalmColumns()
>>> row = columns.add(AlertPolicy(PolicyConfig()))
>>> state = SeriesState(last_ts=1000)
>>> columns.load(row, state)
>>> columns.step(np.array([row]), np.array([2000]), np.array([0.1]), np.array([5.0]),
...     np.array([0], dtype=np.uint32)).tolist()
[True]
>>> columns.step(np.array([row]), np.array([3000]), np.array([0.9]), np.array([5.0]),
...     np.array([0], dtype=np.uint32)).tolist()  # would start a run: step() decides it
[False]
>>> columns.sync(row, state).last_ts, state.baseline
(2000, Baseline(count=1, mean=5.0, variance=0.0))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from aidevops.pb import scores_pb2
from stream.alerting.baseline import Baseline
from stream.alerting.series_state import SeriesState

if TYPE_CHECKING:
    from stream.alerting.policy import AlertPolicy

__all__ = ["CalmColumns"]

_WARMUP = np.uint32(scores_pb2.SCORE_FLAG_WARMUP)
_OUTAGE = np.uint32(scores_pb2.SCORE_FLAG_OUTAGE)
_RESET = np.uint32(scores_pb2.SCORE_FLAG_RESET)
_COUNT_MAX = 0xFFFFFFFF  # a baseline's count saturates here (its serialized width)


class CalmColumns:
    """Clock and baseline of many series' calm alert states, one row each.

    Parameters
    ----------
    capacity
        Initial number of rows (grows by doubling).
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._columns: dict[str, np.ndarray[Any, Any]] = {}
        self._dtypes = {
            "calm": np.bool_,
            "last_ts": np.int64,
            "count": np.int64,
            "mean": np.float64,
            "variance": np.float64,
            "threshold": np.float64,
            "quiet": np.float64,
            "alpha": np.float64,
        }
        self._capacity = 0
        self._used = 0
        self._free: list[int] = []
        self._grow(max(1, capacity))

    def _grow(self, capacity: int) -> None:
        for name, dtype in self._dtypes.items():
            new: np.ndarray[Any, Any] = np.zeros(capacity, dtype=dtype)
            old = self._columns.get(name)
            if old is not None:
                new[: len(old)] = old
            self._columns[name] = new
        self._capacity = capacity

    @property
    def calm(self) -> npt.NDArray[np.bool_]:
        """Per row: whether it mirrors a calm state (else its state is the object's alone)."""
        return self._columns["calm"]

    def add(self, policy: AlertPolicy) -> int:
        """A row for a new series decided by ``policy``; not calm until :meth:`load`."""
        if self._free:
            row = self._free.pop()
        else:
            if self._used >= self._capacity:
                self._grow(2 * self._capacity)
            row = self._used
            self._used += 1
        self._columns["calm"][row] = False
        self.set_policy(row, policy)
        return row

    def remove(self, row: int) -> None:
        """Forget a row (its series is gone); it is reused."""
        self._columns["calm"][row] = False
        self._free.append(row)

    def set_policy(self, row: int, policy: AlertPolicy) -> None:
        """The thresholds the row's points are judged by."""
        self._columns["threshold"][row] = policy.config.fire_threshold
        self._columns["quiet"][row] = policy.config.resolve_threshold
        self._columns["alpha"][row] = policy.config.baseline_alpha

    def load(self, row: int, state: SeriesState | None) -> None:
        """Mirror ``state`` in the row if it is calm (:attr:`SeriesState.calm`)."""
        c = self._columns
        calm = state is not None and state.calm
        c["calm"][row] = calm
        if state is not None and calm:
            c["last_ts"][row] = state.last_ts
            c["count"][row], c["mean"][row], c["variance"][row] = state.baseline

    def sync(self, row: int, state: SeriesState | None) -> SeriesState | None:
        """Write a calm row's clock and baseline back into its state object; returns it."""
        c = self._columns
        if state is not None and c["calm"][row]:
            state.last_ts = int(c["last_ts"][row])
            state.baseline = Baseline(
                int(c["count"][row]), float(c["mean"][row]), float(c["variance"][row])
            )
        return state

    def step(
        self,
        rows: npt.NDArray[np.intp],
        timestamp: npt.NDArray[np.int64],
        score: npt.NDArray[np.float64],
        feature: npt.NDArray[np.float64],
        flags: npt.NDArray[np.uint32],
    ) -> npt.NDArray[np.bool_]:
        """Apply one point to each of ``rows`` (distinct, calm) where it cannot open an episode.

        Returns, per point, whether it was applied: as
        :meth:`~stream.alerting.policy.AlertPolicy.step_calm` would have returned. Rows of
        points not applied are left as they were.
        """
        c = self._columns
        replay = timestamp <= c["last_ts"][rows]
        neutral = np.isnan(score)
        hot = ~neutral & ((flags & _WARMUP) == 0) & (score > c["threshold"][rows])
        # An outage opens an episode, a counter reset starts the restart grace: step() does both.
        applied: npt.NDArray[np.bool_] = ((flags & (_OUTAGE | _RESET)) == 0) & (replay | ~hot)
        moved = applied & ~replay
        learn = moved & ~neutral & np.isfinite(feature) & (score < c["quiet"][rows])
        if learn.any():
            # Baseline.update, operation for operation
            at, x = rows[learn], feature[learn]
            count, mean = c["count"][at], c["mean"][at]
            weight = 1.0 / (count + 1)
            alpha = c["alpha"][at]
            weight = np.where(weight < alpha, alpha, weight)
            diff = x - mean
            increment = weight * diff
            c["mean"][at] = mean + increment
            c["variance"][at] = (1.0 - weight) * (c["variance"][at] + diff * increment)
            c["count"][at] = np.where(count < _COUNT_MAX, count + 1, count)
        at = rows[moved]
        c["last_ts"][at] = timestamp[moved]
        return applied
