"""Grafana dashboards for deploy/observability/grafana/, written as data and rendered to JSON.

Each dashboard is a list of panels, each panel a few PromQL queries. Rendering them from
here (``python -m services.mesh.deploy``) keeps the JSON uniform and reviewable, and lets
tests/edge/test_observability_deploy.py check every metric they use against a running mesh.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[str, ...]
    unit: str = "short"
    legend: str = ""
    # A stat (one number) instead of a graph over time.
    stat: bool = False


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    # Template variables: name -> label_values() query.
    variables: tuple[tuple[str, str], ...] = ()


_RPC = 'tenantmesh_rpc_server_requests_total{service=~"$service"}'
_RPC_ERRORS = (
    'tenantmesh_rpc_server_requests_total{service=~"$service",'
    'code=~"UNKNOWN|DEADLINE_EXCEEDED|UNIMPLEMENTED|INTERNAL|UNAVAILABLE|DATA_LOSS"}'
)
_LATENCY = 'tenantmesh_rpc_server_duration_seconds_bucket{service=~"$service"}'

DASHBOARDS = (
    Dashboard(
        "tenantmesh-overview",
        "Tenantmesh / Mesh overview",
        "Traffic, errors and latency of every service, the edge, events and tenants at a glance.",
        (
            Panel("Requests per second by service", (f"sum by (service) (rate({_RPC}[5m]))",), "reqps", "{{service}}"),
            Panel(
                "Server error ratio by service",
                (f"sum by (service) (rate({_RPC_ERRORS}[5m])) / sum by (service) (rate({_RPC}[5m]))",),
                "percentunit",
                "{{service}}",
            ),
            Panel(
                "p99 latency by service",
                (f"histogram_quantile(0.99, sum by (service, le) (rate({_LATENCY}[5m])))",),
                "s",
                "{{service}}",
            ),
            Panel(
                "Edge responses by class",
                ("sum by (envoy_response_code_class) (rate(envoy_http_downstream_rq_xx[5m]))",),
                "reqps",
                "{{envoy_response_code_class}}xx",
            ),
            Panel("Tenants by state", ("sum by (state) (tenantmesh_tenants)",), "short", "{{state}}", stat=True),
            Panel("Oldest unrelayed event", ("max(tenantmesh_outbox_oldest_event_age_seconds)",), "s", stat=True),
            Panel(
                "Dead-lettered events (1h)", ("sum(increase(tenantmesh_events_dead_lettered_total[1h]))",), stat=True
            ),
            Panel(
                "Registered instances by health",
                ("max by (health) (tenantmesh_registry_instances)",),
                "short",
                "{{health}}",
                stat=True,
            ),
        ),
        (("service", "label_values(tenantmesh_rpc_server_requests_total, service)"),),
    ),
    Dashboard(
        "tenantmesh-service",
        "Tenantmesh / Service",
        "One gRPC service in detail: per-method rate, errors by code and reason, latency.",
        (
            Panel("Requests per second by method", (f"sum by (method) (rate({_RPC}[5m]))",), "reqps", "{{method}}"),
            Panel(
                "Answers by code",
                (f"sum by (code) (rate({_RPC}[5m]))",),
                "reqps",
                "{{code}}",
            ),
            Panel(
                "Failures by reason",
                ('sum by (method, reason) (rate(tenantmesh_rpc_server_errors_total{service=~"$service"}[5m]))',),
                "reqps",
                "{{method}} {{reason}}",
            ),
            Panel(
                "p50 / p99 latency by method",
                (
                    f"histogram_quantile(0.5, sum by (method, le) (rate({_LATENCY}[5m])))",
                    f"histogram_quantile(0.99, sum by (method, le) (rate({_LATENCY}[5m])))",
                ),
                "s",
                "{{method}}",
            ),
            Panel(
                "Sign-in failures and lockouts",
                (
                    "sum by (reason) (rate(tenantmesh_rpc_server_errors_total"
                    '{method=~"Login|CompleteMfaChallenge",'
                    ' reason=~"INVALID_CREDENTIALS|LOGIN_LOCKED|MFA_CODE_INVALID"}[5m]))',
                ),
                "reqps",
                "{{reason}}",
            ),
            Panel(
                "Cache hit ratio",
                (
                    "sum by (cache) (rate(tenantmesh_cache_hits_total[5m])) / (sum by (cache) "
                    "(rate(tenantmesh_cache_hits_total[5m])) + sum by (cache) "
                    "(rate(tenantmesh_cache_misses_total[5m])))",
                ),
                "percentunit",
                "{{cache}}",
            ),
        ),
        (("service", "label_values(tenantmesh_rpc_server_requests_total, service)"),),
    ),
    Dashboard(
        "tenantmesh-edge",
        "Tenantmesh / Edge",
        "Envoy at the front door: requests, statuses, latency, connections, upstream health, rate limits.",
        (
            Panel(
                "Requests per second by listener",
                ("sum by (envoy_http_conn_manager_prefix) (rate(envoy_http_downstream_rq_total[5m]))",),
                "reqps",
                "{{envoy_http_conn_manager_prefix}}",
            ),
            Panel(
                "Responses by class",
                ("sum by (envoy_response_code_class) (rate(envoy_http_downstream_rq_xx[5m]))",),
                "reqps",
                "{{envoy_response_code_class}}xx",
            ),
            Panel(
                "p99 downstream latency",
                ("histogram_quantile(0.99, sum by (le) (rate(envoy_http_downstream_rq_time_bucket[5m])))",),
                "ms",
            ),
            Panel("Active connections", ("sum(envoy_http_downstream_cx_active)",), "short"),
            Panel(
                "Healthy upstream hosts by service",
                ("sum by (envoy_cluster_name) (envoy_cluster_membership_healthy)",),
                "short",
                "{{envoy_cluster_name}}",
            ),
            Panel(
                "Upstream requests by service",
                ("sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_total[5m]))",),
                "reqps",
                "{{envoy_cluster_name}}",
            ),
        ),
    ),
    Dashboard(
        "tenantmesh-database",
        "Tenantmesh / Database",
        "Connection pools per database server and process, and tenant lifecycle work on the databases.",
        (
            Panel(
                "Connections in use / capacity",
                (
                    "sum by (instance, server, pool) (tenantmesh_db_pool_connections_in_use)",
                    "sum by (instance, server, pool) (tenantmesh_db_pool_capacity)",
                ),
                "short",
                "{{instance}} {{server}} {{pool}}",
            ),
            Panel(
                "Pool saturation",
                (
                    "max by (instance, server, pool) (tenantmesh_db_pool_connections_in_use "
                    "/ tenantmesh_db_pool_capacity)",
                ),
                "percentunit",
                "{{instance}} {{server}} {{pool}}",
            ),
            Panel(
                "Overflow connections",
                ("sum by (instance, server) (tenantmesh_db_pool_overflow)",),
                "short",
                "{{instance}} {{server}}",
            ),
            Panel(
                "Provisioning and migration p95 by outcome",
                (
                    "histogram_quantile(0.95, sum by (operation, outcome, le) "
                    "(rate(tenantmesh_tenant_operation_duration_seconds_bucket[15m])))",
                ),
                "s",
                "{{operation}} {{outcome}}",
            ),
            Panel(
                "Provisioning and migration failures (1h)",
                ('sum(increase(tenantmesh_tenant_operation_duration_seconds_count{outcome="failed"}[1h]))',),
                stat=True,
            ),
        ),
    ),
    Dashboard(
        "tenantmesh-events",
        "Tenantmesh / Events",
        "The outbox, the relay, consumer groups, their lag and dead letters.",
        (
            Panel("Outbox backlog", ("max(tenantmesh_outbox_backlog)",), "short"),
            Panel("Age of the oldest unrelayed event", ("max(tenantmesh_outbox_oldest_event_age_seconds)",), "s"),
            Panel("Tenant outboxes with unrelayed events", ("max(tenantmesh_tenant_outboxes_backlogged)",), "short"),
            Panel(
                "Age of the oldest unrelayed tenant event",
                ("max(tenantmesh_tenant_outbox_oldest_event_age_seconds)",),
                "s",
            ),
            Panel("Events relayed per second", ("sum(rate(tenantmesh_events_published_total[5m]))",), "ops"),
            Panel(
                "Events handled by group and outcome",
                ("sum by (group, outcome) (rate(tenantmesh_events_handled_total[5m]))",),
                "ops",
                "{{group}} {{outcome}}",
            ),
            Panel(
                "Consumer lag and pending by group",
                (
                    "max by (group) (tenantmesh_events_consumer_lag)",
                    "max by (group) (tenantmesh_events_consumer_pending)",
                ),
                "short",
                "{{group}}",
            ),
            Panel(
                "Dead-lettered events by group",
                ("sum by (group) (increase(tenantmesh_events_dead_lettered_total[1h]))",),
                "short",
                "{{group}}",
            ),
        ),
    ),
)


def _panel(index: int, panel: Panel) -> dict[str, object]:
    width, height = (6, 4) if panel.stat else (12, 8)
    per_row = 24 // width
    return {
        "id": index + 1,
        "type": "stat" if panel.stat else "timeseries",
        "title": panel.title,
        "datasource": DATASOURCE,
        "gridPos": {"x": (index % per_row) * width, "y": (index // per_row) * height, "w": width, "h": height},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(ord("A") + n), "expr": query, "legendFormat": panel.legend, "datasource": DATASOURCE}
            for n, query in enumerate(panel.queries)
        ],
    }


def render_dashboard(dashboard: Dashboard) -> str:
    variables: list[dict[str, object]] = [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}
    ]
    variables += [
        {
            "name": name,
            "type": "query",
            "datasource": DATASOURCE,
            "query": query,
            "includeAll": True,
            "multi": True,
            "current": {"text": "All", "value": "$__all"},
            "refresh": 2,
        }
        for name, query in dashboard.variables
    ]
    document = {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["tenantmesh"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": variables},
        "panels": [_panel(index, panel) for index, panel in enumerate(dashboard.panels)],
    }
    return json.dumps(document, indent=2) + "\n"


def queries() -> list[str]:
    """Every PromQL query of every dashboard (for the test that checks their metric names)."""
    return [query for dashboard in DASHBOARDS for panel in dashboard.panels for query in panel.queries]
