from kairos.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TagResourcesRequest(_message.Message):
    __slots__ = ("resource_type", "resource_ids", "tags")
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    resource_type: _common_pb2.ResourceType
    resource_ids: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    def __init__(self, resource_type: _Optional[_Union[_common_pb2.ResourceType, str]] = ..., resource_ids: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ...) -> None: ...

class TagResourcesResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UntagResourcesRequest(_message.Message):
    __slots__ = ("resource_type", "resource_ids", "tag_keys", "all")
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    TAG_KEYS_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    resource_type: _common_pb2.ResourceType
    resource_ids: _containers.RepeatedScalarFieldContainer[str]
    tag_keys: _containers.RepeatedScalarFieldContainer[str]
    all: bool
    def __init__(self, resource_type: _Optional[_Union[_common_pb2.ResourceType, str]] = ..., resource_ids: _Optional[_Iterable[str]] = ..., tag_keys: _Optional[_Iterable[str]] = ..., all: _Optional[bool] = ...) -> None: ...

class UntagResourcesResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTagResourcesRequest(_message.Message):
    __slots__ = ("resource_type", "resource_ids", "tags", "max_results", "next_token")
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    resource_type: _common_pb2.ResourceType
    resource_ids: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedCompositeFieldContainer[_common_pb2.Tag]
    max_results: int
    next_token: str
    def __init__(self, resource_type: _Optional[_Union[_common_pb2.ResourceType, str]] = ..., resource_ids: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[_Union[_common_pb2.Tag, _Mapping]]] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class TagResource(_message.Message):
    __slots__ = ("resource_type", "resource_id", "tag_key", "tag_value", "reported")
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_KEY_FIELD_NUMBER: _ClassVar[int]
    TAG_VALUE_FIELD_NUMBER: _ClassVar[int]
    REPORTED_FIELD_NUMBER: _ClassVar[int]
    resource_type: _common_pb2.ResourceType
    resource_id: str
    tag_key: str
    tag_value: str
    reported: bool
    def __init__(self, resource_type: _Optional[_Union[_common_pb2.ResourceType, str]] = ..., resource_id: _Optional[str] = ..., tag_key: _Optional[str] = ..., tag_value: _Optional[str] = ..., reported: _Optional[bool] = ...) -> None: ...

class ListTagResourcesResponse(_message.Message):
    __slots__ = ("tag_resources", "next_token")
    TAG_RESOURCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tag_resources: _containers.RepeatedCompositeFieldContainer[TagResource]
    next_token: str
    def __init__(self, tag_resources: _Optional[_Iterable[_Union[TagResource, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...
