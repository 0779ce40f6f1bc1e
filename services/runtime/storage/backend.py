"""What a blob backend does: put a stream (bounded), read it back as a stream, stat, delete.

Backends work on full keys and know nothing of tenants; services never hold one directly but
go through :class:`services.runtime.storage.TenantBlobs`, which forms every key from the
current call's tenant. A backend's errors are the ones below, whatever store is behind it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

# Size of the chunks a reader yields: small enough to stream, large enough to keep calls few.
READ_CHUNK_BYTES = 64 * 1024


class StorageError(Exception):
    """Root of the errors a blob backend raises."""


class BlobNotFound(StorageError):
    """No blob is stored under the key."""


class BlobTooLarge(StorageError):
    """A stream being stored went past its limit; nothing of it was kept."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the content is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


class StorageUnavailable(StorageError):
    """The store could not be reached or refused the platform's credentials."""


class StorageFull(StorageError):
    """The store has no space left (a full disk, a quota): nothing of the content was kept."""


@dataclass(frozen=True)
class StoredBlob:
    """What a completed put stored."""

    size: int
    # Hex SHA-256 of the content, computed while it streamed through.
    sha256: str


@dataclass(frozen=True)
class BlobStat:
    size: int


class BlobReader(Protocol):
    """An open blob: its size, then its content in chunks."""

    @property
    def size(self) -> int: ...

    def chunks(self) -> AsyncIterator[bytes]: ...


class BlobBackend(Protocol):
    async def put(self, key: str, content: AsyncIterable[bytes], *, max_bytes: int, content_type: str) -> StoredBlob:
        """Stores ``content`` under ``key`` (replacing what was there) once all of it arrived.

        Raises BlobTooLarge as soon as more than ``max_bytes`` came, and keeps nothing of a put
        that failed: readers see the old blob or the whole new one, never a part.
        """
        ...

    def open(self, key: str) -> AbstractAsyncContextManager[BlobReader]:
        """The blob for reading; BlobNotFound on entering when there is none."""
        ...

    async def stat(self, key: str) -> BlobStat | None: ...

    async def delete(self, key: str) -> None:
        """Removes the blob; a key with no blob is not an error (deletes are retried)."""
        ...

    async def delete_folder(self, prefix: str) -> None:
        """Removes every blob whose key starts with ``prefix`` (a folder: it ends with "/"); an
        empty or missing folder is not an error (retried, like delete)."""
        ...

    async def close(self) -> None: ...
