"""The platform's file limits: defaults, the environment, content type patterns."""

from __future__ import annotations

import pytest

from services.forms.files.files import media_type
from services.forms.files.settings import DEFAULT_ALLOWED_TYPES, load_files_settings, type_matches
from services.runtime.config import ConfigError


def test_defaults() -> None:
    settings = load_files_settings({})
    assert settings.max_bytes == 25 * 1024 * 1024
    assert settings.upload_ttl_seconds == 86400
    assert settings.allowed_types == DEFAULT_ALLOWED_TYPES


def test_from_the_environment() -> None:
    settings = load_files_settings(
        {
            "TENANTMESH_FILES_MAX_MIB": "100",
            "TENANTMESH_FILES_ALLOWED_TYPES": "image/*, Application/PDF",
            "TENANTMESH_FILES_UPLOAD_TTL_SECONDS": "600",
        }
    )
    assert settings.max_bytes == 100 * 1024 * 1024
    assert settings.allowed_types == ("image/*", "application/pdf")
    assert settings.upload_ttl_seconds == 600


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TENANTMESH_FILES_MAX_MIB", "0"),
        ("TENANTMESH_FILES_MAX_MIB", "999999"),
        ("TENANTMESH_FILES_ALLOWED_TYPES", "pdf"),
        ("TENANTMESH_FILES_ALLOWED_TYPES", "*/*"),
        ("TENANTMESH_FILES_UPLOAD_TTL_SECONDS", "-1"),
    ],
)
def test_bad_values_name_their_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_files_settings({variable: value})


@pytest.mark.parametrize(
    ("content_type", "allowed"),
    [
        ("application/pdf", True),
        ("image/webp", True),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", True),
        ("text/html", False),
        ("image/svg+xml", False),
        ("application/pdfx", False),
        ("application/javascript", False),
        # Prefix patterns take no subtype a browser renders as a page (XHTML, SVG, XML, scripts).
        ("application/vnd.openxmlformats-officedocument.x+xml", False),
        ("application/vnd.oasis.opendocument.svg+xml", False),
        ("application/vnd.oasis.opendocument.html", False),
        ("application/vnd.oasis.opendocument.javascript", False),
        ("application/vnd.oasis.opendocument.text", True),
    ],
)
def test_default_types(content_type: str, allowed: bool) -> None:
    assert type_matches(content_type, DEFAULT_ALLOWED_TYPES) is allowed


@pytest.mark.parametrize("content_type", ["image/svg+xml", "application/xml", "text/xml", "application/xhtml+xml"])
def test_web_content_is_refused_whatever_the_patterns(content_type: str) -> None:
    assert type_matches(content_type, ("image/*", "application/*", "text/*", content_type)) is False


def test_media_type_drops_parameters_and_case() -> None:
    assert media_type(" Text/Plain; charset=UTF-8") == "text/plain"
    assert media_type("") == ""
