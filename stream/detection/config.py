"""Detector parameters, with the reasons for their defaults.

Examples
--------
>>> config = DetectorConfig()
>>> config.warmup >= config.window_size
True
>>> round(10 ** (-DEFAULT_THRESHOLD * config.decades), 6)  # p at the default threshold
0.000631
>>> DetectorConfig(window_size=300)
Traceback (most recent call last):
...
ValueError: window_size must be in [2, 255]
"""

from __future__ import annotations

from dataclasses import dataclass

from stream.detection.forest import MAX_WINDOW_SIZE
from stream.detection.season import MAX_WEEK_MEMORY

__all__ = ["DEFAULT_THRESHOLD", "MAX_CENSOR_HOLD", "DetectorConfig"]

#: Longest ``censor_hold``: the bank counts a run of quarantined points in a uint16.
MAX_CENSOR_HOLD = 65_535

#: Shipped alert threshold on the calibrated score (used by the backtest and the NAB evaluation;
#: the alert policy owns the real decision). See :mod:`stream.detection.calibration`.
DEFAULT_THRESHOLD = 0.4


@dataclass(frozen=True)
class DetectorConfig:
    """Parameters of the per-series pipeline ``features -> half-space trees -> calibration``.

    Parameters
    ----------
    n_trees, height
        25 trees of height 8 (256 leaves): with two features, fewer trees gave noisier raw
        scores and a worse NAB development score (10 trees: 31, 25 trees: 41); 25 x 2 x 257
        bytes of uint8 masses is about 13 KB per series.
    window_size
        Points per HST mass window (at most 255, the uint8 limit). 128 (about 30 minutes at a
        15 s scrape interval): a shorter reference adapts faster to a new normal and scored
        better than River's 250 on the development set.
    warmup
        Points a series must have been learnt on before its scores are alert-grade: the first
        ``window_size`` fill the first reference window (HST scores nothing before that), the
        next ``window_size`` are scored against it and become the reference (learnt on features
        whose scaling has settled) and give calibration a first history, which the prior
        (``calibration_prior``) completes. 256 (64 minutes at 15 s) is those two windows. It
        was 400 before the prior; with the prior, 256 lifted the standard score on the
        development set's 1,600-point stretches at the shipped threshold from 42.6 to 45.8
        (whole files unchanged, 57.7), and in the first two days at a 60 s scrape AR(1) noise
        raised 0.163 false alerts per series per day instead of 0.138 (Gaussian noise and
        Poisson counts none either way).
    seed
        Seed of the shared tree structure (every worker must use the same one).
    feature_span
        Horizon, in points, of the exponentially weighted mean/variance that scale features.
    squash_scale
        Z-score mapped to 0.73 by the logistic squash. 6 keeps ordinary values (|z| < 3) in the
        middle third and leaves the outer cells of the trees to values far out, so a 30-sigma
        spike scores higher than a 4-sigma one (with 2, both saturated in the same leaf; the
        NAB development score also rose from 41 to 50).
    seasonal, season_days, season_prior
        The daily profile (:mod:`stream.detection.season`): whether it is used, over how
        many days a bin's mean is averaged (a changed rhythm is learnt in about as many
        days), and how many out-of-sample checks halve the trust put in it at first.
    weekly, week_memory, week_ready
        The weekly profile (:mod:`stream.detection.season`): what the daily profile misses,
        by hour of the week, forgetting over ``week_memory`` weeks (4) and used for an hour
        of the week once ``week_ready`` weeks (2) have shown it. Measured with
        ``benchmarks/detection_rhythms.py --series 20`` (six weeks of office hours on weekdays
        only, or of a taxi-like weekday and weekend shape; one weekday of the fifth week
        follows the Sunday shape): at a 60 s scrape, holidays alerted 40/40 against 6/40 with
        the daily profile alone, and other days raised no false alert against 0.115 and 0.115
        per series per day (weekends and Mondays); at 5 min, 40/40 against 1/40, and no false
        alert. The same hours a week after a holiday alerted 5 times in 40 series at 60 s
        (the profiles learn every point; see :mod:`~stream.detection.season`). Two weeks
        rather than one, because one week is one occurrence, not yet a rhythm; the NAB
        development files are two weeks long, so their figures are unchanged.
    season_spread
        A daily bin whose values usually lie further from its profile than this many times
        the series' typical error is measured in its own spread (:mod:`stream.detection.season`):
        what is shorter than a five-minute bin (a cron job's three-minute spike at 02:00)
        leaves the bin a blend that is wrong for every point in it, and at 15 s and 60 s
        scrapes such a job alerted every night (``benchmarks/detection_false_alerts.py
        --series 40``, kind ``cron``, from the third night: 1.000 and 0.700 false alerts per
        series per day; with the spreads 0.013 and 0.021). 2, because what a visit of a bin
        teaches its spread is at most twice what the visit before it showed: one spike, one
        bad day, cannot take a bin over it. 0 turns the spreads off.
    smoothing
        Weight of the newest surprise in the short exponentially weighted mean that
        calibration judges (Numenta's "anomaly likelihood" averages the last 10 raw scores;
        0.15 is an effective length of 12). On the development set it lifted the NAB standard
        score at the shipped threshold from 41 to 60 and the low-FP one from 23 to 50 (with
        ``decades`` 6); with ``decades`` 8, 0.15 and 0.2 score 61.4 and 60.9 at NAB's optimal
        threshold (0.39 and 0.38, so near the shipped 0.4 for both), 0.3 drops to a 0.34
        optimum. 1.0 judges every point alone (the old behaviour).
    calibration_span
        Horizon, in points, of the histogram of smoothed surprises used by calibration.
    tail_fraction
        Upper fraction of the surprise history above which the exponential tail is fitted.
    calibration_prior
        Pseudo-observations from the surprise distribution of ordinary series that complete a
        calibration history shorter than ``calibration_span`` (:mod:`stream.detection.prior`),
        so a young series is judged by what series in general do: 1,000 (half the span) until
        the series has 1,000 points of its own, then fading to none at 2,000. 0 judges young
        series by their own history alone. On the development set's 1,600-point stretches
        (``benchmarks/nab_eval.py --cold-start``) it lifted the standard score at the shipped
        threshold from 26.3 to 42.6 (500: 35.8, 250: 33.5; more than 1,000 changed nothing).
    censor_probability, censor_after
        Quarantine. Once a series has ``censor_after`` points of calibration history
        (1,000), a point whose tail probability is below ``censor_probability`` (1e-5: a
        score of 0.625) joins neither the calibration history nor the trees' next reference
        window: a fault is not learnt as the series' normal behaviour while it lasts, so it
        keeps scoring high, and scores as high when it comes back. The feature scaling
        learns every point, so a lasting change is still adopted: as the scaling follows
        it, its z-scores shrink until its points are no longer extreme, and those are
        learnt. Measured with ``benchmarks/detection_repeats.py`` (Gaussian noise, a 10 sd
        shift of 90 points, the same shift again later; medians of 4 series):

        * learnt plainly: the fault scored above 0.4 for 10-12 of its 90 points (the
          calibration and the trees took it in), and the second fault 300, 600, 1,500,
          3,000 and 6,000 points later peaked at 0.21, 0.22, 0.25, 0.32 and 0.63;
        * with extreme levels only down-weighted in the calibration history (weight
          ``p / censor_probability``, the previous release): above 0.4 for 39-43 points
          (then the trees' window took it in); second peaks 0.32, 0.36, 0.39, 0.55, 0.83;
        * quarantined: above 0.4 for 87-90 points; second peaks 0.56, 0.57, 0.83, 0.83,
          0.83 (what is left at short gaps is the scaling, which learnt the first fault).

        The price: a permanent 10 sd shift scores above 0.4 for 76-139 points instead of
        35-45. The NAB development figures at the shipped threshold and the false-alert
        rates of ``benchmarks/detection_false_alerts.py`` are unchanged, but for bursty
        counts: 0.048 per series per day (54 alerts in 1,120 series-days, against 52 with
        the previous release and 51 learning every point); the standard optimum moves
        from 60.8 to 60.6. Quarantining the scaling too (a prototype) kept
        shifts anomalous: whole files 57.7 -> 53.4 at the shipped threshold. Young series
        learn every point: quarantining them (``censor_after`` 0) lifted whole files to
        60.1 but cost the 1,600-point stretches 1.3 points at their optimum (51.3 -> 50.0),
        with 0.99 false positives per 1,000 points against 0.58. A higher bound costs
        false alerts on noise (1e-4 with the previous down-weighting: 0.062 per series per
        day at 15 s against none). 0 turns it off.
    censor_release
        Echoes. A fault's smoothed surprise decays over 10-20 points after the fault has
        ended, and those levels, raised only by the memory of points the quarantine refused,
        used to be learnt: each fault left its echo in the calibration history, so a fault
        that came back day after day scored lower each time. Once a point is quarantined,
        the calibration history also skips the points that follow it while their tail
        probability stays below ``censor_release`` (0.01: a score of 0.25) and the point's
        own surprise is in the body of the history (it is ordinary, only the level is not);
        a point unusual by itself ends the episode and is learnt, so a lasting change is
        adopted as before. The trees learn those ordinary points as usual. Measured with
        ``benchmarks/detection_rhythms.py --faults`` (a 20-minute, 8 sd fault every day of
        a week): at a 60 s scrape flat series alerted on 63 of 70 faults instead of 52 (on
        the seventh day 8 of 10 against 2), at 5 min on 36 instead of 30; a second 10 sd
        shift 300 points after the first (``benchmarks/detection_repeats.py``) peaks at
        0.61 instead of 0.56. The NAB development figures, the holidays and false alerts of
        ``benchmarks/detection_rhythms.py`` and the false-alert rates of
        ``benchmarks/detection_false_alerts.py`` are unchanged, but for one more alert on
        bursty counts (55 in 1,120 series-days). The price is in the episodes of a lasting
        change that comes back: with Saturdays becoming workdays (``--schedule-change``),
        17 of 20 series alerted on the fourth new Saturday at 60 s instead of 15 (20, 20,
        20 before it, 9 and 3 after it, as before). 0 turns it off.
    censor_hold
        Spikes versus shifts, in the feature scaling. A run of quarantined points shorter
        than ``censor_hold`` (32) is a passing fault: the scaling does not learn it, and
        forgets it when the series is back (a point neither quarantined nor an echo). From
        the run's ``censor_hold``-th quarantined point the change is lasting: the scaling
        takes in the whole run at once, as it would have point by point (a held copy learns
        every point meanwhile), and adopts the change as before. Learnt at once, a fault of
        20 points at 20 standard deviations widened the scaling's spread about three times,
        so the same fault coming back every 150 points had no point at 0.4 by its fifth
        time. Measured with ``benchmarks/detection_rhythms.py --faults`` (a 20-minute, 8 sd
        fault every day of a week, on flat series): 70 of 70 faults alerted at a 60 s scrape
        instead of 63, and 45 instead of 36 at 5 min (20 points and 4 points a fault). The
        NAB development figures at the shipped threshold are unchanged (the standard optimum
        66.1 -> 66.0), and so are the false alerts of ``benchmarks/detection_false_alerts.py
        --series 40`` and ``detection_rhythms.py --series 20``, but for one more on a
        nightly job at 60 s (6 in 240 series-days) and one on a taxi-like rhythm at 60 s (1
        in 520). The price is in a lasting change whose points stop being extreme before
        ``censor_hold`` (a moderate shift): it stays quarantined for ``censor_hold`` points.
        A permanent shift of 10 sd on Gaussian noise scored above 0.4 for 204 points (median
        of 8 series) instead of 193, of 4 sd for 6-58 instead of 6-37. 64 scored the
        development set as 32 did; 96 cost it (59.1 and 64.3: the shifts' alerts outlasted
        their windows). 0 turns it off.
    decades
        Tail-probability decades spanning the score range: ``score = -log10(p) / decades``.
        With 8, the default threshold 0.4 means ``p <= 10**-3.2`` (about 1 point in 1,600
        is *at least this surprising* on a series behaving as before; 0.5 is 1 in 10,000).
        The smoothed score is autocorrelated, so the alert policy's three consecutive points
        above the threshold are about as likely as one: with 6 (1 in 250), stationary
        Gaussian noise at a 15 s scrape raised about one false alert per series per day; with
        8, one in 224,000 points (0.03 per series per day at 15 s, 0.001 at 5 min). NAB
        development set: standard 59.9 at the shipped threshold, 61.4 at its optimum 0.39
        (with ``calibration_prior`` 1,000: 57.7, and 60.8 at 0.32; the score is within 1
        point from 0.30 to 0.40 and falls past 0.41, where a new highest level over a full
        history of 2,000 points no longer counts).
    """

    n_trees: int = 25
    height: int = 8
    window_size: int = 128
    warmup: int = 256
    seed: int = 42
    feature_span: float = 1000.0
    squash_scale: float = 6.0
    seasonal: bool = True
    season_days: float = 5.0
    season_prior: float = 100.0
    weekly: bool = True
    week_memory: float = 4.0
    week_ready: float = 2.0
    season_spread: float = 2.0
    smoothing: float = 0.15
    calibration_span: float = 2000.0
    tail_fraction: float = 0.05
    calibration_prior: float = 1000.0
    decades: float = 8.0
    censor_probability: float = 1e-5
    censor_after: float = 1000.0
    censor_release: float = 0.01
    censor_hold: int = 32

    def __post_init__(self) -> None:
        if not 2 <= self.window_size <= MAX_WINDOW_SIZE:
            raise ValueError(f"window_size must be in [2, {MAX_WINDOW_SIZE}]")
        if self.n_trees < 1 or not 1 <= self.height <= 8:
            raise ValueError("n_trees must be >= 1 and height in [1, 8]")
        if self.warmup < self.window_size + 2:
            raise ValueError("warmup must exceed window_size by at least 2")
        if min(self.feature_span, self.calibration_span, self.decades, self.tail_fraction) <= 0:
            raise ValueError("spans and decades must be positive")
        if self.season_spread < 0:
            raise ValueError("season_spread must be >= 0")
        if self.calibration_prior < 0:
            raise ValueError("calibration_prior must be >= 0")
        if not 0 < self.week_ready <= self.week_memory <= MAX_WEEK_MEMORY:
            raise ValueError(f"need 0 < week_ready <= week_memory <= {MAX_WEEK_MEMORY}")
        if self.censor_probability < 0 or self.censor_after < 0:
            raise ValueError("censor_probability and censor_after must be >= 0")
        if not 0 <= self.censor_release <= 1:
            raise ValueError("censor_release must be in [0, 1]")
        if not 0 <= self.censor_hold <= MAX_CENSOR_HOLD:
            raise ValueError(f"censor_hold must be in [0, {MAX_CENSOR_HOLD}]")
        if not 0 < self.smoothing <= 1:
            raise ValueError("smoothing must be in (0, 1]")
