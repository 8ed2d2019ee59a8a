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
    __slots__ = ("name", "description", "instance_ids", "target_dir", "content", "file_mode", "file_owner", "file_group", "overwrite", "timeout", "client_token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    TARGET_DIR_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILE_MODE_FIELD_NUMBER: _ClassVar[int]
    FILE_OWNER_FIELD_NUMBER: _ClassVar[int]
    FILE_GROUP_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    instance_ids: _containers.RepeatedScalarFieldContainer[str]
    target_dir: str
    content: bytes
    file_mode: str
    file_owner: str
    file_group: str
    overwrite: bool
    timeout: int
    client_token: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., instance_ids: _Optional[_Iterable[str]] = ..., target_dir: _Optional[str] = ..., content: _Optional[bytes] = ..., file_mode: _Optional[str] = ..., file_owner: _Optional[str] = ..., file_group: _Optional[str] = ..., overwrite: _Optional[bool] = ..., timeout: _Optional[int] = ..., client_token: _Optional[str] = ...) -> None: ...

class SendFileResponse(_message.Message):
    __slots__ = ("file_task_id",)
    FILE_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    file_task_id: str
    def __init__(self, file_task_id: _Optional[str] = ...) -> None: ...

class DescribeSendFileResultsRequest(_message.Message):
    __slots__ = ("file_task_id", "instance_id", "max_results", "next_token")
    FILE_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    file_task_id: str
    instance_id: str
    max_results: int
    next_token: str
    def __init__(self, file_task_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class SendFileResult(_message.Message):
    __slots__ = ("file_task_id", "instance_id", "status", "error_code", "error_info", "start_time", "finish_time")
    FILE_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_INFO_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    file_task_id: str
    instance_id: str
    status: _common_pb2.InvocationStatus
    error_code: str
    error_info: str
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    def __init__(self, file_task_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.InvocationStatus, str]] = ..., error_code: _Optional[str] = ..., error_info: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DescribeSendFileResultsResponse(_message.Message):
    __slots__ = ("results", "total_count", "next_token")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SendFileResult]
    total_count: int
    next_token: str
    def __init__(self, results: _Optional[_Iterable[_Union[SendFileResult, _Mapping]]] = ..., total_count: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...
