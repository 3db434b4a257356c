"""A compact per-series daily profile, learnt online, so that rhythms are not anomalies.

Many metrics follow the clock: traffic rises at 09:00 and falls at 18:00, a backup runs at
02:00. Compared with the last half hour, every such step looks anomalous, every day. Each series
therefore keeps a **daily profile**: the mean of its base value in each of ``N_BINS``
five-minute bins of the UTC day, learnt online:

* a sample adds ``q = min(dt, bin width) / bin width`` to its bin's weight (``dt`` = time since
  the previous sample), so one day of samples in a bin weighs 1 whatever the scrape interval;
  the bin's mean is the plain mean until the weight reaches ``memory_days``, then an
  exponentially weighted mean forgetting over that many days (old rhythms fade, a new one is
  learnt in about as many days);
* the profile is only *used* for a bin after a full day in it (weight >= 1), and only as much
  as it has predicted better than the series' plain running mean: the **gain** ``g`` is the
  online least-squares coefficient of ``x - mean`` on ``profile - mean``, computed from
  predictions made *before* each sample was learnt (out of sample), clipped to ``[0, 1]`` and
  shrunk while few predictions were checked. That mean spans at least 3.5 days whatever the
  scrape interval (:func:`learn_rhythm`). On a series without a rhythm the profile predicts
  no better than the mean and ``g`` stays near 0; on a series with a strong one ``g`` nears 1.

The detector then sees ``x - g * (profile[bin] - mean)`` in place of ``x``: a step that
happens at this time every day is expected and scores low, while the same step at an unusual
hour (or a missing daily step) still stands out. Bins are five minutes wide so that a short
daily event (a cron job's spike) has a bin of its own instead of shifting the expectation of
its neighbours; the profile costs 288 float32 means and 288 float16 weights per series
(1.7 KB; a weight is a count of days up to ``memory_days``, so 3 significant digits do).
A step between two bins' boundaries (09:02) leaves its bin a blend of both levels, so where
a neighbouring bin expects another level (by more than two standard deviations of the level
the detector sees), the detector sees whichever of the two expects the point better: a
rhythm is expected within a bin of its time (see :func:`expected_rhythm`).

**Spreads.** A bin's mean is the mean of what happens in it, and what is shorter than the
bin (a cron job's three-minute spike at 02:00, a job that starts a few minutes early or
late) leaves it a blend that is wrong for every point in it: at a 60 s scrape such a job
alerted every night. So each bin also keeps its **spread**, the mean absolute out-of-sample
error of its visits (a series' run of samples in the bin, five minutes of a day) in units of
the series' typical error, learnt robustly (:func:`_learn_spread`): a visit counts at most
twice what the visit before it showed, so a spread grows from errors that come back day
after day, and one spike cannot widen its bin. Where a bin's spread is over ``spread``
(2), the detector sees ``y``'s departure from the mean divided by it: measured in the bin's
own spread, the job is ordinary from its third night (the second confirms what the first
showed), while a spike at another time, or a job ten times bigger, is not. The spreads cost
288 float16 a series, and a byte a bin for what its last visit showed.

**Weekly profile.** A daily profile cannot tell Monday from Sunday: under office hours on
weekdays only it learns a blend, so every weekend lacks an expected step and every Monday has
one too many, while a holiday (a Thursday that looks like a Sunday) is just another day. So
each series also keeps, by **hour of the UTC week** (``N_WEEK_BINS`` bins), the mean of what
its daily profile misses, ``x - profile[bin]``, learnt the same way (a sample adds
``min(dt, 1 h) / 1 h``; forgetting over ``week_memory`` weeks) from bins whose daily profile
is ready, used for a bin only after ``week_ready`` weeks in it (two by default: what
happened in one week is not yet a rhythm), and trusted by its own out-of-sample gain
``g_w`` (the least-squares coefficient of ``x - profile[bin]`` on ``week[hour]``). The
expected value is then ``profile[bin] + g_w * week[hour]``, and the detector sees

    ``x - g * (profile[bin] + g_w * week[hour] - mean)``.

Without a weekly rhythm what the daily profile misses is noise, ``week`` predicts nothing
and ``g_w`` stays near 0. With one, the single gain ``g`` is checked against the combined
expectation, which is right at weekends too, so ``g`` does not fall every weekend (it did
when the weekly profile corrected what ``g`` left: at a 15 s scrape a weekend's checks
took it from 1 to 0, and Monday's rhythm was untrusted). Both gains' checks span at least
``check_span`` five-minute bins of time (:func:`span_alpha`): 2,000 points are a week at
5 min but 8 hours at 15 s. Hour bins, since the daily profile already holds the detail
within a day: 168 float32 means and 168 uint16 weights counting seconds (1 KB).

Both profiles learn every point, including those the detector quarantines from its trees
(:mod:`stream.detection.config`): the first weekends of a new weekly rhythm are extreme
points, and a profile that skipped them never learnt them (a prototype alerted on every
Saturday at a 60 s scrape). The cost: a holiday is learnt into its hours of the week with a
weight of 1/k (k weeks seen, up to ``week_memory``), and the same hours a week later may
score (``benchmarks/detection_rhythms.py`` counts it: 5 alerts in 40 series at 60 s).

Examples
--------
>>> import numpy as np
>>> time_bin(np.array([0, 5 * 60_000 - 1, 5 * 60_000, DAY_MS + 60_000]))
array([0, 0, 1, 0])
>>> mean, weight = np.zeros((1, N_BINS), np.float32), np.zeros((1, N_BINS), np.float16)
>>> rows, bins = np.array([0]), np.array([3])
>>> for value in (10.0, 20.0):  # two days' worth in bin 3 (one sample per bin per day)
...     learn_profile(mean, weight, rows, bins, np.array([value]), np.array([1.0]), 5.0)
>>> float(mean[0, 3]), float(weight[0, 3])
(15.0, 2.0)
>>> week_bin(np.array([0, 4 * DAY_MS - 1, 4 * DAY_MS]))  # 1970-01-01 was a Thursday
array([ 72, 167,   0])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from stream.detection.features import FEATURES, ew_alpha

__all__ = [
    "BIN_MS",
    "DAY_MS",
    "N_BINS",
    "N_WEEK_BINS",
    "MAX_WEEK_MEMORY",
    "WEEK_BIN_MS",
    "WEEK_UNIT",
    "Rhythm",
    "RhythmParams",
    "expected_rhythm",
    "learn_profile",
    "learn_rhythm",
    "profile_gain",
    "sample_weight",
    "span_alpha",
    "time_bin",
    "week_bin",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

DAY_MS = 86_400_000
#: Five-minute bins of the UTC day.
N_BINS = 288
BIN_MS = DAY_MS // N_BINS
#: Hours of the UTC week, Monday 00:00 first.
N_WEEK_BINS = 168
WEEK_BIN_MS = 3_600_000
_EPOCH_HOUR_OF_WEEK = 3 * 24  # 1970-01-01 00:00 UTC was a Thursday
#: The weekly profile's weights count seconds (uint16: up to 18 weeks of one hour a week).
WEEK_UNIT = 3600.0
MAX_WEEK_MEMORY = np.iinfo(np.uint16).max // 3600
_LEVEL = FEATURES.index("level")


def time_bin(ts: npt.NDArray[np.int64]) -> IntArray:
    """Bin of the UTC day (0 .. N_BINS-1) of each timestamp in milliseconds."""
    bins: IntArray = ((ts % DAY_MS) // BIN_MS).astype(np.intp)
    return bins


def week_bin(ts: npt.NDArray[np.int64]) -> IntArray:
    """Hour of the UTC week (0 = Monday 00:00 .. N_WEEK_BINS-1) of each timestamp in ms."""
    hours = ts // WEEK_BIN_MS + _EPOCH_HOUR_OF_WEEK
    bins: IntArray = (hours % N_WEEK_BINS).astype(np.intp)
    return bins


def sample_weight(dt_ms: npt.NDArray[np.int64], bin_ms: int = BIN_MS) -> FloatArray:
    """Share of a bin's period a sample stands for: ``min(dt, bin width) / bin width`` (> 0).

    Examples
    --------
    >>> sample_weight(np.array([15_000, BIN_MS, 10 * BIN_MS, 0])).round(5).tolist()
    [0.05, 1.0, 1.0, 0.05]
    >>> sample_weight(np.array([15_000]), WEEK_BIN_MS).round(5).tolist()
    [0.00417]
    """
    dt = np.where(dt_ms > 0, dt_ms, 15_000)  # no previous sample: a typical scrape interval
    q: FloatArray = np.minimum(dt, bin_ms) / bin_ms
    return q


def learn_profile(
    mean: npt.NDArray[np.float32],
    weight: npt.NDArray[np.float16] | npt.NDArray[np.uint16],
    rows: IntArray,
    bins: IntArray,
    x: FloatArray,
    q: FloatArray,
    memory: float,
    unit: float = 1.0,
) -> None:
    """Update, in place, the profile bins ``(rows, bins)`` with base values ``x``.

    ``q`` is each sample's share of a bin's period (:func:`sample_weight`) and ``memory`` is
    in periods; ``weight`` stores periods times ``unit``. An integer ``weight`` counts whole
    units, at least one a sample: the weekly profile's uint16 weights count seconds, exact
    where a float16 could not add one second's share (1/3,600) past a week.

    >>> mean, weight = np.zeros((1, 2), np.float32), np.zeros((1, 2), np.uint16)
    >>> for value in (10.0, 20.0, 30.0, 40.0):  # 4 samples of 15 s, one unit a second
    ...     learn_profile(mean, weight, np.array([0]), np.array([1]), np.array([value]),
    ...                   np.array([15 / 3600]), 4.0, 3600.0)
    >>> float(mean[0, 1]), int(weight[0, 1])
    (25.0, 60)
    """
    w_old = weight[rows, bins].astype(np.float64)
    step = q * unit
    if np.issubdtype(weight.dtype, np.integer):
        step = np.maximum(np.rint(step), 1.0)
    w_new = np.minimum(w_old + step, memory * unit)
    alpha = np.minimum(step / np.maximum(w_new, 1e-12), 1.0)
    m_old = mean[rows, bins].astype(np.float64)
    mean[rows, bins] = m_old + alpha * (x - m_old)
    weight[rows, bins] = w_new


def span_alpha(
    n_seen: npt.NDArray[np.integer], span: float, dt_ms: npt.NDArray[np.int64]
) -> FloatArray:
    """:func:`~stream.detection.features.ew_alpha` over ``span`` points, but never over less
    time than ``span`` five-minute bins: a sample closer than that to the previous one counts
    ``dt / 5 min`` of a point (``dt_ms`` 0: no previous sample, a whole one).

    Rhythms are defined in time, so the out-of-sample checks behind the profiles' gains
    must span days at a 15 s scrape as at a 5 min one, for which the span was chosen:
    2,000 points of checks are a week at 5 min, but 8 hours at 15 s, and a gain learnt
    over a weekend's 8 hours no longer trusted Monday's rhythm.

    >>> span_alpha(np.array([0, 50_000, 50_000, 50_000]), 2000.0,
    ...            np.array([0, 300_000, 15_000, 0])).tolist()
    [1.0, 0.0005, 2.5e-05, 0.0005]
    """
    q = np.where(dt_ms > 0, np.minimum(dt_ms, BIN_MS) / BIN_MS, 1.0)
    alpha: FloatArray = np.maximum(1.0 / (n_seen.astype(np.float64) + 1.0), q / span)
    return alpha


def profile_gain(
    xy: FloatArray, yy: FloatArray, n_checked: npt.NDArray[np.integer], prior: float
) -> FloatArray:
    """How much of the profile to trust: ``clip(xy / yy, 0, 1) * n / (n + prior)``.

    ``xy`` and ``yy`` are running means of ``(x - mean) * (profile - mean)`` and
    ``(profile - mean) ** 2`` over ``n`` out-of-sample predictions.

    Examples
    --------
    >>> xy, yy, n = np.array([4.0, 0.1, 1.0]), np.array([4.0, 4.0, 0.0]), np.array([900, 900, 0])
    >>> profile_gain(xy, yy, n, prior=100.0).tolist()
    [0.9, 0.0225, 0.0]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(yy > 0, xy / yy, 0.0)
    n = n_checked.astype(np.float64)
    gain: FloatArray = np.clip(slope, 0.0, 1.0) * n / (n + prior)
    return gain


