from google.api import annotations_pb2 as _annotations_pb2
from tenantmesh.type.v1 import access_pb2 as _access_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetServerInfoResponse(_message.Message):
    __slots__ = ("product", "version", "services")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    product: str
    version: str
    services: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, product: _Optional[str] = ..., version: _Optional[str] = ..., services: _Optional[_Iterable[str]] = ...) -> None: ...
