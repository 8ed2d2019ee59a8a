"""InvocationService: proto in, operation, proto out; WatchInvocation follows NOTIFYs
(``api.watch``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from kairos.v1 import invocation_pb2, invocation_pb2_grpc
from scheduler.api.commands import command_request
from scheduler.api.results import result_message
from scheduler.api.watch import follow
from scheduler.api.watches import WatchSlots
from scheduler.domain.codes import RefusalCode
from scheduler.domain.control import ModifyRequest
from scheduler.domain.enums import ContentEncoding, InvocationStatus, RepeatMode
from scheduler.domain.invocation import SettingsRequest
from scheduler.domain.models import SETTINGS_FIELDS, InvocationSettings
from scheduler.domain.tags import check_tags
from scheduler.operations import control
from scheduler.operations import invocations as operations
from scheduler.operations.context import Context
from scheduler.operations.invocations import InvokeRequest
from scheduler.rpc.context import RpcContext
from scheduler.rpc.convert import (
    from_proto,
    instant,
    request_hash,
    tags_from_proto,
    tags_to_proto,
    timestamp,
    to_proto,
)
from scheduler.rpc.interceptor import current_caller
from scheduler.store.invocations import InvocationFilter, InvocationView
from scheduler.store.listener import Listener


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
            tags=check_tags(tags_from_proto(request.tags)),
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
            async for event in follow(self._ctx, self._listener, tenant, request.invoke_id):
                yield event

    async def PauseInvocation(
        self, request: invocation_pb2.PauseInvocationRequest, context: RpcContext
    ) -> invocation_pb2.PauseInvocationResponse:
        await control.pause_invocation(self._ctx, current_caller().tenant, request.invoke_id)
        return invocation_pb2.PauseInvocationResponse()

    async def ResumeInvocation(
        self, request: invocation_pb2.ResumeInvocationRequest, context: RpcContext
    ) -> invocation_pb2.ResumeInvocationResponse:
        await control.resume_invocation(self._ctx, current_caller().tenant, request.invoke_id)
        return invocation_pb2.ResumeInvocationResponse()

    async def ModifyInvocation(
        self, request: invocation_pb2.ModifyInvocationRequest, context: RpcContext
    ) -> invocation_pb2.ModifyInvocationResponse:
        await control.modify_invocation(
            self._ctx, current_caller().tenant, request.invoke_id, modify_request(request)
        )
        return invocation_pb2.ModifyInvocationResponse()

    async def TriggerInvocation(
        self, request: invocation_pb2.TriggerInvocationRequest, context: RpcContext
    ) -> invocation_pb2.TriggerInvocationResponse:
        triggered = await control.trigger_invocation(
            self._ctx, current_caller().tenant, request.invoke_id, list(request.instance_ids)
        )
        return invocation_pb2.TriggerInvocationResponse(
            instance_ids=triggered.fired,
            busy_instance_ids=triggered.busy,
            scheduled_time=timestamp(triggered.scheduled_at),
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
                # Jitter and bounds (issue 12 item 5).
                "max_jitter": request.max_jitter,
                "start_at": instant(request, "start_time", RefusalCode.INVALID_PARAM_START_TIME),
                "end_at": instant(request, "end_time", RefusalCode.INVALID_PARAM_END_TIME),
            }
        ),
        client_token=request.client_token,
        resource_tags=tags_from_proto(request.resource_tags),
        tags=tags_from_proto(request.tags),
    )


def modify_request(request: invocation_pb2.ModifyInvocationRequest) -> ModifyRequest:
    """What a ModifyInvocation asks for: a field not given is None (proto3 presence)."""
    return ModifyRequest(
        frequency=request.frequency if request.HasField("frequency") else None,
        parameters=dict(request.parameters.values) if request.HasField("parameters") else None,
        timeout=request.timeout if request.HasField("timeout") else None,
        content=request.command_content if request.HasField("command_content") else None,
        encoding=from_proto(ContentEncoding, request.content_encoding)
        or ContentEncoding.PLAIN_TEXT,
        add_instance_ids=list(request.add_instance_ids),
        remove_instance_ids=list(request.remove_instance_ids),
        resource_tags=tags_from_proto(request.resource_tags.tags)
        if request.HasField("resource_tags")
        else None,
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
                selected=t.selected,
                paused_skips=t.paused_skips,
            )
            for t in invocation.targets
        ],
        resource_tags=tags_to_proto(invocation.resource_tags or {}),
        tags=tags_to_proto(invocation.tags),
        paused=invocation.paused,
    )


def _settings_fields(settings: InvocationSettings) -> dict[str, Any]:
    """The settings as ``Invocation`` message fields, which carry the settings' names."""
    fields = {name: getattr(settings, name) for name in SETTINGS_FIELDS}
    return fields | {
        "repeat_mode": to_proto(settings.repeat_mode),
        "parameters": dict(settings.parameters),
        "max_jitter": settings.max_jitter,
        "start_time": timestamp(settings.start_at),
        "end_time": timestamp(settings.end_at),
    }
