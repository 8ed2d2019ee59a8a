"""Translation between AgentService messages and the domain."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import agent_pb2
from scheduler.domain.enums import InvocationStatus
from scheduler.domain.models import ExecutionResult
from scheduler.domain.protocol import (
    check_message,
    check_report,
    check_reports,
    speaks_reports,
    undecodable,
)
from scheduler.rpc.convert import from_proto, timestamp, to_proto
from scheduler.store.dispatch import TaskView

FILE_GUARD = b"echo 'this agent cannot write files (SendFile): upgrade it' >&2\nexit 1\n"
"""A file task's script: an agent that knows ``Task.file`` writes the file and never runs
it; one from before SendFile ignores the field and runs this, which fails, rather than
the file's bytes."""


def task_message(task: TaskView) -> agent_pb2.DispatcherMessage:
    """The Task that asks an agent to run one execution (or, a file task, to write a file)."""
    file = None
    if task.file is not None:
        file = agent_pb2.FileTask(
            name=task.file.name,
            target_dir=task.file.target_dir,
            content=task.script,
            mode=task.file.mode,
            owner=task.file.owner,
            group=task.file.group,
            overwrite=task.file.overwrite,
        )
    return agent_pb2.DispatcherMessage(
        task=agent_pb2.Task(
            execution_id=task.execution_id,
            invoke_id=task.invocation_id,
            command_id=task.command_id,
            type=to_proto(task.command_type),  # type: ignore[arg-type]
            script=task.script if file is None else FILE_GUARD,
            working_dir=task.working_dir,
            username=task.username,
            timeout=task.timeout,
            dry_run=task.dry_run,
            container_id=task.container_id,
            container_name=task.container_name,
            scheduled_time=timestamp(task.scheduled_at),
            file=file,
        )
    )


def stop_message(execution_id: str) -> agent_pb2.DispatcherMessage:
    """The StopTask that asks an agent to stop one execution."""
    return agent_pb2.DispatcherMessage(stop=agent_pb2.StopTask(execution_id=execution_id))


def result_ack_message(execution_id: str) -> agent_pb2.DispatcherMessage:
    """The ResultAck that lets an agent forget a result it reported."""
    return agent_pb2.DispatcherMessage(result_ack=agent_pb2.ResultAck(execution_id=execution_id))


def result_ack_messages(
    execution_ids: Sequence[str], protocol: int
) -> list[agent_pb2.DispatcherMessage]:
    """What lets an agent of ``protocol`` forget these results: one ResultAcks for them all
    (protocol 2), or a ResultAck each."""
    if speaks_reports(protocol):
        acks = agent_pb2.ResultAcks(execution_ids=execution_ids)
        return [agent_pb2.DispatcherMessage(result_acks=acks)]
    return [result_ack_message(execution_id) for execution_id in execution_ids]


async def decoded(
    requests: AsyncIterator[agent_pb2.AgentMessage],
) -> AsyncIterator[agent_pb2.AgentMessage]:
    """The agent's messages; bytes that are no message are refused (``INVALID_ARGUMENT``)."""
    try:
        async for message in requests:
            yield message
    except DecodeError:
        raise undecodable() from None


Said = agent_pb2.AgentMessage | agent_pb2.Report
"""One thing an agent says: a message, or a report of a Reports message, which holds
its report under the same field name (``ack``, ``started``, ``output``, ``result``)."""


def unpacked(message: agent_pb2.AgentMessage, protocol: int) -> list[tuple[str, Said]]:
    """What an agent's message after Hello says, as (kind, where it is) in order: the
    message itself, or each report of a Reports message, each to be handled as the same
    message alone would be. ``protocol`` is the stream's.

    The whole message is checked first (``domain.protocol``): one that breaks the
    protocol is refused with ``INVALID_ARGUMENT`` and none of it is served.
    """
    kind = message.WhichOneof("kind")
    if kind != "reports":
        return [(check_message(kind, _execution_id(message, kind)), message)]
    reports = message.reports.reports
    check_reports(len(reports), protocol)
    said: list[tuple[str, Said]] = []
    for at, report in enumerate(reports):
        case = report.WhichOneof("report")
        said.append((check_report(at, case, _execution_id(report, case)), report))
    return said


def _execution_id(said: Said, kind: str | None) -> str | None:
    """The execution id the ``kind`` part of ``said`` names; None for kinds without one."""
    body = getattr(said, kind) if kind is not None else None
    return getattr(body, "execution_id", None)


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
