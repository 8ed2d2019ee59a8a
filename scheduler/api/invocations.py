"""InvocationService: proto in, operation, proto out; WatchInvocation follows NOTIFYs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from kairos.v1 import invocation_pb2, invocation_pb2_grpc
from scheduler.api.commands import command_request
from scheduler.api.watches import WatchSlots
from scheduler.domain.enums import InvocationStatus, RepeatMode
from scheduler.domain.invocation import SettingsRequest
from scheduler.domain.models import SETTINGS_FIELDS, InvocationSettings
from scheduler.domain.tenancy import Tenant
from scheduler.operations import invocations as operations
from scheduler.operations.context import Context
from scheduler.operations.invocations import InvokeRequest
from scheduler.rpc.context import RpcContext
from scheduler.rpc.convert import from_proto, request_hash, timestamp, to_proto
from scheduler.rpc.interceptor import current_caller
from scheduler.store.executions import ExecutionView
from scheduler.store.invocations import InvocationFilter, InvocationView
from scheduler.store.listener import Listener, Notice, Subscription
from scheduler.store.notices import Channel, about, output_chunk

WATCH_RESYNC_SECONDS = 5.0
"""A watcher re-reads the invocation this often even without notifications."""


class InvocationServicer(invocation_pb2_grpc.InvocationServiceServicer):  # type: ignore[misc]
    """Running commands on instances and reading back what happened."""

    def __init__(self, ctx: Context, listener: Listener) -> None:
        self._ctx = ctx
        self._listener = listener
        self._watches = WatchSlots(ctx.limits.max_watches)

    async def InvokeCommand(
        self, request: invocation_pb2.InvokeCommandRequest, context: RpcContext
    ) -> invocation_pb2.InvokeCommandResponse:
        invoke_id = await operations.invoke_command(
            self._ctx,
            current_caller().tenant,
            request.command_id,
            invoke_request(request),
            request_hash(request),
        )
        return invocation_pb2.InvokeCommandResponse(invoke_id=invoke_id)

    async def RunCommand(
        self, request: invocation_pb2.RunCommandRequest, context: RpcContext
    ) -> invocation_pb2.RunCommandResponse:
        command_id, invoke_id = await operations.run_command(
            self._ctx,
            current_caller().tenant,
            command_request(request),
            invoke_request(request),
            keep_command=request.keep_command,
            request_hash=request_hash(request),
        )
        return invocation_pb2.RunCommandResponse(command_id=command_id, invoke_id=invoke_id)

    async def StopInvocation(
        self, request: invocation_pb2.StopInvocationRequest, context: RpcContext
    ) -> invocation_pb2.StopInvocationResponse:
        await operations.stop_invocation(
            self._ctx, current_caller().tenant, request.invoke_id, list(request.instance_ids)
        )
        return invocation_pb2.StopInvocationResponse()

    async def DescribeInvocations(
        self,
        request: invocation_pb2.DescribeInvocationsRequest,
        context: RpcContext,
    ) -> invocation_pb2.DescribeInvocationsResponse:
        where = InvocationFilter(
            invoke_id=request.invoke_id,
            command_id=request.command_id,
            instance_id=request.instance_id,
            status=from_proto(InvocationStatus, request.invocation_status),
        )
        page, total, token = await operations.describe_invocations(
            self._ctx, current_caller().tenant, where, request.max_results, request.next_token
        )
        return invocation_pb2.DescribeInvocationsResponse(
            invocations=[invocation_message(i) for i in page], total_count=total, next_token=token
        )

    async def DescribeInvocationResults(
        self,
        request: invocation_pb2.DescribeInvocationResultsRequest,
        context: RpcContext,
    ) -> invocation_pb2.DescribeInvocationResultsResponse:
        page, total, token = await operations.describe_results(
            self._ctx,
            current_caller().tenant,
            request.invoke_id,
            instance_id=request.instance_id,
            include_history=request.include_history,
            max_results=request.max_results,
            next_token=request.next_token,
        )
        return invocation_pb2.DescribeInvocationResultsResponse(
            results=[result_message(e) for e in page], total_count=total, next_token=token
        )

    async def WatchInvocation(
        self, request: invocation_pb2.WatchInvocationRequest, context: RpcContext
    ) -> AsyncIterator[invocation_pb2.WatchInvocationEvent]:
        tenant = current_caller().tenant
        with self._watches.hold(tenant):
            async for event in self._watch(tenant, request):
                yield event

    async def _watch(
        self, tenant: Tenant, request: invocation_pb2.WatchInvocationRequest
    ) -> AsyncIterator[invocation_pb2.WatchInvocationEvent]:
        watch = _Watch()
        # Subscribe before the first read so no change falls between the two.
        async with self._listener.subscribe(
            Channel.EXECUTION, Channel.OUTPUT, wanted=about(request.invoke_id)
        ) as notices:
            resync = True
            while True:
                if resync:
                    status, executions = await operations.watch_state(
                        self._ctx, tenant, request.invoke_id
                    )
                    for event in watch.changes(executions):
                        yield event
                    if status.is_final:
                        yield invocation_pb2.WatchInvocationEvent(finished=to_proto(status))  # type: ignore[arg-type]
                        return
                events, resync = await watch.wait(notices, request.invoke_id)
                for event in events:
                    yield event


class _Watch:
    """What one watcher has sent, so that it sends each change and byte once."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[InvocationStatus, object]] = {}
        self._offsets: dict[str, int] = {}

    def changes(self, executions: list[ExecutionView]) -> list[invocation_pb2.WatchInvocationEvent]:
        """Status changes and stored output not sent yet, execution by execution.

        An execution's output comes after the status that started it (Running) and
        before the status that ends it, as the script itself produced them.
        """
        events = []
        for execution in executions:
            output = self._stored_output(execution)
            status: list[invocation_pb2.WatchInvocationEvent] = []
            state = (execution.status, execution.updated_at)
            if self._seen.get(execution.id) != state:
                self._seen[execution.id] = state
                status.append(
                    invocation_pb2.WatchInvocationEvent(
                        result=result_message(execution, output=False)
                    )
                )
            events += output + status if execution.status.is_final else status + output
        return events

    def _stored_output(self, execution: ExecutionView) -> list[invocation_pb2.WatchInvocationEvent]:
        sent = self._offsets.get(execution.id)
        if sent is None and execution.output:
            # Output stored so far; live chunks continue after it.
            return [self._chunk(execution.id, execution.instance_id, 0, execution.output)]
        if sent is not None and execution.dropped == 0 and len(execution.output) > sent:
            # Stored output not seen live (its notice came after the status, or was
            # lost): sent now, so the watcher has every byte before the final status.
            data = execution.output[sent:]
            return [self._chunk(execution.id, execution.instance_id, sent, data)]
        return []

    async def wait(
        self, notices: Subscription, invoke_id: str
    ) -> tuple[list[invocation_pb2.WatchInvocationEvent], bool]:
        """The live output that has arrived, and whether the invocation must be re-read.

        Returns as soon as a notice comes (with whatever else is already queued),
        so output goes out while the script runs; without any notice for
        ``WATCH_RESYNC_SECONDS`` it asks for a re-read anyway.
        """
        try:
            notice: Notice | None = await asyncio.wait_for(notices.get(), WATCH_RESYNC_SECONDS)
        except TimeoutError:
            return [], True
        events: list[invocation_pb2.WatchInvocationEvent] = []
        resync = False
        while notice is not None:
            if notice.channel != Channel.OUTPUT:
                resync = True  # its executions changed, or notices may be lost (GAP)
            elif (chunk := output_chunk(notice.payload)).invoke_id == invoke_id:
                if not self._started(chunk.execution_id):
                    # Its Running status is not sent yet: the re-read sends it, then
                    # this output (stored before its notice was sent).
                    resync = True
                elif event := self._live_chunk(
                    chunk.execution_id, chunk.instance_id, chunk.offset, chunk.data
                ):
                    events.append(event)
            notice = notices.get_nowait()
        return events, resync

    def _started(self, execution_id: str) -> bool:
        seen = self._seen.get(execution_id)
        return seen is not None and seen[0] is not InvocationStatus.PENDING

    def _live_chunk(
        self, execution_id: str, instance_id: str, offset: int, data: bytes
    ) -> invocation_pb2.WatchInvocationEvent | None:
        sent = self._offsets.get(execution_id, 0)
        if offset + len(data) <= sent:
            return None
        skip = max(0, sent - offset)
        return self._chunk(execution_id, instance_id, offset + skip, data[skip:])

    def _chunk(
        self, execution_id: str, instance_id: str, offset: int, data: bytes
    ) -> invocation_pb2.WatchInvocationEvent:
        self._offsets[execution_id] = offset + len(data)
        return invocation_pb2.WatchInvocationEvent(
            output=invocation_pb2.OutputChunk(
                execution_id=execution_id, instance_id=instance_id, offset=offset, data=data
            )
        )


