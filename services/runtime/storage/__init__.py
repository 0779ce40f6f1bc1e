"""Blob storage for tenants' files: one small interface, a local and an S3-compatible backend.

Services use :class:`TenantBlobs` (``runtime.blobs(service)``), which keys every blob by the
current call's tenant; backends (:mod:`.local`, :mod:`.s3`) only store bytes under keys.
"""

from services.runtime.storage.backend import (
    BlobBackend,
    BlobNotFound,
    BlobReader,
    BlobStat,
    BlobTooLarge,
    StorageError,
    StorageFull,
    StorageUnavailable,
    StoredBlob,
)
from services.runtime.storage.blobs import TenantBlobs
from services.runtime.storage.keys import blob_key, tenant_prefix
from services.runtime.storage.settings import StorageSettings, load_storage_settings, open_backend

__all__ = [
    "BlobBackend",
    "BlobNotFound",
    "BlobReader",
    "BlobStat",
    "BlobTooLarge",
    "StorageError",
    "StorageFull",
    "StorageSettings",
    "StorageUnavailable",
    "StoredBlob",
    "TenantBlobs",
    "blob_key",
    "load_storage_settings",
    "open_backend",
    "tenant_prefix",
]
