"""Blobs in an S3-compatible object store (production): AWS S3, SeaweedFS, MinIO, Ceph RGW.

A put streams: content is collected into parts of ``part_bytes``; a blob that fits one part
is a single PutObject, a larger one a multipart upload whose parts go out as they fill (so
memory stays at one part per upload whatever the size) and which is aborted if the stream
fails or passes its limit. The store never holds a partial object: it appears on
PutObject's or CompleteMultipartUpload's success.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from botocore.exceptions import BotoCoreError, ClientError

from services.runtime.storage.backend import (
    READ_CHUNK_BYTES,
    BlobNotFound,
    BlobReader,
    BlobStat,
    BlobTooLarge,
    StorageUnavailable,
    StoredBlob,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef, ObjectIdentifierTypeDef

T = TypeVar("T")
AddressingStyle = Literal["path", "virtual", "auto"]

# S3's smallest part (but the last) is 5 MiB.
MIN_PART_BYTES = 5 * 1024 * 1024
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    # None: the AWS endpoint of the region.
    endpoint_url: str | None = None
    region: str = "us-east-1"
    # None: botocore's own chain (AWS_* variables, web identity, instance role).
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    # Prepended to every key, to share a bucket with other users of it.
    key_prefix: str = ""
    # "path" works with every S3-compatible server; AWS also serves "virtual".
    addressing_style: AddressingStyle = "path"
    # CA bundle to check the endpoint's certificate with (None: the system's).
    ca_file: str | None = None
    part_bytes: int = 8 * 1024 * 1024


class _ObjectReader:
    def __init__(self, body: Any, size: int) -> None:
        self._body = body
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._body.iter_chunks(READ_CHUNK_BYTES):
                yield chunk
        except (TimeoutError, BotoCoreError, OSError) as exc:
            raise StorageUnavailable(f"reading from the object store failed: {type(exc).__name__}") from exc


class S3Backend:
    def __init__(self, settings: S3Settings) -> None:
        if settings.part_bytes < MIN_PART_BYTES:
            raise ValueError(f"parts are at least {MIN_PART_BYTES} bytes")
        self.settings = settings
        self._stack = AsyncExitStack()
        self._client: S3Client | None = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> S3Client:
        async with self._lock:
            if self._client is None:
                # Imported here, on first use: aiobotocore takes about a third of a second to
                # import, which every process of the platform and every tenantctl command would
                # pay at start even when the blobs live on the local disk (the default).
                from aiobotocore.config import AioConfig  # noqa: PLC0415
                from aiobotocore.session import get_session  # noqa: PLC0415

                s = self.settings
                creator = get_session().create_client(
                    "s3",
                    endpoint_url=s.endpoint_url,
                    region_name=s.region,
                    aws_access_key_id=s.access_key_id,
                    aws_secret_access_key=s.secret_access_key,
                    verify=s.ca_file if s.ca_file else True,
                    config=AioConfig(
                        s3={"addressing_style": s.addressing_style},
                        connect_timeout=5,
                        read_timeout=60,
                        retries={"max_attempts": 3, "mode": "standard"},
                    ),
                )
                self._client = cast("S3Client", await self._stack.enter_async_context(creator))
            return self._client

    def _key(self, key: str) -> str:
        return self.settings.key_prefix + key

    async def put(self, key: str, content: AsyncIterable[bytes], *, max_bytes: int, content_type: str) -> StoredBlob:
        s3 = await self._s3()
        bucket, object_key = self.settings.bucket, self._key(key)
        part_bytes = self.settings.part_bytes
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[CompletedPartTypeDef] = []

        async def send_part(body: bytes) -> None:
            assert upload_id is not None
            number = len(parts) + 1
            sent = await _storing(
                s3.upload_part(Bucket=bucket, Key=object_key, UploadId=upload_id, PartNumber=number, Body=body)
            )
            parts.append({"PartNumber": number, "ETag": sent["ETag"]})

        try:
            async for chunk in content:
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge(max_bytes)
                digest.update(chunk)
                buffer += chunk
                while len(buffer) >= part_bytes:
                    if upload_id is None:
                        started = await _storing(
                            s3.create_multipart_upload(Bucket=bucket, Key=object_key, ContentType=content_type)
                        )
                        upload_id = started["UploadId"]
                    await send_part(bytes(buffer[:part_bytes]))
                    del buffer[:part_bytes]
            if upload_id is None:
                await _storing(
                    s3.put_object(Bucket=bucket, Key=object_key, Body=bytes(buffer), ContentType=content_type)
                )
            else:
                if buffer:
                    await send_part(bytes(buffer))
                await _storing(
                    s3.complete_multipart_upload(
                        Bucket=bucket, Key=object_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                    )
                )
                upload_id = None
        except BaseException:
            # Whatever failed (the store, the incoming stream, the limit): no part is kept.
            await self._abort(s3, object_key, upload_id)
            raise
        return StoredBlob(size=size, sha256=digest.hexdigest())

    async def _abort(self, s3: S3Client, object_key: str, upload_id: str | None) -> None:
        if upload_id is None:
            return
        # Best effort: a bucket lifecycle rule for incomplete multipart uploads is the backstop.
        with contextlib.suppress(BotoCoreError, ClientError, OSError, asyncio.TimeoutError):
            await s3.abort_multipart_upload(Bucket=self.settings.bucket, Key=object_key, UploadId=upload_id)

    @asynccontextmanager
    async def open(self, key: str) -> AsyncIterator[BlobReader]:
        s3 = await self._s3()
        try:
            response = await s3.get_object(Bucket=self.settings.bucket, Key=self._key(key))
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND_CODES:
                raise BlobNotFound(key) from None
            raise StorageUnavailable(f"reading from the object store failed: {_describe(exc)}") from exc
        except (TimeoutError, BotoCoreError, OSError) as exc:
            raise StorageUnavailable(f"reading from the object store failed: {_describe(exc)}") from exc
        body = response["Body"]
        try:
            yield _ObjectReader(body, int(response["ContentLength"]))
        finally:
            body.close()

    async def stat(self, key: str) -> BlobStat | None:
        s3 = await self._s3()
        try:
            head = await s3.head_object(Bucket=self.settings.bucket, Key=self._key(key))
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND_CODES:
                return None
            raise StorageUnavailable(f"the object store failed: {_describe(exc)}") from exc
        except (TimeoutError, BotoCoreError, OSError) as exc:
            raise StorageUnavailable(f"the object store failed: {_describe(exc)}") from exc
        return BlobStat(size=int(head["ContentLength"]))

    async def delete(self, key: str) -> None:
        s3 = await self._s3()
        try:
            # S3 answers success for a key with no object.
            await s3.delete_object(Bucket=self.settings.bucket, Key=self._key(key))
        except (TimeoutError, BotoCoreError, ClientError, OSError) as exc:
            raise StorageUnavailable(f"deleting from the object store failed: {_describe(exc)}") from exc

    async def delete_folder(self, prefix: str) -> None:
        if not prefix.endswith("/"):
            raise ValueError(f"not a folder: {prefix!r}")
        s3 = await self._s3()
        bucket = self.settings.bucket
        try:
            # Listed page by page (1,000 keys each), each page removed in one request.
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=self._key(prefix))
            async for page in pages:
                objects: list[ObjectIdentifierTypeDef] = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if objects:
                    answer = await s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
                    if answer.get("Errors"):
                        raise StorageUnavailable(f"the object store kept {len(answer['Errors'])} objects")
        except (TimeoutError, BotoCoreError, ClientError, OSError) as exc:
            raise StorageUnavailable(f"deleting from the object store failed: {_describe(exc)}") from exc

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None


async def _storing(call: Awaitable[T]) -> T:
    """The store's answer to a write; its failures as StorageUnavailable (the caller's own pass through)."""
    try:
        return await call
    except (TimeoutError, BotoCoreError, ClientError, OSError) as exc:
        raise StorageUnavailable(f"storing in the object store failed: {_describe(exc)}") from exc


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe(exc: BaseException) -> str:
    # The error's class and S3 code name the cause; messages can carry request details.
    if isinstance(exc, ClientError):
        return f"{_error_code(exc) or 'error'} ({exc.operation_name})"
    return type(exc).__name__
