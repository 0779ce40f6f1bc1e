"""Blob store settings (TENANTMESH_BLOB_* and TENANTMESH_S3_*), read once at startup."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.runtime.config import ConfigError, EnvReader
from services.runtime.storage.backend import BlobBackend
from services.runtime.storage.local import LocalBackend
from services.runtime.storage.s3 import MIN_PART_BYTES, AddressingStyle, S3Backend, S3Settings

BACKENDS = ("local", "s3")
_ADDRESSING_STYLES: dict[str, AddressingStyle] = {"path": "path", "virtual": "virtual", "auto": "auto"}


@dataclass(frozen=True)
class StorageSettings:
    backend: str
    # Where the local backend keeps blobs.
    directory: Path
    # The S3 backend's settings (None with the local backend).
    s3: S3Settings | None = None


def load_storage_settings(env: Mapping[str, str], data_dir: Path) -> StorageSettings:
    read = EnvReader(env)
    backend = read.get("TENANTMESH_BLOB_STORE", "local", str).lower()
    if backend not in BACKENDS:
        raise ConfigError(f"TENANTMESH_BLOB_STORE must be one of {BACKENDS}, got {backend!r}")
    directory = Path(read.get("TENANTMESH_BLOB_DIR", str(data_dir / "blobs"), str)).resolve()
    if backend == "local":
        return StorageSettings(backend=backend, directory=directory)
    bucket = read.raw("TENANTMESH_S3_BUCKET")
    if bucket is None:
        raise ConfigError("TENANTMESH_S3_BUCKET is required with TENANTMESH_BLOB_STORE=s3")
    access_key_id = read.raw("TENANTMESH_S3_ACCESS_KEY_ID")
    secret_access_key = read.raw("TENANTMESH_S3_SECRET_ACCESS_KEY")
    if (access_key_id is None) != (secret_access_key is None):
        raise ConfigError("set both TENANTMESH_S3_ACCESS_KEY_ID and TENANTMESH_S3_SECRET_ACCESS_KEY, or neither")
    endpoint = read.raw("TENANTMESH_S3_ENDPOINT_URL")
    if endpoint is not None and not endpoint.startswith(("https://", "http://")):
        raise ConfigError("TENANTMESH_S3_ENDPOINT_URL must be an http(s):// URL")
    style = _ADDRESSING_STYLES.get(read.get("TENANTMESH_S3_ADDRESSING_STYLE", "path", str).lower())
    if style is None:
        raise ConfigError(f"TENANTMESH_S3_ADDRESSING_STYLE must be one of {tuple(_ADDRESSING_STYLES)}")
    prefix = read.get("TENANTMESH_S3_KEY_PREFIX", "", str)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    part_mib = read.count("TENANTMESH_S3_PART_MIB", 8, minimum=MIN_PART_BYTES // (1024 * 1024))
    return StorageSettings(
        backend=backend,
        directory=directory,
        s3=S3Settings(
            bucket=bucket,
            endpoint_url=endpoint,
            region=read.get("TENANTMESH_S3_REGION", "us-east-1", str),
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            key_prefix=prefix,
            addressing_style=style,
            ca_file=read.raw("TENANTMESH_S3_CA_FILE"),
            part_bytes=part_mib * 1024 * 1024,
        ),
    )


def open_backend(settings: StorageSettings) -> BlobBackend:
    if settings.s3 is not None:
        return S3Backend(settings.s3)
    return LocalBackend(settings.directory)
