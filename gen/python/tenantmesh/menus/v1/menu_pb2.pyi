import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EntrySource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTRY_SOURCE_UNSPECIFIED: _ClassVar[EntrySource]
    ENTRY_SOURCE_PLATFORM: _ClassVar[EntrySource]
    ENTRY_SOURCE_SERVICE: _ClassVar[EntrySource]
    ENTRY_SOURCE_FORM: _ClassVar[EntrySource]
    ENTRY_SOURCE_CUSTOM: _ClassVar[EntrySource]

class EntryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTRY_KIND_UNSPECIFIED: _ClassVar[EntryKind]
    ENTRY_KIND_ROUTE: _ClassVar[EntryKind]
    ENTRY_KIND_EXTERNAL_LINK: _ClassVar[EntryKind]
    ENTRY_KIND_FORM: _ClassVar[EntryKind]
    ENTRY_KIND_SECTION: _ClassVar[EntryKind]
ENTRY_SOURCE_UNSPECIFIED: EntrySource
ENTRY_SOURCE_PLATFORM: EntrySource
ENTRY_SOURCE_SERVICE: EntrySource
ENTRY_SOURCE_FORM: EntrySource
ENTRY_SOURCE_CUSTOM: EntrySource
ENTRY_KIND_UNSPECIFIED: EntryKind
ENTRY_KIND_ROUTE: EntryKind
ENTRY_KIND_EXTERNAL_LINK: EntryKind
ENTRY_KIND_FORM: EntryKind
ENTRY_KIND_SECTION: EntryKind

class MenuItem(_message.Message):
    __slots__ = ("key", "kind", "label", "icon", "route", "external_url", "form_id", "children")
    KEY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_URL_FIELD_NUMBER: _ClassVar[int]
    FORM_ID_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    key: str
    kind: EntryKind
    label: str
    icon: str
    route: str
    external_url: str
    form_id: str
    children: _containers.RepeatedCompositeFieldContainer[MenuItem]
    def __init__(self, key: _Optional[str] = ..., kind: _Optional[_Union[EntryKind, str]] = ..., label: _Optional[str] = ..., icon: _Optional[str] = ..., route: _Optional[str] = ..., external_url: _Optional[str] = ..., form_id: _Optional[str] = ..., children: _Optional[_Iterable[_Union[MenuItem, _Mapping]]] = ...) -> None: ...

class MenuEntry(_message.Message):
    __slots__ = ("key", "source", "service", "kind", "label", "label_translations", "icon", "order", "parent", "route", "external_url", "form_id", "required_permissions", "hidden", "override")
    class LabelTranslationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LABEL_TRANSLATIONS_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_URL_FIELD_NUMBER: _ClassVar[int]
    FORM_ID_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    key: str
    source: EntrySource
    service: str
    kind: EntryKind
    label: str
    label_translations: _containers.ScalarMap[str, str]
    icon: str
    order: int
    parent: str
    route: str
    external_url: str
    form_id: str
    required_permissions: _containers.RepeatedScalarFieldContainer[str]
    hidden: bool
    override: MenuOverride
    def __init__(self, key: _Optional[str] = ..., source: _Optional[_Union[EntrySource, str]] = ..., service: _Optional[str] = ..., kind: _Optional[_Union[EntryKind, str]] = ..., label: _Optional[str] = ..., label_translations: _Optional[_Mapping[str, str]] = ..., icon: _Optional[str] = ..., order: _Optional[int] = ..., parent: _Optional[str] = ..., route: _Optional[str] = ..., external_url: _Optional[str] = ..., form_id: _Optional[str] = ..., required_permissions: _Optional[_Iterable[str]] = ..., hidden: _Optional[bool] = ..., override: _Optional[_Union[MenuOverride, _Mapping]] = ...) -> None: ...

class MenuOverride(_message.Message):
    __slots__ = ("key", "label", "label_translations", "icon", "order", "parent", "hidden", "required_permission", "orphaned", "etag", "update_time")
    class LabelTranslationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LABEL_TRANSLATIONS_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_PERMISSION_FIELD_NUMBER: _ClassVar[int]
    ORPHANED_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    key: str
    label: str
    label_translations: _containers.ScalarMap[str, str]
    icon: str
    order: int
    parent: str
    hidden: bool
    required_permission: str
    orphaned: bool
    etag: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, key: _Optional[str] = ..., label: _Optional[str] = ..., label_translations: _Optional[_Mapping[str, str]] = ..., icon: _Optional[str] = ..., order: _Optional[int] = ..., parent: _Optional[str] = ..., hidden: _Optional[bool] = ..., required_permission: _Optional[str] = ..., orphaned: _Optional[bool] = ..., etag: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CustomEntry(_message.Message):
    __slots__ = ("entry_id", "kind", "label", "label_translations", "icon", "order", "parent", "route", "external_url", "form_id", "required_permission", "etag", "create_time", "update_time")
    class LabelTranslationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LABEL_TRANSLATIONS_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_URL_FIELD_NUMBER: _ClassVar[int]
    FORM_ID_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_PERMISSION_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    kind: EntryKind
    label: str
    label_translations: _containers.ScalarMap[str, str]
    icon: str
    order: int
    parent: str
    route: str
    external_url: str
    form_id: str
    required_permission: str
    etag: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, entry_id: _Optional[str] = ..., kind: _Optional[_Union[EntryKind, str]] = ..., label: _Optional[str] = ..., label_translations: _Optional[_Mapping[str, str]] = ..., icon: _Optional[str] = ..., order: _Optional[int] = ..., parent: _Optional[str] = ..., route: _Optional[str] = ..., external_url: _Optional[str] = ..., form_id: _Optional[str] = ..., required_permission: _Optional[str] = ..., etag: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
