"""CommandService: proto in, operation, proto out."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Protocol

from kairos.v1 import command_pb2, command_pb2_grpc
from scheduler.domain.command import CommandChanges, CommandRequest
from scheduler.domain.enums import CommandType, ContentEncoding
from scheduler.domain.models import Command
from scheduler.domain.tags import check_tags
from scheduler.operations import commands as operations
from scheduler.operations.context import Context
from scheduler.rpc.context import RpcContext
from scheduler.rpc.convert import (
    from_proto,
    parameter_definition_to_proto,
    request_hash,
    tags_from_proto,
    tags_to_proto,
    timestamp,
    to_proto,
)
from scheduler.rpc.interceptor import current_caller
from scheduler.store.commands import CommandFilter


class CommandServicer(command_pb2_grpc.CommandServiceServicer):  # type: ignore[misc]
    """Stored scripts."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def CreateCommand(
        self, request: command_pb2.CreateCommandRequest, context: RpcContext
    ) -> command_pb2.CreateCommandResponse:
        command_id = await operations.create_command(
            self._ctx,
            current_caller().tenant,
            command_request(request),
            request.client_token,
            request_hash(request),
            tags_from_proto(request.tags),
        )
        return command_pb2.CreateCommandResponse(command_id=command_id)

    async def ModifyCommand(
        self, request: command_pb2.ModifyCommandRequest, context: RpcContext
    ) -> command_pb2.ModifyCommandResponse:
        changes = CommandChanges(
            name=request.name if request.HasField("name") else None,
            description=request.description if request.HasField("description") else None,
            timeout=request.timeout if request.HasField("timeout") else None,
            working_dir=request.working_dir if request.HasField("working_dir") else None,
        )
        await operations.modify_command(
            self._ctx, current_caller().tenant, request.command_id, changes
        )
        return command_pb2.ModifyCommandResponse()

    async def DeleteCommand(
        self, request: command_pb2.DeleteCommandRequest, context: RpcContext
    ) -> command_pb2.DeleteCommandResponse:
        await operations.delete_command(self._ctx, current_caller().tenant, request.command_id)
        return command_pb2.DeleteCommandResponse()

    async def DescribeCommands(
        self, request: command_pb2.DescribeCommandsRequest, context: RpcContext
    ) -> command_pb2.DescribeCommandsResponse:
        where = CommandFilter(
            command_id=request.command_id,
            name=request.name,
            type=from_proto(CommandType, request.type),
            tags=check_tags(tags_from_proto(request.tags)),
        )
        page, total, token, tags = await operations.describe_commands(
            self._ctx,
            current_caller().tenant,
            where,
            request.max_results,
            request.next_token,
            request.provider,
        )
        return command_pb2.DescribeCommandsResponse(
            commands=[command_message(c, tags.get(c.id, {})) for c in page],
            total_count=total,
            next_token=token,
        )


class CommandFields(Protocol):
    """The command fields that CreateCommand and RunCommand requests share."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def type(self) -> int: ...
    @property
    def command_content(self) -> str: ...
    @property
    def content_encoding(self) -> int: ...
    @property
    def working_dir(self) -> str: ...
    @property
    def timeout(self) -> int: ...
    @property
    def enable_parameter(self) -> bool: ...


def command_request(request: CommandFields) -> CommandRequest:
    """The command fields of a CreateCommand or RunCommand request."""
    return CommandRequest(
        name=request.name,
        description=request.description,
        type=from_proto(CommandType, request.type),
        content=request.command_content,
        encoding=from_proto(ContentEncoding, request.content_encoding)
        or ContentEncoding.PLAIN_TEXT,
        working_dir=request.working_dir,
        timeout=request.timeout,
        enable_parameter=request.enable_parameter,
    )


def command_message(command: Command, tags: Mapping[str, str]) -> command_pb2.Command:
    """The proto form of a command with its tags; content always Base64 as in Cloud
    Assistant."""
    return command_pb2.Command(
        command_id=command.id,
        name=command.name,
        description=command.description,
        type=to_proto(command.type),  # type: ignore[arg-type]
        command_content=base64.b64encode(command.content).decode(),
        working_dir=command.working_dir,
        timeout=command.timeout,
        enable_parameter=command.enable_parameter,
        parameter_names=command.parameter_names,
        creation_time=timestamp(command.created_at),
        invoke_times=command.invoke_times,
        tags=tags_to_proto(tags),
        provider=command.provider,
        parameter_definitions=[
            parameter_definition_to_proto(d) for d in command.parameter_definitions
        ],
    )
