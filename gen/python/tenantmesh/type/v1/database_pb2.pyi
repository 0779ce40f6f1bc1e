from buf.validate import validate_pb2 as _validate_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class DatabasePlacement(_message.Message):
    __slots__ = ("server", "database", "writes_frozen")
    SERVER_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    WRITES_FROZEN_FIELD_NUMBER: _ClassVar[int]
    server: str
    database: str
    writes_frozen: bool
    def __init__(self, server: _Optional[str] = ..., database: _Optional[str] = ..., writes_frozen: _Optional[bool] = ...) -> None: ...
