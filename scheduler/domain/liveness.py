"""When an agent counts as alive: the transport's pings, rare heartbeats, and "online". Pure.

Liveness comes from HTTP/2 keepalive: a dispatcher pings each agent connection every
``--heartbeat-interval`` seconds, and an agent pings its dispatcher every
``AGENT_PING_INTERVAL``; a dead machine or network ends the stream within an interval
and the ping timeout. Pings cost no Python on either side, where an application message
per agent and interval was the floor of the server's idle CPU. So a dispatcher vouches
for the agents whose streams it holds: it records them alive in bulk, every
``record_age`` seconds. Application heartbeats remain as a rare end-to-end backstop, for
proxies that answer pings themselves: a stream silent for ``silent_after`` is closed.
"""

from __future__ import annotations

from datetime import datetime

from scheduler.domain.limits import Limits

AGENT_PING_INTERVAL = 30
"""Seconds between the HTTP/2 keepalive pings an agent sends its dispatcher (which must
allow pings that often, or it closes the connection with GOAWAY ``too_many_pings``)."""
PING_TIMEOUT = 10
"""Seconds a keepalive ping may go unanswered before the connection counts as dead."""


MAX_BACKSTOP = 3600
"""Seconds between backstop heartbeats, at most (the Welcome's field is an int32)."""


def heartbeat_backstop(limits: Limits) -> int:
    """Seconds between an agent's application heartbeats (told in Welcome): the lost-after
    time (an hour at most). They only show that the far end of a stream is the agent;
    its pings show that it is alive, and its dispatcher records that (``record_age``)."""
    return min(limits.agent_lost_after, MAX_BACKSTOP)


def silent_after(limits: Limits) -> int:
    """Seconds without any message after which a stream is closed as silent: two backstop
    heartbeats missed (a half-open stream through a proxy); the agent, if it is there,
    reconnects."""
    return 2 * heartbeat_backstop(limits)


def record_age(limits: Limits) -> float:
    """Seconds after which a dispatcher records again that an agent it holds is alive:
    half the offline threshold or the lost-after time, whichever is shorter. A connected
    agent's recorded sign of life stays within the offline threshold (for a reader that
    looks at it alone: an older replica, LAST HEARTBEAT), and an agent whose stream ends
    has half the lost-after time at least to reconnect before its executions count lost."""
    return min(limits.offline_after, limits.agent_lost_after) / 2


def is_online(
    *, connected: bool, last_heard_at: datetime, now: datetime, offline_after: int
) -> bool:
    """Whether an agent counts as online: a live replica holds its stream, or it was heard
    from within ``offline_after`` seconds (a stream just lost, a replica just crashed).

    A connected agent's ``last_heard_at`` may be up to ``record_age`` (and a flush) old:
    its connection's pings, not its messages, say it is alive.
    """
    return connected or (now - last_heard_at).total_seconds() <= offline_after
