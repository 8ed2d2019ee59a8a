"""How an execution ended, in Cloud Assistant's vocabulary: status, error code, result message.

Pure: callers pass the facts (exit code, output, instants) and get the result.
"""

from __future__ import annotations

import signal
from datetime import datetime

from kairos.v1 import agent_pb2, common_pb2
from scheduler.domain.codes import ExecutionErrorCode

Status = common_pb2.InvocationStatus


def exit_code_of(returncode: int) -> int:
    """Return the shell-style exit code: a death by signal N is ``128 + N``."""
    return 128 - returncode if returncode < 0 else returncode


def finished(
    execution_id: str,
    returncode: int,
    *,
    timed_out: bool,
    stopped: bool,
    timeout: int,
    output: bytes,
    dropped: int,
    start: datetime,
    finish: datetime,
) -> agent_pb2.ExecutionResult:
    """Return the result of a script that ran, from its ``Popen.returncode``.

    A kill at the timeout wins over a stop request that raced with it.
    """
    code = exit_code_of(returncode)
    if timed_out:
        status: Status = common_pb2.INVOCATION_STATUS_TIMEOUT
        error = ExecutionErrorCode.EXECUTION_TIMEOUT
        info = f"the script ran longer than its timeout of {timeout} s and was killed"
    elif stopped:
        status = common_pb2.INVOCATION_STATUS_TERMINATED
        error = ExecutionErrorCode.EXECUTION_INTERRUPTED
        info = "the script was stopped by a StopInvocation request"
    elif code == 0:
        return agent_pb2.ExecutionResult(
            execution_id=execution_id,
            status=common_pb2.INVOCATION_STATUS_SUCCESS,
            output=output,
            dropped=dropped,
            start_time=start,
            finish_time=finish,
        )
    else:
        status = common_pb2.INVOCATION_STATUS_FAILED
        error = ExecutionErrorCode.EXIT_CODE_NONZERO
        info = f"the script exited with code {code}"
        if returncode < 0:
            info = f"the script was killed by {_signal_name(-returncode)}"
    return agent_pb2.ExecutionResult(
        execution_id=execution_id,
        status=status,
        exit_code=code,
        error_code=error,
        error_info=info,
        output=output,
        dropped=dropped,
        start_time=start,
        finish_time=finish,
    )


def not_run(
    execution_id: str,
    status: Status,
    error: ExecutionErrorCode,
    info: str,
    now: datetime,
    *,
    output: bytes = b"",
    dropped: int = 0,
    start: datetime | None = None,
) -> agent_pb2.ExecutionResult:
    """Return the result of an execution that did not run to its end."""
    return agent_pb2.ExecutionResult(
        execution_id=execution_id,
        status=status,
        error_code=error,
        error_info=info,
        output=output,
        dropped=dropped,
        start_time=start,
        finish_time=now,
    )


def dry_run(execution_id: str, now: datetime) -> agent_pb2.ExecutionResult:
    """Return the result of a dry run whose checks all passed: nothing ran."""
    return agent_pb2.ExecutionResult(
        execution_id=execution_id,
        status=common_pb2.INVOCATION_STATUS_SUCCESS,
        start_time=now,
        finish_time=now,
    )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # real-time signals have no name of their own
        return f"signal {number}"
