"""The operator's connection to a Kairos server: channel, bearer token, typed calls.

Every call goes through one place that turns a gRPC failure into a `CliError`
(`NOT_FOUND: command c-123 not found`), so subcommands only handle replies.
"""

import argparse
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import grpc
from google.protobuf.message import Message

from agent.tls import ClientTls, ClientTlsError
from kairos.v1 import (
    activation_pb2,
    activation_pb2_grpc,
    command_pb2,
    command_pb2_grpc,
    file_pb2,
    file_pb2_grpc,
    fleet_pb2,
    fleet_pb2_grpc,
    invocation_pb2,
    invocation_pb2_grpc,
    tag_pb2,
    tag_pb2_grpc,
)
from scheduler.cli.connection import resolve
from scheduler.cli.errors import CliError, UsageError
from scheduler.domain.credentials import token_problem

MessageT = TypeVar("MessageT", bound=Message)

# Unary calls are small; a server that takes longer than this is stuck, and the
# operator is better served by an error than by a silent terminal.
CALL_TIMEOUT_SECONDS = 30.0


class Client:
    """Typed unary and streaming calls to the client API of one server."""

    def __init__(self, address: str, token: str | None, tls: ClientTls | None = None) -> None:
        self.address = address
        # The rule the server's auth file and the agent hold tokens to: gRPC would refuse
        # another header as INTERNAL "Invalid metadata", naming nothing.
        problem = None if token is None else token_problem(token.encode(errors="surrogateescape"))
        if problem is not None:
            raise UsageError(f"the token (--token, KAIROS_TOKEN or the token file) {problem}")
        tls = tls or ClientTls()
        try:
            credentials = tls.credentials()
        except ClientTlsError as error:
            raise UsageError(str(error)) from None
        self._channel = (
            grpc.secure_channel(address, credentials, options=tls.channel_options())
            if credentials is not None
            else grpc.insecure_channel(address)
        )
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._commands = command_pb2_grpc.CommandServiceStub(self._channel)
        self._invocations = invocation_pb2_grpc.InvocationServiceStub(self._channel)
        self._fleet = fleet_pb2_grpc.FleetServiceStub(self._channel)
        self._activations = activation_pb2_grpc.ActivationServiceStub(self._channel)
        self._tags = tag_pb2_grpc.TagServiceStub(self._channel)
        self._files = file_pb2_grpc.FileServiceStub(self._channel)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Self:
        """A client for the connection a parsed command line asks for: its flags, the
        environment, the config file's context (``connection.resolve``)."""
        connection = resolve(args)
        return cls(connection.server, connection.token, connection.tls)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._channel.close()

    def create_command(
        self, request: command_pb2.CreateCommandRequest
    ) -> command_pb2.CreateCommandResponse:
        """CommandService.CreateCommand."""
        return self._call(self._commands.CreateCommand, request, command_pb2.CreateCommandResponse)

    def modify_command(
        self, request: command_pb2.ModifyCommandRequest
    ) -> command_pb2.ModifyCommandResponse:
        """CommandService.ModifyCommand."""
        return self._call(self._commands.ModifyCommand, request, command_pb2.ModifyCommandResponse)

    def delete_command(
        self, request: command_pb2.DeleteCommandRequest
    ) -> command_pb2.DeleteCommandResponse:
        """CommandService.DeleteCommand."""
        return self._call(self._commands.DeleteCommand, request, command_pb2.DeleteCommandResponse)

    def describe_commands(
        self, request: command_pb2.DescribeCommandsRequest
    ) -> command_pb2.DescribeCommandsResponse:
        """CommandService.DescribeCommands."""
        return self._call(
            self._commands.DescribeCommands, request, command_pb2.DescribeCommandsResponse
        )

    def run_command(
        self, request: invocation_pb2.RunCommandRequest
    ) -> invocation_pb2.RunCommandResponse:
        """InvocationService.RunCommand."""
        return self._call(self._invocations.RunCommand, request, invocation_pb2.RunCommandResponse)

    def invoke_command(
        self, request: invocation_pb2.InvokeCommandRequest
    ) -> invocation_pb2.InvokeCommandResponse:
        """InvocationService.InvokeCommand."""
        return self._call(
            self._invocations.InvokeCommand, request, invocation_pb2.InvokeCommandResponse
        )

    def stop_invocation(
        self, request: invocation_pb2.StopInvocationRequest
    ) -> invocation_pb2.StopInvocationResponse:
        """InvocationService.StopInvocation."""
        return self._call(
            self._invocations.StopInvocation, request, invocation_pb2.StopInvocationResponse
        )

    def pause_invocation(
        self, request: invocation_pb2.PauseInvocationRequest
    ) -> invocation_pb2.PauseInvocationResponse:
        """InvocationService.PauseInvocation."""
        return self._call(
            self._invocations.PauseInvocation, request, invocation_pb2.PauseInvocationResponse
        )

    def resume_invocation(
        self, request: invocation_pb2.ResumeInvocationRequest
    ) -> invocation_pb2.ResumeInvocationResponse:
        """InvocationService.ResumeInvocation."""
        return self._call(
            self._invocations.ResumeInvocation, request, invocation_pb2.ResumeInvocationResponse
        )

    def modify_invocation(
        self, request: invocation_pb2.ModifyInvocationRequest
    ) -> invocation_pb2.ModifyInvocationResponse:
        """InvocationService.ModifyInvocation."""
        return self._call(
            self._invocations.ModifyInvocation, request, invocation_pb2.ModifyInvocationResponse
        )

    def trigger_invocation(
        self, request: invocation_pb2.TriggerInvocationRequest
    ) -> invocation_pb2.TriggerInvocationResponse:
        """InvocationService.TriggerInvocation."""
        return self._call(
            self._invocations.TriggerInvocation, request, invocation_pb2.TriggerInvocationResponse
        )

    def describe_invocations(
        self, request: invocation_pb2.DescribeInvocationsRequest
    ) -> invocation_pb2.DescribeInvocationsResponse:
        """InvocationService.DescribeInvocations."""
        return self._call(
            self._invocations.DescribeInvocations,
            request,
            invocation_pb2.DescribeInvocationsResponse,
        )

    def describe_invocation_results(
        self, request: invocation_pb2.DescribeInvocationResultsRequest
    ) -> invocation_pb2.DescribeInvocationResultsResponse:
        """InvocationService.DescribeInvocationResults."""
        return self._call(
            self._invocations.DescribeInvocationResults,
            request,
            invocation_pb2.DescribeInvocationResultsResponse,
        )

    def send_file(self, request: file_pb2.SendFileRequest) -> file_pb2.SendFileResponse:
        """FileService.SendFile."""
        return self._call(self._files.SendFile, request, file_pb2.SendFileResponse)

    def describe_send_file_results(
        self, request: file_pb2.DescribeSendFileResultsRequest
    ) -> file_pb2.DescribeSendFileResultsResponse:
        """FileService.DescribeSendFileResults."""
        return self._call(
            self._files.DescribeSendFileResults,
            request,
            file_pb2.DescribeSendFileResultsResponse,
        )

    def describe_agent_status(
        self, request: fleet_pb2.DescribeAgentStatusRequest
    ) -> fleet_pb2.DescribeAgentStatusResponse:
        """FleetService.DescribeAgentStatus."""
        return self._call(
            self._fleet.DescribeAgentStatus, request, fleet_pb2.DescribeAgentStatusResponse
        )

    def describe_account_attributes(
        self, request: fleet_pb2.DescribeAccountAttributesRequest
    ) -> fleet_pb2.DescribeAccountAttributesResponse:
        """FleetService.DescribeAccountAttributes."""
        return self._call(
            self._fleet.DescribeAccountAttributes,
            request,
            fleet_pb2.DescribeAccountAttributesResponse,
        )

    def create_activation(
        self, request: activation_pb2.CreateActivationRequest
    ) -> activation_pb2.CreateActivationResponse:
        """ActivationService.CreateActivation."""
        return self._call(
            self._activations.CreateActivation, request, activation_pb2.CreateActivationResponse
        )

    def describe_activations(
        self, request: activation_pb2.DescribeActivationsRequest
    ) -> activation_pb2.DescribeActivationsResponse:
        """ActivationService.DescribeActivations."""
        return self._call(
            self._activations.DescribeActivations,
            request,
            activation_pb2.DescribeActivationsResponse,
        )

    def disable_activation(
        self, request: activation_pb2.DisableActivationRequest
    ) -> activation_pb2.DisableActivationResponse:
        """ActivationService.DisableActivation."""
        return self._call(
            self._activations.DisableActivation, request, activation_pb2.DisableActivationResponse
        )

    def delete_activation(
        self, request: activation_pb2.DeleteActivationRequest
    ) -> activation_pb2.DeleteActivationResponse:
        """ActivationService.DeleteActivation."""
        return self._call(
            self._activations.DeleteActivation, request, activation_pb2.DeleteActivationResponse
        )

    def deregister_managed_instance(
        self, request: activation_pb2.DeregisterManagedInstanceRequest
    ) -> activation_pb2.DeregisterManagedInstanceResponse:
        """ActivationService.DeregisterManagedInstance."""
        return self._call(
            self._activations.DeregisterManagedInstance,
            request,
            activation_pb2.DeregisterManagedInstanceResponse,
        )

    def tag_resources(self, request: tag_pb2.TagResourcesRequest) -> tag_pb2.TagResourcesResponse:
        """TagService.TagResources."""
        return self._call(self._tags.TagResources, request, tag_pb2.TagResourcesResponse)

    def untag_resources(
        self, request: tag_pb2.UntagResourcesRequest
    ) -> tag_pb2.UntagResourcesResponse:
        """TagService.UntagResources."""
        return self._call(self._tags.UntagResources, request, tag_pb2.UntagResourcesResponse)

    def list_tag_resources(
        self, request: tag_pb2.ListTagResourcesRequest
    ) -> tag_pb2.ListTagResourcesResponse:
        """TagService.ListTagResources."""
        return self._call(self._tags.ListTagResources, request, tag_pb2.ListTagResourcesResponse)

    def watch_invocation(
        self, request: invocation_pb2.WatchInvocationRequest
    ) -> Iterator[invocation_pb2.WatchInvocationEvent]:
        """InvocationService.WatchInvocation: events until the server ends the stream."""
        call = self._invocations.WatchInvocation(request, metadata=self._metadata)
        try:
            yield from call
        except grpc.RpcError as error:
            raise translate_error(error, self.address) from None
        finally:
            # Ends the stream on the server too when the operator stops watching early.
            call.cancel()

    def _call(self, method: Any, request: Message, response_type: type[MessageT]) -> MessageT:
        try:
            response = method(request, metadata=self._metadata, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            raise translate_error(error, self.address) from None
        # The stubs are untyped; this keeps the typed methods above honest.
        assert isinstance(response, response_type)
        return response


def translate_error(error: grpc.RpcError, address: str) -> CliError:
    """One line for a failed call: `<STATUS_CODE>: <message>`, saying so when unreachable."""
    code: grpc.StatusCode = error.code()
    details = " ".join(str(error.details() or "").split())
    if code == grpc.StatusCode.UNAVAILABLE:
        return CliError(f"UNAVAILABLE: cannot reach the Kairos server at {address} ({details})")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return CliError(f"DEADLINE_EXCEEDED: the Kairos server at {address} did not answer in time")
    return CliError(f"{code.name}: {details or code.value[1]}")


class PagedRequest(Protocol):
    """A list request: it carries the token of the page to fetch."""

    next_token: str


class PagedResponse(Protocol):
    """A list response: its items, totals and the token of the next page."""

    next_token: str

    def MergeFrom(self, other: Self, /) -> None:
        """Append the other page's items; take its non-default scalars."""


RequestT = TypeVar("RequestT", bound=PagedRequest)
ResponseT = TypeVar("ResponseT", bound=PagedResponse)


def fetch_pages(
    fetch: Callable[[RequestT], ResponseT], request: RequestT, *, every: bool
) -> ResponseT:
    """One page, or with `every` all pages merged into one response (next_token empty)."""
    response = fetch(request)
    while every and response.next_token:
        request.next_token = response.next_token
        page = fetch(request)
        response.MergeFrom(page)  # appends the page's items
        # MergeFrom keeps the old token when the new one is empty (a proto3 default).
        response.next_token = page.next_token
    return response
