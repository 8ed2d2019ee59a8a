import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kairos.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateActivationRequest(_message.Message):
    __slots__ = ("instance_name", "instance_count", "time_to_live_in_hours", "ip_address_range", "description", "tags")
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_LIVE_IN_HOURS_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESS_RANGE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    instance_name: str
    instance_count: int
    time_to_live_in_hours: int
    ip_address_range: str
    description: str
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    def __init__(self, instance_name: _Optional[str] = ..., instance_count: _Optional[int] = ..., time_to_live_in_hours: _Optional[int] = ..., ip_address_range: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ...) -> None: ...

class CreateActivationResponse(_message.Message):
    __slots__ = ("activation_id", "activation_code")
    ACTIVATION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_CODE_FIELD_NUMBER: _ClassVar[int]
    activation_id: str
    activation_code: str
    def __init__(self, activation_id: _Optional[str] = ..., activation_code: _Optional[str] = ...) -> None: ...

class DescribeActivationsRequest(_message.Message):
    __slots__ = ("activation_id", "instance_name", "max_results", "next_token", "tags")
    ACTIVATION_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    activation_id: str
    instance_name: str
    max_results: int
    next_token: str
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    def __init__(self, activation_id: _Optional[str] = ..., instance_name: _Optional[str] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ...) -> None: ...

class Activation(_message.Message):
    __slots__ = ("activation_id", "instance_name", "instance_count", "registered_count", "deregistered_count", "ip_address_range", "description", "disabled", "creation_time", "expiry_time", "tags")
    ACTIVATION_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DEREGISTERED_COUNT_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESS_RANGE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_TIME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    activation_id: str
    instance_name: str
    instance_count: int
    registered_count: int
    deregistered_count: int
    ip_address_range: str
    description: str
    disabled: bool
    creation_time: _timestamp_pb2.Timestamp
    expiry_time: _timestamp_pb2.Timestamp
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    def __init__(self, activation_id: _Optional[str] = ..., instance_name: _Optional[str] = ..., instance_count: _Optional[int] = ..., registered_count: _Optional[int] = ..., deregistered_count: _Optional[int] = ..., ip_address_range: _Optional[str] = ..., description: _Optional[str] = ..., disabled: _Optional[bool] = ..., creation_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expiry_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ...) -> None: ...

class DescribeActivationsResponse(_message.Message):
    __slots__ = ("activations", "total_count", "next_token")
    ACTIVATIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    activations: _containers.RepeatedCompositeFieldContainer[Activation]
    total_count: int
    next_token: str
    def __init__(self, activations: _Optional[_Iterable[_Union[Activation, _Mapping]]] = ..., total_count: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class DisableActivationRequest(_message.Message):
    __slots__ = ("activation_id",)
    ACTIVATION_ID_FIELD_NUMBER: _ClassVar[int]
    activation_id: str
    def __init__(self, activation_id: _Optional[str] = ...) -> None: ...

class DisableActivationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteActivationRequest(_message.Message):
    __slots__ = ("activation_id",)
    ACTIVATION_ID_FIELD_NUMBER: _ClassVar[int]
    activation_id: str
    def __init__(self, activation_id: _Optional[str] = ...) -> None: ...

class DeleteActivationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeregisterManagedInstanceRequest(_message.Message):
    __slots__ = ("instance_id",)
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    def __init__(self, instance_id: _Optional[str] = ...) -> None: ...

class DeregisterManagedInstanceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
