"""FileService's handlers: proto in, Files call, proto out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from google.api import httpbody_pb2
from tenantmesh.forms.v1 import file_service_pb2 as pb
from tenantmesh.forms.v1 import file_service_pb2_grpc as pb_grpc

from services.forms.files.files import CONTENT_FIELD, Files, store_unavailable
from services.forms.files.models import FileRow, FileState
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.plain_text import check_plain_text
from services.runtime.proto_values import copy_fields, timestamp
from services.runtime.storage import StorageUnavailable

_STATES = {FileState.UPLOADED: pb.FILE_STATE_UPLOADED, FileState.ATTACHED: pb.FILE_STATE_ATTACHED}


def file_to_proto(row: FileRow) -> pb.File:
    return pb.File(
        **copy_fields(row, "file_id", "filename", "content_type", "size_bytes", "sha256", "uploaded_by"),
        state=_STATES.get(FileState(row.state), pb.FILE_STATE_UNSPECIFIED),
        create_time=timestamp(row.create_time),
        expire_time=timestamp(row.expire_time),
    )


class FileServicer(pb_grpc.FileServiceServicer):
    def __init__(self, files: Files) -> None:
        self._files = files

    async def UploadFile(
        self, request_iterator: AsyncIterator[pb.UploadFileRequest], context: Any
    ) -> pb.UploadFileResponse:
        """forms.files.upload. Errors: INVALID_ARGUMENT (FIELD_INVALID, FILE_TOO_LARGE,
        FILE_TYPE_NOT_ALLOWED), RESOURCE_EXHAUSTED (STORAGE_FULL), UNAVAILABLE (DEPENDENCY_UNAVAILABLE)."""
        first = await anext(request_iterator, None)
        if first is None:
            raise InvalidArgument(
                "the upload carried no message", violations=[FieldViolation(CONTENT_FIELD, "no content was sent")]
            )
        # A reviewer downloads it by this name: nothing in it may change how it reads.
        check_plain_text(first.filename, "filename")

        async def content() -> AsyncIterator[bytes]:
            # The name and type come with the first message; later ones carry bytes only.
            if first.content.data:
                yield first.content.data
            async for message in request_iterator:
                if message.content.data:
                    yield message.content.data

        row = await self._files.upload(first.filename, first.content.content_type, content())
        return pb.UploadFileResponse(file=file_to_proto(row))

    async def GetFile(self, request: pb.GetFileRequest, context: Any) -> pb.GetFileResponse:
        """forms.files.get. Errors: NOT_FOUND (FILE_NOT_FOUND, FILE_EXPIRED)."""
        return pb.GetFileResponse(file=file_to_proto(await self._files.get(request.file_id)))

    async def DownloadFile(self, request: pb.DownloadFileRequest, context: Any) -> AsyncIterator[httpbody_pb2.HttpBody]:
        """forms.files.download. Errors: NOT_FOUND (FILE_NOT_FOUND, FILE_EXPIRED), UNAVAILABLE
        (DEPENDENCY_UNAVAILABLE)."""
        async with self._files.open(request.file_id) as (row, reader):
            sent = False
            try:
                async for chunk in reader.chunks():
                    # The first message's content type is the HTTP response's (through the edge).
                    yield httpbody_pb2.HttpBody(content_type=row.content_type if not sent else "", data=chunk)
                    sent = True
            except StorageUnavailable as exc:
                raise store_unavailable(exc) from exc
            if not sent:
                yield httpbody_pb2.HttpBody(content_type=row.content_type)

    async def DeleteFile(self, request: pb.DeleteFileRequest, context: Any) -> pb.DeleteFileResponse:
        """forms.files.delete. Errors: NOT_FOUND (FILE_NOT_FOUND, FILE_EXPIRED), FAILED_PRECONDITION
        (FILE_ATTACHED)."""
        await self._files.delete(request.file_id)
        return pb.DeleteFileResponse()
