"""How much of an execution's live output goes to watchers now: a token bucket each. Pure.

Live output is relayed at most at ``rate`` bytes a second per execution, so that a
chatty script (or one 4 MB message) cannot flood the notification channel and every
watcher; what is held back is skipped, and watchers are told how many bytes (a gap).
Nothing here reads a clock: callers pass ``now``, in seconds, from a monotonic one.
"""

from __future__ import annotations

RESUME_SECONDS = 0.5
"""After a skip, live output resumes once this much of the rate has built up again:
watchers get a few larger pieces and gaps a second, not a gap after every message."""


class TokenBucket:
    """``rate`` bytes a second, up to ``burst`` at once; starts full."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < rate:
            raise ValueError("the rate must be positive and the burst at least the rate")
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._at = now
        self._resume = min(burst, rate * RESUME_SECONDS)
        self._skipping = False

    def take(self, wanted: int, now: float) -> int:
        """How many of ``wanted`` bytes may go now (a prefix of them); the rest is skipped."""
        self._tokens = min(self._burst, self._tokens + max(0.0, now - self._at) * self._rate)
        self._at = max(self._at, now)
        if self._skipping and self._tokens < self._resume:
            return 0
        granted = min(wanted, int(self._tokens))
        self._tokens -= granted
        self._skipping = granted < wanted
        return granted


class LiveRate:
    """The buckets of the executions whose output arrives on one agent stream.

    The burst is at least ``head`` bytes (the output stored while a script runs),
    so that stored head always goes live whole and a watcher never misses
    what it could not be given later without going back.
    """

    def __init__(self, rate: int, *, head: int) -> None:
        self._rate = rate
        self._burst = max(rate, head)
        self._buckets: dict[str, TokenBucket] = {}

    def admit(self, execution_id: str, size: int, now: float) -> int:
        """How many bytes of a ``size``-byte chunk of this execution go live."""
        bucket = self._buckets.get(execution_id)
        if bucket is None:
            bucket = self._buckets[execution_id] = TokenBucket(self._rate, self._burst, now)
        return bucket.take(size, now)

    def forget(self, execution_id: str) -> None:
        """The execution ended: its bucket is no longer needed."""
        self._buckets.pop(execution_id, None)
