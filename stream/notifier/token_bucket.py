"""A token bucket: the global rate limit on notifications.

Time is a parameter (seconds, any monotonic origin), never read inside, so the bucket is
deterministic under test.
"""

from __future__ import annotations

__all__ = ["TokenBucket"]


class TokenBucket:
    """Allows ``capacity`` actions at once and ``rate`` actions per second on average.

    Parameters
    ----------
    rate
        Tokens added per second.
    capacity
        Most tokens held (the burst size); the bucket starts full.

    Examples
    --------
    >>> bucket = TokenBucket(rate=0.5, capacity=2)
    >>> [bucket.take(now=0.0) for _ in range(3)]
    [True, True, False]
    >>> bucket.take(now=1.0), bucket.take(now=2.0), bucket.take(now=2.0)
    (False, True, False)
    """

    __slots__ = ("capacity", "rate", "_tokens", "_updated")

    def __init__(self, rate: float, capacity: int) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs rate > 0 and capacity >= 1")
        self.rate = rate
        self.capacity = capacity
        self._tokens = float(capacity)
        self._updated: float | None = None

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate}, capacity={self.capacity}, tokens={self._tokens})"

    def _refill(self, now: float) -> None:
        if self._updated is not None and now > self._updated:
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        if self._updated is None or now > self._updated:
            self._updated = now

    def take(self, now: float) -> bool:
        """Take one token if there is one; say whether the action may proceed."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
