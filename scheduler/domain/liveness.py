"""When an agent counts as alive: the transport's pings, rare heartbeats, and "online". Pure.

Liveness comes from HTTP/2 keepalive: a dispatcher pings each agent connection every
``--heartbeat-interval`` seconds, and an agent pings its dispatcher every
``AGENT_PING_INTERVAL``; a dead machine or network ends the stream within an interval
and the ping timeout. Pings cost no Python on either side, where an application message
per agent and interval was the floor of the server's idle CPU. Application heartbeats
remain as a rare end-to-end backstop, for proxies that answer pings themselves.
"""

from __future__ import annotations

from datetime import datetime

from scheduler.domain.limits import Limits

AGENT_PING_INTERVAL = 30
"""Seconds between the HTTP/2 keepalive pings an agent sends its dispatcher (which must
allow pings that often, or it closes the connection with GOAWAY ``too_many_pings``)."""
PING_TIMEOUT = 10
"""Seconds a keepalive ping may go unanswered before the connection counts as dead."""


def heartbeat_backstop(limits: Limits) -> int:
    """Seconds between an agent's application heartbeats (told in Welcome).

    Half the lost-after time, so that a stream on which two heartbeats go missing is
    closed as silent; and at most half the offline threshold, so that a connected agent's
    recorded sign of life stays recent enough for a reader that looks at it alone (an
    older replica during a rolling upgrade). Never more often than the pings: the server
    configuration keeps ``--agent-lost-after`` at least two ping intervals.
    """
    return min(limits.agent_lost_after, limits.offline_after) // 2


def is_online(
    *, connected: bool, last_heard_at: datetime, now: datetime, offline_after: int
) -> bool:
    """Whether an agent counts as online: a live replica holds its stream, or it was heard
    from within ``offline_after`` seconds (a stream just lost, a replica just crashed).

    A connected agent's ``last_heard_at`` may be up to a heartbeat backstop interval old:
    its connection's pings, not its messages, say it is alive.
    """
    return connected or (now - last_heard_at).total_seconds() <= offline_after
