"""Edge routes derived from the descriptor set (no Envoy needed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from services.manifest import PLATFORM
from services.mesh.edge import (
    DEFAULT_DESCRIPTOR_PATH,
    EdgeSettings,
    MatchKind,
    RestRoute,
    Upstream,
    grpc_services,
    literal_prefix,
    load_edge_api,
    render_envoy_config,
    rest_routes,
    template_regex,
)

TENANTS = Upstream(
    name="tenants",
    host="127.0.0.1",
    port=50051,
    packages=("tenantmesh.tenants.v1", "tenantmesh.meta.v1"),
    health_service="tenantmesh.tenants.v1.TenantService",
)
# Every public API of the platform behind one upstream: all REST bindings at once.
ALL_UPSTREAMS = [
    Upstream(
        name="all",
        host="127.0.0.1",
        port=50051,
        packages=(*(package for spec in PLATFORM.built for package in spec.api), "tenantmesh.meta.v1"),
    )
]
MIGRATE_GRPC_PATH = "/tenantmesh.tenants.v1.TenantService/MigrateTenantDatabases"


def test_real_descriptor_routes_tenants_and_meta() -> None:
    routes = rest_routes(DEFAULT_DESCRIPTOR_PATH, [TENANTS])
    prefixes = {r.value for r in routes if r.kind is MatchKind.PREFIX}
    assert {"/v1/tenants", "/v1/meta/server-info"} <= prefixes
    assert all(r.cluster == "tenants" for r in routes)
    # Literal prefixes only: nothing of a variable or verb survives.
    assert not any(("{" in p or ":" in p) for p in prefixes)
    # Deduplicated (GetTenant, ListTenants, CreateTenant... all share /v1/tenants).
    assert len(prefixes) == len([r for r in routes if r.kind is MatchKind.PREFIX])


def test_prefixes_longest_first() -> None:
    routes = [r for r in rest_routes(DEFAULT_DESCRIPTOR_PATH, [TENANTS]) if r.kind is MatchKind.PREFIX]
    lengths = [len(r.value) for r in routes]
    assert lengths == sorted(lengths, reverse=True)


def test_internal_lifecycle_package_gets_no_route() -> None:
    api = load_edge_api(DEFAULT_DESCRIPTOR_PATH, [TENANTS])
    assert not any("lifecycle" in r.value for r in api.grpc_routes)
    assert not any("lifecycle" in s for s in api.all_services)
    assert {r.value for r in api.grpc_routes if r.kind is MatchKind.PREFIX} == {
        "/tenantmesh.tenants.v1.",
        "/tenantmesh.meta.v1.",
        # Reflection goes where GetServerInfo goes.
        "/grpc.reflection.v1alpha.ServerReflection/",
    }


def test_services_per_upstream() -> None:
    meta = Upstream("meta", "127.0.0.1", 50052, ("tenantmesh.meta.v1",))
    only_tenants = Upstream("tenants", "127.0.0.1", 50051, ("tenantmesh.tenants.v1",))
    services = grpc_services(DEFAULT_DESCRIPTOR_PATH, [only_tenants, meta])
    assert services == {
        "tenants": ("tenantmesh.tenants.v1.TenantService",),
        "meta": ("tenantmesh.meta.v1.MetaService",),
    }
    routes = rest_routes(DEFAULT_DESCRIPTOR_PATH, [only_tenants, meta])
    by_prefix = {r.value: r.cluster for r in routes if r.kind is MatchKind.PREFIX}
    assert by_prefix["/v1/meta/server-info"] == "meta"
    assert by_prefix["/v1/tenants"] == "tenants"


def test_server_streaming_method_detected() -> None:
    api = load_edge_api(DEFAULT_DESCRIPTOR_PATH, [TENANTS])
    assert MIGRATE_GRPC_PATH in api.streaming_methods
    streaming_grpc = [r for r in api.grpc_routes if r.streaming]
    assert any(r.kind is MatchKind.PATH and r.value == MIGRATE_GRPC_PATH for r in streaming_grpc)
    # Streaming REST routes come first (they are more specific than the shared prefix).
    first = api.rest_routes[0]
    assert first == RestRoute(MatchKind.PATH, "/v1/tenants:migrate", "tenants", streaming=True)
    assert not any(r.streaming for r in api.rest_routes if r.kind is MatchKind.PREFIX)


def test_rendered_config_gives_streams_no_timeout(tmp_path: Path) -> None:
    settings = EdgeSettings(route_timeout_seconds=7, tls_cert_file=tmp_path / "c", tls_key_file=tmp_path / "k")
    config = yaml.safe_load(render_envoy_config(settings, [TENANTS]))
    listeners = config["static_resources"]["listeners"]
    assert [listener["name"] for listener in listeners] == ["https", "http"]
    hcm = listeners[0]["filter_chains"][0]["filters"][0]["typed_config"]
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    timeouts = {
        r["match"].get("path") or r["match"].get("prefix"): r["route"]["timeout"]
        for r in routes
        # gRPC routes match the POST method too; REST shapes match their path by a header.
        if "route" in r and ("grpc" in r["match"] or not r["match"].get("headers"))
    }
    shapes = {
        r["match"]["headers"][0]["string_match"]["safe_regex"]["regex"]: r["route"]["timeout"]
        for r in routes
        if "route" in r and r["match"].get("headers", [{}])[0].get("name") == ":path"
    }
    assert timeouts[MIGRATE_GRPC_PATH] == "0s"
    assert timeouts["/v1/tenants:migrate"] == "0s"
    assert timeouts["/tenantmesh.tenants.v1."] == "7s"
    assert timeouts["/v1/tenants"] == "7s"
    assert shapes[re.escape("/v1/tenants/") + "[^/]+" + r"(\?.*)?"] == "7s"
    assert shapes[re.escape("/v1/tenants:migrate") + r"(\?.*)?"] == "0s"


def _grpc_routes(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The native gRPC routes of the https listener by path or prefix."""
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    return {
        r["match"].get("path") or r["match"]["prefix"]: r["route"]
        for r in hcm["route_config"]["virtual_hosts"][0]["routes"]
        if "grpc" in r["match"]
    }


