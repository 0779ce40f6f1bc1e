"""The per-call RPC metrics export what prometheus_client's own Counter and Histogram would."""

from __future__ import annotations

import random

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from services.runtime.telemetry.metrics import RPC_BUCKETS
from services.runtime.telemetry.rpc_metrics import RpcServerMetrics

METHODS = ("/tenantmesh.auth.v1.AuthService/Login", "/tenantmesh.tenants.v1.TenantService/GetTenant")
CODES = (grpc.StatusCode.OK, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT)


def samples(registry: CollectorRegistry) -> list[str]:
    """The exposition's sample lines, without the _created series (a time of creation differs)."""
    lines = generate_latest(registry).decode().splitlines()
    return sorted(line for line in lines if "_created" not in line)


def test_the_exposition_matches_prometheus_clients_families() -> None:
    stock, lean = CollectorRegistry(), CollectorRegistry()
    requests = Counter(
        "tenantmesh_rpc_server_requests",
        "RPCs answered, by gRPC service, method and status code.",
        ["service", "method", "code"],
        registry=stock,
    )
    duration = Histogram(
        "tenantmesh_rpc_server_duration_seconds",
        "Time from the call's arrival to its answer, by gRPC service and method.",
        ["service", "method"],
        buckets=RPC_BUCKETS,
        registry=stock,
    )
    errors = Counter(
        "tenantmesh_rpc_server_errors",
        "Failed RPCs by gRPC service, method and ErrorInfo reason (a fixed enum: INVALID_CREDENTIALS, "
        "LOGIN_LOCKED, ...). Sign-in failures and lockouts are this metric for AuthService/Login.",
        ["service", "method", "reason"],
        registry=stock,
    )
    rpc = RpcServerMetrics(RPC_BUCKETS)
    lean.register(rpc)
    rng = random.Random(7)
    # Durations on the bounds themselves too: a value equal to a bound is in that bound's bucket.
    durations = [*RPC_BUCKETS, 0.0, 0.00001, 42.0, *(rng.uniform(0, 3) for _ in range(300))]
    for index, seconds in enumerate(durations):
        method, code = METHODS[index % 2], CODES[index % 3]
        reason = "INVALID_CREDENTIALS" if code == grpc.StatusCode.UNAUTHENTICATED else None
        service, _, name = method.lstrip("/").partition("/")
        requests.labels(service, name, code.name).inc()
        duration.labels(service, name).observe(seconds)
        if reason:
            errors.labels(service, name, reason).inc()
        rpc.record(method, code, seconds, reason)

    assert samples(lean) == samples(stock)
    assert any('le="0.0005"' in line for line in samples(lean))


def test_counters_carry_their_creation_time() -> None:
    registry = CollectorRegistry()
    rpc = RpcServerMetrics(RPC_BUCKETS)
    registry.register(rpc)
    rpc.record(METHODS[0], grpc.StatusCode.OK, 0.001)
    text = generate_latest(registry).decode()
    assert 'tenantmesh_rpc_server_requests_created{code="OK",method="Login"' in text
