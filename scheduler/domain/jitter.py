"""A target's jitter: a stable offset of its starts within the invocation's window. Pure.

The offset is a hash of the invocation and the instance, not a random draw: the
same node gets the same slot at every fire, on every ticker replica and after
every restart, with nothing stored.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

MAX_JITTER = 3600
"""The largest ``max_jitter``, in seconds (one hour)."""

_RESOLUTION = 1000
"""Offsets have millisecond resolution: a one-minute window has 60,001 slots."""


def jitter_offset(invocation_id: str, instance_id: str, max_jitter: int) -> timedelta:
    """How long after each nominal fire this target starts: in ``[0, max_jitter]`` seconds.

    Uniform over the window (a 64-bit hash reduced modulo the slot count, whose bias
    is below 2⁻⁴⁰ for windows up to an hour) and the same for the same pair whatever
    the process. The ids are joined with a separator no id may hold (NUL is refused
    in every request), so that ``("ab", "c")`` and ``("a", "bc")`` differ.
    """
    if max_jitter <= 0:
        return timedelta(0)
    digest = hashlib.blake2b(
        f"{invocation_id}\0{instance_id}".encode("utf-8", "surrogatepass"),
        digest_size=8,
        person=b"kairos-jitter",
    ).digest()
    slots = max_jitter * _RESOLUTION + 1
    return timedelta(milliseconds=int.from_bytes(digest, "big") % slots)