def test_reads_are_retried_on_another_host_after_a_reset_and_writes_are_not(tmp_path: Path) -> None:
    api = load_edge_api(DEFAULT_DESCRIPTOR_PATH, [TENANTS])
    reads = {r.value for r in api.grpc_routes if r.idempotent}
    assert "/tenantmesh.tenants.v1.TenantService/GetTenant" in reads
    assert "/tenantmesh.tenants.v1.TenantService/ListTenants" in reads
    assert "/tenantmesh.tenants.v1.TenantService/CreateTenant" not in reads
    assert MIGRATE_GRPC_PATH not in reads  # a stream, even if bound to GET it would not be
    settings = EdgeSettings(tls_cert_file=tmp_path / "c", tls_key_file=tmp_path / "k")
    routes = _grpc_routes(yaml.safe_load(render_envoy_config(settings, [TENANTS])))
    get = routes["/tenantmesh.tenants.v1.TenantService/GetTenant"]["retry_policy"]
    assert set(get["retry_on"].split(",")) == {"connect-failure", "refused-stream", "reset"}
    assert get["retry_host_predicate"][0]["name"] == "envoy.retry_host_predicates.previous_hosts"
    writes = routes["/tenantmesh.tenants.v1."]["retry_policy"]
    assert set(writes["retry_on"].split(",")) == {"connect-failure", "refused-stream"}


