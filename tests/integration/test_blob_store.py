"""The blob store's backends against real stores: files under a folder, and SeaweedFS over S3.

Every behaviour is checked on both backends with the same test: what a put stores comes back
byte for byte, a put over its limit keeps nothing, a failed stream keeps nothing, a large blob
streams through (S3: a multipart upload), deletes are idempotent.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from services.runtime.context import TenantContext, TenantState, acting_for
from services.runtime.db.placement import TenantDatabase
from services.runtime.errors import FailedPrecondition
from services.runtime.storage import (
    BlobBackend,
    BlobNotFound,
    BlobTooLarge,
    StorageFull,
    StorageUnavailable,
    TenantBlobs,
    blob_key,
)
from services.runtime.storage.local import LocalBackend
from services.runtime.storage.s3 import MIN_PART_BYTES, S3Backend
from tests.support.s3 import S3TestServer

MiB = 1024 * 1024


async def stream(data: bytes, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


async def failing_stream(data: bytes) -> AsyncIterator[bytes]:
    yield data
    raise ConnectionResetError("the client went away")


async def read_all(backend: BlobBackend, key: str) -> bytes:
    async with backend.open(key) as reader:
        return b"".join([chunk async for chunk in reader.chunks()])


@pytest.fixture(params=["local", "s3"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobBackend]:
    if request.param == "local":
        yield LocalBackend(tmp_path / "blobs")
        return
    server: S3TestServer = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    s3 = S3Backend(server.settings(bucket, part_bytes=MIN_PART_BYTES, key_prefix="platform/"))
    try:
        yield s3
    finally:
        await s3.close()


KEY = blob_key("t1", "forms", "uploads/f1")


async def test_a_put_comes_back_byte_for_byte(backend: BlobBackend) -> None:
    data = os.urandom(200_000)
    stored = await backend.put(KEY, stream(data), max_bytes=len(data), content_type="application/pdf")
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await read_all(backend, KEY) == data
    info = await backend.stat(KEY)
    assert info is not None
    assert info.size == len(data)


async def test_an_empty_blob_is_a_blob(backend: BlobBackend) -> None:
    stored = await backend.put(KEY, stream(b""), max_bytes=10, content_type="text/plain")
    assert stored.size == 0
    assert await read_all(backend, KEY) == b""


async def test_a_large_blob_streams_through_in_parts(backend: BlobBackend) -> None:
    # More than two S3 parts, the last one short.
    data = os.urandom(2 * MIN_PART_BYTES + 123_457)
    stored = await backend.put(KEY, stream(data, chunk=MiB), max_bytes=len(data), content_type="video/mp4")
    assert stored.size == len(data)
    assert await read_all(backend, KEY) == data


@pytest.mark.parametrize("size", [1001, 2 * MIN_PART_BYTES + 1])
async def test_a_put_over_its_limit_keeps_nothing(backend: BlobBackend, size: int) -> None:
    limit = size - 1
    with pytest.raises(BlobTooLarge) as raised:
        await backend.put(KEY, stream(b"x" * size, chunk=MiB), max_bytes=limit, content_type="text/plain")
    assert raised.value.max_bytes == limit
    assert await backend.stat(KEY) is None
    with pytest.raises(BlobNotFound):
        await read_all(backend, KEY)


async def test_a_failed_stream_keeps_nothing_and_leaves_the_old_blob(backend: BlobBackend) -> None:
    await backend.put(KEY, stream(b"old"), max_bytes=100, content_type="text/plain")
    with pytest.raises(ConnectionResetError):
        await backend.put(KEY, failing_stream(b"new" * 10), max_bytes=100, content_type="text/plain")
    assert await read_all(backend, KEY) == b"old"


async def test_missing_blobs(backend: BlobBackend) -> None:
    assert await backend.stat(KEY) is None
    with pytest.raises(BlobNotFound):
        await read_all(backend, KEY)
    await backend.delete(KEY)  # deleting nothing is not an error


async def test_delete_removes_and_is_idempotent(backend: BlobBackend) -> None:
    await backend.put(KEY, stream(b"data"), max_bytes=100, content_type="text/plain")
    await backend.delete(KEY)
    await backend.delete(KEY)
    assert await backend.stat(KEY) is None


async def test_a_folder_is_deleted_whole_and_only_it(backend: BlobBackend) -> None:
    names = [f"uploads/f{index}" for index in range(3)] + ["a/b/deep"]
    for name in names:
        await backend.put(blob_key("t1", "forms", name), stream(b"x"), max_bytes=10, content_type="text/plain")
    others = [blob_key("t10", "forms", "uploads/f0"), blob_key("t1", "menus", "uploads/f0")]
    for key in others:
        await backend.put(key, stream(b"y"), max_bytes=10, content_type="text/plain")
    await backend.delete_folder("tenants/t1/forms/")
    await backend.delete_folder("tenants/t1/forms/")  # retried: nothing left is not an error
    for name in names:
        assert await backend.stat(blob_key("t1", "forms", name)) is None
    # A sibling whose name starts alike, and another service of the tenant, keep theirs.
    for key in others:
        assert await backend.stat(key) is not None
    with pytest.raises(ValueError, match="folder"):
        await backend.delete_folder("tenants/t1")


def tenant(tenant_id: str) -> TenantContext:
    return TenantContext(tenant_id, tenant_id, TenantState.ACTIVE, TenantDatabase("default", f"tenant_{tenant_id}"))


async def test_tenant_blobs_are_keyed_by_the_current_tenant(backend: BlobBackend) -> None:
    blobs = TenantBlobs(backend, "forms")
    with acting_for(tenant("alpha")):
        await blobs.put("uploads/same-name", stream(b"alpha's"), max_bytes=100, content_type="text/plain")
    with acting_for(tenant("beta")):
        # The same name in another tenant is another blob: beta sees none, and its own put
        # does not touch alpha's.
        assert await blobs.stat("uploads/same-name") is None
        await blobs.put("uploads/same-name", stream(b"beta's"), max_bytes=100, content_type="text/plain")
    with acting_for(tenant("alpha")):
        async with blobs.open("uploads/same-name") as reader:
            assert b"".join([c async for c in reader.chunks()]) == b"alpha's"
    assert await backend.stat(blob_key("alpha", "forms", "uploads/same-name")) is not None


async def test_tenant_blobs_need_a_tenant() -> None:
    blobs = TenantBlobs(LocalBackend(Path("/nonexistent")), "forms")
    with pytest.raises(FailedPrecondition):
        await blobs.stat("uploads/x")


@pytest.mark.parametrize("name", ["../x", "uploads/../../t2/forms/x", "/abs", "a//b", ".hidden", "", "a/./b", "ü"])
async def test_names_cannot_leave_the_tenant_folder(tmp_path: Path, name: str) -> None:
    blobs = TenantBlobs(LocalBackend(tmp_path), "forms")
    with acting_for(tenant("alpha")), pytest.raises(ValueError, match="not a blob name"):
        await blobs.put(name, stream(b"x"), max_bytes=10, content_type="text/plain")
    assert os.listdir(tmp_path) == []


async def test_local_files_are_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o002)  # a permissive umask must not widen what is created
    try:
        backend = LocalBackend(tmp_path / "blobs")
        await backend.put(KEY, stream(b"secret"), max_bytes=100, content_type="text/plain")
    finally:
        os.umask(old_umask)
    path = tmp_path / "blobs" / KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    folder = path.parent
    while folder != tmp_path:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        folder = folder.parent


async def test_local_put_over_limit_leaves_no_temporary_file(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    with pytest.raises(BlobTooLarge):
        await backend.put(KEY, stream(b"x" * 100), max_bytes=10, content_type="text/plain")
    assert [files for _, _, files in os.walk(tmp_path) if files] == []


async def test_s3_keys_carry_the_prefix(s3_server: S3TestServer, s3_bucket: str) -> None:
    backend = S3Backend(s3_server.settings(s3_bucket, key_prefix="platform/"))
    try:
        await backend.put(KEY, stream(b"x"), max_bytes=10, content_type="text/plain")
    finally:
        await backend.close()
    assert s3_server.object_keys(s3_bucket) == [f"platform/{KEY}"]


async def test_s3_over_limit_multipart_leaves_no_object(s3_server: S3TestServer, s3_bucket: str) -> None:
    backend = S3Backend(s3_server.settings(s3_bucket, part_bytes=MIN_PART_BYTES))
    try:
        data = b"y" * (MIN_PART_BYTES + MiB)
        with pytest.raises(BlobTooLarge):
            await backend.put(KEY, stream(data, chunk=MiB), max_bytes=MIN_PART_BYTES, content_type="text/plain")
    finally:
        await backend.close()
    assert s3_server.object_keys(s3_bucket) == []


async def test_s3_with_a_wrong_secret_is_unavailable(s3_server: S3TestServer, s3_bucket: str) -> None:
    backend = S3Backend(s3_server.settings(s3_bucket, secret_access_key="not-the-secret"))
    try:
        with pytest.raises(StorageUnavailable):
            await backend.put(KEY, stream(b"x"), max_bytes=10, content_type="text/plain")
        with pytest.raises(StorageUnavailable):
            await backend.stat(KEY)
        opening: AbstractAsyncContextManager[object] = backend.open(KEY)
        with pytest.raises(StorageUnavailable):
            async with opening:
                pass
    finally:
        await backend.close()


async def test_a_full_disk_is_storage_full_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local store's file system fills up: every write of the temporary file fails with
    ENOSPC (it is /dev/full here), and so does closing it (it flushes), which used to keep the
    temporary file for good and answer INTERNAL."""
    backend = LocalBackend(tmp_path / "blobs")
    real_fdopen = os.fdopen

    def onto_a_full_disk(fd: int, mode: str) -> object:
        os.close(fd)
        return real_fdopen(os.open("/dev/full", os.O_WRONLY), mode)

    monkeypatch.setattr("services.runtime.storage.local.os.fdopen", onto_a_full_disk)
    with pytest.raises(StorageFull):
        await backend.put(KEY, stream(b"x" * MiB), max_bytes=2 * MiB, content_type="text/plain")
    assert [path.name for path in (tmp_path / "blobs").rglob("*") if path.is_file()] == []
    assert await backend.stat(KEY) is None
