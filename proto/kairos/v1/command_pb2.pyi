import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kairos.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ParameterType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARAMETER_TYPE_UNSPECIFIED: _ClassVar[ParameterType]
    PARAMETER_TYPE_STRING: _ClassVar[ParameterType]
    PARAMETER_TYPE_INTEGER: _ClassVar[ParameterType]
    PARAMETER_TYPE_BOOLEAN: _ClassVar[ParameterType]
PARAMETER_TYPE_UNSPECIFIED: ParameterType
PARAMETER_TYPE_STRING: ParameterType
PARAMETER_TYPE_INTEGER: ParameterType
PARAMETER_TYPE_BOOLEAN: ParameterType

class CreateCommandRequest(_message.Message):
    __slots__ = ("name", "description", "type", "command_content", "content_encoding", "working_dir", "timeout", "enable_parameter", "client_token", "tags")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_ENCODING_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    ENABLE_PARAMETER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    type: _common_pb2.CommandType
    command_content: str
    content_encoding: _common_pb2.ContentEncoding
    working_dir: str
    timeout: int
    enable_parameter: bool
    client_token: str
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[_Union[_common_pb2.CommandType, str]] = ..., command_content: _Optional[str] = ..., content_encoding: _Optional[_Union[_common_pb2.ContentEncoding, str]] = ..., working_dir: _Optional[str] = ..., timeout: _Optional[int] = ..., enable_parameter: _Optional[bool] = ..., client_token: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ...) -> None: ...

class CreateCommandResponse(_message.Message):
    __slots__ = ("command_id",)
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    def __init__(self, command_id: _Optional[str] = ...) -> None: ...

class ModifyCommandRequest(_message.Message):
    __slots__ = ("command_id", "name", "description", "timeout", "working_dir")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIR_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    name: str
    description: str
    timeout: int
    working_dir: str
    def __init__(self, command_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., timeout: _Optional[int] = ..., working_dir: _Optional[str] = ...) -> None: ...

class ModifyCommandResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteCommandRequest(_message.Message):
    __slots__ = ("command_id",)
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    def __init__(self, command_id: _Optional[str] = ...) -> None: ...

class DeleteCommandResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DescribeCommandsRequest(_message.Message):
    __slots__ = ("command_id", "name", "type", "max_results", "next_token", "tags", "provider")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    name: str
    type: _common_pb2.CommandType
    max_results: int
    next_token: str
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    provider: str
    def __init__(self, command_id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[_Union[_common_pb2.CommandType, str]] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ..., provider: _Optional[str] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ("command_id", "name", "description", "type", "command_content", "working_dir", "timeout", "enable_parameter", "parameter_names", "creation_time", "invoke_times", "tags", "provider", "parameter_definitions")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_CONTENT_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    ENABLE_PARAMETER_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_NAMES_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    INVOKE_TIMES_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_DEFINITIONS_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    name: str
    description: str
    type: _common_pb2.CommandType
    command_content: str
    working_dir: str
    timeout: int
    enable_parameter: bool
    parameter_names: _containers.RepeatedScalarFieldContainer[str]
    creation_time: _timestamp_pb2.Timestamp
    invoke_times: int
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    provider: str
    parameter_definitions: _containers.RepeatedCompositeFieldContainer[ParameterDefinition]
    def __init__(self, command_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[_Union[_common_pb2.CommandType, str]] = ..., command_content: _Optional[str] = ..., working_dir: _Optional[str] = ..., timeout: _Optional[int] = ..., enable_parameter: _Optional[bool] = ..., parameter_names: _Optional[_Iterable[str]] = ..., creation_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., invoke_times: _Optional[int] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ..., provider: _Optional[str] = ..., parameter_definitions: _Optional[_Iterable[_Union[ParameterDefinition, _Mapping]]] = ...) -> None: ...

class ParameterDefinition(_message.Message):
    __slots__ = ("name", "description", "type", "default_value", "required", "possible_values", "pattern_allowed", "min_value", "max_value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    POSSIBLE_VALUES_FIELD_NUMBER: _ClassVar[int]
    PATTERN_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    type: ParameterType
    default_value: str
    required: bool
    possible_values: _containers.RepeatedScalarFieldContainer[str]
    pattern_allowed: str
    min_value: int
    max_value: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[_Union[ParameterType, str]] = ..., default_value: _Optional[str] = ..., required: _Optional[bool] = ..., possible_values: _Optional[_Iterable[str]] = ..., pattern_allowed: _Optional[str] = ..., min_value: _Optional[int] = ..., max_value: _Optional[int] = ...) -> None: ...

class DescribeCommandsResponse(_message.Message):
    __slots__ = ("commands", "total_count", "next_token")
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    commands: _containers.RepeatedCompositeFieldContainer[Command]
    total_count: int
    next_token: str
    def __init__(self, commands: _Optional[_Iterable[_Union[Command, _Mapping]]] = ..., total_count: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...
