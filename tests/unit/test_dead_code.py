"""No dead code in services/: vulture finds nothing that is neither used nor named below.

Code that is only called from outside Python is not dead, and is told apart here
rather than in a whitelist of stale names: gRPC handlers (every RPC name the
generated protos declare, so a new service's handlers need no entry) and the
names below, each with where its use is.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import tenantmesh
import vulture

REPO = Path(__file__).resolve().parents[2]

USED_ELSEWHERE = {
    # Read by name by the Jinja templates (envoy/envoy.yaml.j2, deploy/templates/).
    **dict.fromkeys(
        (
            "tls_key_file",
            "api_prefixes",
            "max_response_bytes",
            "route_timeout_seconds",
            "request_timeout_seconds",
            "strict_transport_seconds",
            "global_rate_limit_rps",
            "per_tenant_rate_limit_rps",
            "per_tenant_rate_limit_max_tenants",
            "access_log_path",
            "max_downstream_connections",
            "host_is_ip",
            "http_body",
            "unbuffered",
            "verbs_regex",
            "path_header_regex",
            "failure_mode_deny",
            "api_prefixes",
            "audiences",
            "jwks_uri",
            "jwks_host",
            "jwks_port",
            "clock_skew_seconds",
            "token_tenant_header",
            "token_tenant_claim",
            "jwt_status",
            "grpc_status_details",
            "valid_regex",
            "cpu_request",
            "memory_request",
            "memory_limit",
            "resources_note",
            "max_replicas",
            "compose_environment",
        ),
        "templates",
    ),
    # Table columns: written and read by SQL, kept for operators and audits.
    **dict.fromkeys(
        ("revoke_reason", "issue_time", "algorithm", "last_failure_time", "delete_time", "provision_time", "audit_id"),
        "columns",
    ),
    # Called by grpc.aio and the enum machinery by name.
    **dict.fromkeys(
        ("intercept_service", "intercept_unary_unary", "intercept_unary_stream", "_generate_next_value_"),
        "protocols",
    ),
    "last_values": "signature of Enum._generate_next_value_",
    # Read by http.server (the edge's static pages, services/mesh/static_site.py).
    **dict.fromkeys(
        (
            "sys_version",
            "do_GET",
            "do_HEAD",
            "log_message",
            "daemon_threads",
            "protocol_version",
            "close_connection",
            "request_queue_size",
        ),
        "http.server",
    ),
    # A field of protoc's CodeGeneratorResponse (services/openapi/plugin.py).
    "supported_features": "protoc plugin protocol",
    # Called by migrations, which the scan leaves out (services/runtime/migrations/*/versions).
    "widen_to_long_binary": "called by migrations",
    # Copied by name between the registry's MenuEntry and its message (dataclass_from, asdict).
    **dict.fromkeys(("route", "icon", "order"), "copied by field name"),
    # Called by jsonschema-rs for a custom keyword (services/forms/engine/schema.py).
    "validate": "protocol",
    # The OTLP gRPC exporter's encoding and connecting hooks, overridden (services/runtime/telemetry/tracing.py),
    # and the stub method it calls.
    **dict.fromkeys(("_translate_data", "_initialize_channel_and_stub", "Export"), "called by the exporter base class"),
    # SQLAlchemy's for a custom SQL element: its statement cache reads the flag, the compiler
    # calls the function registered with @compiles (services/runtime/db/clock.py).
    **dict.fromkeys(("inherit_cache", "_compile_database_clock"), "SQLAlchemy protocol"),
}


def rpc_names() -> set[str]:
    """Every RPC name of every generated proto module: the handlers grpc calls by name."""
    names: set[str] = set()
    for info in pkgutil.walk_packages(tenantmesh.__path__, "tenantmesh."):
        if info.name.endswith("_pb2"):
            module = importlib.import_module(info.name)
            for service in module.DESCRIPTOR.services_by_name.values():
                names |= {method.name for method in service.methods}
    return names


def test_nothing_in_services_is_unused() -> None:
    finder = vulture.Vulture(ignore_names=sorted(rpc_names() | USED_ELSEWHERE.keys()))
    finder.scavenge([str(REPO / "services"), str(REPO / "tests")], exclude=["*/migrations/*"])
    unused = [
        f"{item.filename.relative_to(REPO)}:{item.first_lineno} {item.typ} {item.name}"
        for item in finder.get_unused_code(min_confidence=60)
        if (REPO / "services") in item.filename.parents
    ]
    assert not unused, "\n".join(unused)
