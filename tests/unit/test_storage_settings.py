"""Blob store settings: the embedded default, S3 from the environment, and refusals naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime.config import ConfigError
from services.runtime.storage import load_storage_settings, open_backend
from services.runtime.storage.local import LocalBackend
from services.runtime.storage.s3 import S3Backend

S3_ENV = {
    "TENANTMESH_BLOB_STORE": "s3",
    "TENANTMESH_S3_BUCKET": "tenant-files",
    "TENANTMESH_S3_ENDPOINT_URL": "https://s3.example.test",
    "TENANTMESH_S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "TENANTMESH_S3_SECRET_ACCESS_KEY": "very-secret-key",
}


def test_the_default_is_files_under_the_data_directory(tmp_path: Path) -> None:
    settings = load_storage_settings({}, tmp_path)
    assert settings.backend == "local"
    assert settings.directory == (tmp_path / "blobs").resolve()
    assert isinstance(open_backend(settings), LocalBackend)


def test_s3_from_the_environment(tmp_path: Path) -> None:
    settings = load_storage_settings(
        {**S3_ENV, "TENANTMESH_S3_KEY_PREFIX": "prod", "TENANTMESH_S3_PART_MIB": "16"}, tmp_path
    )
    assert settings.s3 is not None
    assert settings.s3.bucket == "tenant-files"
    assert settings.s3.key_prefix == "prod/"
    assert settings.s3.part_bytes == 16 * 1024 * 1024
    assert settings.s3.addressing_style == "path"
    assert isinstance(open_backend(settings), S3Backend)


def test_the_secret_key_is_not_in_the_settings_repr(tmp_path: Path) -> None:
    settings = load_storage_settings(S3_ENV, tmp_path)
    assert "very-secret-key" not in repr(settings)


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"TENANTMESH_BLOB_STORE": "ftp"}, "TENANTMESH_BLOB_STORE"),
        ({"TENANTMESH_S3_BUCKET": ""}, "TENANTMESH_S3_BUCKET"),
        ({"TENANTMESH_S3_SECRET_ACCESS_KEY": ""}, "TENANTMESH_S3_SECRET_ACCESS_KEY"),
        ({"TENANTMESH_S3_ENDPOINT_URL": "s3.example.test"}, "TENANTMESH_S3_ENDPOINT_URL"),
        ({"TENANTMESH_S3_ADDRESSING_STYLE": "dns"}, "TENANTMESH_S3_ADDRESSING_STYLE"),
        ({"TENANTMESH_S3_PART_MIB": "4"}, "TENANTMESH_S3_PART_MIB"),
    ],
)
def test_bad_settings_name_their_variable(tmp_path: Path, change: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_storage_settings({**S3_ENV, **change}, tmp_path)
