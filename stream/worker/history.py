"""A series' recent history from the Prometheus HTTP API, to warm its detector up.

A detector meeting a series for the first time needs ``warmup`` points before its scores are
alert-grade: 64 minutes at a 15 s scrape. Most series already have that history in the
Prometheus that remote-writes them, so with ``AIDEVOPS_PROMETHEUS_URL`` set the worker asks
``/api/v1/query_range`` for the series (every label matched exactly) over a bounded range
ending at its first live sample, and the detector learns it before it goes on (see
:meth:`stream.worker.engine.ScoringEngine.begin_bootstrap`).

Hours at the live resolution cannot show a daily or a weekly rhythm, which the detector's
profiles need days and weeks to learn (:mod:`stream.detection.season`). So a second query
asks for the weeks before those hours at a 5 min step (``AIDEVOPS_HISTORY_RHYTHM_SECONDS``,
4 weeks by default: what the weekly profile remembers), and the detector learns them into
its profiles only: its trees and its calibration learn the recent range, whose changes
from point to point are those of the live samples.

Queries are rate-limited and bounded in time; Prometheus being down, slow or without the
series only means the series warms up from live samples, as without this feature.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from stream.detection.season import BIN_MS

__all__ = ["MAX_RHYTHM_SECONDS", "RHYTHM_STEP_SECONDS", "History", "PrometheusHistory", "selector"]

log = logging.getLogger(__name__)

#: The long range's step: the daily profile's bin (a coarser step would leave bins unlearnt).
RHYTHM_STEP_SECONDS = BIN_MS / 1000
#: Prometheus answers a ``query_range`` of at most 11,000 points a series: 38 days at 5 min.
MAX_RHYTHM_SECONDS = 11_000 * RHYTHM_STEP_SECONDS


@dataclass(frozen=True, slots=True)
class History:
    """Timestamps (ms) and values of one series, oldest first."""

    timestamps: list[int]
    values: list[float]
    rhythm_points: int = 0  # the first ones are the long range at RHYTHM_STEP_SECONDS


def selector(labels: Mapping[str, str]) -> str:
    """A PromQL selector matching exactly these labels (values quoted as JSON strings,
    whose escapes PromQL shares).

    >>> selector({"instance": "host:9100", "__name__": "node_load1"})
    '{__name__="node_load1",instance="host:9100"}'
    """
    return (
        "{"
        + ",".join(
            f"{name}={json.dumps(value, ensure_ascii=False)}"
            for name, value in sorted(labels.items())
        )
        + "}"
    )


class PrometheusHistory:
    """Fetches series history from one Prometheus, at most ``rate`` queries per second.

    Parameters
    ----------
    url
        Base URL of the Prometheus HTTP API, e.g. ``http://prometheus:9090``.
    range_seconds, step_seconds
        How far back and at which resolution (the query's ``step``).
    rate
        Most queries started per second (a token bucket of one second's worth).
    timeout
        Longest wait for one answer.
    rhythm_seconds
        How far back before ``range_seconds`` a second, coarse query goes: the weeks the
        detector's daily and weekly profiles learn from (0: none).
    """

    def __init__(
        self,
        url: str,
        range_seconds: float,
        step_seconds: float,
        rate: float = 10.0,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        rhythm_seconds: float = 0.0,
    ):
        self.url = url.rstrip("/")
        self.range_seconds = range_seconds
        self.rhythm_seconds = rhythm_seconds
        self.step_seconds = step_seconds
        self.rate = rate
        self.timeout = timeout
        self.headers = dict(headers or {})
        self._session: aiohttp.ClientSession | None = None
        self._tokens = rate
        self._refilled = time.monotonic()
        self._lock = asyncio.Lock()
        self.failures = 0
        self._last_warning = 0.0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _take_token(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.rate, self._tokens + (now - self._refilled) * self.rate)
                self._refilled = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)

    async def fetch(
        self, labels: Mapping[str, str], before_ms: int, gauge: bool = True
    ) -> History | None:
        """The series' points in ``[before - range, before)``, or ``None`` if unavailable.

        With ``rhythm_seconds``, the ``rhythm_seconds`` of whole five-minute bins before
        those come first in the answer (``rhythm_points``), one point in the middle of each
        bin, which the daily profile files it under: a gauge's mean over the bin (the
        profile holds means; ``gauge``), a counter's value there (the detector takes its
        rate between two points, over the half bins either side of a boundary). The long
        range is asked only once the recent one answered; without it the recent one is
        still history.
        """
        query = selector(labels)
        end = (before_ms - 1) / 1000
        recent = await self._query(query, end - self.range_seconds, end, self.step_seconds)
        recent = [(t, v) for t, v in (recent or []) if t < before_ms]
        if not recent:
            return None
        rhythm: list[tuple[int, float]] = []
        step = RHYTHM_STEP_SECONDS
        bins = int(self.rhythm_seconds // step)
        if bins:
            last_end = recent[0][0] // BIN_MS * BIN_MS / 1000  # whole bins before the recent
            first_end = last_end - (bins - 1) * step
            if gauge:
                query = f"avg_over_time({query}[{step:g}s])"  # each bin's mean, at its end
                answer = await self._query(query, first_end, last_end, step)
                rhythm = [(t - BIN_MS // 2, v) for t, v in answer or []]
            else:
                half = step / 2
                rhythm = await self._query(query, first_end - half, last_end - half, step) or []
        points = rhythm + recent
        return History([t for t, _ in points], [v for _, v in points], len(rhythm))

    async def _query(
        self, query: str, start: float, end: float, step_seconds: float
    ) -> list[tuple[int, float]] | None:
        """One ``query_range`` from ``start`` to ``end`` (seconds, inclusive): (ms, value)
        pairs, or None."""
        await self._take_token()
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout), headers=self.headers
            )
        params = {
            "query": query,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step_seconds:g}",
        }
        try:
            async with self._session.get(f"{self.url}/api/v1/query_range", params=params) as r:
                body = await r.json(content_type=None)
                if r.status != 200 or body.get("status") != "success":
                    raise ValueError(f"HTTP {r.status}: {body.get('error', '')}"[:200])
            result = body["data"]["result"]
            if len(result) != 1:
                return None  # unknown to this Prometheus (or not one series): start cold
            # float() reads the API's NaN, +Inf and -Inf spellings as well.
            points = [(round(float(t) * 1000), float(v)) for t, v in result[0]["values"]]
        except (
            aiohttp.ClientError,
            TimeoutError,
            ValueError,  # not JSON, not a number, or the API's own error
            KeyError,  # JSON, but not the API's answer
            TypeError,
            AttributeError,
        ) as exc:
            self.failures += 1
            if time.monotonic() - self._last_warning > 60:
                self._last_warning = time.monotonic()
                log.warning("no history from %s (series start cold): %s", self.url, exc)
            return None
        return points
