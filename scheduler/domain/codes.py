"""The catalogue of codes: each code Kairos reports, defined once with what it means.

``ExecutionErrorCode`` is what an execution's ``error_code`` says, whether the
agent reported it or the server decided it; the agent and the server share it.
"""

from __future__ import annotations

from enum import StrEnum


class ExecutionErrorCode(StrEnum):
    """Why an execution did not succeed: ``ExecutionResult.error_code``, Cloud Assistant's words.

    Empty (no member) for a success. The status each code goes with is in brackets.
    """

    EXIT_CODE_NONZERO = "ExitCodeNonzero"
    """The script ran and exited with a non-zero code (status ``Failed``)."""
    EXECUTION_TIMEOUT = "ExecutionTimeout"
    """The script ran past its timeout and its process group was killed (``Timeout``)."""
    EXECUTION_INTERRUPTED = "ExecutionInterrupted"
    """A stop request killed the running script (``Terminated``)."""
    EXECUTION_CANCELLED = "ExecutionCancelled"
    """A stop request removed the task from the queue before it started (``Cancelled``)."""
    EXECUTION_EXCEPTION = "ExecutionException"
    """The script could not be started at all (``Error``)."""
    CLIENT_RESTARTED = "ClientRestarted"
    """The agent died while the task was queued or running (``Error``)."""
    CLIENT_BUSY = "ClientBusy"
    """The agent's run queue was full when the task arrived (``Error``)."""
    INVALID_COMMAND_TYPE = "InvalidCommandType"
    """The command type cannot run on this OS (``Invalid``)."""
    DIRECTORY_NOT_EXISTS = "DirectoryNotExists"
    """The working directory does not exist on the instance (``Invalid``)."""
    ACCOUNT_NOT_EXISTS = "AccountNotExists"
    """The username does not exist on the instance (``Invalid``; Cloud Assistant's name)."""
    USER_NOT_PERMITTED = "UserNotPermitted"
    """Another user was asked for but the agent cannot switch users (``Invalid``)."""
    CONTAINER_NOT_SUPPORTED = "ContainerNotSupported"
    """A container was named but this agent has no container runtime (``Invalid``)."""
    INVOCATION_QUOTA_EXCEEDED = "InvocationQuotaExceeded"
    """A fire found the account's daily execution quota used up and did not run (``Failed``)."""
    DELIVERY_TIMEOUT = "DeliveryTimeout"
    """The agent was connected but did not take the task in the delivery timeout (``Aborted``)."""
    CLIENT_NOT_RUNNING = "ClientNotRunning"
    """The agent was offline (no heartbeat) for the whole delivery timeout (``Aborted``)."""
    CLIENT_NOT_RESPONSE = "ClientNotResponse"
    """The agent was not connected to take the task within the delivery timeout (``Aborted``)."""