class RhythmParams(NamedTuple):
    """The profiles' parameters (see :class:`~stream.detection.config.DetectorConfig`)."""

    season_days: float
    season_prior: float
    weekly: bool
    week_memory: float
    week_ready: float
    check_span: float
    mean_span: float
    spread: float = 0.0


class Rhythm(NamedTuple):
    """What the profiles expect of a round of samples (one per series), before learning them.

    ``y`` is what the detector sees; the rest is kept to learn the samples afterwards.
    """

    y: FloatArray
    rhythm: npt.NDArray[np.bool_]
    x: FloatArray
    x_mean: FloatArray
    bins: IntArray
    ready: npt.NDArray[np.bool_]
    week_bins: IntArray
    week_ready: npt.NDArray[np.bool_]
    week_offset: FloatArray
    residual: FloatArray
    dt_ms: npt.NDArray[np.int64]
    gain_mean: FloatArray
    gain_offset: FloatArray
    error: FloatArray


def expected_rhythm(
    a: dict[str, np.ndarray[Any, Any]],
    slots: IntArray,
    ts: npt.NDArray[np.int64],
    x: FloatArray,
    dt_ms: npt.NDArray[np.int64],
    params: RhythmParams,
    rhythm_gain: float,
) -> Rhythm:
    """``x`` less the part of each profile that has proved predictive (reads state only).

    ``a`` holds the bank's per-series arrays (``season_*``, ``week_*``, ``x_mean``,
    ``gain_mean``); a point is flagged as judged against a rhythm when a ready bin is
    trusted with ``rhythm_gain``.
    """
    bins = time_bin(ts)
    x_mean = a["x_mean"][slots]
    ready = a["season_weight"][slots, bins] >= 1.0
    day_mean = a["season_mean"][slots, bins].astype(np.float64)
    expected = day_mean
    week_bins = bins[:0]
    week_ready = ready[:0]
    week_offset = day_mean[:0]
    if params.weekly:
        # What this hour of the week adds to the daily profile, as far as it has predicted.
        week_bins = week_bin(ts)
        week_ready = ready & (a["week_weight"][slots, week_bins] >= params.week_ready * WEEK_UNIT)
        week_offset = np.where(week_ready, a["week_mean"][slots, week_bins], 0.0)
        week_gain = profile_gain(
            a["week_xy"][slots], a["week_yy"][slots], a["week_n"][slots], params.season_prior
        )
        expected = day_mean + week_gain * week_offset
    offset = np.where(ready, expected - x_mean, 0.0)
    gain = profile_gain(
        a["season_xy"][slots], a["season_yy"][slots], a["season_n"][slots], params.season_prior
    )
    y = x - gain * offset
    if params.spread > 0:
        y = _within_spread(a, slots, bins, ready, x_mean, y, params.spread)
    # A rhythm's time is known to a bin at best: a step at 09:02 leaves the 09:00 bin the
    # blend of both levels, wrong on either side of the step, while the bins either side
    # hold each level (and jobs and people start a few minutes early or late). So where a
    # neighbouring daily bin expects another level (by more than two standard deviations
    # of the level the detector sees), the point may be that bin's: the detector sees the
    # least surprising ``y`` (closest to the running mean) of the candidates, each with the
    # weekly offset of the point's own hour. Between bins whose means differ by noise
    # alone, the choice would only narrow what the detector sees, and every true anomaly
    # would then have less room above it. The gains are checked, and the profiles learn,
    # at the point's own bins. Each candidate is measured in its own bin's spread.
    week_part = expected - day_mean
    apart = 2.0 * np.sqrt(a["feat_var"][slots, _LEVEL])
    for side in (-1, 1):
        near = (bins + side) % N_BINS
        other = a["season_mean"][slots, near] + week_part
        usable = ready & (a["season_weight"][slots, near] >= 1.0)
        usable &= np.abs(other - expected) > apart
        alt = x - gain * (other - x_mean)
        if params.spread > 0:
            alt = _within_spread(a, slots, near, usable, x_mean, alt, params.spread)
        y = np.where(usable & (np.abs(alt - x_mean) < np.abs(y - x_mean)), alt, y)
    rhythm = ready & (gain >= rhythm_gain)
    residual = x - day_mean
    gain_mean = a["gain_mean"][slots]
    return Rhythm(
        y,
        rhythm,
        x,
        x_mean,
        bins,
        ready,
        week_bins,
        week_ready,
        week_offset,
        residual,
        dt_ms,
        gain_mean,
        np.where(ready, expected - gain_mean, 0.0),
        x - expected,
    )


