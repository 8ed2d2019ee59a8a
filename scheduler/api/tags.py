"""TagService: tags on instances, commands, invocations and activations."""

from __future__ import annotations

from kairos.v1 import tag_pb2, tag_pb2_grpc
from scheduler.domain.enums import ResourceType
from scheduler.operations import tags as operations
from scheduler.operations.context import Context
from scheduler.rpc.context import RpcContext
from scheduler.rpc.convert import from_proto, tags_from_proto
from scheduler.rpc.interceptor import current_caller


class TagServicer(tag_pb2_grpc.TagServiceServicer):  # type: ignore[misc]
    """Cloud Assistant's TagResources, UntagResources and ListTagResources."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def TagResources(
        self, request: tag_pb2.TagResourcesRequest, context: RpcContext
    ) -> tag_pb2.TagResourcesResponse:
        await operations.tag_resources(
            self._ctx,
            current_caller().tenant,
            from_proto(ResourceType, request.resource_type),
            list(request.resource_ids),
            tags_from_proto(request.tags),
        )
        return tag_pb2.TagResourcesResponse()

    async def UntagResources(
        self, request: tag_pb2.UntagResourcesRequest, context: RpcContext
    ) -> tag_pb2.UntagResourcesResponse:
        await operations.untag_resources(
            self._ctx,
            current_caller().tenant,
            from_proto(ResourceType, request.resource_type),
            list(request.resource_ids),
            list(request.tag_keys),
            all_keys=request.all,
        )
        return tag_pb2.UntagResourcesResponse()

    async def ListTagResources(
        self, request: tag_pb2.ListTagResourcesRequest, context: RpcContext
    ) -> tag_pb2.ListTagResourcesResponse:
        kind = from_proto(ResourceType, request.resource_type)
        rows, token = await operations.list_tag_resources(
            self._ctx,
            current_caller().tenant,
            kind,
            list(request.resource_ids),
            tags_from_proto(request.tags),
            request.max_results,
            request.next_token,
        )
        return tag_pb2.ListTagResourcesResponse(
            tag_resources=[
                tag_pb2.TagResource(
                    resource_type=request.resource_type,
                    resource_id=row.resource_id,
                    tag_key=row.key,
                    tag_value=row.value,
                    reported=row.reported,
                )
                for row in rows
            ],
            next_token=token,
        )
