from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
MENU_FIELD_NUMBER: _ClassVar[int]
menu: _descriptor.FieldDescriptor

class MenuLink(_message.Message):
    __slots__ = ("id", "label", "label_translations", "route", "icon", "order", "section")
    class LabelTranslationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LABEL_TRANSLATIONS_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    SECTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    label: str
    label_translations: _containers.ScalarMap[str, str]
    route: str
    icon: str
    order: int
    section: str
    def __init__(self, id: _Optional[str] = ..., label: _Optional[str] = ..., label_translations: _Optional[_Mapping[str, str]] = ..., route: _Optional[str] = ..., icon: _Optional[str] = ..., order: _Optional[int] = ..., section: _Optional[str] = ...) -> None: ...
