"""Renders the Envoy bootstrap configuration from the template (envoy/envoy.yaml.j2)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jinja2

from services.mesh.edge.config import (
    DEFAULT_TEMPLATE_DIR,
    DEFAULT_TEMPLATE_NAME,
    EdgeSettings,
    Upstream,
    is_ip_address,
)
from services.mesh.edge.jwt import edge_jwt
from services.mesh.edge.mesh_tls import CA_SECRET, CERTIFICATE_SECRET
from services.mesh.edge.replies import (
    GRPC_HEADER_RULES,
    GRPC_METHOD_NOT_ALLOWED,
    GRPC_TRANSPORT_HEADERS,
    JWT_FAILURE_METADATA_KEY,
    LOCAL_REPLIES,
    jwt_local_replies,
)
from services.mesh.edge.routes import EdgeApi, load_edge_api
from services.mesh.static_site import MAX_AGE_SECONDS, StaticFile, StaticSite
from services.runtime.errors import ERROR_DOMAIN
from services.runtime.interceptors.request_id import CLIENT_ADDRESS_HEADER, REQUEST_ID_MAX_LENGTH
from services.runtime.interceptors.tenant import TENANT_HEADER


def _yaml_scalar(value: object) -> str:
    """Quote a value for the template: JSON is valid YAML, and safe for any string."""
    if isinstance(value, Path):
        value = str(value)
    return json.dumps(value)


# The content types Envoy takes for gRPC (a route's `grpc: {}`): "application/grpc", or it followed
# by "+" and a codec.
GRPC_CONTENT_TYPE_REGEX = r"application/grpc(\+.*)?"


def _duration(seconds: float) -> str:
    return f"{seconds:g}s"


def render_envoy_config(
    settings: EdgeSettings,
    upstreams: Sequence[Upstream],
    *,
    site: StaticSite | None = None,
    static_files: Sequence[StaticFile] = (),
    static_max_body: int = 0,
    template_dir: Path = DEFAULT_TEMPLATE_DIR,
    template_name: str = DEFAULT_TEMPLATE_NAME,
) -> str:
    """Render the Envoy bootstrap for ``upstreams`` behind the edge described by ``settings``,
    and the static pages (the OpenAPI document and reference): routed to the static server ``site``
    (`make run`), or answered by Envoy itself from ``static_files`` (deployments)."""
    if not upstreams:
        raise ValueError("the edge needs at least one upstream")
    api = load_edge_api(settings.descriptor_path, upstreams)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - YAML, not HTML; values go through the `q` filter
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = _yaml_scalar
    env.filters["duration"] = _duration
    env.filters["is_ip"] = is_ip_address
    template = env.get_template(template_name)
    context = _context(settings, upstreams, api)
    context["site"] = site
    context["site_routes"] = (
        [("path", p) for p in site.paths] + [("prefix", p) for p in site.prefixes] if site is not None else []
    ) + [("path", file.path) for file in static_files]
    context["static_files"] = list(static_files)
    context["static_max_body"] = static_max_body
    context["static_cache_control"] = f"public, max-age={MAX_AGE_SECONDS}"
    return template.render(**context)


def _context(settings: EdgeSettings, upstreams: Sequence[Upstream], api: EdgeApi) -> dict[str, Any]:
    jwt = edge_jwt(settings, api)
    return {
        # Public reads as long as the edge keeps the signing keys (which a key's activation delay
        # outlasts); anything else never.
        "api_cache_control": {"shared": f"public, max-age={settings.jwks_cache_seconds}", "private": "no-store"},
        "jwt": jwt,
        "jwt_failure_key": JWT_FAILURE_METADATA_KEY,
        "jwt_local_replies": jwt_local_replies(),
        "settings": settings,
        "upstreams": list(upstreams),
        "api": api,
        "services": _unique(api.all_services),
        "tenant_header": TENANT_HEADER,
        "global_limit": settings.global_rate_limit,
        # The tenant a request is counted for: the verified token's where the edge checks tokens.
        "limited_tenant_header": jwt.token_tenant_header if jwt is not None else TENANT_HEADER,
        "client_address_header": CLIENT_ADDRESS_HEADER,
        # The edge replaces a caller's x-request-id the services would refuse (they mint their own).
        "request_id_max_length": REQUEST_ID_MAX_LENGTH,
        "mesh_certificate_secret": CERTIFICATE_SECRET,
        "mesh_ca_secret": CA_SECRET,
        "error_domain": ERROR_DOMAIN,
        "local_replies": LOCAL_REPLIES,
        "grpc_method_reply": GRPC_METHOD_NOT_ALLOWED,
        "grpc_header_rules": GRPC_HEADER_RULES,
        "grpc_transport_headers": GRPC_TRANSPORT_HEADERS,
        "grpc_content_type_regex": GRPC_CONTENT_TYPE_REGEX,
        # From the routes: a preflight for any method a REST binding declares (PUT of a service's
        # configuration among them) must be allowed.
        "cors_allow_methods": ", ".join(api.http_verbs),
        "cors_allow_headers": "authorization, content-type, x-tenant-id, x-request-id, traceparent",
        "cors_expose_headers": "x-request-id, grpc-status, grpc-message, x-ratelimit-limit, x-ratelimit-remaining, "
        "x-ratelimit-reset",
    }


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
