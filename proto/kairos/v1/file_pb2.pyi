import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kairos.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SendFileRequest(_message.Message):
    __slots__ = ("instance_ids", "resource_tags", "name", "description", "target_dir", "content", "content_type", "file_mode", "file_owner", "file_group", "overwrite", "timeout", "client_token")
    INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TAGS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_DIR_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILE_MODE_FIELD_NUMBER: _ClassVar[int]
    FILE_OWNER_FIELD_NUMBER: _ClassVar[int]
    FILE_GROUP_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    instance_ids: _containers.RepeatedScalarFieldContainer[str]
    resource_tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    name: str
    description: str
    target_dir: str
    content: str
    content_type: _common_pb2.ContentEncoding
    file_mode: str
    file_owner: str
    file_group: str
    overwrite: bool
    timeout: int
    client_token: str
    def __init__(self, instance_ids: _Optional[_Iterable[str]] = ..., resource_tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., target_dir: _Optional[str] = ..., content: _Optional[str] = ..., content_type: _Optional[_Union[_common_pb2.ContentEncoding, str]] = ..., file_mode: _Optional[str] = ..., file_owner: _Optional[str] = ..., file_group: _Optional[str] = ..., overwrite: _Optional[bool] = ..., timeout: _Optional[int] = ..., client_token: _Optional[str] = ...) -> None: ...

class SendFileResponse(_message.Message):
    __slots__ = ("invoke_id",)
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    def __init__(self, invoke_id: _Optional[str] = ...) -> None: ...

class DescribeSendFileResultsRequest(_message.Message):
    __slots__ = ("invoke_id", "instance_id", "name", "invocation_status", "max_results", "next_token")
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INVOCATION_STATUS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    instance_id: str
    name: str
    invocation_status: _common_pb2.InvocationStatus
    max_results: int
    next_token: str
    def __init__(self, invoke_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., name: _Optional[str] = ..., invocation_status: _Optional[_Union[_common_pb2.InvocationStatus, str]] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class SendFileInstance(_message.Message):
    __slots__ = ("instance_id", "invocation_status", "error_code", "error_info", "start_time", "finish_time")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    INVOCATION_STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_INFO_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    invocation_status: _common_pb2.InvocationStatus
    error_code: str
    error_info: str
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    def __init__(self, instance_id: _Optional[str] = ..., invocation_status: _Optional[_Union[_common_pb2.InvocationStatus, str]] = ..., error_code: _Optional[str] = ..., error_info: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SendFileInvocation(_message.Message):
    __slots__ = ("invoke_id", "name", "description", "target_dir", "file_mode", "file_owner", "file_group", "overwrite", "creation_time", "invocation_status", "instances")
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_DIR_FIELD_NUMBER: _ClassVar[int]
    FILE_MODE_FIELD_NUMBER: _ClassVar[int]
    FILE_OWNER_FIELD_NUMBER: _ClassVar[int]
    FILE_GROUP_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    INVOCATION_STATUS_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    name: str
    description: str
    target_dir: str
    file_mode: str
    file_owner: str
    file_group: str
    overwrite: bool
    creation_time: _timestamp_pb2.Timestamp
    invocation_status: _common_pb2.InvocationStatus
    instances: _containers.RepeatedCompositeFieldContainer[SendFileInstance]
    def __init__(self, invoke_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., target_dir: _Optional[str] = ..., file_mode: _Optional[str] = ..., file_owner: _Optional[str] = ..., file_group: _Optional[str] = ..., overwrite: _Optional[bool] = ..., creation_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., invocation_status: _Optional[_Union[_common_pb2.InvocationStatus, str]] = ..., instances: _Optional[_Iterable[_Union[SendFileInstance, _Mapping]]] = ...) -> None: ...

class DescribeSendFileResultsResponse(_message.Message):
    __slots__ = ("invocations", "total_count", "next_token")
    INVOCATIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    invocations: _containers.RepeatedCompositeFieldContainer[SendFileInvocation]
    total_count: int
    next_token: str
    def __init__(self, invocations: _Optional[_Iterable[_Union[SendFileInvocation, _Mapping]]] = ..., total_count: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...
