from buf.validate import validate_pb2 as _validate_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FieldType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIELD_TYPE_UNSPECIFIED: _ClassVar[FieldType]
    FIELD_TYPE_SHORT_TEXT: _ClassVar[FieldType]
    FIELD_TYPE_LONG_TEXT: _ClassVar[FieldType]
    FIELD_TYPE_NUMBER: _ClassVar[FieldType]
    FIELD_TYPE_INTEGER: _ClassVar[FieldType]
    FIELD_TYPE_CHECKBOX: _ClassVar[FieldType]
    FIELD_TYPE_SINGLE_CHOICE: _ClassVar[FieldType]
    FIELD_TYPE_MULTIPLE_CHOICE: _ClassVar[FieldType]
    FIELD_TYPE_DATE: _ClassVar[FieldType]
    FIELD_TYPE_DATE_TIME: _ClassVar[FieldType]
    FIELD_TYPE_TIME: _ClassVar[FieldType]
    FIELD_TYPE_EMAIL: _ClassVar[FieldType]
    FIELD_TYPE_URL: _ClassVar[FieldType]
    FIELD_TYPE_PHONE: _ClassVar[FieldType]
    FIELD_TYPE_FILE: _ClassVar[FieldType]
    FIELD_TYPE_SECTION: _ClassVar[FieldType]
    FIELD_TYPE_PAGE: _ClassVar[FieldType]
    FIELD_TYPE_GROUP: _ClassVar[FieldType]
    FIELD_TYPE_REPEATING_GROUP: _ClassVar[FieldType]
    FIELD_TYPE_HIDDEN: _ClassVar[FieldType]
    FIELD_TYPE_COMPUTED: _ClassVar[FieldType]

