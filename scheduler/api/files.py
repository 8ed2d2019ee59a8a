"""FileService: SendFile and DescribeSendFileResults (Cloud Assistant's), proto in,
operation, proto out."""

from __future__ import annotations

from kairos.v1 import file_pb2, file_pb2_grpc
from scheduler.domain.enums import ContentEncoding, InvocationStatus
from scheduler.domain.files import SendFileRequest, file_status, format_mode
from scheduler.operations import files as operations
from scheduler.operations import invocations
from scheduler.operations.context import Context
from scheduler.rpc.context import RpcContext
from scheduler.rpc.convert import from_proto, request_hash, tags_from_proto, timestamp, to_proto
from scheduler.rpc.interceptor import current_caller
from scheduler.store.files import FileInstance, FileTaskView


class FileServicer(file_pb2_grpc.FileServiceServicer):  # type: ignore[misc]
    """Sending small files to instances: each file task is an invocation (``f-``)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def SendFile(
        self, request: file_pb2.SendFileRequest, context: RpcContext
    ) -> file_pb2.SendFileResponse:
        invoke_id = await invocations.send_file(
            self._ctx,
            current_caller().tenant,
            instance_ids=list(request.instance_ids),
            resource_tags=tags_from_proto(request.resource_tags),
            client_token=request.client_token,
            file=send_file_request(request),
            request_hash=request_hash(request),
        )
        return file_pb2.SendFileResponse(invoke_id=invoke_id)

    async def DescribeSendFileResults(
        self,
        request: file_pb2.DescribeSendFileResultsRequest,
        context: RpcContext,
    ) -> file_pb2.DescribeSendFileResultsResponse:
        page, total, token = await operations.describe_send_file_results(
            self._ctx,
            current_caller().tenant,
            invoke_id=request.invoke_id,
            instance_id=request.instance_id,
            name=request.name,
            status=from_proto(InvocationStatus, request.invocation_status),
            max_results=request.max_results,
            next_token=request.next_token,
        )
        return file_pb2.DescribeSendFileResultsResponse(
            invocations=[_file_task_message(task) for task in page],
            total_count=total,
            next_token=token,
        )


def send_file_request(request: file_pb2.SendFileRequest) -> SendFileRequest:
    """The file fields of a SendFile request, unchecked (``domain.files`` checks them)."""
    return SendFileRequest(
        name=request.name,
        description=request.description,
        target_dir=request.target_dir,
        content=request.content,
        content_type=from_proto(ContentEncoding, request.content_type)
        or ContentEncoding.PLAIN_TEXT,
        file_mode=request.file_mode,
        file_owner=request.file_owner,
        file_group=request.file_group,
        overwrite=request.overwrite,
        timeout=request.timeout,
    )


def _file_task_message(task: FileTaskView) -> file_pb2.SendFileInvocation:
    return file_pb2.SendFileInvocation(
        invoke_id=task.invoke_id,
        name=task.spec.name,
        description=task.description,
        target_dir=task.spec.target_dir,
        file_mode=format_mode(task.spec.mode),
        file_owner=task.spec.owner,
        file_group=task.spec.group,
        overwrite=task.spec.overwrite,
        creation_time=timestamp(task.created_at),
        invocation_status=to_proto(file_status(task.status)),  # type: ignore[arg-type]
        instances=[_instance_message(instance) for instance in task.instances],
    )


def _instance_message(instance: FileInstance) -> file_pb2.SendFileInstance:
    return file_pb2.SendFileInstance(
        instance_id=instance.instance_id,
        invocation_status=to_proto(file_status(instance.status)),  # type: ignore[arg-type]
        error_code=instance.error_code,
        error_info=instance.error_info,
        start_time=timestamp(instance.started_at),
        finish_time=timestamp(instance.finished_at),
    )
