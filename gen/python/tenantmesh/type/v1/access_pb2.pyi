from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccessScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_SCOPE_UNSPECIFIED: _ClassVar[AccessScope]
    ACCESS_SCOPE_TENANT: _ClassVar[AccessScope]
    ACCESS_SCOPE_PLATFORM: _ClassVar[AccessScope]
ACCESS_SCOPE_UNSPECIFIED: AccessScope
ACCESS_SCOPE_TENANT: AccessScope
ACCESS_SCOPE_PLATFORM: AccessScope
ACCESS_FIELD_NUMBER: _ClassVar[int]
access: _descriptor.FieldDescriptor

class AccessPolicy(_message.Message):
    __slots__ = ("permission", "public", "scope", "platform_override", "member_default", "callers", "read_only")
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    MEMBER_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    CALLERS_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    permission: str
    public: bool
    scope: AccessScope
    platform_override: bool
    member_default: bool
    callers: _containers.RepeatedScalarFieldContainer[str]
    read_only: bool
    def __init__(self, permission: _Optional[str] = ..., public: _Optional[bool] = ..., scope: _Optional[_Union[AccessScope, str]] = ..., platform_override: _Optional[bool] = ..., member_default: _Optional[bool] = ..., callers: _Optional[_Iterable[str]] = ..., read_only: _Optional[bool] = ...) -> None: ...
