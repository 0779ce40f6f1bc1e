"""The platform's file limits (TENANTMESH_FILES_*), read once at startup; fields can only narrow them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from services.runtime.config import ConfigError, EnvReader

# Types people attach to forms. Not served as web content: no HTML, SVG or scripts, which a
# browser could run from the platform's origin.
DEFAULT_ALLOWED_TYPES = (
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/csv",
    "application/zip",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.*",
    "application/vnd.oasis.opendocument.*",
)
_TYPE_PATTERN = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/([a-z0-9][a-z0-9!#$&^_.+-]{0,126}|\*|[a-z0-9.+-]+\.\*)")


@dataclass(frozen=True)
class FilesSettings:
    # Largest upload, in bytes.
    max_bytes: int = 25 * 1024 * 1024
    # Content types stored ("type/subtype", "type/*", or a prefix ending ".*").
    allowed_types: tuple[str, ...] = DEFAULT_ALLOWED_TYPES
    # How long an upload waits for a submission before it is deleted.
    upload_ttl_seconds: float = 24 * 3600.0
    # How often the sweeper looks for expired uploads.
    sweep_interval_seconds: float = 60.0
    # Reminders handled per sweep round.
    sweep_batch: int = 200


# Subtypes a browser renders as a page that may run scripts (HTML, XHTML, SVG, any XML with a
# stylesheet, JavaScript). Never stored, whatever the patterns say: a prefix pattern such as
# "application/vnd.oasis.opendocument.*" would otherwise take "...opendocument.x+xml".
_WEB_CONTENT_WORDS = ("html", "svg", "script", "xsl")


def is_web_content(content_type: str) -> bool:
    """Whether a browser could run ``content_type`` (no parameters, lower case) as a page."""
    subtype = content_type.partition("/")[2]
    return subtype == "xml" or subtype.endswith("+xml") or any(word in subtype for word in _WEB_CONTENT_WORDS)


def type_matches(content_type: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``content_type`` (no parameters, lower case) is one of ``patterns`` and not web
    content (``is_web_content``)."""
    if is_web_content(content_type):
        return False
    for pattern in patterns:
        if pattern.endswith("*"):
            if content_type.startswith(pattern[:-1]):
                return True
        elif content_type == pattern:
            return True
    return False


def _types(value: str) -> tuple[str, ...]:
    types = tuple(t.strip().lower() for t in value.split(",") if t.strip())
    bad = [t for t in types if not _TYPE_PATTERN.fullmatch(t)]
    if bad or not types:
        raise ValueError(f"expected type/subtype patterns, got {bad or value!r}")
    return types


def load_files_settings(env: Mapping[str, str]) -> FilesSettings:
    read = EnvReader(env)
    default = FilesSettings()
    max_mib = read.positive("TENANTMESH_FILES_MAX_MIB", default.max_bytes / (1024 * 1024))
    if max_mib > 5 * 1024:
        raise ConfigError("TENANTMESH_FILES_MAX_MIB must be at most 5120 (5 GiB)")
    return FilesSettings(
        max_bytes=int(max_mib * 1024 * 1024),
        allowed_types=read.get("TENANTMESH_FILES_ALLOWED_TYPES", default.allowed_types, _types),
        upload_ttl_seconds=read.positive("TENANTMESH_FILES_UPLOAD_TTL_SECONDS", default.upload_ttl_seconds),
        sweep_interval_seconds=read.positive("TENANTMESH_FILES_SWEEP_SECONDS", default.sweep_interval_seconds),
        sweep_batch=default.sweep_batch,
    )
