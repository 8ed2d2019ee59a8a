import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kairos.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InvokeCommandRequest(_message.Message):
    __slots__ = ("command_id", "instance_ids", "repeat_mode", "frequency", "parameters", "username", "working_dir", "timeout", "container_id", "container_name", "client_token", "resource_tags", "tags", "max_concurrency", "max_errors", "max_jitter", "start_time", "end_time")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    REPEAT_MODE_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TAGS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    MAX_ERRORS_FIELD_NUMBER: _ClassVar[int]
    MAX_JITTER_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    instance_ids: _containers.RepeatedScalarFieldContainer[str]
    repeat_mode: _common_pb2.RepeatMode
    frequency: str
    parameters: _containers.ScalarMap[str, str]
    username: str
    working_dir: str
    timeout: int
    container_id: str
    container_name: str
    client_token: str
    resource_tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    max_concurrency: str
    max_errors: str
    max_jitter: int
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, command_id: _Optional[str] = ..., instance_ids: _Optional[_Iterable[str]] = ..., repeat_mode: _Optional[_Union[_common_pb2.RepeatMode, str]] = ..., frequency: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ..., username: _Optional[str] = ..., working_dir: _Optional[str] = ..., timeout: _Optional[int] = ..., container_id: _Optional[str] = ..., container_name: _Optional[str] = ..., client_token: _Optional[str] = ..., resource_tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ..., max_concurrency: _Optional[str] = ..., max_errors: _Optional[str] = ..., max_jitter: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class InvokeCommandResponse(_message.Message):
    __slots__ = ("invoke_id",)
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    def __init__(self, invoke_id: _Optional[str] = ...) -> None: ...

class RunCommandRequest(_message.Message):
    __slots__ = ("name", "description", "type", "command_content", "content_encoding", "enable_parameter", "instance_ids", "repeat_mode", "frequency", "parameters", "username", "working_dir", "timeout", "container_id", "container_name", "client_token", "keep_command", "resource_tags", "tags", "max_concurrency", "max_errors", "max_jitter", "start_time", "end_time")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_ENCODING_FIELD_NUMBER: _ClassVar[int]
    ENABLE_PARAMETER_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    REPEAT_MODE_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    KEEP_COMMAND_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TAGS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    MAX_ERRORS_FIELD_NUMBER: _ClassVar[int]
    MAX_JITTER_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    type: _common_pb2.CommandType
    command_content: str
    content_encoding: _common_pb2.ContentEncoding
    enable_parameter: bool
    instance_ids: _containers.RepeatedScalarFieldContainer[str]
    repeat_mode: _common_pb2.RepeatMode
    frequency: str
    parameters: _containers.ScalarMap[str, str]
    username: str
    working_dir: str
    timeout: int
    container_id: str
    container_name: str
    client_token: str
    keep_command: bool
    resource_tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    max_concurrency: str
    max_errors: str
    max_jitter: int
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[_Union[_common_pb2.CommandType, str]] = ..., command_content: _Optional[str] = ..., content_encoding: _Optional[_Union[_common_pb2.ContentEncoding, str]] = ..., enable_parameter: _Optional[bool] = ..., instance_ids: _Optional[_Iterable[str]] = ..., repeat_mode: _Optional[_Union[_common_pb2.RepeatMode, str]] = ..., frequency: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ..., username: _Optional[str] = ..., working_dir: _Optional[str] = ..., timeout: _Optional[int] = ..., container_id: _Optional[str] = ..., container_name: _Optional[str] = ..., client_token: _Optional[str] = ..., keep_command: _Optional[bool] = ..., resource_tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ..., max_concurrency: _Optional[str] = ..., max_errors: _Optional[str] = ..., max_jitter: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RunCommandResponse(_message.Message):
    __slots__ = ("command_id", "invoke_id")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    invoke_id: str
    def __init__(self, command_id: _Optional[str] = ..., invoke_id: _Optional[str] = ...) -> None: ...

class StopInvocationRequest(_message.Message):
    __slots__ = ("invoke_id", "instance_ids")
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    instance_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, invoke_id: _Optional[str] = ..., instance_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class StopInvocationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DescribeInvocationsRequest(_message.Message):
    __slots__ = ("invoke_id", "command_id", "instance_id", "invocation_status", "max_results", "next_token", "tags")
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    INVOCATION_STATUS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    command_id: str
    instance_id: str
    invocation_status: _common_pb2.InvocationStatus
    max_results: int
    next_token: str
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    def __init__(self, invoke_id: _Optional[str] = ..., command_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., invocation_status: _Optional[_Union[_common_pb2.InvocationStatus, str]] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ...) -> None: ...