def test_replicas_are_endpoints_of_one_cluster_ejected_on_connection_failures(tmp_path: Path) -> None:
    replicated = Upstream(
        name="tenants", host="127.0.0.1", port=50051, packages=TENANTS.packages, replicas=(("127.0.0.2", 50052),)
    )
    settings = EdgeSettings(tls_cert_file=tmp_path / "c", tls_key_file=tmp_path / "k")
    config = yaml.safe_load(render_envoy_config(settings, [replicated]))
    [cluster] = [c for c in config["static_resources"]["clusters"] if c["name"] == "tenants"]
    assert cluster["type"] == "STATIC"
    addresses = [
        e["endpoint"]["address"]["socket_address"] for e in cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    ]
    assert [(a["address"], a["port_value"]) for a in addresses] == [("127.0.0.1", 50051), ("127.0.0.2", 50052)]
    outlier = cluster["outlier_detection"]
    assert outlier["split_external_local_origin_errors"] is True
    assert outlier["consecutive_local_origin_failure"] == 2
    # A service answering UNAVAILABLE (its database down) is not ejected.
    assert outlier["enforcing_consecutive_5xx"] == 0
    assert outlier["enforcing_consecutive_gateway_failure"] == 0
    with pytest.raises(ValueError, match="listed twice"):
        Upstream(name="tenants", host="127.0.0.1", port=1, packages=TENANTS.packages, replicas=(("127.0.0.1", 1),))
    named = Upstream(name="tenants", host="127.0.0.1", port=1, packages=TENANTS.packages, replicas=(("tenants-2", 1),))
    assert not named.host_is_ip


def test_every_binding_reaches_its_own_methods_first() -> None:
    """Envoy takes the first route whose regex matches: a path of any binding must meet a shape
    that answers the binding's method before any other shape (else it would get 405)."""
    api = load_edge_api(DEFAULT_DESCRIPTOR_PATH, [TENANTS])
    everything = load_edge_api(DEFAULT_DESCRIPTOR_PATH, ALL_UPSTREAMS)
    for routed in (api, everything):
        assert routed.method_routes
        for method in routed.methods:
            for binding in method.bindings:
                path = binding.sample_path()
                first = next(r for r in routed.method_routes if re.fullmatch(r.regex, path))
                assert binding.verb in first.verbs, (binding, first)


def test_method_routes_share_a_shape_and_list_its_verbs() -> None:
    api = load_edge_api(DEFAULT_DESCRIPTOR_PATH, [TENANTS])
    by_regex = {r.regex: r for r in api.method_routes}
    # GetTenant, UpdateTenant ({tenant.tenant_id}) and DeleteTenant are one shape.
    one = by_regex[re.escape("/v1/tenants/") + "[^/]+"]
    assert one.verbs == ("GET", "PATCH", "DELETE")
    assert one.allow == "GET, PATCH, DELETE"
    assert by_regex[re.escape("/v1/tenants:migrate")].streaming
    regexes = [r.regex for r in api.method_routes]
    assert regexes.index(re.escape("/v1/tenants/") + "[^/]+" + re.escape(":suspend")) < regexes.index(
        re.escape("/v1/tenants/") + "[^/]+"
    )


def test_rendered_config_answers_other_methods_405(tmp_path: Path) -> None:
    settings = EdgeSettings(tls_cert_file=tmp_path / "c", tls_key_file=tmp_path / "k")
    config = yaml.safe_load(render_envoy_config(settings, [TENANTS]))
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    lookup = re.escape("/v1/tenants:lookup") + r"(\?.*)?"

    def path_regex(route: dict[str, Any]) -> str | None:
        headers = route["match"].get("headers") or [{}]
        regex: str | None = headers[0].get("string_match", {}).get("safe_regex", {}).get("regex")
        return regex

    answered = [r for r in routes if path_regex(r) == lookup]
    assert [("route" in r, "direct_response" in r) for r in answered] == [(True, False), (False, True)]
    # A string compare on the literal prefix before the regex.
    assert {r["match"]["prefix"] for r in answered} == {"/v1/tenants"}
    assert answered[0]["match"]["headers"][1]["string_match"]["safe_regex"]["regex"] == "GET"
    assert answered[1]["direct_response"]["status"] == 405
    assert answered[1]["response_headers_to_add"][0]["header"] == {"key": "allow", "value": "GET"}
    # The :path regex lets a query string through and nothing else.
    assert re.fullmatch(lookup, "/v1/tenants:lookup?slug=acme")
    assert not re.fullmatch(lookup, "/v1/tenants:lookupx")