def _within_spread(
    a: dict[str, np.ndarray[Any, Any]],
    slots: IntArray,
    bins: IntArray,
    ready: npt.NDArray[np.bool_],
    x_mean: FloatArray,
    y: FloatArray,
    spread: float,
) -> FloatArray:
    """``y``'s departure from the mean, measured in the spread of its bin ``bins`` (where
    ``ready``) when that bin's errors are usually more than ``spread`` times the series'
    typical error.

    A bin's spread ``season_dev`` is in units of the series' ``dev_mean`` (see
    :func:`_learn_spread`); dividing by it maps the bin's typical error to the series'.
    """
    dev = a["season_dev"][slots, bins].astype(np.float64)
    wide = ready & (dev > spread)
    if not wide.any():
        return y
    shrink = np.where(wide, 1.0 / np.where(wide, dev, 1.0), 1.0)
    out: FloatArray = x_mean + shrink * (y - x_mean)
    return out


def learn_rhythm(
    a: dict[str, np.ndarray[Any, Any]],
    slots: IntArray,
    r: Rhythm,
    learn: npt.NDArray[np.bool_],
    params: RhythmParams,
    rhythm_only: bool = False,
) -> None:
    """Learn the samples of ``r`` (this round's :func:`expected_rhythm`) that ``learn`` marks:
    the running means, the gains' out-of-sample checks and the profiles. ``slots`` aligns
    with ``r``; call it before the bank counts the samples as learnt (``n_learned``).

    Two running means of ``x``: ``x_mean`` over ``mean_span`` points, which the detector's
    ``y`` is centred on, and ``gain_mean``, around which the daily gain is checked, over
    ``mean_span`` points but never less time than ``mean_span`` five-minute bins
    (:func:`span_alpha`), like the checks themselves. Over 1,000 points, 4 hours at a 15 s
    scrape, the mean follows the rhythm, so the profile's offsets from it are large only
    just after each step, where its own errors are (a weekend in a blend of weekdays): the
    slope the gain is, diluted by those errors, came out at 0.58 after eight days of
    office hours on weekdays at 15 s against 0.70 at 5 min, and 0.77 against 0.94 after
    three weeks, and a quarter of every Monday's step was left for the detector to see.
    ``y`` keeps the shorter mean: centred on the longer one, the detector's scaling (also
    over 1,000 points) no longer took in what the profiles miss, and office hours raised
    false alerts where they raised none (0.006 a series a day at 60 s on weekdays only,
    0.025 at 15 s every day).

    ``rhythm_only``: the samples teach the rhythms alone (a long history, see
    :meth:`~stream.detection.bank.DetectorBank.learn_rhythms`), and the running means count
    the daily gain's checks instead of the model's samples, which do not advance. They are
    only needed by those checks, made from the second day on; afterwards ``gain_mean``
    counts whichever is more, so that a history's weeks still weigh in it.
    """
    ls = slots[learn]
    x_mean = r.x_mean[learn]
    x = r.x[learn]
    seen = a["season_n" if rhythm_only else "n_learned"][ls]
    alpha = ew_alpha(seen, params.mean_span)
    a["x_mean"][ls] = x_mean + alpha * (x - x_mean)
    if not rhythm_only:
        seen = np.maximum(seen, a["season_n"][ls])
    gain_mean = r.gain_mean[learn]
    alpha = span_alpha(seen, params.mean_span, r.dt_ms[learn])
    a["gain_mean"][ls] = gain_mean + alpha * (x - gain_mean)
    check = learn & r.ready
    if params.spread > 0:
        _learn_spread(a, ls, r, learn, params)
    dev = (r.x - r.gain_mean)[check]
    _check_gain(a, "season", slots[check], dev, r.gain_offset[check], params, r.dt_ms[check])
    learn_profile(
        a["season_mean"],
        a["season_weight"],
        ls,
        r.bins[learn],
        r.x[learn],
        sample_weight(r.dt_ms[learn]),
        params.season_days,
    )
    if params.weekly:
        check = learn & r.week_ready
        dev, off = r.residual[check], r.week_offset[check]
        _check_gain(a, "week", slots[check], dev, off, params, r.dt_ms[check])
        known = learn & r.ready  # the daily profile has a day in this bin
        learn_profile(
            a["week_mean"],
            a["week_weight"],
            slots[known],
            r.week_bins[known],
            r.residual[known],
            sample_weight(r.dt_ms[known], WEEK_BIN_MS),
            params.week_memory,
            WEEK_UNIT,
        )


