"""Why an execution ended without its agent's result: never delivered, or its agent was lost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scheduler.domain.codes import ExecutionErrorCode
from scheduler.domain.liveness import is_online


@dataclass(frozen=True, kw_only=True)
class DeliveryFailure:
    """The error an execution ends with when its agent never answered for it."""

    error_code: ExecutionErrorCode
    error_info: str


def stopped_while_gone() -> DeliveryFailure:
    """Why an execution stopped while no dispatcher held its agent ends at once (``Terminated``)."""
    return DeliveryFailure(
        error_code=ExecutionErrorCode.EXECUTION_INTERRUPTED,
        error_info=(
            "stopped while its agent was not connected: ended at once, since no agent "
            "could confirm; the output received so far is kept"
        ),
    )


def forgotten_by_agent() -> DeliveryFailure:
    """The error of an execution its reconnecting agent no longer holds (``Error``, or
    ``Terminated`` when it was stopping): its state was lost, its end is unknown."""
    return DeliveryFailure(
        error_code=ExecutionErrorCode.CLIENT_RESTARTED,
        error_info=(
            "the agent reconnected without this execution (it lost its state, say "
            "reinstalled); its end is unknown; the output received so far is kept"
        ),
    )


def deregistered() -> DeliveryFailure:
    """The error of an execution open on a managed instance when it was deregistered
    (status ``Error``): its agent can never report it."""
    return DeliveryFailure(
        error_code=ExecutionErrorCode.INSTANCE_DEREGISTERED,
        error_info=(
            "the managed instance was deregistered while this execution was open; "
            "the output received so far is kept"
        ),
    )


def lost_agent_failure(*, lost_after: int) -> DeliveryFailure:
    """The error of an execution its agent held when it stopped answering (status ``Error``)."""
    return DeliveryFailure(
        error_code=ExecutionErrorCode.CLIENT_NOT_RESPONSE,
        error_info=(
            f"the agent stopped answering (no heartbeat for more than {lost_after} s) "
            "while it held this execution; the output received so far is kept"
        ),
    )


def delivery_failure(
    *,
    connected: bool,
    last_heartbeat_at: datetime,
    now: datetime,
    delivery_timeout: int,
    offline_after: int,
) -> DeliveryFailure:
    """Why the instance's agent did not take a task within ``delivery_timeout`` seconds.

    ``connected``: a dispatcher holds the agent's stream, yet the agent was
    silent. Otherwise the agent was offline (``liveness.is_online``: not heard from
    within ``offline_after`` seconds before ``now``), and merely not connected in time if not.
    """
    if connected:
        return DeliveryFailure(
            error_code=ExecutionErrorCode.DELIVERY_TIMEOUT,
            error_info=(
                f"the agent is connected but did not take the task within {delivery_timeout} s"
            ),
        )
    offline = not is_online(
        connected=connected, last_heard_at=last_heartbeat_at, now=now, offline_after=offline_after
    )
    return DeliveryFailure(
        error_code=(
            ExecutionErrorCode.CLIENT_NOT_RUNNING
            if offline
            else ExecutionErrorCode.CLIENT_NOT_RESPONSE
        ),
        error_info=f"the agent was not connected to take the task within {delivery_timeout} s",
    )


def unstarted_failure(*, wait: int) -> DeliveryFailure:
    """The error of an execution its agent, though it answers, acknowledged and never
    started within ``wait`` seconds (status ``Timeout``)."""
    return DeliveryFailure(
        error_code=ExecutionErrorCode.EXECUTION_TIMEOUT,
        error_info=(
            f"the agent acknowledged this execution and never started it within {wait} s; "
            f"ended by the server"
        ),
    )


def unreported_failure(*, grace: int) -> DeliveryFailure:
    """The error of an execution whose agent, though it answers, never reported its end
    within the command's timeout and ``grace`` seconds more (status ``Timeout``)."""
    return DeliveryFailure(
        error_code=ExecutionErrorCode.EXECUTION_TIMEOUT,
        error_info=(
            f"the agent did not report the end of this execution within its timeout and "
            f"{grace} s more; ended by the server, the output received so far is kept"
        ),
    )
