"""FleetService and FileService."""

from __future__ import annotations

from kairos.v1 import file_pb2, file_pb2_grpc, fleet_pb2, fleet_pb2_grpc
from scheduler.api.convert import timestamp, to_proto
from scheduler.api.interceptors import current_caller
from scheduler.api.rpc import RpcContext
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.operations import fleet as operations
from scheduler.operations.context import Context


class FleetServicer(fleet_pb2_grpc.FleetServiceServicer):  # type: ignore[misc]
    """The instances known through their agents, and the account's quotas."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def DescribeInstances(
        self, request: fleet_pb2.DescribeInstancesRequest, context: RpcContext
    ) -> fleet_pb2.DescribeInstancesResponse:
        page, total, token, now = await operations.describe_instances(
            self._ctx,
            current_caller().tenant,
            list(request.instance_ids),
            request.max_results,
            request.next_token,
        )
        offline_after = self._ctx.limits.offline_after
        return fleet_pb2.DescribeInstancesResponse(
            instances=[
                fleet_pb2.Instance(
                    instance_id=i.id,
                    instance_name=i.name,
                    os_type=to_proto(i.os_type),  # type: ignore[arg-type]
                    agent_version=i.agent_version,
                    time_zone=i.time_zone,
                    online=i.online(now, offline_after),
                    last_heartbeat_time=timestamp(i.last_heartbeat_at),
                    last_boot_time=timestamp(i.last_boot_at),
                    registration_time=timestamp(i.registered_at),
                )
                for i in page
            ],
            total_count=total,
            next_token=token,
        )

    async def DescribeAgentStatus(
        self, request: fleet_pb2.DescribeAgentStatusRequest, context: RpcContext
    ) -> fleet_pb2.DescribeAgentStatusResponse:
        page, total, token, now = await operations.describe_instances(
            self._ctx,
            current_caller().tenant,
            list(request.instance_ids),
            request.max_results,
            request.next_token,
        )
        offline_after = self._ctx.limits.offline_after
        return fleet_pb2.DescribeAgentStatusResponse(
            instances=[
                fleet_pb2.AgentStatus(
                    instance_id=i.id,
                    instance_name=i.name,
                    online=i.online(now, offline_after),
                    agent_version=i.agent_version,
                    os_type=to_proto(i.os_type),  # type: ignore[arg-type]
                    last_heartbeat_time=timestamp(i.last_heartbeat_at),
                    time_zone=i.time_zone,
                )
                for i in page
            ],
            total_count=total,
            next_token=token,
        )

    async def DescribeAccountAttributes(
        self,
        request: fleet_pb2.DescribeAccountAttributesRequest,
        context: RpcContext,
    ) -> fleet_pb2.DescribeAccountAttributesResponse:
        attributes = await operations.account_attributes(self._ctx, current_caller().tenant)
        return fleet_pb2.DescribeAccountAttributesResponse(
            attributes=[
                fleet_pb2.AccountAttribute(name=a.name, limit=a.limit, used=a.used)
                for a in attributes
            ]
        )


class FileServicer(file_pb2_grpc.FileServiceServicer):  # type: ignore[misc]
    """SendFile arrives in a later release; until then both calls are UNIMPLEMENTED."""

    async def SendFile(
        self, request: file_pb2.SendFileRequest, context: RpcContext
    ) -> file_pb2.SendFileResponse:
        raise _not_yet("SendFile")

    async def DescribeSendFileResults(
        self,
        request: file_pb2.DescribeSendFileResultsRequest,
        context: RpcContext,
    ) -> file_pb2.DescribeSendFileResultsResponse:
        raise _not_yet("DescribeSendFileResults")


def _not_yet(operation: str) -> KairosError:
    return KairosError(
        ErrorKind.UNIMPLEMENTED, "Unimplemented", f"{operation} is not implemented yet"
    )
