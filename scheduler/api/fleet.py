"""FleetService."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kairos.v1 import fleet_pb2, fleet_pb2_grpc
from scheduler.domain.models import Instance
from scheduler.operations import fleet as operations
from scheduler.operations.context import Context
from scheduler.rpc.context import RpcContext
from scheduler.rpc.convert import tags_from_proto, tags_to_proto, timestamp, to_proto
from scheduler.rpc.interceptor import current_caller


class FleetServicer(fleet_pb2_grpc.FleetServiceServicer):  # type: ignore[misc]
    """The instances known through their agents, and the account's quotas."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def DescribeInstances(
        self, request: fleet_pb2.DescribeInstancesRequest, context: RpcContext
    ) -> fleet_pb2.DescribeInstancesResponse:
        page = await self._page(request)
        return fleet_pb2.DescribeInstancesResponse(
            instances=[
                fleet_pb2.Instance(
                    **_agent_fields(instance, online, page.tags),
                    last_boot_time=timestamp(instance.last_boot_at),
                    registration_time=timestamp(instance.registered_at),
                )
                for instance, online in page.instances
            ],
            total_count=page.total_count,
            next_token=page.next_token,
        )

    async def DescribeAgentStatus(
        self, request: fleet_pb2.DescribeAgentStatusRequest, context: RpcContext
    ) -> fleet_pb2.DescribeAgentStatusResponse:
        page = await self._page(request)
        return fleet_pb2.DescribeAgentStatusResponse(
            instances=[
                fleet_pb2.AgentStatus(**_agent_fields(instance, online, page.tags))
                for instance, online in page.instances
            ],
            total_count=page.total_count,
            next_token=page.next_token,
        )

    async def _page(
        self,
        request: fleet_pb2.DescribeInstancesRequest | fleet_pb2.DescribeAgentStatusRequest,
    ) -> operations.InstancePage:
        return await operations.describe_instances(
            self._ctx,
            current_caller().tenant,
            list(request.instance_ids),
            request.max_results,
            request.next_token,
            tags_from_proto(request.tags),
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


def _agent_fields(
    instance: Instance, online: bool, tags: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    """The fields that Instance and AgentStatus share (``tags``: by instance id)."""
    return {
        "instance_id": instance.id,
        "instance_name": instance.name,
        "os_type": to_proto(instance.os_type),
        "agent_version": instance.agent_version,
        "time_zone": instance.time_zone,
        "online": online,
        "last_heartbeat_time": timestamp(instance.last_heartbeat_at),
        "tags": tags_to_proto(tags.get(instance.id, {})),
    }
