"""Dashboards and alerts in deploy/ use only series the processes really export.

A running mesh (``python -m services.mesh run``) is scraped: its Prometheus endpoint and
Envoy's admin ``/stats/prometheus``. Every ``tenantmesh_*`` and ``envoy_*`` series named by an
alert rule or a dashboard query must be one its family exports, exactly: the family's type says
which sample names it has (the text format's ``# TYPE`` line names a counter as its samples are
named, ``tenantmesh_x_total`` or Envoy's ``envoy_x``; a histogram's samples are ``_bucket``,
``_count`` and ``_sum``; a gauge's the bare name). Every label a query uses with a series (its
matchers, and the ``by``/``without`` clauses of the aggregations around it) must be one that
family has: seen on its samples, or declared by the runtime's metrics registry for a family with
no series yet (``tenantmesh_events_dead_lettered_total`` until something is dead-lettered).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from prometheus_client.metrics import MetricWrapperBase

from services.mesh.dashboards import DASHBOARDS
from services.mesh.dashboards import queries as dashboard_queries
from services.runtime.telemetry.metrics import Metrics
from tests.support.running_mesh import banner_value, mesh_process

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "deploy" / "observability" / "alerts.yml"
# Labels Prometheus adds to every series it scrapes (deploy/observability/prometheus.yml).
TARGET_LABELS = frozenset({"instance", "job"})
# The sample names of a family, by its type, from the name its # TYPE line declares.
_SAMPLE_SUFFIXES = {
    "counter": ("",),
    "gauge": ("",),
    "untyped": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
}
_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s")
_LABEL_NAME = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="')


@dataclass
class Family:
    name: str  # as its # TYPE line declares it
    type: str
    labels: set[str] = field(default_factory=set)

    def sample_names(self) -> set[str]:
        return {self.name + suffix for suffix in _SAMPLE_SUFFIXES.get(self.type, ("",))}

    def labels_of(self, sample: str) -> set[str]:
        """The labels a series of ``sample`` has (``le`` on a histogram's buckets alone)."""
        if self.type == "histogram" and sample == self.name + "_bucket":
            return self.labels | {"le"}
        if self.type == "summary" and sample == self.name:
            return self.labels | {"quantile"}
        return set(self.labels)


class Exported:
    """The families of one or more scrapes, each sample name mapped to its family."""

    def __init__(self) -> None:
        self.families: dict[str, Family] = {}
        self._by_sample: dict[str, Family] = {}

    def add_scrape(self, text: str) -> None:
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(maxsplit=3)
                self._declare(name, kind.strip())
            elif line and not line.startswith("#"):
                match = _SAMPLE.match(line)
                assert match, f"not a sample line: {line!r}"
                sample, labels = match.group(1), set(_LABEL_NAME.findall(match.group(2) or ""))
                # A sample with no # TYPE line is untyped.
                family = self._by_sample.get(sample) or self._declare(sample, "untyped")
                family.labels |= labels - {"le", "quantile"}

    def add_registry(self, metrics: Metrics) -> None:
        """Labels of the runtime's families that have no series yet (a labelled family's # TYPE
        line is exported before any child exists; its labels are known only here)."""
        for collector in vars(metrics).values():
            if not isinstance(collector, MetricWrapperBase):
                continue
            for described in collector.describe():
                name = described.name + "_total" if described.type == "counter" else described.name
                family = self.families.get(name)
                if family is not None and family.type == described.type:
                    family.labels |= set(collector._labelnames)

    def _declare(self, name: str, kind: str) -> Family:
        family = self.families.setdefault(name, Family(name, kind))
        for sample in family.sample_names():
            self._by_sample[sample] = family
        return family

    def family_of(self, sample: str) -> Family | None:
        return self._by_sample.get(sample)

    def problems(self, uses: dict[str, set[str]]) -> list[str]:
        """What is wrong with the series and labels an expression uses (``label_uses``)."""
        found = []
        for sample, labels in sorted(uses.items()):
            family = self.family_of(sample)
            if family is None:
                found.append(f"{sample}: no process exports such a series")
                continue
            unknown = labels - family.labels_of(sample) - TARGET_LABELS
            if unknown:
                found.append(f"{sample}: no label {sorted(unknown)} (it has {sorted(family.labels_of(sample))})")
        return found


def metrics_used(expr: str) -> set[str]:
    """Metric names in a PromQL expression (label matchers, grouping clauses and strings left out)."""
    stripped = re.sub(r"\{[^}]*\}", "", _without_strings(expr))
    stripped = re.sub(r"\b(by|without)\s*\([^)]*\)", "", stripped)
    return set(re.findall(r"\b(?:tenantmesh|envoy)_[a-z0-9_]+\b", stripped))


def _without_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def _closing(expr: str, opening: int) -> int:
    depth = 0
    for index in range(opening, len(expr)):
        depth += {"(": 1, ")": -1}.get(expr[index], 0)
        if depth == 0:
            return index
    raise ValueError(f"unbalanced parentheses in {expr!r}")


def _opening(expr: str, closing: int) -> int:
    depth = 0
    for index in range(closing, -1, -1):
        depth += {")": 1, "(": -1}.get(expr[index], 0)
        if depth == 0:
            return index
    raise ValueError(f"unbalanced parentheses in {expr!r}")


def label_uses(expr: str) -> dict[str, set[str]]:
    """Each metric an expression names, with the label names it uses with that metric: the
    metric's own matchers, and the ``by``/``without`` clauses of the aggregations around it
    (``sum by (a) (...)`` and ``sum (...) by (a)``)."""
    plain = _without_strings(expr)
    uses: dict[str, set[str]] = {name: set() for name in metrics_used(plain)}
    for match in re.finditer(r"\b((?:tenantmesh|envoy)_[a-z0-9_]+)\s*\{([^}]*)\}", plain):
        uses[match.group(1)] |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", match.group(2)))
    for match in re.finditer(r"\b(?:by|without)\s*\(([^)]*)\)", plain):
        labels = {label.strip() for label in match.group(1).split(",") if label.strip()}
        after = len(plain[: match.end()]) + len(plain[match.end() :]) - len(plain[match.end() :].lstrip())
        if after < len(plain) and plain[after] == "(":  # sum by (a) (expr)
            scope = plain[after : _closing(plain, after) + 1]
        else:  # sum (expr) by (a)
            before = len(plain[: match.start()].rstrip()) - 1
            scope = plain[_opening(plain, before) : before + 1]
        for name in metrics_used(scope):
            uses[name] |= labels
    return uses


def alert_expressions() -> list[str]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def variable_uses() -> dict[str, set[str]]:
    """The metric and label of every dashboard variable's ``label_values(metric, label)``."""
    uses: dict[str, set[str]] = {}
    for dashboard in DASHBOARDS:
        for _, query in dashboard.variables:
            match = re.fullmatch(r"label_values\(\s*([a-z0-9_]+)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)", query)
            assert match, f"a variable query this test does not read: {query!r}"
            uses.setdefault(match.group(1), set()).add(match.group(2))
    return uses


def all_problems(exported: Exported, expressions: Iterable[str]) -> list[str]:
    found = [
        f"{problem}, in: {' '.join(expr.split())}"
        for expr in expressions
        for problem in exported.problems(label_uses(expr))
    ]
    found += [f"{problem}, in a dashboard variable" for problem in exported.problems(variable_uses())]
    return found


def test_the_name_extraction_sees_through_label_matchers() -> None:
    expr = 'sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_total{envoy_response_code_class="5"}[5m]))'
    assert metrics_used(expr) == {"envoy_cluster_upstream_rq_total"}


def test_labels_are_read_from_matchers_and_the_aggregations_around_each_metric() -> None:
    expr = (
        'max by (instance, pool) (a_gauge / tenantmesh_x{server=~"db.*", code!="OK"}) '
        '+ sum(rate(envoy_y_total{le="+Inf,by(z)"}[5m])) without (cluster) + sum(tenantmesh_z)'
    )
    assert label_uses(expr) == {
        "tenantmesh_x": {"instance", "pool", "server", "code"},
        "envoy_y_total": {"le", "cluster"},
        "tenantmesh_z": set(),
    }


SCRAPE = """\
# HELP tenantmesh_calls_total Calls.
# TYPE tenantmesh_calls_total counter
tenantmesh_calls_total{service="a",code="OK"} 3.0
# HELP tenantmesh_calls_created Calls.
# TYPE tenantmesh_calls_created gauge
tenantmesh_calls_created{service="a",code="OK"} 1.7e9
# TYPE tenantmesh_wait_seconds histogram
tenantmesh_wait_seconds_bucket{pool="main",le="0.5"} 1.0
tenantmesh_wait_seconds_bucket{pool="main",le="+Inf"} 1.0
tenantmesh_wait_seconds_count{pool="main"} 1.0
tenantmesh_wait_seconds_sum{pool="main"} 0.1
# TYPE tenantmesh_backlog gauge
tenantmesh_backlog 0.0
# HELP tenantmesh_events_dead_lettered_total Dead letters, by group.
# TYPE tenantmesh_events_dead_lettered_total counter
# TYPE envoy_http_downstream_rq_xx counter
envoy_http_downstream_rq_xx{envoy_response_code_class="2"} 4
"""


def test_a_series_or_label_its_family_does_not_export_is_refused() -> None:
    exported = Exported()
    exported.add_scrape(SCRAPE)
    exported.add_registry(Metrics())  # the labels of tenantmesh_events_dead_lettered_total
    fine = [
        'sum by (service, code) (rate(tenantmesh_calls_total{code!="OK"}[5m]))',
        "histogram_quantile(0.99, sum by (pool, le) (rate(tenantmesh_wait_seconds_bucket[5m])))",
        "sum by (instance) (tenantmesh_wait_seconds_count) + sum(tenantmesh_wait_seconds_sum)",
        "max(tenantmesh_backlog)",
        "sum by (group) (increase(tenantmesh_events_dead_lettered_total[15m]))",
        'sum by (envoy_response_code_class) (rate(envoy_http_downstream_rq_xx{envoy_response_code_class="5"}[5m]))',
    ]
    assert [problem for expr in fine for problem in exported.problems(label_uses(expr))] == []
    wrong = {
        "rate(tenantmesh_calls[5m])": "tenantmesh_calls: no process exports",
        "rate(tenantmesh_calls_count[5m])": "tenantmesh_calls_count: no process exports",
        "max(tenantmesh_backlog_total)": "tenantmesh_backlog_total: no process exports",
        "sum(tenantmesh_wait_seconds_total)": "tenantmesh_wait_seconds_total: no process exports",
        "sum(tenantmesh_wait_seconds)": "tenantmesh_wait_seconds: no process exports",
        "rate(envoy_http_downstream_rq_xx_total[5m])": "envoy_http_downstream_rq_xx_total: no process exports",
        'sum(tenantmesh_calls_total{result="failed"})': "tenantmesh_calls_total: no label ['result']",
        "sum by (outcome) (tenantmesh_events_dead_lettered_total)": "no label ['outcome']",
        "sum by (pool, le) (rate(tenantmesh_wait_seconds_count[5m]))": "tenantmesh_wait_seconds_count: no label ['le']",
    }
    for expr, problem in wrong.items():
        found = exported.problems(label_uses(expr))
        assert len(found) == 1, (expr, found)
        assert problem in found[0], (expr, found)


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
        # The service metrics really count: the calls above are in them.
        assert re.search(r'tenantmesh_rpc_server_requests_total\{.*method="GetServerInfo".*\} [1-9]', services.text)

    exported = Exported()
    exported.add_scrape(services.text)
    exported.add_scrape(edge.text)
    exported.add_registry(Metrics())
    expressions = alert_expressions() + dashboard_queries()
    assert len(set().union(*(metrics_used(expr) for expr in expressions))) > 20
    problems = all_problems(exported, expressions)
    assert not problems, "used by dashboards or alerts but exported by no process as used:\n" + "\n".join(problems)