@pytest.mark.parametrize(
    ("template", "prefix"),
    [
        ("/v1/tenants/{tenant_id}", "/v1/tenants"),
        ("/v1/tenants:lookup", "/v1/tenants"),
        ("/v1/tenants", "/v1/tenants"),
        ("/v1/tenants/{tenant_id}:suspend", "/v1/tenants"),
        ("/v1/meta/server-info", "/v1/meta/server-info"),
        ("/v1/{name=tenants/*}/forms", "/v1"),
        ("/{x}", "/"),
    ],
)
def test_literal_prefix(template: str, prefix: str) -> None:
    assert literal_prefix(template) == prefix


@pytest.mark.parametrize(
    ("template", "matches", "misses"),
    [
        ("/v1/tenants/{tenant_id}:watch", ["/v1/tenants/abc:watch"], ["/v1/tenants/a/b:watch", "/v1/tenants/:watch"]),
        ("/v1/{name=tenants/*/runs/**}", ["/v1/tenants/a/runs/b/c"], ["/v1/tenants/a/b"]),
    ],
)
def test_template_regex(template: str, matches: list[str], misses: list[str]) -> None:
    pattern = re.compile(template_regex(template))
    for path in matches:
        assert pattern.fullmatch(path), path
    for path in misses:
        assert not pattern.fullmatch(path), path


def _descriptor_with(tmp_path: Path, bindings: dict[str, str]) -> Path:
    """A descriptor set with one service per package, one GET method per binding."""
    fds = descriptor_pb2.FileDescriptorSet()
    for package, path in bindings.items():
        file = fds.file.add(name=f"{package.replace('.', '/')}/svc.proto", package=package, syntax="proto3")
        file.message_type.add(name="Req")
        service = file.service.add(name="ThingService")
        method = service.method.add(name="GetThing", input_type=f".{package}.Req", output_type=f".{package}.Req")
        method.options.Extensions[annotations_pb2.http].get = path
    target = tmp_path / "test.binpb"
    target.write_bytes(fds.SerializeToString())
    return target


def test_conflicting_prefixes_raise(tmp_path: Path) -> None:
    descriptor = _descriptor_with(tmp_path, {"a.v1": "/v1/things/{id}", "b.v1": "/v1/things:search"})
    upstreams = [
        Upstream("alpha", "127.0.0.1", 1, ("a.v1",)),
        Upstream("beta", "127.0.0.1", 2, ("b.v1",)),
    ]
    with pytest.raises(ValueError, match="/v1/things"):
        rest_routes(descriptor, upstreams)
    # The same prefix within one upstream is fine.
    both = [Upstream("alpha", "127.0.0.1", 1, ("a.v1", "b.v1"))]
    assert [r.value for r in rest_routes(descriptor, both)] == ["/v1/things"]


def test_package_in_two_upstreams_raises() -> None:
    upstreams = [
        Upstream("one", "127.0.0.1", 1, ("tenantmesh.meta.v1",)),
        Upstream("two", "127.0.0.1", 2, ("tenantmesh.meta.v1",)),
    ]
    with pytest.raises(ValueError, match=r"tenantmesh\.meta\.v1"):
        load_edge_api(DEFAULT_DESCRIPTOR_PATH, upstreams)


def test_unknown_package_raises() -> None:
    with pytest.raises(ValueError, match=r"tenantmesh\.nope\.v1"):
        load_edge_api(DEFAULT_DESCRIPTOR_PATH, [Upstream("x", "127.0.0.1", 1, ("tenantmesh.nope.v1",))])
