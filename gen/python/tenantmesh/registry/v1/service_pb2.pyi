import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ServiceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVICE_KIND_UNSPECIFIED: _ClassVar[ServiceKind]
    SERVICE_KIND_INTERNAL_GRPC: _ClassVar[ServiceKind]
    SERVICE_KIND_EXTERNAL_HTTP: _ClassVar[ServiceKind]

class ContractFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTRACT_FORMAT_UNSPECIFIED: _ClassVar[ContractFormat]
    CONTRACT_FORMAT_DESCRIPTOR_SET: _ClassVar[ContractFormat]
    CONTRACT_FORMAT_OPENAPI: _ClassVar[ContractFormat]
SERVICE_KIND_UNSPECIFIED: ServiceKind
SERVICE_KIND_INTERNAL_GRPC: ServiceKind
SERVICE_KIND_EXTERNAL_HTTP: ServiceKind
CONTRACT_FORMAT_UNSPECIFIED: ContractFormat
CONTRACT_FORMAT_DESCRIPTOR_SET: ContractFormat
CONTRACT_FORMAT_OPENAPI: ContractFormat

class Service(_message.Message):
    __slots__ = ("name", "display_name", "description", "kind", "owner", "tags", "config_schema", "menu_entries", "forms", "permissions", "versions", "health_check", "create_time", "update_time", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    MENU_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    FORMS_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    description: str
    kind: ServiceKind
    owner: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    config_schema: _struct_pb2.Struct
    menu_entries: _containers.RepeatedCompositeFieldContainer[MenuEntry]
    forms: _containers.RepeatedCompositeFieldContainer[FormContribution]
    permissions: _containers.RepeatedCompositeFieldContainer[PermissionDefinition]
    versions: _containers.RepeatedCompositeFieldContainer[ServiceVersion]
    health_check: HealthCheck
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., kind: _Optional[_Union[ServiceKind, str]] = ..., owner: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., config_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., menu_entries: _Optional[_Iterable[_Union[MenuEntry, _Mapping]]] = ..., forms: _Optional[_Iterable[_Union[FormContribution, _Mapping]]] = ..., permissions: _Optional[_Iterable[_Union[PermissionDefinition, _Mapping]]] = ..., versions: _Optional[_Iterable[_Union[ServiceVersion, _Mapping]]] = ..., health_check: _Optional[_Union[HealthCheck, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class ServiceVersion(_message.Message):
    __slots__ = ("version", "descriptor_set", "openapi", "contract_format", "create_time")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_SET_FIELD_NUMBER: _ClassVar[int]
    OPENAPI_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    version: str
    descriptor_set: bytes
    openapi: _struct_pb2.Struct
    contract_format: ContractFormat
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[str] = ..., descriptor_set: _Optional[bytes] = ..., openapi: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., contract_format: _Optional[_Union[ContractFormat, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MenuEntry(_message.Message):
    __slots__ = ("id", "label", "route", "icon", "order", "parent", "required_permission", "label_translations")
    class LabelTranslationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_PERMISSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_TRANSLATIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    label: str
    route: str
    icon: str
    order: int
    parent: str
    required_permission: str
    label_translations: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., label: _Optional[str] = ..., route: _Optional[str] = ..., icon: _Optional[str] = ..., order: _Optional[int] = ..., parent: _Optional[str] = ..., required_permission: _Optional[str] = ..., label_translations: _Optional[_Mapping[str, str]] = ...) -> None: ...

class FormContribution(_message.Message):
    __slots__ = ("id", "title", "description", "schema")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    description: str
    schema: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class PermissionDefinition(_message.Message):
    __slots__ = ("name", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class HealthCheck(_message.Message):
    __slots__ = ("interval_seconds", "timeout_seconds", "unhealthy_threshold", "healthy_threshold", "http_path", "grpc_service")
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    UNHEALTHY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    HTTP_PATH_FIELD_NUMBER: _ClassVar[int]
    GRPC_SERVICE_FIELD_NUMBER: _ClassVar[int]
    interval_seconds: int
    timeout_seconds: int
    unhealthy_threshold: int
    healthy_threshold: int
    http_path: str
    grpc_service: str
    def __init__(self, interval_seconds: _Optional[int] = ..., timeout_seconds: _Optional[int] = ..., unhealthy_threshold: _Optional[int] = ..., healthy_threshold: _Optional[int] = ..., http_path: _Optional[str] = ..., grpc_service: _Optional[str] = ...) -> None: ...
