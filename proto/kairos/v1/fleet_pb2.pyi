import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kairos.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Instance(_message.Message):
    __slots__ = ("instance_id", "instance_name", "os_type", "agent_version", "time_zone", "online", "last_heartbeat_time", "last_boot_time", "registration_time", "tags")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    OS_TYPE_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_BOOT_TIME_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_TIME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    instance_name: str
    os_type: _common_pb2.OsType
    agent_version: str
    time_zone: str
    online: bool
    last_heartbeat_time: _timestamp_pb2.Timestamp
    last_boot_time: _timestamp_pb2.Timestamp
    registration_time: _timestamp_pb2.Timestamp
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    def __init__(self, instance_id: _Optional[str] = ..., instance_name: _Optional[str] = ..., os_type: _Optional[_Union[_common_pb2.OsType, str]] = ..., agent_version: _Optional[str] = ..., time_zone: _Optional[str] = ..., online: _Optional[bool] = ..., last_heartbeat_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_boot_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., registration_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ...) -> None: ...

class DescribeInstancesRequest(_message.Message):
    __slots__ = ("instance_ids", "max_results", "next_token", "tags")
    INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    instance_ids: _containers.RepeatedScalarFieldContainer[str]
    max_results: int
    next_token: str
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    def __init__(self, instance_ids: _Optional[_Iterable[str]] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ...) -> None: ...

class DescribeInstancesResponse(_message.Message):
    __slots__ = ("instances", "total_count", "next_token")
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[Instance]
    total_count: int
    next_token: str
    def __init__(self, instances: _Optional[_Iterable[_Union[Instance, _Mapping]]] = ..., total_count: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class DescribeAgentStatusRequest(_message.Message):
    __slots__ = ("instance_ids", "max_results", "next_token", "tags")
    INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    instance_ids: _containers.RepeatedScalarFieldContainer[str]
    max_results: int
    next_token: str
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    def __init__(self, instance_ids: _Optional[_Iterable[str]] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ...) -> None: ...

class AgentStatus(_message.Message):
    __slots__ = ("instance_id", "instance_name", "online", "agent_version", "os_type", "last_heartbeat_time", "time_zone", "tags")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    OS_TYPE_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_TIME_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    instance_name: str
    online: bool
    agent_version: str
    os_type: _common_pb2.OsType
    last_heartbeat_time: _timestamp_pb2.Timestamp
    time_zone: str
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    def __init__(self, instance_id: _Optional[str] = ..., instance_name: _Optional[str] = ..., online: _Optional[bool] = ..., agent_version: _Optional[str] = ..., os_type: _Optional[_Union[_common_pb2.OsType, str]] = ..., last_heartbeat_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., time_zone: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ...) -> None: ...

class DescribeAgentStatusResponse(_message.Message):
    __slots__ = ("instances", "total_count", "next_token")
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[AgentStatus]
    total_count: int
    next_token: str
    def __init__(self, instances: _Optional[_Iterable[_Union[AgentStatus, _Mapping]]] = ..., total_count: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class DescribeAccountAttributesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AccountAttribute(_message.Message):
    __slots__ = ("name", "limit", "used")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    name: str
    limit: int
    used: int
    def __init__(self, name: _Optional[str] = ..., limit: _Optional[int] = ..., used: _Optional[int] = ...) -> None: ...

class DescribeAccountAttributesResponse(_message.Message):
    __slots__ = ("attributes",)
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    attributes: _containers.RepeatedCompositeFieldContainer[AccountAttribute]
    def __init__(self, attributes: _Optional[_Iterable[_Union[AccountAttribute, _Mapping]]] = ...) -> None: ...
