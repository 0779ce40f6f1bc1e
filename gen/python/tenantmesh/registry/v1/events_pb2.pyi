from tenantmesh.registry.v1 import instance_pb2 as _instance_pb2
from tenantmesh.registry.v1 import service_pb2 as _service_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChangeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_TYPE_UNSPECIFIED: _ClassVar[ChangeType]
    CHANGE_TYPE_ADDED: _ClassVar[ChangeType]
    CHANGE_TYPE_UPDATED: _ClassVar[ChangeType]
    CHANGE_TYPE_REMOVED: _ClassVar[ChangeType]
CHANGE_TYPE_UNSPECIFIED: ChangeType
CHANGE_TYPE_ADDED: ChangeType
CHANGE_TYPE_UPDATED: ChangeType
CHANGE_TYPE_REMOVED: ChangeType

class ServiceChanged(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: _service_pb2.Service
    def __init__(self, service: _Optional[_Union[_service_pb2.Service, _Mapping]] = ...) -> None: ...

class TenantServiceChanged(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: str
    def __init__(self, service: _Optional[str] = ...) -> None: ...

class InstanceChanged(_message.Message):
    __slots__ = ("change", "instance")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    change: ChangeType
    instance: _instance_pb2.Instance
    def __init__(self, change: _Optional[_Union[ChangeType, str]] = ..., instance: _Optional[_Union[_instance_pb2.Instance, _Mapping]] = ...) -> None: ...
