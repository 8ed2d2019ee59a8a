from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class InvocationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVOCATION_STATUS_UNSPECIFIED: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_PENDING: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_SCHEDULED: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_RUNNING: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_SUCCESS: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_FAILED: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_ERROR: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_TIMEOUT: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_INVALID: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_ABORTED: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_CANCELLED: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_STOPPING: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_TERMINATED: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_STOPPED: _ClassVar[InvocationStatus]
    INVOCATION_STATUS_PARTIAL_FAILED: _ClassVar[InvocationStatus]

class RepeatMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPEAT_MODE_UNSPECIFIED: _ClassVar[RepeatMode]
    REPEAT_MODE_ONCE: _ClassVar[RepeatMode]
    REPEAT_MODE_PERIOD: _ClassVar[RepeatMode]
    REPEAT_MODE_NEXT_REBOOT_ONLY: _ClassVar[RepeatMode]
    REPEAT_MODE_EVERY_REBOOT: _ClassVar[RepeatMode]
    REPEAT_MODE_DRY_RUN: _ClassVar[RepeatMode]

class CommandType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_TYPE_UNSPECIFIED: _ClassVar[CommandType]
    COMMAND_TYPE_RUN_SHELL_SCRIPT: _ClassVar[CommandType]
    COMMAND_TYPE_RUN_POWER_SHELL_SCRIPT: _ClassVar[CommandType]
    COMMAND_TYPE_RUN_BAT_SCRIPT: _ClassVar[CommandType]

class ContentEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTENT_ENCODING_UNSPECIFIED: _ClassVar[ContentEncoding]
    CONTENT_ENCODING_PLAIN_TEXT: _ClassVar[ContentEncoding]
    CONTENT_ENCODING_BASE64: _ClassVar[ContentEncoding]

class OsType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OS_TYPE_UNSPECIFIED: _ClassVar[OsType]
    OS_TYPE_LINUX: _ClassVar[OsType]
    OS_TYPE_WINDOWS: _ClassVar[OsType]
    OS_TYPE_FREEBSD: _ClassVar[OsType]

class ResourceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESOURCE_TYPE_UNSPECIFIED: _ClassVar[ResourceType]
    RESOURCE_TYPE_INSTANCE: _ClassVar[ResourceType]
    RESOURCE_TYPE_COMMAND: _ClassVar[ResourceType]
    RESOURCE_TYPE_INVOCATION: _ClassVar[ResourceType]
    RESOURCE_TYPE_ACTIVATION: _ClassVar[ResourceType]
INVOCATION_STATUS_UNSPECIFIED: InvocationStatus
INVOCATION_STATUS_PENDING: InvocationStatus
INVOCATION_STATUS_SCHEDULED: InvocationStatus
INVOCATION_STATUS_RUNNING: InvocationStatus
INVOCATION_STATUS_SUCCESS: InvocationStatus
INVOCATION_STATUS_FAILED: InvocationStatus
INVOCATION_STATUS_ERROR: InvocationStatus
INVOCATION_STATUS_TIMEOUT: InvocationStatus
INVOCATION_STATUS_INVALID: InvocationStatus
INVOCATION_STATUS_ABORTED: InvocationStatus
INVOCATION_STATUS_CANCELLED: InvocationStatus
INVOCATION_STATUS_STOPPING: InvocationStatus
INVOCATION_STATUS_TERMINATED: InvocationStatus
INVOCATION_STATUS_STOPPED: InvocationStatus
INVOCATION_STATUS_PARTIAL_FAILED: InvocationStatus
REPEAT_MODE_UNSPECIFIED: RepeatMode
REPEAT_MODE_ONCE: RepeatMode
REPEAT_MODE_PERIOD: RepeatMode
REPEAT_MODE_NEXT_REBOOT_ONLY: RepeatMode
REPEAT_MODE_EVERY_REBOOT: RepeatMode
REPEAT_MODE_DRY_RUN: RepeatMode
COMMAND_TYPE_UNSPECIFIED: CommandType
COMMAND_TYPE_RUN_SHELL_SCRIPT: CommandType
COMMAND_TYPE_RUN_POWER_SHELL_SCRIPT: CommandType
COMMAND_TYPE_RUN_BAT_SCRIPT: CommandType
CONTENT_ENCODING_UNSPECIFIED: ContentEncoding
CONTENT_ENCODING_PLAIN_TEXT: ContentEncoding
CONTENT_ENCODING_BASE64: ContentEncoding
OS_TYPE_UNSPECIFIED: OsType
OS_TYPE_LINUX: OsType
OS_TYPE_WINDOWS: OsType
OS_TYPE_FREEBSD: OsType
RESOURCE_TYPE_UNSPECIFIED: ResourceType
RESOURCE_TYPE_INSTANCE: ResourceType
RESOURCE_TYPE_COMMAND: ResourceType
RESOURCE_TYPE_INVOCATION: ResourceType
RESOURCE_TYPE_ACTIVATION: ResourceType

class Tag(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
