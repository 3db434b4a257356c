"""Bit flags explaining a score; values match ``ScoreFlag`` in ``proto/aidevops/pb/scores.proto``.

Examples
--------
>>> int(ScoreFlag.WARMUP | ScoreFlag.RESET)
5
"""

from __future__ import annotations

import enum

__all__ = ["ScoreFlag"]


class ScoreFlag(enum.IntFlag):
    """Why a point's score is what it is; several may be set."""

    NONE = 0
    #: The detector has not seen enough data (or nothing to judge): the score is not alert-grade.
    WARMUP = 1
    #: ``up == 0``: the target is down; the score is 1.0 regardless of the model.
    OUTAGE = 2
    #: A counter reset was detected at this point.
    RESET = 4
    #: One of the series' profiles is in use here: the point was judged against the usual
    #: value at this time of day or hour of the week (the profile is ready in this bin, and
    #: trusted with a gain of at least :data:`~stream.detection.bank.RHYTHM_GAIN`).
    RHYTHM = 8
