from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from tenantmesh.menus.v1 import menu_pb2 as _menu_pb2
from tenantmesh.type.v1 import access_pb2 as _access_pb2
from tenantmesh.type.v1 import menu_pb2 as _menu_pb2_1
from tenantmesh.type.v1 import rest_pb2 as _rest_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetMyMenuRequest(_message.Message):
    __slots__ = ("locale", "if_none_match")
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_FIELD_NUMBER: _ClassVar[int]
    locale: str
    if_none_match: str
    def __init__(self, locale: _Optional[str] = ..., if_none_match: _Optional[str] = ...) -> None: ...

class GetMyMenuResponse(_message.Message):
    __slots__ = ("items", "etag", "not_modified", "locale")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    NOT_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_menu_pb2.MenuItem]
    etag: str
    not_modified: bool
    locale: str
    def __init__(self, items: _Optional[_Iterable[_Union[_menu_pb2.MenuItem, _Mapping]]] = ..., etag: _Optional[str] = ..., not_modified: _Optional[bool] = ..., locale: _Optional[str] = ...) -> None: ...

class ListMenuEntriesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListMenuEntriesResponse(_message.Message):
    __slots__ = ("entries", "orphaned_overrides")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    ORPHANED_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_menu_pb2.MenuEntry]
    orphaned_overrides: _containers.RepeatedCompositeFieldContainer[_menu_pb2.MenuOverride]
    def __init__(self, entries: _Optional[_Iterable[_Union[_menu_pb2.MenuEntry, _Mapping]]] = ..., orphaned_overrides: _Optional[_Iterable[_Union[_menu_pb2.MenuOverride, _Mapping]]] = ...) -> None: ...

class CreateCustomEntryRequest(_message.Message):
    __slots__ = ("custom_entry", "request_id")
    CUSTOM_ENTRY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    custom_entry: _menu_pb2.CustomEntry
    request_id: str
    def __init__(self, custom_entry: _Optional[_Union[_menu_pb2.CustomEntry, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateCustomEntryResponse(_message.Message):
    __slots__ = ("custom_entry",)
    CUSTOM_ENTRY_FIELD_NUMBER: _ClassVar[int]
    custom_entry: _menu_pb2.CustomEntry
    def __init__(self, custom_entry: _Optional[_Union[_menu_pb2.CustomEntry, _Mapping]] = ...) -> None: ...

class UpdateCustomEntryRequest(_message.Message):
    __slots__ = ("custom_entry", "update_mask")
    CUSTOM_ENTRY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    custom_entry: _menu_pb2.CustomEntry
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, custom_entry: _Optional[_Union[_menu_pb2.CustomEntry, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateCustomEntryResponse(_message.Message):
    __slots__ = ("custom_entry",)
    CUSTOM_ENTRY_FIELD_NUMBER: _ClassVar[int]
    custom_entry: _menu_pb2.CustomEntry
    def __init__(self, custom_entry: _Optional[_Union[_menu_pb2.CustomEntry, _Mapping]] = ...) -> None: ...

class DeleteCustomEntryRequest(_message.Message):
    __slots__ = ("entry_id", "etag")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    etag: str
    def __init__(self, entry_id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class DeleteCustomEntryResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SetMenuOverrideRequest(_message.Message):
    __slots__ = ("override",)
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    override: _menu_pb2.MenuOverride
    def __init__(self, override: _Optional[_Union[_menu_pb2.MenuOverride, _Mapping]] = ...) -> None: ...

class SetMenuOverrideResponse(_message.Message):
    __slots__ = ("override",)
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    override: _menu_pb2.MenuOverride
    def __init__(self, override: _Optional[_Union[_menu_pb2.MenuOverride, _Mapping]] = ...) -> None: ...

class ClearMenuOverrideRequest(_message.Message):
    __slots__ = ("key", "etag")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    key: str
    etag: str
    def __init__(self, key: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class ClearMenuOverrideResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MoveMenuEntryRequest(_message.Message):
    __slots__ = ("key", "parent", "position")
    KEY_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    key: str
    parent: str
    position: int
    def __init__(self, key: _Optional[str] = ..., parent: _Optional[str] = ..., position: _Optional[int] = ...) -> None: ...

class MoveMenuEntryResponse(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: _menu_pb2.MenuEntry
    def __init__(self, entry: _Optional[_Union[_menu_pb2.MenuEntry, _Mapping]] = ...) -> None: ...

class PreviewMenuRequest(_message.Message):
    __slots__ = ("user_id", "roles", "locale")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    roles: RoleSet
    locale: str
    def __init__(self, user_id: _Optional[str] = ..., roles: _Optional[_Union[RoleSet, _Mapping]] = ..., locale: _Optional[str] = ...) -> None: ...

class RoleSet(_message.Message):
    __slots__ = ("roles",)
    ROLES_FIELD_NUMBER: _ClassVar[int]
    roles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, roles: _Optional[_Iterable[str]] = ...) -> None: ...

class PreviewMenuResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_menu_pb2.MenuItem]
    def __init__(self, items: _Optional[_Iterable[_Union[_menu_pb2.MenuItem, _Mapping]]] = ...) -> None: ...

class WhoCanSeeRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class WhoCanSeeResponse(_message.Message):
    __slots__ = ("roles", "users")
    ROLES_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    roles: _containers.RepeatedScalarFieldContainer[str]
    users: _containers.RepeatedCompositeFieldContainer[MenuViewer]
    def __init__(self, roles: _Optional[_Iterable[str]] = ..., users: _Optional[_Iterable[_Union[MenuViewer, _Mapping]]] = ...) -> None: ...

class MenuViewer(_message.Message):
    __slots__ = ("user_id", "email", "roles")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    email: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_id: _Optional[str] = ..., email: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ...) -> None: ...

class WhatCanReachRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class WhatCanReachResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[ReachableEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[ReachableEntry, _Mapping]]] = ...) -> None: ...

class ReachableEntry(_message.Message):
    __slots__ = ("key", "label", "route", "required_permissions")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    key: str
    label: str
    route: str
    required_permissions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, key: _Optional[str] = ..., label: _Optional[str] = ..., route: _Optional[str] = ..., required_permissions: _Optional[_Iterable[str]] = ...) -> None: ...
