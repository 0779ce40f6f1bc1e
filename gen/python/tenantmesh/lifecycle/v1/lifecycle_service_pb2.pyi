from buf.validate import validate_pb2 as _validate_pb2
from tenantmesh.type.v1 import access_pb2 as _access_pb2
from tenantmesh.type.v1 import database_pb2 as _database_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProvisionTenantRequest(_message.Message):
    __slots__ = ("tenant_id", "database")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    database: _database_pb2.DatabasePlacement
    def __init__(self, tenant_id: _Optional[str] = ..., database: _Optional[_Union[_database_pb2.DatabasePlacement, _Mapping]] = ...) -> None: ...

class ProvisionTenantResponse(_message.Message):
    __slots__ = ("service", "schema_version")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    service: str
    schema_version: str
    def __init__(self, service: _Optional[str] = ..., schema_version: _Optional[str] = ...) -> None: ...

class DeprovisionTenantRequest(_message.Message):
    __slots__ = ("tenant_id", "database")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    database: _database_pb2.DatabasePlacement
    def __init__(self, tenant_id: _Optional[str] = ..., database: _Optional[_Union[_database_pb2.DatabasePlacement, _Mapping]] = ...) -> None: ...

class DeprovisionTenantResponse(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: str
    def __init__(self, service: _Optional[str] = ...) -> None: ...
