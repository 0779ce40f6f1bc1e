import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tenantmesh.forms.v1 import form_pb2 as _form_pb2
from tenantmesh.type.v1 import access_pb2 as _access_pb2
from tenantmesh.type.v1 import menu_pb2 as _menu_pb2
from tenantmesh.type.v1 import rest_pb2 as _rest_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FormStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FORM_STATUS_UNSPECIFIED: _ClassVar[FormStatus]
    FORM_STATUS_DRAFT: _ClassVar[FormStatus]
    FORM_STATUS_PUBLISHED: _ClassVar[FormStatus]
    FORM_STATUS_ARCHIVED: _ClassVar[FormStatus]

class SubmissionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBMISSION_STATUS_UNSPECIFIED: _ClassVar[SubmissionStatus]
    SUBMISSION_STATUS_SUBMITTED: _ClassVar[SubmissionStatus]
    SUBMISSION_STATUS_ACCEPTED: _ClassVar[SubmissionStatus]
    SUBMISSION_STATUS_REJECTED: _ClassVar[SubmissionStatus]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_CSV: _ClassVar[ExportFormat]
    EXPORT_FORMAT_NDJSON: _ClassVar[ExportFormat]
FORM_STATUS_UNSPECIFIED: FormStatus
FORM_STATUS_DRAFT: FormStatus
FORM_STATUS_PUBLISHED: FormStatus
FORM_STATUS_ARCHIVED: FormStatus
SUBMISSION_STATUS_UNSPECIFIED: SubmissionStatus
SUBMISSION_STATUS_SUBMITTED: SubmissionStatus
SUBMISSION_STATUS_ACCEPTED: SubmissionStatus
SUBMISSION_STATUS_REJECTED: SubmissionStatus
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_CSV: ExportFormat
EXPORT_FORMAT_NDJSON: ExportFormat