#: What one visit of a bin (its five minutes of a day) teaches its spread is at most this
#: many times what the previous visit showed (or the series' typical error, when larger).
SPREAD_CLIP = 2.0
#: Spreads are stored as float16 multiples of ``dev_mean``: a visit shows at most this many.
_SPREAD_MAX = 10_000.0
#: What a bin's last visit showed is kept in a byte, as ``log2(1 + shown)`` in steps of
#: 1/18 (4 % apart; 10,000 is code 239): it only bounds what the next visit may teach.
_LAST_STEPS = 18.0


def _last_code(shown: FloatArray) -> npt.NDArray[np.uint8]:
    """``shown`` (multiples of ``dev_mean``, at most ``_SPREAD_MAX``) as ``dev_last`` bytes.

    >>> _last_code(np.array([0.0, 1.0, 41.0, 10_000.0])).tolist()
    [0, 18, 97, 239]
    >>> _last_shown(_last_code(np.array([0.0, 1.0, 41.0]))).round(1).tolist()
    [0.0, 1.0, 40.9]
    """
    code: npt.NDArray[np.uint8] = np.rint(np.log2(1.0 + shown) * _LAST_STEPS).astype(np.uint8)
    return code


def _last_shown(code: npt.NDArray[np.uint8]) -> FloatArray:
    """Inverse of :func:`_last_code`, to its 4 % steps."""
    shown: FloatArray = np.exp2(code / _LAST_STEPS) - 1.0
    return shown


