"""Dashboards and alerts in deploy/ use only metrics the processes really export.

A running mesh (``python -m services.mesh run``) is scraped: its Prometheus endpoint and
Envoy's admin ``/stats/prometheus``. Every ``tenantmesh_*`` and ``envoy_*`` metric named by
an alert rule or a dashboard query must be among the families they expose.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import yaml

from services.mesh.dashboards import queries as dashboard_queries
from tests.support.running_mesh import banner_value, mesh_process

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "deploy" / "observability" / "alerts.yml"
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def family(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def exported_families(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(family(line.split()[2]))
        elif line and not line.startswith("#"):
            names.add(family(re.split(r"[{ ]", line, maxsplit=1)[0]))
    return names


def metrics_used(expr: str) -> set[str]:
    """Metric names in a PromQL expression (label matchers, grouping clauses and strings left out)."""
    stripped = re.sub(r"\{[^}]*\}", "", expr)
    stripped = re.sub(r"\b(by|without)\s*\([^)]*\)", "", stripped)
    return set(re.findall(r"\b(?:tenantmesh|envoy)_[a-z0-9_]+\b", stripped))


def alert_expressions() -> list[str]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def test_the_name_extraction_sees_through_label_matchers() -> None:
    expr = 'sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_total{envoy_response_code_class="5"}[5m]))'
    assert metrics_used(expr) == {"envoy_cluster_upstream_rq_total"}


async def test_every_metric_of_the_dashboards_and_alerts_is_exported(tmp_path: Path) -> None:
    async with mesh_process(tmp_path) as mesh:
        async with mesh.client() as client:
            # Some traffic, so that Envoy has created its per-class and per-cluster stats.
            for _ in range(3):
                assert (await client.get("/v1/meta/server-info")).status_code == 200
            assert (await client.get("/v1/tenants")).status_code == 401
        async with httpx.AsyncClient(timeout=10) as plain:
            services = await plain.get(banner_value(mesh.banner, "metrics"))
            edge = await plain.get(f"http://127.0.0.1:{mesh.admin_port}/stats/prometheus")
        assert services.status_code == 200
        assert edge.status_code == 200
        assert services.headers["content-type"].startswith("text/plain")
        exported = exported_families(services.text) | exported_families(edge.text)
        # The service metrics really count: the calls above are in them.
        assert re.search(r'tenantmesh_rpc_server_requests_total\{.*method="GetServerInfo".*\} [1-9]', services.text)

    expressions = alert_expressions() + dashboard_queries()
    used = set().union(*(metrics_used(expr) for expr in expressions))
    assert len(used) > 20
    missing = sorted(name for name in used if family(name) not in exported)
    assert not missing, f"used by dashboards or alerts but exported by no process: {missing}"
