"""ActivationService: proto in, operation, proto out."""

from __future__ import annotations

from collections.abc import Mapping

from kairos.v1 import activation_pb2, activation_pb2_grpc
from scheduler.domain.activations import Activation, ActivationRequest
from scheduler.operations import activations as operations
from scheduler.operations import managed_instances
from scheduler.operations.context import Context
from scheduler.rpc.context import RpcContext
from scheduler.rpc.convert import tags_from_proto, tags_to_proto, timestamp
from scheduler.rpc.interceptor import current_caller


class ActivationServicer(activation_pb2_grpc.ActivationServiceServicer):  # type: ignore[misc]
    """Activations, and the managed instances registered with them."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def CreateActivation(
        self, request: activation_pb2.CreateActivationRequest, context: RpcContext
    ) -> activation_pb2.CreateActivationResponse:
        created = await operations.create_activation(
            self._ctx,
            current_caller().tenant,
            ActivationRequest(
                instance_name=request.instance_name,
                instance_count=request.instance_count,
                time_to_live_in_hours=request.time_to_live_in_hours,
                ip_address_range=request.ip_address_range,
                description=request.description,
            ),
            tags_from_proto(request.tags),
        )
        return activation_pb2.CreateActivationResponse(
            activation_id=created.activation.id, activation_code=created.code
        )

    async def DescribeActivations(
        self, request: activation_pb2.DescribeActivationsRequest, context: RpcContext
    ) -> activation_pb2.DescribeActivationsResponse:
        page = await operations.describe_activations(
            self._ctx,
            current_caller().tenant,
            activation_id=request.activation_id,
            instance_name=request.instance_name,
            max_results=request.max_results,
            next_token=request.next_token,
            tags=tags_from_proto(request.tags),
        )
        return activation_pb2.DescribeActivationsResponse(
            activations=[_activation(a, page.tags.get(a.id, {})) for a in page.activations],
            total_count=page.total_count,
            next_token=page.next_token,
        )

    async def DisableActivation(
        self, request: activation_pb2.DisableActivationRequest, context: RpcContext
    ) -> activation_pb2.DisableActivationResponse:
        await operations.disable_activation(
            self._ctx, current_caller().tenant, request.activation_id
        )
        return activation_pb2.DisableActivationResponse()

    async def DeleteActivation(
        self, request: activation_pb2.DeleteActivationRequest, context: RpcContext
    ) -> activation_pb2.DeleteActivationResponse:
        await operations.delete_activation(
            self._ctx, current_caller().tenant, request.activation_id
        )
        return activation_pb2.DeleteActivationResponse()

    async def DeregisterManagedInstance(
        self, request: activation_pb2.DeregisterManagedInstanceRequest, context: RpcContext
    ) -> activation_pb2.DeregisterManagedInstanceResponse:
        await managed_instances.deregister(self._ctx, current_caller().tenant, request.instance_id)
        return activation_pb2.DeregisterManagedInstanceResponse()


def _activation(activation: Activation, tags: Mapping[str, str]) -> activation_pb2.Activation:
    return activation_pb2.Activation(
        activation_id=activation.id,
        instance_name=activation.instance_name,
        instance_count=activation.instance_count,
        registered_count=activation.registered_count,
        deregistered_count=activation.deregistered_count,
        ip_address_range=activation.ip_address_range,
        description=activation.description,
        disabled=activation.disabled,
        creation_time=timestamp(activation.created_at),
        expiry_time=timestamp(activation.expires_at),
        tags=tags_to_proto(tags),
    )
