"""The proto form of an execution's result, as DescribeInvocationResults and watches send it."""

from __future__ import annotations

from kairos.v1 import invocation_pb2
from scheduler.rpc.convert import timestamp, to_proto
from scheduler.store.executions import ExecutionView


def result_message(
    execution: ExecutionView, *, output: bool = True
) -> invocation_pb2.InvocationResult:
    """The proto form of one execution's result."""
    return invocation_pb2.InvocationResult(
        invoke_id=execution.invocation_id,
        instance_id=execution.instance_id,
        execution_id=execution.id,
        command_id=execution.command_id,
        invocation_status=to_proto(execution.status),  # type: ignore[arg-type]
        exit_code=execution.exit_code or 0,
        error_code=execution.error_code,
        error_info=execution.error_info,
        output=execution.output if output else b"",
        dropped=execution.dropped,
        repeats=execution.repeat,
        scheduled_time=timestamp(execution.scheduled_at),
        start_time=timestamp(execution.started_at),
        finish_time=timestamp(execution.finished_at),
        stop_time=timestamp(execution.stop_requested_at),
        username=execution.username,
    )
