"""Why a file operation was refused: the ErrorInfo reasons of FileService and of FILE answers."""

from __future__ import annotations

from enum import auto

from services.runtime.errors import Reason


class FileReason(Reason):
    # No file with that reference in the caller's tenant (also: another tenant's reference).
    FILE_NOT_FOUND = auto()
    # An upload no submission took in time: it is gone, upload it again.
    FILE_EXPIRED = auto()
    # Larger than the platform's largest upload, or than the field accepts.
    FILE_TOO_LARGE = auto()
    # A content type the platform does not store, or the field does not accept.
    FILE_TYPE_NOT_ALLOWED = auto()
    # A submission holds the file: it goes with the submission.
    FILE_ATTACHED = auto()
    # Uploaded by someone else: only the uploader's submission may take an upload.
    FILE_NOT_YOURS = auto()
