from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class FormPublished(_message.Message):
    __slots__ = ("form_key", "version", "content_hash", "owning_service", "breaking")
    FORM_KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    OWNING_SERVICE_FIELD_NUMBER: _ClassVar[int]
    BREAKING_FIELD_NUMBER: _ClassVar[int]
    form_key: str
    version: int
    content_hash: str
    owning_service: str
    breaking: bool
    def __init__(self, form_key: _Optional[str] = ..., version: _Optional[int] = ..., content_hash: _Optional[str] = ..., owning_service: _Optional[str] = ..., breaking: _Optional[bool] = ...) -> None: ...

class FormArchived(_message.Message):
    __slots__ = ("form_key", "owning_service")
    FORM_KEY_FIELD_NUMBER: _ClassVar[int]
    OWNING_SERVICE_FIELD_NUMBER: _ClassVar[int]
    form_key: str
    owning_service: str
    def __init__(self, form_key: _Optional[str] = ..., owning_service: _Optional[str] = ...) -> None: ...

class FormUnarchived(_message.Message):
    __slots__ = ("form_key", "owning_service")
    FORM_KEY_FIELD_NUMBER: _ClassVar[int]
    OWNING_SERVICE_FIELD_NUMBER: _ClassVar[int]
    form_key: str
    owning_service: str
    def __init__(self, form_key: _Optional[str] = ..., owning_service: _Optional[str] = ...) -> None: ...

class FormDeleted(_message.Message):
    __slots__ = ("form_key", "purged_submissions")
    FORM_KEY_FIELD_NUMBER: _ClassVar[int]
    PURGED_SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    form_key: str
    purged_submissions: int
    def __init__(self, form_key: _Optional[str] = ..., purged_submissions: _Optional[int] = ...) -> None: ...

class SubmissionCreated(_message.Message):
    __slots__ = ("submission_id", "form_key", "version", "submitter")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    FORM_KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    form_key: str
    version: int
    submitter: str
    def __init__(self, submission_id: _Optional[str] = ..., form_key: _Optional[str] = ..., version: _Optional[int] = ..., submitter: _Optional[str] = ...) -> None: ...
