"""Blobs as files under a directory (the embedded default: ``<data dir>/blobs``).

Folders are created 0700 and files 0600, whatever the process umask: blobs are tenants'
files. A put writes a hidden temporary file next to its target and renames it into place
once complete, so a reader never sees a part and a failed put leaves nothing behind. File
system calls run in worker threads so a slow disk does not stall the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

from services.runtime.storage.backend import (
    READ_CHUNK_BYTES,
    BlobNotFound,
    BlobReader,
    BlobStat,
    BlobTooLarge,
    StorageFull,
    StorageUnavailable,
    StoredBlob,
)

_FOLDER_MODE = 0o700
# Keys never have a segment starting with a dot (services.runtime.storage.keys).
_TEMPORARY_PREFIX = ".upload-"


class _FileReader:
    def __init__(self, handle: BinaryIO, size: int) -> None:
        self._handle = handle
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    async def chunks(self) -> AsyncIterator[bytes]:
        while chunk := await asyncio.to_thread(self._handle.read, READ_CHUNK_BYTES):
            yield chunk


class LocalBackend:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        # Keys are checked where they are made; this keeps a bug there from writing elsewhere.
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"key outside the blob folder: {key!r}")
        return path

    def _make_folders(self, folder: Path) -> None:
        missing: list[Path] = []
        current = folder
        while not current.exists():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):
                path.mkdir(mode=_FOLDER_MODE)
            os.chmod(path, _FOLDER_MODE)  # mkdir's mode is narrowed by the umask, never widened

    async def put(self, key: str, content: AsyncIterable[bytes], *, max_bytes: int, content_type: str) -> StoredBlob:
        target = self._path(key)
        with _as_storage_errors():
            await asyncio.to_thread(self._make_folders, target.parent)
            # mkstemp creates the file 0600.
            fd, temporary = await asyncio.to_thread(tempfile.mkstemp, dir=target.parent, prefix=_TEMPORARY_PREFIX)
        handle = os.fdopen(fd, "wb")
        digest = hashlib.sha256()
        size = 0
        try:
            # Only the file system's failures are the store's: the content's own (a client gone)
            # pass as they are.
            async for chunk in content:
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge(max_bytes)
                digest.update(chunk)
                with _as_storage_errors():
                    await asyncio.to_thread(handle.write, chunk)
            with _as_storage_errors():
                await asyncio.to_thread(_flush_and_close, handle)
                await asyncio.to_thread(os.replace, temporary, target)
        except BaseException:
            # Closing flushes what is buffered, and fails again on a full disk: the temporary
            # file goes whatever closing says.
            with contextlib.suppress(OSError):
                handle.close()
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return StoredBlob(size=size, sha256=digest.hexdigest())

    @asynccontextmanager
    async def open(self, key: str) -> AsyncIterator[BlobReader]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(key) from None
        except OSError as exc:
            raise StorageUnavailable(f"reading the file store failed: {exc.strerror}") from exc
        try:
            size = os.fstat(handle.fileno()).st_size
            yield _FileReader(handle, size)
        finally:
            handle.close()

    async def stat(self, key: str) -> BlobStat | None:
        try:
            info = await asyncio.to_thread(os.stat, self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StorageUnavailable(f"reading the file store failed: {exc.strerror}") from exc
        return BlobStat(size=info.st_size)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError), _as_storage_errors():
            await asyncio.to_thread(os.unlink, self._path(key))

    async def delete_folder(self, prefix: str) -> None:
        if not prefix.endswith("/"):
            raise ValueError(f"not a folder: {prefix!r}")
        folder = self._path(prefix)
        if folder == self.root.resolve():
            raise ValueError("refusing to delete the whole blob folder")
        await asyncio.to_thread(_remove_tree, folder)

    async def close(self) -> None:
        return None


# The errors a full file system or an exhausted quota gives.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


@contextlib.contextmanager
def _as_storage_errors() -> Iterator[None]:
    """The file system's failures as the backends' errors: full (StorageFull) or not usable
    now (StorageUnavailable). A missing file is the caller's to handle, so it passes as is."""
    try:
        yield
    except (FileNotFoundError, NotADirectoryError):
        raise
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            raise StorageFull(f"the file store has no space left: {exc.strerror}") from exc
        raise StorageUnavailable(f"the file store failed: {exc.strerror}") from exc


def _remove_tree(folder: Path) -> None:
    # Deletes are retried, and a tenant that never stored a file has no folder.
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(folder)


def _flush_and_close(handle: BinaryIO) -> None:
    # Durable before it becomes visible: a crash right after the rename must not leave an empty file.
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
