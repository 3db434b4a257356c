"""Native histograms, scored as two derived series: observation rate and mean observation.

The worker feeds a native histogram sample's ``count`` to a counter detector (its per-second
rate is the observation rate) and :func:`interval_mean` to a gauge detector. Buckets are not
scored one by one: the mean catches shifts in the distribution at a fraction of the cost.

Examples
--------
>>> interval_mean(10.0, 5.0, 14.0, 9.0)   # 4 observations summing to 4.0
1.0
>>> interval_mean(None, None, 14.0, 9.0)  # first sample: nothing to compare with
nan
>>> interval_mean(10.0, 5.0, 2.0, 3.0)    # reset: counts restarted, use the new totals
1.5
"""

from __future__ import annotations

import math

__all__ = ["interval_mean"]


def interval_mean(
    prev_count: float | None, prev_sum: float | None, count: float, sum_: float
) -> float:
    """Mean observed value between two native histogram samples: ``Δsum / Δcount``.

    Parameters
    ----------
    prev_count, prev_sum
        The previous sample's count and sum, or ``None`` for the first sample of the series.
    count, sum_
        This sample's count and sum.

    Returns
    -------
    The mean, or NaN when there is no previous sample or no new observation (a NaN is not
    learnt by the detector). A drop in count is a reset: the new totals are used.
    """
    if prev_count is None or prev_sum is None:
        return math.nan
    if count < prev_count:
        delta_count, delta_sum = count, sum_
    else:
        delta_count, delta_sum = count - prev_count, sum_ - prev_sum
    if delta_count <= 0:
        return math.nan
    return delta_sum / delta_count
