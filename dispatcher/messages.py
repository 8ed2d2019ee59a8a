"""Translation between AgentService messages and the domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import agent_pb2
from scheduler.domain.enums import InvocationStatus
from scheduler.domain.models import ExecutionResult
from scheduler.domain.protocol import check_message, undecodable
from scheduler.rpc.convert import from_proto, timestamp, to_proto
from scheduler.store.dispatch import TaskView


def task_message(task: TaskView) -> agent_pb2.DispatcherMessage:
    """The Task that asks an agent to run one execution."""
    return agent_pb2.DispatcherMessage(
        task=agent_pb2.Task(
            execution_id=task.execution_id,
            invoke_id=task.invocation_id,
            command_id=task.command_id,
            type=to_proto(task.command_type),  # type: ignore[arg-type]
            script=task.script,
            working_dir=task.working_dir,
            username=task.username,
            timeout=task.timeout,
            dry_run=task.dry_run,
            container_id=task.container_id,
            container_name=task.container_name,
            scheduled_time=timestamp(task.scheduled_at),
        )
    )


def stop_message(execution_id: str) -> agent_pb2.DispatcherMessage:
    """The StopTask that asks an agent to stop one execution."""
    return agent_pb2.DispatcherMessage(stop=agent_pb2.StopTask(execution_id=execution_id))


def result_ack_message(execution_id: str) -> agent_pb2.DispatcherMessage:
    """The ResultAck that lets an agent forget a result it reported."""
    return agent_pb2.DispatcherMessage(result_ack=agent_pb2.ResultAck(execution_id=execution_id))


async def decoded(
    requests: AsyncIterator[agent_pb2.AgentMessage],
) -> AsyncIterator[agent_pb2.AgentMessage]:
    """The agent's messages; bytes that are no message are refused (``INVALID_ARGUMENT``)."""
    try:
        async for message in requests:
            yield message
    except DecodeError:
        raise undecodable() from None


def kind_of(message: agent_pb2.AgentMessage) -> str:
    """The kind of an agent's message after Hello; a message that breaks the protocol
    (``domain.protocol``) is refused with ``INVALID_ARGUMENT``."""
    kind = message.WhichOneof("kind")
    body = getattr(message, kind) if kind is not None else None
    return check_message(kind, getattr(body, "execution_id", None))


def result_of(message: agent_pb2.ExecutionResult) -> ExecutionResult:
    """The domain form of an agent's result, as reported; a status number the API does
    not define counts as Error.

    Which statuses an agent may report, and every other bound, is the server's rule
    (``domain.reports.bounded_result``), applied to what this returns.
    """
    status = from_proto(InvocationStatus, message.status)
    error_info = message.error_info
    if status is None:
        error_info = f"agent reported an unknown status ({message.status}): {error_info}"
        status = InvocationStatus.ERROR
    return ExecutionResult(
        execution_id=message.execution_id,
        status=status,
        exit_code=message.exit_code,
        error_code=message.error_code,
        error_info=error_info,
        output=message.output,
        dropped=message.dropped,
        started_at=moment(message, "start_time"),
        finished_at=moment(message, "finish_time"),
    )


def moment(message: Message, field: str) -> datetime | None:
    """An optional Timestamp field as an aware UTC datetime; None when unset or impossible."""
    if not message.HasField(field):
        return None
    stamp: Timestamp = getattr(message, field)
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        # Out of datetime's range (an agent's clock or a hostile report): not believed.
        return None