def _learn_spread(
    a: dict[str, np.ndarray[Any, Any]],
    slots: IntArray,
    r: Rhythm,
    learn: npt.NDArray[np.bool_],
    params: RhythmParams,
) -> None:
    """Learn the profiles' out-of-sample errors ``r.error`` of the samples ``learn`` marks
    (``slots`` are theirs) into the spreads.

    * ``dev_mean``: the series' typical error, the mean of its absolute value in ready bins,
      over the daily gain's checks and spanning as much time as ``gain_mean``.
    * A **visit** is a series' run of samples in one bin (at most five minutes of a day):
      its mean absolute error in units of ``dev_mean`` (``visit_sum / visit_q``, weighted
      like the profiles' samples) is taken when the series leaves the bin. On the bin's
      first day, before its mean is ready, the errors are those of each sample against the
      mean of the bin's samples before it, in standard deviations of the level the detector
      saw when the visit began (``visit_scale``): at fast scrapes a visit holds several.
    * ``season_dev``: a bin's spread, the mean over its ready visits (forgetting over
      ``season_days - 1``) of what each showed, but at most ``SPREAD_CLIP`` times what the
      visit before it showed (``dev_last``; or 1, when less); a visit with nothing before it
      to check it against (the first ready one, when the first day's showed nothing, as at
      a 5 min scrape) only sets ``dev_last``. So a spread is learnt from what comes back
      day after day (a cron job shorter than its bin, from its second night at fast
      scrapes), while one spike, one bad day, after ordinary ones counts as at most twice
      the typical error, not over ``spread`` (2): a spread learnt from one spike would leave
      its bin blind for days.
    """
    bins, ready, dt_ms = r.bins[learn], r.ready[learn], r.dt_ms[learn]
    visit_bin = a["visit_bin"][slots]
    ended = (visit_bin != bins) | (dt_ms <= 0) | (dt_ms >= BIN_MS)
    done = ended & (a["visit_q"][slots] > 0)
    if done.any():
        s, b = slots[done], visit_bin[done].astype(np.intp)
        q = a["visit_q"][s]
        shown = np.minimum(a["visit_sum"][s] / q, _SPREAD_MAX)
        days = a["season_weight"][s, b].astype(np.float64) - 1.0  # ready days, this one too
        # A ready visit is counted once an earlier visit of the bin showed something to check
        # it against: its first day's (at fast scrapes) or its first ready one.
        counted = (days >= 0.5) & ((a["dev_last"][s, b] > 0) | (days >= 1.5))
        if counted.any():
            s, b, q, days = s[counted], b[counted], q[counted], days[counted]
            last = _last_shown(a["dev_last"][s, b])
            size = np.minimum(shown[counted], SPREAD_CLIP * np.maximum(last, 1.0))
            since = np.minimum(np.maximum(days - 1.0, q), params.season_days - 1.0)
            alpha = np.minimum(q / since, 1.0)
            dev = a["season_dev"][s, b].astype(np.float64)
            a["season_dev"][s, b] = dev + alpha * (size - dev)
        a["dev_last"][slots[done], visit_bin[done].astype(np.intp)] = _last_code(shown)
    if ended.any():
        e = slots[ended]
        a["visit_bin"][e] = bins[ended]
        a["visit_sum"][e] = 0.0
        a["visit_q"][e] = 0.0
        a["visit_scale"][e] = np.sqrt(np.maximum(a["feat_var"][e, _LEVEL], 0.0))
    # The bin's first day: errors against the mean of its samples so far, in standard
    # deviations of the level the detector saw when the visit began (``dev_mean`` is not
    # known yet, and the scaling soon learns what the visit holds), so that the first ready
    # visit is checked against what the first day showed.
    scale = a["visit_scale"][slots]
    young = ~ready & (a["season_weight"][slots, bins] > 0) & (scale > 0)
    if young.any():
        s = slots[young]
        shown = np.minimum(np.abs(r.residual[learn][young]) / scale[young], _SPREAD_MAX)
        q = sample_weight(dt_ms[young])
        a["visit_sum"][s] += q * shown
        a["visit_q"][s] += q
    if not ready.any():
        return
    s = slots[ready]
    size = np.abs(r.error[learn][ready])
    mean = a["dev_mean"][s]
    alpha = span_alpha(a["season_n"][s], params.mean_span, dt_ms[ready])
    mean = mean + alpha * (size - mean)
    a["dev_mean"][s] = mean
    q = sample_weight(dt_ms[ready])
    with np.errstate(divide="ignore", invalid="ignore"):
        shown = np.where(mean > 0, size / mean, 0.0)
    a["visit_sum"][s] += q * shown
    a["visit_q"][s] += q


def _check_gain(
    a: dict[str, np.ndarray[Any, Any]],
    profile: str,
    slots: IntArray,
    dev: FloatArray,
    offset: FloatArray,
    params: RhythmParams,
    dt_ms: npt.NDArray[np.int64],
) -> None:
    """One out-of-sample check of a profile's gain: the running means behind
    :func:`profile_gain` (``<profile>_xy``, ``_yy``, ``_n``) learn ``dev`` against ``offset``."""
    n_checked = a[f"{profile}_n"][slots]
    alpha = span_alpha(n_checked, params.check_span, dt_ms)
    xy, yy = a[f"{profile}_xy"], a[f"{profile}_yy"]
    xy[slots] += alpha * (dev * offset - xy[slots])
    yy[slots] += alpha * (offset * offset - yy[slots])
    a[f"{profile}_n"][slots] = n_checked + 1