class Form(_message.Message):
    __slots__ = ("key", "title", "description", "labels", "status", "owning_service", "draft", "latest_version", "allow_edits", "create_time", "update_time", "etag")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OWNING_SERVICE_FIELD_NUMBER: _ClassVar[int]
    DRAFT_FIELD_NUMBER: _ClassVar[int]
    LATEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOW_EDITS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    key: str
    title: str
    description: str
    labels: _containers.ScalarMap[str, str]
    status: FormStatus
    owning_service: str
    draft: _form_pb2.FormDefinition
    latest_version: int
    allow_edits: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, key: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., status: _Optional[_Union[FormStatus, str]] = ..., owning_service: _Optional[str] = ..., draft: _Optional[_Union[_form_pb2.FormDefinition, _Mapping]] = ..., latest_version: _Optional[int] = ..., allow_edits: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class FormVersion(_message.Message):
    __slots__ = ("form_key", "version", "definition", "content_hash", "compatibility", "publisher", "create_time")
    FORM_KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_FIELD_NUMBER: _ClassVar[int]
    PUBLISHER_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    form_key: str
    version: int
    definition: _form_pb2.FormDefinition
    content_hash: str
    compatibility: _form_pb2.CompatibilityReport
    publisher: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, form_key: _Optional[str] = ..., version: _Optional[int] = ..., definition: _Optional[_Union[_form_pb2.FormDefinition, _Mapping]] = ..., content_hash: _Optional[str] = ..., compatibility: _Optional[_Union[_form_pb2.CompatibilityReport, _Mapping]] = ..., publisher: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Submission(_message.Message):
    __slots__ = ("submission_id", "form_key", "version", "answers", "status", "submitter", "note", "revision_count", "create_time", "update_time", "etag")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    FORM_KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REVISION_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    form_key: str
    version: int
    answers: _struct_pb2.Struct
    status: SubmissionStatus
    submitter: str
    note: str
    revision_count: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, submission_id: _Optional[str] = ..., form_key: _Optional[str] = ..., version: _Optional[int] = ..., answers: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., status: _Optional[_Union[SubmissionStatus, str]] = ..., submitter: _Optional[str] = ..., note: _Optional[str] = ..., revision_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class AnswerViolation(_message.Message):
    __slots__ = ("field", "pointer", "keyword", "rule", "message")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    POINTER_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    field: str
    pointer: str
    keyword: str
    rule: str
    message: str
    def __init__(self, field: _Optional[str] = ..., pointer: _Optional[str] = ..., keyword: _Optional[str] = ..., rule: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class DefinitionProblem(_message.Message):
    __slots__ = ("pointer", "reason", "message")
    POINTER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    pointer: str
    reason: str
    message: str
    def __init__(self, pointer: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class SubmissionRevision(_message.Message):
    __slots__ = ("revision", "version", "answers", "editor", "replace_time")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    EDITOR_FIELD_NUMBER: _ClassVar[int]
    REPLACE_TIME_FIELD_NUMBER: _ClassVar[int]
    revision: int
    version: int
    answers: _struct_pb2.Struct
    editor: str
    replace_time: _timestamp_pb2.Timestamp
    def __init__(self, revision: _Optional[int] = ..., version: _Optional[int] = ..., answers: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., editor: _Optional[str] = ..., replace_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateFormRequest(_message.Message):
    __slots__ = ("form", "request_id")
    FORM_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    form: Form
    request_id: str
    def __init__(self, form: _Optional[_Union[Form, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateFormResponse(_message.Message):
    __slots__ = ("form",)
    FORM_FIELD_NUMBER: _ClassVar[int]
    form: Form
    def __init__(self, form: _Optional[_Union[Form, _Mapping]] = ...) -> None: ...

class GetFormRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class GetFormResponse(_message.Message):
    __slots__ = ("form",)
    FORM_FIELD_NUMBER: _ClassVar[int]
    form: Form
    def __init__(self, form: _Optional[_Union[Form, _Mapping]] = ...) -> None: ...

class ListFormsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "status", "label", "owning_service")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    OWNING_SERVICE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    status: FormStatus
    label: str
    owning_service: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., status: _Optional[_Union[FormStatus, str]] = ..., label: _Optional[str] = ..., owning_service: _Optional[str] = ...) -> None: ...

class ListFormsResponse(_message.Message):
    __slots__ = ("forms", "next_page_token")
    FORMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    forms: _containers.RepeatedCompositeFieldContainer[Form]
    next_page_token: str
    def __init__(self, forms: _Optional[_Iterable[_Union[Form, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateFormRequest(_message.Message):
    __slots__ = ("form", "update_mask")
    FORM_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    form: Form
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, form: _Optional[_Union[Form, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateFormResponse(_message.Message):
    __slots__ = ("form",)
    FORM_FIELD_NUMBER: _ClassVar[int]
    form: Form
    def __init__(self, form: _Optional[_Union[Form, _Mapping]] = ...) -> None: ...

class PublishFormRequest(_message.Message):
    __slots__ = ("key", "etag")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    key: str
    etag: str
    def __init__(self, key: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class PublishFormResponse(_message.Message):
    __slots__ = ("form", "version")
    FORM_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    form: Form
    version: FormVersion
    def __init__(self, form: _Optional[_Union[Form, _Mapping]] = ..., version: _Optional[_Union[FormVersion, _Mapping]] = ...) -> None: ...

class ListFormVersionsRequest(_message.Message):
    __slots__ = ("key", "page_size", "page_token")
    KEY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    key: str
    page_size: int
    page_token: str
    def __init__(self, key: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFormVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[FormVersion]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[FormVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetFormVersionRequest(_message.Message):
    __slots__ = ("key", "version")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    key: str
    version: int
    def __init__(self, key: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetFormVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: FormVersion
    def __init__(self, version: _Optional[_Union[FormVersion, _Mapping]] = ...) -> None: ...

class ArchiveFormRequest(_message.Message):
    __slots__ = ("key", "etag")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    key: str
    etag: str
    def __init__(self, key: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class ArchiveFormResponse(_message.Message):
    __slots__ = ("form",)
    FORM_FIELD_NUMBER: _ClassVar[int]
    form: Form
    def __init__(self, form: _Optional[_Union[Form, _Mapping]] = ...) -> None: ...

class UnarchiveFormRequest(_message.Message):
    __slots__ = ("key", "etag")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    key: str
    etag: str
    def __init__(self, key: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class UnarchiveFormResponse(_message.Message):
    __slots__ = ("form",)
    FORM_FIELD_NUMBER: _ClassVar[int]
    form: Form
    def __init__(self, form: _Optional[_Union[Form, _Mapping]] = ...) -> None: ...

class DeleteFormRequest(_message.Message):
    __slots__ = ("key", "etag", "purge")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    PURGE_FIELD_NUMBER: _ClassVar[int]
    key: str
    etag: str
    purge: bool
    def __init__(self, key: _Optional[str] = ..., etag: _Optional[str] = ..., purge: _Optional[bool] = ...) -> None: ...

class DeleteFormResponse(_message.Message):
    __slots__ = ("purged_submissions",)
    PURGED_SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    purged_submissions: int
    def __init__(self, purged_submissions: _Optional[int] = ...) -> None: ...

class GenerateFormRequest(_message.Message):
    __slots__ = ("json_schema",)
    JSON_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    json_schema: _struct_pb2.Struct
    def __init__(self, json_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class GenerateFormResponse(_message.Message):
    __slots__ = ("definition", "problems")
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    definition: _form_pb2.FormDefinition
    problems: _containers.RepeatedCompositeFieldContainer[DefinitionProblem]
    def __init__(self, definition: _Optional[_Union[_form_pb2.FormDefinition, _Mapping]] = ..., problems: _Optional[_Iterable[_Union[DefinitionProblem, _Mapping]]] = ...) -> None: ...

class SubmitFormRequest(_message.Message):
    __slots__ = ("form_key", "version", "answers", "request_id", "locale")
    FORM_KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    form_key: str
    version: int
    answers: _struct_pb2.Struct
    request_id: str
    locale: str
    def __init__(self, form_key: _Optional[str] = ..., version: _Optional[int] = ..., answers: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., request_id: _Optional[str] = ..., locale: _Optional[str] = ...) -> None: ...

class SubmitFormResponse(_message.Message):
    __slots__ = ("submission",)
    SUBMISSION_FIELD_NUMBER: _ClassVar[int]
    submission: Submission
    def __init__(self, submission: _Optional[_Union[Submission, _Mapping]] = ...) -> None: ...

class ValidateSubmissionRequest(_message.Message):
    __slots__ = ("form_key", "version", "answers", "locale")
    FORM_KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    form_key: str
    version: int
    answers: _struct_pb2.Struct
    locale: str
    def __init__(self, form_key: _Optional[str] = ..., version: _Optional[int] = ..., answers: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., locale: _Optional[str] = ...) -> None: ...

class ValidateSubmissionResponse(_message.Message):
    __slots__ = ("valid", "violations", "answers", "visible", "required", "version")
    class VisibleEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bool
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    VALID_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    VISIBLE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    violations: _containers.RepeatedCompositeFieldContainer[AnswerViolation]
    answers: _struct_pb2.Struct
    visible: _containers.ScalarMap[str, bool]
    required: _containers.RepeatedScalarFieldContainer[str]
    version: int
    def __init__(self, valid: _Optional[bool] = ..., violations: _Optional[_Iterable[_Union[AnswerViolation, _Mapping]]] = ..., answers: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., visible: _Optional[_Mapping[str, bool]] = ..., required: _Optional[_Iterable[str]] = ..., version: _Optional[int] = ...) -> None: ...

class GetSubmissionRequest(_message.Message):
    __slots__ = ("submission_id",)
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    def __init__(self, submission_id: _Optional[str] = ...) -> None: ...

class GetSubmissionResponse(_message.Message):
    __slots__ = ("submission",)
    SUBMISSION_FIELD_NUMBER: _ClassVar[int]
    submission: Submission
    def __init__(self, submission: _Optional[_Union[Submission, _Mapping]] = ...) -> None: ...

class ListSubmissionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "form_key", "version", "status", "submitter", "submitted_after", "submitted_before", "filter", "order_by")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FORM_KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AFTER_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    form_key: str
    version: int
    status: SubmissionStatus
    submitter: str
    submitted_after: _timestamp_pb2.Timestamp
    submitted_before: _timestamp_pb2.Timestamp
    filter: str
    order_by: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., form_key: _Optional[str] = ..., version: _Optional[int] = ..., status: _Optional[_Union[SubmissionStatus, str]] = ..., submitter: _Optional[str] = ..., submitted_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., submitted_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ...) -> None: ...

class ListSubmissionsResponse(_message.Message):
    __slots__ = ("submissions", "next_page_token")
    SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    submissions: _containers.RepeatedCompositeFieldContainer[Submission]
    next_page_token: str
    def __init__(self, submissions: _Optional[_Iterable[_Union[Submission, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReviewSubmissionRequest(_message.Message):
    __slots__ = ("submission", "update_mask")
    SUBMISSION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    submission: Submission
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, submission: _Optional[_Union[Submission, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class ReviewSubmissionResponse(_message.Message):
    __slots__ = ("submission",)
    SUBMISSION_FIELD_NUMBER: _ClassVar[int]
    submission: Submission
    def __init__(self, submission: _Optional[_Union[Submission, _Mapping]] = ...) -> None: ...

class UpdateSubmissionRequest(_message.Message):
    __slots__ = ("submission_id", "answers", "etag", "locale")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    answers: _struct_pb2.Struct
    etag: str
    locale: str
    def __init__(self, submission_id: _Optional[str] = ..., answers: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., etag: _Optional[str] = ..., locale: _Optional[str] = ...) -> None: ...

class UpdateSubmissionResponse(_message.Message):
    __slots__ = ("submission",)
    SUBMISSION_FIELD_NUMBER: _ClassVar[int]
    submission: Submission
    def __init__(self, submission: _Optional[_Union[Submission, _Mapping]] = ...) -> None: ...

class ListSubmissionRevisionsRequest(_message.Message):
    __slots__ = ("submission_id",)
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    def __init__(self, submission_id: _Optional[str] = ...) -> None: ...

class ListSubmissionRevisionsResponse(_message.Message):
    __slots__ = ("revisions",)
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    revisions: _containers.RepeatedCompositeFieldContainer[SubmissionRevision]
    def __init__(self, revisions: _Optional[_Iterable[_Union[SubmissionRevision, _Mapping]]] = ...) -> None: ...

class DeleteSubmissionRequest(_message.Message):
    __slots__ = ("submission_id", "etag")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    etag: str
    def __init__(self, submission_id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class DeleteSubmissionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ExportSubmissionsRequest(_message.Message):
    __slots__ = ("form_key", "format")
    FORM_KEY_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    form_key: str
    format: ExportFormat
    def __init__(self, form_key: _Optional[str] = ..., format: _Optional[_Union[ExportFormat, str]] = ...) -> None: ...
