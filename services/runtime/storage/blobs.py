"""A service's blobs in the current call's tenant: the only way services reach the blob store.

Every key is formed here from the tenant in the call context (set by the runtime's tenant
stage after it checked the caller may act on that tenant), the service's name and a name the
service chooses; a service cannot name another tenant's blob, whatever a request says.
Background work that acts for a tenant enters its context first (``acting_for``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from contextlib import AbstractAsyncContextManager

from services.runtime.context import current_tenant
from services.runtime.storage.backend import BlobBackend, BlobReader, BlobStat, StoredBlob
from services.runtime.storage.keys import blob_key, service_prefix


class TenantBlobs:
    def __init__(self, backend: BlobBackend, service: str) -> None:
        self._backend = backend
        self._service = service

    def _key(self, name: str) -> str:
        return blob_key(current_tenant().tenant_id, self._service, name)

    async def put(self, name: str, content: AsyncIterable[bytes], *, max_bytes: int, content_type: str) -> StoredBlob:
        return await self._backend.put(self._key(name), content, max_bytes=max_bytes, content_type=content_type)

    def open(self, name: str) -> AbstractAsyncContextManager[BlobReader]:
        return self._backend.open(self._key(name))

    async def stat(self, name: str) -> BlobStat | None:
        return await self._backend.stat(self._key(name))

    async def delete(self, name: str) -> None:
        await self._backend.delete(self._key(name))

    async def delete_tenant(self, tenant_id: str) -> None:
        """Removes every blob this service keeps for ``tenant_id``: the tenant is being deleted
        (called from the service's deprovisioning, which names the tenant; no call context)."""
        await self._backend.delete_folder(service_prefix(tenant_id, self._service))