class InvocationInstance(_message.Message):
    __slots__ = ("instance_id", "invocation_status", "next_fire_time", "repeats", "overlap_skips", "misfire_skips", "creation_time", "update_time", "paused_skips", "selected")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    INVOCATION_STATUS_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REPEATS_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_SKIPS_FIELD_NUMBER: _ClassVar[int]
    MISFIRE_SKIPS_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PAUSED_SKIPS_FIELD_NUMBER: _ClassVar[int]
    SELECTED_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    invocation_status: _common_pb2.InvocationStatus
    next_fire_time: _timestamp_pb2.Timestamp
    repeats: int
    overlap_skips: int
    misfire_skips: int
    creation_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    paused_skips: int
    selected: bool
    def __init__(self, instance_id: _Optional[str] = ..., invocation_status: _Optional[_Union[_common_pb2.InvocationStatus, str]] = ..., next_fire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., repeats: _Optional[int] = ..., overlap_skips: _Optional[int] = ..., misfire_skips: _Optional[int] = ..., creation_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paused_skips: _Optional[int] = ..., selected: _Optional[bool] = ...) -> None: ...

class Invocation(_message.Message):
    __slots__ = ("invoke_id", "command_id", "command_name", "command_type", "invocation_status", "repeat_mode", "frequency", "creation_time", "username", "working_dir", "timeout", "parameters", "instances", "container_id", "container_name", "resource_tags", "tags", "max_concurrency", "max_errors", "paused", "max_jitter", "start_time", "end_time")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_NAME_FIELD_NUMBER: _ClassVar[int]
    COMMAND_TYPE_FIELD_NUMBER: _ClassVar[int]
    INVOCATION_STATUS_FIELD_NUMBER: _ClassVar[int]
    REPEAT_MODE_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TAGS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    MAX_ERRORS_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    MAX_JITTER_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    command_id: str
    command_name: str
    command_type: _common_pb2.CommandType
    invocation_status: _common_pb2.InvocationStatus
    repeat_mode: _common_pb2.RepeatMode
    frequency: str
    creation_time: _timestamp_pb2.Timestamp
    username: str
    working_dir: str
    timeout: int
    parameters: _containers.ScalarMap[str, str]
    instances: _containers.RepeatedCompositeFieldContainer[InvocationInstance]
    container_id: str
    container_name: str
    resource_tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    max_concurrency: str
    max_errors: str
    paused: bool
    max_jitter: int
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, invoke_id: _Optional[str] = ..., command_id: _Optional[str] = ..., command_name: _Optional[str] = ..., command_type: _Optional[_Union[_common_pb2.CommandType, str]] = ..., invocation_status: _Optional[_Union[_common_pb2.InvocationStatus, str]] = ..., repeat_mode: _Optional[_Union[_common_pb2.RepeatMode, str]] = ..., frequency: _Optional[str] = ..., creation_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., username: _Optional[str] = ..., working_dir: _Optional[str] = ..., timeout: _Optional[int] = ..., parameters: _Optional[_Mapping[str, str]] = ..., instances: _Optional[_Iterable[_Union[InvocationInstance, _Mapping]]] = ..., container_id: _Optional[str] = ..., container_name: _Optional[str] = ..., resource_tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ..., max_concurrency: _Optional[str] = ..., max_errors: _Optional[str] = ..., paused: _Optional[bool] = ..., max_jitter: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DescribeInvocationsResponse(_message.Message):
    __slots__ = ("invocations", "total_count", "next_token")
    INVOCATIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    invocations: _containers.RepeatedCompositeFieldContainer[Invocation]
    total_count: int
    next_token: str
    def __init__(self, invocations: _Optional[_Iterable[_Union[Invocation, _Mapping]]] = ..., total_count: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class DescribeInvocationResultsRequest(_message.Message):
    __slots__ = ("invoke_id", "instance_id", "include_history", "max_results", "next_token")
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HISTORY_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    instance_id: str
    include_history: bool
    max_results: int
    next_token: str
    def __init__(self, invoke_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., include_history: _Optional[bool] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class InvocationResult(_message.Message):
    __slots__ = ("invoke_id", "instance_id", "execution_id", "command_id", "invocation_status", "exit_code", "error_code", "error_info", "output", "dropped", "repeats", "scheduled_time", "start_time", "finish_time", "stop_time", "username")
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    INVOCATION_STATUS_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_INFO_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    REPEATS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    STOP_TIME_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    instance_id: str
    execution_id: str
    command_id: str
    invocation_status: _common_pb2.InvocationStatus
    exit_code: int
    error_code: str
    error_info: str
    output: bytes
    dropped: int
    repeats: int
    scheduled_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    stop_time: _timestamp_pb2.Timestamp
    username: str
    def __init__(self, invoke_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., execution_id: _Optional[str] = ..., command_id: _Optional[str] = ..., invocation_status: _Optional[_Union[_common_pb2.InvocationStatus, str]] = ..., exit_code: _Optional[int] = ..., error_code: _Optional[str] = ..., error_info: _Optional[str] = ..., output: _Optional[bytes] = ..., dropped: _Optional[int] = ..., repeats: _Optional[int] = ..., scheduled_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stop_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., username: _Optional[str] = ...) -> None: ...

class DescribeInvocationResultsResponse(_message.Message):
    __slots__ = ("results", "total_count", "next_token")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[InvocationResult]
    total_count: int
    next_token: str
    def __init__(self, results: _Optional[_Iterable[_Union[InvocationResult, _Mapping]]] = ..., total_count: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class WatchInvocationRequest(_message.Message):
    __slots__ = ("invoke_id",)
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    def __init__(self, invoke_id: _Optional[str] = ...) -> None: ...

class WatchInvocationEvent(_message.Message):
    __slots__ = ("result", "output", "finished", "gap")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    result: InvocationResult
    output: OutputChunk
    finished: _common_pb2.InvocationStatus
    gap: OutputGap
    def __init__(self, result: _Optional[_Union[InvocationResult, _Mapping]] = ..., output: _Optional[_Union[OutputChunk, _Mapping]] = ..., finished: _Optional[_Union[_common_pb2.InvocationStatus, str]] = ..., gap: _Optional[_Union[OutputGap, _Mapping]] = ...) -> None: ...

class OutputGap(_message.Message):
    __slots__ = ("execution_id", "instance_id", "offset", "skipped")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    instance_id: str
    offset: int
    skipped: int
    def __init__(self, execution_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., offset: _Optional[int] = ..., skipped: _Optional[int] = ...) -> None: ...

class OutputChunk(_message.Message):
    __slots__ = ("execution_id", "instance_id", "offset", "data")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    instance_id: str
    offset: int
    data: bytes
    def __init__(self, execution_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class PauseInvocationRequest(_message.Message):
    __slots__ = ("invoke_id",)
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    def __init__(self, invoke_id: _Optional[str] = ...) -> None: ...

class PauseInvocationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResumeInvocationRequest(_message.Message):
    __slots__ = ("invoke_id",)
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    def __init__(self, invoke_id: _Optional[str] = ...) -> None: ...

class ResumeInvocationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ParameterValues(_message.Message):
    __slots__ = ("values",)
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.ScalarMap[str, str]
    def __init__(self, values: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ModifyInvocationRequest(_message.Message):
    __slots__ = ("invoke_id", "frequency", "parameters", "timeout", "command_content", "content_encoding", "add_instance_ids", "remove_instance_ids", "resource_tags")
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    COMMAND_CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_ENCODING_FIELD_NUMBER: _ClassVar[int]
    ADD_INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TAGS_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    frequency: str
    parameters: ParameterValues
    timeout: int
    command_content: str
    content_encoding: _common_pb2.ContentEncoding
    add_instance_ids: _containers.RepeatedScalarFieldContainer[str]
    remove_instance_ids: _containers.RepeatedScalarFieldContainer[str]
    resource_tags: ResourceTags
    def __init__(self, invoke_id: _Optional[str] = ..., frequency: _Optional[str] = ..., parameters: _Optional[_Union[ParameterValues, _Mapping]] = ..., timeout: _Optional[int] = ..., command_content: _Optional[str] = ..., content_encoding: _Optional[_Union[_common_pb2.ContentEncoding, str]] = ..., add_instance_ids: _Optional[_Iterable[str]] = ..., remove_instance_ids: _Optional[_Iterable[str]] = ..., resource_tags: _Optional[_Union[ResourceTags, _Mapping]] = ...) -> None: ...

class ResourceTags(_message.Message):
    __slots__ = ("tags",)
    TAGS_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    def __init__(self, tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ...) -> None: ...

class ModifyInvocationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TriggerInvocationRequest(_message.Message):
    __slots__ = ("invoke_id", "instance_ids")
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    invoke_id: str
    instance_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, invoke_id: _Optional[str] = ..., instance_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class TriggerInvocationResponse(_message.Message):
    __slots__ = ("instance_ids", "busy_instance_ids", "scheduled_time")
    INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    BUSY_INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    instance_ids: _containers.RepeatedScalarFieldContainer[str]
    busy_instance_ids: _containers.RepeatedScalarFieldContainer[str]
    scheduled_time: _timestamp_pb2.Timestamp
    def __init__(self, instance_ids: _Optional[_Iterable[str]] = ..., busy_instance_ids: _Optional[_Iterable[str]] = ..., scheduled_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
