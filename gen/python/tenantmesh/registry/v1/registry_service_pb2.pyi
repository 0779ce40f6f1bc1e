import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from tenantmesh.registry.v1 import enabled_service_pb2 as _enabled_service_pb2
from tenantmesh.registry.v1 import instance_pb2 as _instance_pb2
from tenantmesh.registry.v1 import service_pb2 as _service_pb2
from tenantmesh.type.v1 import access_pb2 as _access_pb2
from tenantmesh.type.v1 import menu_pb2 as _menu_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ServiceView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVICE_VIEW_UNSPECIFIED: _ClassVar[ServiceView]
    SERVICE_VIEW_BASIC: _ClassVar[ServiceView]
    SERVICE_VIEW_FULL: _ClassVar[ServiceView]

class WatchEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WATCH_EVENT_TYPE_UNSPECIFIED: _ClassVar[WatchEventType]
    WATCH_EVENT_TYPE_ADDED: _ClassVar[WatchEventType]
    WATCH_EVENT_TYPE_UPDATED: _ClassVar[WatchEventType]
    WATCH_EVENT_TYPE_REMOVED: _ClassVar[WatchEventType]
    WATCH_EVENT_TYPE_SYNCED: _ClassVar[WatchEventType]
    WATCH_EVENT_TYPE_KEEPALIVE: _ClassVar[WatchEventType]
SERVICE_VIEW_UNSPECIFIED: ServiceView
SERVICE_VIEW_BASIC: ServiceView
SERVICE_VIEW_FULL: ServiceView
WATCH_EVENT_TYPE_UNSPECIFIED: WatchEventType
WATCH_EVENT_TYPE_ADDED: WatchEventType
WATCH_EVENT_TYPE_UPDATED: WatchEventType
WATCH_EVENT_TYPE_REMOVED: WatchEventType
WATCH_EVENT_TYPE_SYNCED: WatchEventType
WATCH_EVENT_TYPE_KEEPALIVE: WatchEventType

