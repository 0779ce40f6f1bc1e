from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class DatabasePlacement(_message.Message):
    __slots__ = ("server", "database")
    SERVER_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    server: str
    database: str
    def __init__(self, server: _Optional[str] = ..., database: _Optional[str] = ...) -> None: ...
