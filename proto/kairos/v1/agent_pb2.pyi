import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kairos.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterRequest(_message.Message):
    __slots__ = ("activation_id", "activation_code", "hostname", "registration_id")
    ACTIVATION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_CODE_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    activation_id: str
    activation_code: str
    hostname: str
    registration_id: str
    def __init__(self, activation_id: _Optional[str] = ..., activation_code: _Optional[str] = ..., hostname: _Optional[str] = ..., registration_id: _Optional[str] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("instance_id", "instance_name", "credential")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    instance_name: str
    credential: str
    def __init__(self, instance_id: _Optional[str] = ..., instance_name: _Optional[str] = ..., credential: _Optional[str] = ...) -> None: ...

class AgentMessage(_message.Message):
    __slots__ = ("hello", "heartbeat", "ack", "started", "output", "result", "reports")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    heartbeat: Heartbeat
    ack: TaskAck
    started: ExecutionStarted
    output: ExecutionOutput
    result: ExecutionResult
    reports: Reports
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., ack: _Optional[_Union[TaskAck, _Mapping]] = ..., started: _Optional[_Union[ExecutionStarted, _Mapping]] = ..., output: _Optional[_Union[ExecutionOutput, _Mapping]] = ..., result: _Optional[_Union[ExecutionResult, _Mapping]] = ..., reports: _Optional[_Union[Reports, _Mapping]] = ...) -> None: ...

class Reports(_message.Message):
    __slots__ = ("reports",)
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[Report]
    def __init__(self, reports: _Optional[_Iterable[_Union[Report, _Mapping]]] = ...) -> None: ...

class Report(_message.Message):
    __slots__ = ("ack", "started", "output", "result")
    ACK_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ack: TaskAck
    started: ExecutionStarted
    output: ExecutionOutput
    result: ExecutionResult
    def __init__(self, ack: _Optional[_Union[TaskAck, _Mapping]] = ..., started: _Optional[_Union[ExecutionStarted, _Mapping]] = ..., output: _Optional[_Union[ExecutionOutput, _Mapping]] = ..., result: _Optional[_Union[ExecutionResult, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("instance_id", "instance_name", "os_type", "agent_version", "time_zone", "boot_id", "held", "protocol", "tags")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    OS_TYPE_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    instance_name: str
    os_type: _common_pb2.OsType
    agent_version: str
    time_zone: str
    boot_id: str
    held: HeldExecutions
    protocol: int
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    def __init__(self, instance_id: _Optional[str] = ..., instance_name: _Optional[str] = ..., os_type: _Optional[_Union[_common_pb2.OsType, str]] = ..., agent_version: _Optional[str] = ..., time_zone: _Optional[str] = ..., boot_id: _Optional[str] = ..., held: _Optional[_Union[HeldExecutions, _Mapping]] = ..., protocol: _Optional[int] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ...) -> None: ...

class HeldExecutions(_message.Message):
    __slots__ = ("execution_ids",)
    EXECUTION_IDS_FIELD_NUMBER: _ClassVar[int]
    execution_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, execution_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("agent_time", "running")
    AGENT_TIME_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    agent_time: _timestamp_pb2.Timestamp
    running: int
    def __init__(self, agent_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., running: _Optional[int] = ...) -> None: ...

class TaskAck(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class ExecutionStarted(_message.Message):
    __slots__ = ("execution_id", "start_time")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    start_time: _timestamp_pb2.Timestamp
    def __init__(self, execution_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExecutionOutput(_message.Message):
    __slots__ = ("execution_id", "offset", "data")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    offset: int
    data: bytes
    def __init__(self, execution_id: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class ExecutionResult(_message.Message):
    __slots__ = ("execution_id", "status", "exit_code", "error_code", "error_info", "output", "dropped", "start_time", "finish_time")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_INFO_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    status: _common_pb2.InvocationStatus
    exit_code: int
    error_code: str
    error_info: str
    output: bytes
    dropped: int
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    def __init__(self, execution_id: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.InvocationStatus, str]] = ..., exit_code: _Optional[int] = ..., error_code: _Optional[str] = ..., error_info: _Optional[str] = ..., output: _Optional[bytes] = ..., dropped: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DispatcherMessage(_message.Message):
    __slots__ = ("welcome", "task", "stop", "result_ack", "shutdown", "result_acks")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    RESULT_ACK_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_FIELD_NUMBER: _ClassVar[int]
    RESULT_ACKS_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    task: Task
    stop: StopTask
    result_ack: ResultAck
    shutdown: Shutdown
    result_acks: ResultAcks
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., task: _Optional[_Union[Task, _Mapping]] = ..., stop: _Optional[_Union[StopTask, _Mapping]] = ..., result_ack: _Optional[_Union[ResultAck, _Mapping]] = ..., shutdown: _Optional[_Union[Shutdown, _Mapping]] = ..., result_acks: _Optional[_Union[ResultAcks, _Mapping]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("heartbeat_interval_seconds", "server_time", "protocol")
    HEARTBEAT_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    heartbeat_interval_seconds: int
    server_time: _timestamp_pb2.Timestamp
    protocol: int
    def __init__(self, heartbeat_interval_seconds: _Optional[int] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., protocol: _Optional[int] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("execution_id", "invoke_id", "command_id", "type", "script", "working_dir", "username", "timeout", "dry_run", "container_id", "container_name", "scheduled_time", "file")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    INVOKE_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIR_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    invoke_id: str
    command_id: str
    type: _common_pb2.CommandType
    script: bytes
    working_dir: str
    username: str
    timeout: int
    dry_run: bool
    container_id: str
    container_name: str
    scheduled_time: _timestamp_pb2.Timestamp
    file: FileTask
    def __init__(self, execution_id: _Optional[str] = ..., invoke_id: _Optional[str] = ..., command_id: _Optional[str] = ..., type: _Optional[_Union[_common_pb2.CommandType, str]] = ..., script: _Optional[bytes] = ..., working_dir: _Optional[str] = ..., username: _Optional[str] = ..., timeout: _Optional[int] = ..., dry_run: _Optional[bool] = ..., container_id: _Optional[str] = ..., container_name: _Optional[str] = ..., scheduled_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., file: _Optional[_Union[FileTask, _Mapping]] = ...) -> None: ...

class FileTask(_message.Message):
    __slots__ = ("name", "target_dir", "content", "mode", "owner", "group", "overwrite")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TARGET_DIR_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    name: str
    target_dir: str
    content: bytes
    mode: int
    owner: str
    group: str
    overwrite: bool
    def __init__(self, name: _Optional[str] = ..., target_dir: _Optional[str] = ..., content: _Optional[bytes] = ..., mode: _Optional[int] = ..., owner: _Optional[str] = ..., group: _Optional[str] = ..., overwrite: _Optional[bool] = ...) -> None: ...

class StopTask(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class ResultAck(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class ResultAcks(_message.Message):
    __slots__ = ("execution_ids",)
    EXECUTION_IDS_FIELD_NUMBER: _ClassVar[int]
    execution_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, execution_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Shutdown(_message.Message):
    __slots__ = ("reconnect_after_ms", "reason")
    RECONNECT_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    reconnect_after_ms: int
    reason: str
    def __init__(self, reconnect_after_ms: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...