class RegisterServiceRequest(_message.Message):
    __slots__ = ("service", "request_id", "force")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    service: _service_pb2.Service
    request_id: str
    force: bool
    def __init__(self, service: _Optional[_Union[_service_pb2.Service, _Mapping]] = ..., request_id: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class RegisterServiceResponse(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: _service_pb2.Service
    def __init__(self, service: _Optional[_Union[_service_pb2.Service, _Mapping]] = ...) -> None: ...

class GetServiceRequest(_message.Message):
    __slots__ = ("name", "view")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    name: str
    view: ServiceView
    def __init__(self, name: _Optional[str] = ..., view: _Optional[_Union[ServiceView, str]] = ...) -> None: ...

class GetServiceResponse(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: _service_pb2.Service
    def __init__(self, service: _Optional[_Union[_service_pb2.Service, _Mapping]] = ...) -> None: ...

class ListServicesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "kind", "tags", "view")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    kind: _service_pb2.ServiceKind
    tags: _containers.RepeatedScalarFieldContainer[str]
    view: ServiceView
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., kind: _Optional[_Union[_service_pb2.ServiceKind, str]] = ..., tags: _Optional[_Iterable[str]] = ..., view: _Optional[_Union[ServiceView, str]] = ...) -> None: ...

class ListServicesResponse(_message.Message):
    __slots__ = ("services", "next_page_token")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[_service_pb2.Service]
    next_page_token: str
    def __init__(self, services: _Optional[_Iterable[_Union[_service_pb2.Service, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateServiceRequest(_message.Message):
    __slots__ = ("service", "update_mask")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    service: _service_pb2.Service
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, service: _Optional[_Union[_service_pb2.Service, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateServiceResponse(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: _service_pb2.Service
    def __init__(self, service: _Optional[_Union[_service_pb2.Service, _Mapping]] = ...) -> None: ...

class DeleteServiceRequest(_message.Message):
    __slots__ = ("name", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    etag: str
    def __init__(self, name: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class DeleteServiceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RegisterServiceVersionRequest(_message.Message):
    __slots__ = ("service", "version", "force")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: _service_pb2.ServiceVersion
    force: bool
    def __init__(self, service: _Optional[str] = ..., version: _Optional[_Union[_service_pb2.ServiceVersion, _Mapping]] = ..., force: _Optional[bool] = ...) -> None: ...

class RegisterServiceVersionResponse(_message.Message):
    __slots__ = ("service", "forced_breaks")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    FORCED_BREAKS_FIELD_NUMBER: _ClassVar[int]
    service: _service_pb2.Service
    forced_breaks: _containers.RepeatedCompositeFieldContainer[ContractBreak]
    def __init__(self, service: _Optional[_Union[_service_pb2.Service, _Mapping]] = ..., forced_breaks: _Optional[_Iterable[_Union[ContractBreak, _Mapping]]] = ...) -> None: ...

class ContractBreak(_message.Message):
    __slots__ = ("kind", "subject", "description")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    kind: str
    subject: str
    description: str
    def __init__(self, kind: _Optional[str] = ..., subject: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class RegisterInstanceRequest(_message.Message):
    __slots__ = ("service", "instance", "ttl_seconds")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    service: str
    instance: _instance_pb2.Instance
    ttl_seconds: int
    def __init__(self, service: _Optional[str] = ..., instance: _Optional[_Union[_instance_pb2.Instance, _Mapping]] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class RegisterInstanceResponse(_message.Message):
    __slots__ = ("instance",)
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    instance: _instance_pb2.Instance
    def __init__(self, instance: _Optional[_Union[_instance_pb2.Instance, _Mapping]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("instance_id",)
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    def __init__(self, instance_id: _Optional[str] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("instance",)
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    instance: _instance_pb2.Instance
    def __init__(self, instance: _Optional[_Union[_instance_pb2.Instance, _Mapping]] = ...) -> None: ...

class DeregisterInstanceRequest(_message.Message):
    __slots__ = ("instance_id",)
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    def __init__(self, instance_id: _Optional[str] = ...) -> None: ...

class DeregisterInstanceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListInstancesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "services", "version", "health_states")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HEALTH_STATES_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    services: _containers.RepeatedScalarFieldContainer[str]
    version: str
    health_states: _containers.RepeatedScalarFieldContainer[_instance_pb2.HealthState]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., services: _Optional[_Iterable[str]] = ..., version: _Optional[str] = ..., health_states: _Optional[_Iterable[_Union[_instance_pb2.HealthState, str]]] = ...) -> None: ...

class ListInstancesResponse(_message.Message):
    __slots__ = ("instances", "next_page_token")
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[_instance_pb2.Instance]
    next_page_token: str
    def __init__(self, instances: _Optional[_Iterable[_Union[_instance_pb2.Instance, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ResolveServiceRequest(_message.Message):
    __slots__ = ("service", "version")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: str
    def __init__(self, service: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class ResolveServiceResponse(_message.Message):
    __slots__ = ("instances",)
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[_instance_pb2.Instance]
    def __init__(self, instances: _Optional[_Iterable[_Union[_instance_pb2.Instance, _Mapping]]] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("services", "send_initial_state")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    SEND_INITIAL_STATE_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedScalarFieldContainer[str]
    send_initial_state: bool
    def __init__(self, services: _Optional[_Iterable[str]] = ..., send_initial_state: _Optional[bool] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ("type", "service", "instance", "time", "error")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    type: WatchEventType
    service: _service_pb2.Service
    instance: _instance_pb2.Instance
    time: _timestamp_pb2.Timestamp
    error: _status_pb2.Status
    def __init__(self, type: _Optional[_Union[WatchEventType, str]] = ..., service: _Optional[_Union[_service_pb2.Service, _Mapping]] = ..., instance: _Optional[_Union[_instance_pb2.Instance, _Mapping]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class ListAvailableServicesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "kind", "tags")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    kind: _service_pb2.ServiceKind
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., kind: _Optional[_Union[_service_pb2.ServiceKind, str]] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class ListAvailableServicesResponse(_message.Message):
    __slots__ = ("services", "next_page_token")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[_service_pb2.Service]
    next_page_token: str
    def __init__(self, services: _Optional[_Iterable[_Union[_service_pb2.Service, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class EnableServiceRequest(_message.Message):
    __slots__ = ("service", "config", "request_id")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    service: str
    config: _struct_pb2.Struct
    request_id: str
    def __init__(self, service: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class EnableServiceResponse(_message.Message):
    __slots__ = ("enabled_service",)
    ENABLED_SERVICE_FIELD_NUMBER: _ClassVar[int]
    enabled_service: _enabled_service_pb2.EnabledService
    def __init__(self, enabled_service: _Optional[_Union[_enabled_service_pb2.EnabledService, _Mapping]] = ...) -> None: ...

class DisableServiceRequest(_message.Message):
    __slots__ = ("service", "etag")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    service: str
    etag: str
    def __init__(self, service: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class DisableServiceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetEnabledServiceRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: str
    def __init__(self, service: _Optional[str] = ...) -> None: ...

class GetEnabledServiceResponse(_message.Message):
    __slots__ = ("enabled_service",)
    ENABLED_SERVICE_FIELD_NUMBER: _ClassVar[int]
    enabled_service: _enabled_service_pb2.EnabledService
    def __init__(self, enabled_service: _Optional[_Union[_enabled_service_pb2.EnabledService, _Mapping]] = ...) -> None: ...

class ListEnabledServicesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEnabledServicesResponse(_message.Message):
    __slots__ = ("enabled_services", "next_page_token")
    ENABLED_SERVICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    enabled_services: _containers.RepeatedCompositeFieldContainer[_enabled_service_pb2.EnabledService]
    next_page_token: str
    def __init__(self, enabled_services: _Optional[_Iterable[_Union[_enabled_service_pb2.EnabledService, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateServiceConfigRequest(_message.Message):
    __slots__ = ("service", "config", "etag")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    service: str
    config: _struct_pb2.Struct
    etag: str
    def __init__(self, service: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class UpdateServiceConfigResponse(_message.Message):
    __slots__ = ("enabled_service",)
    ENABLED_SERVICE_FIELD_NUMBER: _ClassVar[int]
    enabled_service: _enabled_service_pb2.EnabledService
    def __init__(self, enabled_service: _Optional[_Union[_enabled_service_pb2.EnabledService, _Mapping]] = ...) -> None: ...