def invoke_request(
    request: invocation_pb2.InvokeCommandRequest | invocation_pb2.RunCommandRequest,
) -> InvokeRequest:
    """The invocation fields shared by InvokeCommand and RunCommand."""
    stated = {name: getattr(request, name) for name in SETTINGS_FIELDS}
    return InvokeRequest(
        instance_ids=list(request.instance_ids),
        settings=SettingsRequest(
            **stated
            | {
                "repeat_mode": from_proto(RepeatMode, request.repeat_mode),
                "parameters": dict(request.parameters),
            }
        ),
        client_token=request.client_token,
    )


def invocation_message(invocation: InvocationView) -> invocation_pb2.Invocation:
    """The proto form of an invocation with its instances."""
    return invocation_pb2.Invocation(
        invoke_id=invocation.id,
        command_id=invocation.command_id,
        command_name=invocation.command_name,
        command_type=to_proto(invocation.command_type),  # type: ignore[arg-type]
        invocation_status=to_proto(invocation.status),  # type: ignore[arg-type]
        creation_time=timestamp(invocation.created_at),
        **_settings_fields(invocation.settings),
        instances=[
            invocation_pb2.InvocationInstance(
                instance_id=t.instance_id,
                invocation_status=to_proto(t.status),  # type: ignore[arg-type]
                next_fire_time=timestamp(t.next_fire_at),
                repeats=t.repeats,
                overlap_skips=t.overlap_skips,
                misfire_skips=t.misfire_skips,
                creation_time=timestamp(t.created_at),
                update_time=timestamp(t.updated_at),
            )
            for t in invocation.targets
        ],
    )


def _settings_fields(settings: InvocationSettings) -> dict[str, Any]:
    """The settings as ``Invocation`` message fields, which carry the settings' names."""
    fields = {name: getattr(settings, name) for name in SETTINGS_FIELDS}
    return fields | {
        "repeat_mode": to_proto(settings.repeat_mode),
        "parameters": dict(settings.parameters),
    }


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