class Widget(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WIDGET_UNSPECIFIED: _ClassVar[Widget]
    WIDGET_TEXT_INPUT: _ClassVar[Widget]
    WIDGET_TEXTAREA: _ClassVar[Widget]
    WIDGET_NUMBER_INPUT: _ClassVar[Widget]
    WIDGET_SLIDER: _ClassVar[Widget]
    WIDGET_CHECKBOX: _ClassVar[Widget]
    WIDGET_SWITCH: _ClassVar[Widget]
    WIDGET_SELECT: _ClassVar[Widget]
    WIDGET_RADIO: _ClassVar[Widget]
    WIDGET_CHECKBOXES: _ClassVar[Widget]
    WIDGET_MULTI_SELECT: _ClassVar[Widget]
    WIDGET_DATE_PICKER: _ClassVar[Widget]
    WIDGET_DATE_TIME_PICKER: _ClassVar[Widget]
    WIDGET_TIME_PICKER: _ClassVar[Widget]
    WIDGET_EMAIL_INPUT: _ClassVar[Widget]
    WIDGET_URL_INPUT: _ClassVar[Widget]
    WIDGET_PHONE_INPUT: _ClassVar[Widget]
    WIDGET_FILE_UPLOAD: _ClassVar[Widget]
    WIDGET_READ_ONLY: _ClassVar[Widget]

class FieldChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIELD_CHANGE_KIND_UNSPECIFIED: _ClassVar[FieldChangeKind]
    FIELD_CHANGE_KIND_ADDED: _ClassVar[FieldChangeKind]
    FIELD_CHANGE_KIND_REMOVED: _ClassVar[FieldChangeKind]
    FIELD_CHANGE_KIND_TYPE_CHANGED: _ClassVar[FieldChangeKind]
    FIELD_CHANGE_KIND_NEWLY_REQUIRED: _ClassVar[FieldChangeKind]
    FIELD_CHANGE_KIND_OPTIONS_REMOVED: _ClassVar[FieldChangeKind]
FIELD_TYPE_UNSPECIFIED: FieldType
FIELD_TYPE_SHORT_TEXT: FieldType
FIELD_TYPE_LONG_TEXT: FieldType
FIELD_TYPE_NUMBER: FieldType
FIELD_TYPE_INTEGER: FieldType
FIELD_TYPE_CHECKBOX: FieldType
FIELD_TYPE_SINGLE_CHOICE: FieldType
FIELD_TYPE_MULTIPLE_CHOICE: FieldType
FIELD_TYPE_DATE: FieldType
FIELD_TYPE_DATE_TIME: FieldType
FIELD_TYPE_TIME: FieldType
FIELD_TYPE_EMAIL: FieldType
FIELD_TYPE_URL: FieldType
FIELD_TYPE_PHONE: FieldType
FIELD_TYPE_FILE: FieldType
FIELD_TYPE_SECTION: FieldType
FIELD_TYPE_PAGE: FieldType
FIELD_TYPE_GROUP: FieldType
FIELD_TYPE_REPEATING_GROUP: FieldType
FIELD_TYPE_HIDDEN: FieldType
FIELD_TYPE_COMPUTED: FieldType
WIDGET_UNSPECIFIED: Widget
WIDGET_TEXT_INPUT: Widget
WIDGET_TEXTAREA: Widget
WIDGET_NUMBER_INPUT: Widget
WIDGET_SLIDER: Widget
WIDGET_CHECKBOX: Widget
WIDGET_SWITCH: Widget
WIDGET_SELECT: Widget
WIDGET_RADIO: Widget
WIDGET_CHECKBOXES: Widget
WIDGET_MULTI_SELECT: Widget
WIDGET_DATE_PICKER: Widget
WIDGET_DATE_TIME_PICKER: Widget
WIDGET_TIME_PICKER: Widget
WIDGET_EMAIL_INPUT: Widget
WIDGET_URL_INPUT: Widget
WIDGET_PHONE_INPUT: Widget
WIDGET_FILE_UPLOAD: Widget
WIDGET_READ_ONLY: Widget
FIELD_CHANGE_KIND_UNSPECIFIED: FieldChangeKind
FIELD_CHANGE_KIND_ADDED: FieldChangeKind
FIELD_CHANGE_KIND_REMOVED: FieldChangeKind
FIELD_CHANGE_KIND_TYPE_CHANGED: FieldChangeKind
FIELD_CHANGE_KIND_NEWLY_REQUIRED: FieldChangeKind
FIELD_CHANGE_KIND_OPTIONS_REMOVED: FieldChangeKind

class FormDefinition(_message.Message):
    __slots__ = ("schema", "fields", "checks", "default_locale", "title", "description")
    class TitleEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class DescriptionEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_LOCALE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    schema: _struct_pb2.Struct
    fields: _containers.RepeatedCompositeFieldContainer[Field]
    checks: _containers.RepeatedCompositeFieldContainer[Check]
    default_locale: str
    title: _containers.ScalarMap[str, str]
    description: _containers.ScalarMap[str, str]
    def __init__(self, schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., fields: _Optional[_Iterable[_Union[Field, _Mapping]]] = ..., checks: _Optional[_Iterable[_Union[Check, _Mapping]]] = ..., default_locale: _Optional[str] = ..., title: _Optional[_Mapping[str, str]] = ..., description: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Field(_message.Message):
    __slots__ = ("key", "type", "label", "help_text", "placeholder", "widget", "order", "fields", "options", "visible_when", "required_when", "compute", "min_items", "max_items", "file_rules")
    class LabelEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class HelpTextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class PlaceholderEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    HELP_TEXT_FIELD_NUMBER: _ClassVar[int]
    PLACEHOLDER_FIELD_NUMBER: _ClassVar[int]
    WIDGET_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    VISIBLE_WHEN_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_WHEN_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_FIELD_NUMBER: _ClassVar[int]
    MIN_ITEMS_FIELD_NUMBER: _ClassVar[int]
    MAX_ITEMS_FIELD_NUMBER: _ClassVar[int]
    FILE_RULES_FIELD_NUMBER: _ClassVar[int]
    key: str
    type: FieldType
    label: _containers.ScalarMap[str, str]
    help_text: _containers.ScalarMap[str, str]
    placeholder: _containers.ScalarMap[str, str]
    widget: Widget
    order: int
    fields: _containers.RepeatedCompositeFieldContainer[Field]
    options: _containers.RepeatedCompositeFieldContainer[Option]
    visible_when: _struct_pb2.Value
    required_when: _struct_pb2.Value
    compute: _struct_pb2.Value
    min_items: int
    max_items: int
    file_rules: FileRules
    def __init__(self, key: _Optional[str] = ..., type: _Optional[_Union[FieldType, str]] = ..., label: _Optional[_Mapping[str, str]] = ..., help_text: _Optional[_Mapping[str, str]] = ..., placeholder: _Optional[_Mapping[str, str]] = ..., widget: _Optional[_Union[Widget, str]] = ..., order: _Optional[int] = ..., fields: _Optional[_Iterable[_Union[Field, _Mapping]]] = ..., options: _Optional[_Iterable[_Union[Option, _Mapping]]] = ..., visible_when: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., required_when: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., compute: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., min_items: _Optional[int] = ..., max_items: _Optional[int] = ..., file_rules: _Optional[_Union[FileRules, _Mapping]] = ...) -> None: ...

class FileRules(_message.Message):
    __slots__ = ("max_bytes", "accept")
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_FIELD_NUMBER: _ClassVar[int]
    max_bytes: int
    accept: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, max_bytes: _Optional[int] = ..., accept: _Optional[_Iterable[str]] = ...) -> None: ...

class Option(_message.Message):
    __slots__ = ("value", "label")
    class LabelEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    value: _struct_pb2.Value
    label: _containers.ScalarMap[str, str]
    def __init__(self, value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., label: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Check(_message.Message):
    __slots__ = ("id", "rule", "message", "field")
    class MessageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    id: str
    rule: _struct_pb2.Value
    message: _containers.ScalarMap[str, str]
    field: str
    def __init__(self, id: _Optional[str] = ..., rule: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., message: _Optional[_Mapping[str, str]] = ..., field: _Optional[str] = ...) -> None: ...

class CompatibilityReport(_message.Message):
    __slots__ = ("changes", "breaking")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    BREAKING_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[FieldChange]
    breaking: bool
    def __init__(self, changes: _Optional[_Iterable[_Union[FieldChange, _Mapping]]] = ..., breaking: _Optional[bool] = ...) -> None: ...

class FieldChange(_message.Message):
    __slots__ = ("field", "kind", "previous_type", "type", "removed_options")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_TYPE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REMOVED_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    field: str
    kind: FieldChangeKind
    previous_type: FieldType
    type: FieldType
    removed_options: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Value]
    def __init__(self, field: _Optional[str] = ..., kind: _Optional[_Union[FieldChangeKind, str]] = ..., previous_type: _Optional[_Union[FieldType, str]] = ..., type: _Optional[_Union[FieldType, str]] = ..., removed_options: _Optional[_Iterable[_Union[_struct_pb2.Value, _Mapping]]] = ...) -> None: ...
