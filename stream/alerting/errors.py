"""Errors of the alert policy; the lead moves them into :mod:`aidevops.errors`.

They derive from :class:`~aidevops.errors.AidevopsError` like every project error.
"""

from __future__ import annotations

from aidevops.errors import AidevopsError

__all__ = ["AlertStateError"]


class AlertStateError(AidevopsError):
    """Serialized per-series alert state is truncated, corrupt or of an unknown version.

    Raised by :meth:`stream.alerting.series_state.SeriesState.from_bytes`; the caller decides
    whether to start the series afresh (and says so in a log line) or to stop.
    """
