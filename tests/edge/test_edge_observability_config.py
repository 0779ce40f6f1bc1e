"""The edge's observability settings: its OpenTelemetry tracer and the Prometheus stats listener."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from services.mesh.devtls import DevTls
from services.mesh.edge import EdgeSettings, Upstream, render_envoy_config
from services.mesh.envoy_process import validate_config
from services.mesh.settings import load_edge_settings
from services.runtime.config import ConfigError
from tests.edge.conftest import META_PACKAGE, META_SERVICE, EdgeFactory, FakeMetaService, GrpcUpstream
from tests.support.otlp import otlp_receiver
from tests.support.ports import free_port

pytestmark = pytest.mark.edge

UPSTREAMS = [Upstream("meta", "127.0.0.1", 50052, ("tenantmesh.meta.v1",))]


def test_the_edge_traces_to_the_services_collector_at_their_ratio() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4317", "OTEL_TRACES_SAMPLER_ARG": "0.25"}
    settings = load_edge_settings(env)
    assert settings.tracing_collector == "otel-collector:4317"
    assert settings.tracing_sample_percent == 25.0
    # No endpoint, or OTLP over HTTP (which Envoy's tracer does not speak): the edge does not trace.
    assert load_edge_settings({}).tracing_collector == ""
    http = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    assert load_edge_settings(http).tracing_collector == ""
    with pytest.raises(ConfigError):
        load_edge_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://no-port"})


async def test_the_edge_samples_new_traces_at_the_ratio(edge_factory: EdgeFactory, meta_upstream: GrpcUpstream) -> None:
    """Envoy's OpenTelemetry sampler keeps about 10 % of new traces, and tells the service so in traceparent."""
    async with otlp_receiver() as receiver:
        edge = await edge_factory(
            [meta_upstream.upstream("meta", [META_PACKAGE], health_service=META_SERVICE)],
            tracing_collector=f"127.0.0.1:{receiver.port}",
            tracing_sample_percent=10.0,
        )
        meta: FakeMetaService = meta_upstream.servicers[META_SERVICE]
        seen = len(meta.seen_metadata)
        async with edge.https_client() as client:
            for _ in range(300):
                assert (await client.get("/v1/meta/server-info")).status_code == 200
        flags = [m.get("traceparent", "")[-2:] for m in meta.seen_metadata[seen:]]
    assert len(flags) == 300
    sampled = flags.count("01")
    assert flags.count("00") + sampled == 300  # every call carries a decision
    assert 5 <= sampled <= 70, sampled  # 10 % of 300, far from all or none


async def test_tracing_and_stats_listener_validate(tmp_path: Path, dev_tls: DevTls) -> None:
    settings = EdgeSettings(
        tls_cert_file=dev_tls.cert,
        tls_key_file=dev_tls.key,
        tracing_collector="otel-collector:4317",
        tracing_sample_percent=10.0,
        stats_port=9902,
    )
    text = render_envoy_config(settings, UPSTREAMS)
    path = tmp_path / "envoy.yaml"
    path.write_text(text)
    await validate_config(path)
    config = yaml.safe_load(text)
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    assert clusters["otel_collector"]["type"] == "STRICT_DNS"
    listeners = {item["name"]: item for item in config["static_resources"]["listeners"]}
    manager = listeners["https"]["filter_chains"][0]["filters"][0]["typed_config"]
    sampler = manager["tracing"]["provider"]["typed_config"]["sampler"]
    assert sampler["name"].endswith("parent_based")
    ratio = sampler["typed_config"]["wrapped_sampler"]["typed_config"]["sampling_percentage"]
    assert ratio == {"numerator": 100_000, "denominator": "MILLION"}
    # Spans leave in batches, not an export call per five requests (Envoy's default).
    (layer,) = config["layered_runtime"]["layers"]
    assert layer["static_layer"]["tracing.opentelemetry.min_flush_spans"] >= 100


async def test_the_stats_listener_serves_prometheus_stats_and_nothing_else_of_the_admin(
    edge_factory: EdgeFactory, meta_upstream: GrpcUpstream
) -> None:
    stats_port = free_port()
    await edge_factory(
        [meta_upstream.upstream("meta", [META_PACKAGE], health_service=META_SERVICE)], stats_port=stats_port
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stats_port}", timeout=10) as client:
        stats = await client.get("/stats/prometheus")
        assert stats.status_code == 200
        assert "envoy_http_downstream_rq_total" in stats.text
        for path in ("/config_dump", "/quitquitquit", "/stats", "/clusters"):
            assert (await client.get(path)).status_code == 404, path
        assert (await client.post("/stats/prometheus")).status_code == 404
