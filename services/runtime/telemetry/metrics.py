"""Prometheus metrics of one process: what they are called, and where they are counted.

Every name starts with ``tenantmesh_`` and every label takes a bounded set of values (service,
method, code, state, cache, group...): never a tenant id, a user id or free text, so a
platform with 10,000 tenants has as many series as one with ten. Per-tenant traffic is counted
elsewhere (see docs/observability.md). docs/observability.md lists every metric with its labels;
tests/edge/test_observability_deploy.py checks that dashboards and alerts only use these names.

Counters and histograms are updated where things happen. Gauges that need a query (outbox
backlog, tenants by state, registry instances, stream lag) are refreshed by :class:`Sampler`
every few seconds, off the scrape path, so a scrape never waits on a database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.runtime.cache import CacheStats, all_caches
from services.runtime.telemetry.rpc_metrics import RpcServerMetrics

# Latency buckets for calls (seconds): sub-millisecond cache hits to multi-second provisioning.
RPC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Waiting for a database connection (seconds): none at all when a connection is idle.
POOL_WAIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SLOW_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    """The metric families of one runtime, in a registry of its own (tests run several at once)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        # RPCs served (all services of the process; `service` is the gRPC service's full name):
        # tenantmesh_rpc_server_requests, _duration_seconds and _errors, counted per call.
        self.rpc = RpcServerMetrics(RPC_BUCKETS)
        r.register(self.rpc)
        # Database pools, per database server (`server`: host:port, or "sqlite") and pool (main, autocommit).
        self.db_pool_size = Gauge(
            "tenantmesh_db_pool_size", "Connections the pool keeps (its size).", ["server", "pool"], registry=r
        )
        self.db_pool_in_use = Gauge(
            "tenantmesh_db_pool_connections_in_use",
            "Connections checked out of the pool now.",
            ["server", "pool"],
            registry=r,
        )
        self.db_pool_overflow = Gauge(
            "tenantmesh_db_pool_overflow", "Connections open beyond the pool size now.", ["server", "pool"], registry=r
        )
        self.db_pool_capacity = Gauge(
            "tenantmesh_db_pool_capacity",
            "Most connections the pool may open (size + overflow).",
            ["server", "pool"],
            registry=r,
        )
        self.db_pool_wait = Histogram(
            "tenantmesh_db_pool_wait_seconds",
            "Time a checkout waited for a connection of the pool (opening a new one included).",
            ["server", "pool"],
            buckets=POOL_WAIT_BUCKETS,
            registry=r,
        )
        # Tenants (sampled from the core database by the tenants service's process).
        self.tenants = Gauge("tenantmesh_tenants", "Tenants by lifecycle state.", ["state"], registry=r)
        self.provisioning_duration = Histogram(
            "tenantmesh_tenant_operation_duration_seconds",
            "Work on one tenant: provisioning (operation provision) and migrating its database (migrate), "
            "by outcome (ok, failed).",
            ["operation", "outcome"],
            buckets=SLOW_BUCKETS,
            registry=r,
        )
        # Events.
        self.outbox_backlog = Gauge(
            "tenantmesh_outbox_backlog", "Committed events not yet relayed (core outbox).", registry=r
        )
        self.outbox_oldest_age = Gauge(
            "tenantmesh_outbox_oldest_event_age_seconds",
            "Age of the oldest committed event not yet relayed (0 when none).",
            registry=r,
        )
        # Tenant outboxes (one per tenant database) as the relay's last drain of each found them:
        # no query per scrape, and no tenant label (services.runtime.outbox.TenantBacklog).
        self.tenant_outboxes_backlogged = Gauge(
            "tenantmesh_tenant_outboxes_backlogged",
            "Tenant outboxes the relay's last drain of each left unrelayed events in.",
            registry=r,
        )
        self.tenant_outbox_oldest_age = Gauge(
            "tenantmesh_tenant_outbox_oldest_event_age_seconds",
            "Age of the oldest unrelayed event those drains saw in a tenant outbox (0 when none).",
            registry=r,
        )
        self.events_published = Counter(
            "tenantmesh_events_published", "Events relayed from the outbox to the bus.", registry=r
        )
        self.events_handled = Counter(
            "tenantmesh_events_handled",
            "Events handled by a consumer group, by group and outcome (ok, failed, duplicate).",
            ["group", "outcome"],
            registry=r,
        )
        self.events_dead_lettered = Counter(
            "tenantmesh_events_dead_lettered",
            "Events moved to the dead-letter stream after their last failed delivery, by group.",
            ["group"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "tenantmesh_events_consumer_lag",
            "Stream entries a consumer group has not read yet (Redis Streams), by group.",
            ["group"],
            registry=r,
        )
        self.consumer_pending = Gauge(
            "tenantmesh_events_consumer_pending",
            "Entries delivered to a consumer group and not acknowledged yet, by group.",
            ["group"],
            registry=r,
        )
        self.registry_instances = Gauge(
            "tenantmesh_registry_instances",
            "Live registered service instances (lease not expired) by health.",
            ["health"],
            registry=r,
        )
        self.caches = CacheCollector()
        r.register(self.caches)


class CacheCollector(Collector):
    """Hits, misses, evictions and entries of every cache of the process (services.runtime.cache,
    and the caches added with ``add``, the JWKS), read when scraped: the caches count anyway, so
    nothing is added to a look-up."""

    def __init__(self) -> None:
        self._sources: list[Callable[[], CacheStats]] = []

    def add(self, source: Callable[[], CacheStats]) -> None:
        self._sources.append(source)

    def collect(self) -> Iterator[Metric]:
        totals: dict[str, list[int]] = {}
        for stats in [*all_caches(), *(source() for source in self._sources)]:
            row = totals.setdefault(stats.name, [0, 0, 0, 0])
            for index, value in enumerate((stats.hits, stats.misses, stats.evictions, stats.size)):
                row[index] += value
        families: tuple[CounterMetricFamily | GaugeMetricFamily, ...] = (
            CounterMetricFamily("tenantmesh_cache_hits", "Cache look-ups answered from the cache.", labels=["cache"]),
            CounterMetricFamily(
                "tenantmesh_cache_misses", "Cache look-ups that had to ask the source.", labels=["cache"]
            ),
            CounterMetricFamily(
                "tenantmesh_cache_evictions", "Entries evicted to stay within bounds.", labels=["cache"]
            ),
            GaugeMetricFamily("tenantmesh_cache_entries", "Entries held now.", labels=["cache"]),
        )
        for name, row in sorted(totals.items()):
            for family, value in zip(families, row, strict=True):
                family.add_metric([name], value)
        yield from families
