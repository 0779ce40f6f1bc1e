"""Settings of the registry service (environment variables, read once)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from services.runtime.config import EnvReader


@dataclass(frozen=True)
class HealthDefaults:
    """What a service's HealthCheck falls back to for fields left at zero."""

    interval_seconds: float
    timeout_seconds: float
    unhealthy_threshold: int
    healthy_threshold: int


@dataclass(frozen=True)
class RegistrySettings:
    health: HealthDefaults
    # Lease of an instance that registers without a ttl.
    default_lease_seconds: int
    # How often expired leases are swept and due health checks started.
    tick_seconds: float
    # Health checks running at once (each holds a connection).
    max_concurrent_checks: int
    # The health checker runs in one replica at a time, holding this lease.
    checker_lease_seconds: float
    # A Watch stream with nothing to say sends a KEEPALIVE this often (the edge
    # closes streams idle for 5 minutes).
    watch_keepalive_seconds: float
    # Changes buffered per watcher before it is ended with WATCH_OVERFLOW.
    watch_queue_size: int


def load_registry_settings(env: Mapping[str, str] | None = None) -> RegistrySettings:
    read = EnvReader(os.environ if env is None else env)
    return RegistrySettings(
        health=HealthDefaults(
            interval_seconds=read.positive("TENANTMESH_REGISTRY_HEALTH_INTERVAL_SECONDS", 10.0),
            timeout_seconds=read.positive("TENANTMESH_REGISTRY_HEALTH_TIMEOUT_SECONDS", 2.0),
            unhealthy_threshold=read.count("TENANTMESH_REGISTRY_HEALTH_UNHEALTHY_THRESHOLD", 3),
            healthy_threshold=read.count("TENANTMESH_REGISTRY_HEALTH_HEALTHY_THRESHOLD", 2),
        ),
        default_lease_seconds=read.count("TENANTMESH_REGISTRY_DEFAULT_LEASE_SECONDS", 30),
        tick_seconds=read.positive("TENANTMESH_REGISTRY_TICK_SECONDS", 1.0),
        max_concurrent_checks=read.count("TENANTMESH_REGISTRY_MAX_CONCURRENT_CHECKS", 32),
        checker_lease_seconds=read.positive("TENANTMESH_REGISTRY_CHECKER_LEASE_SECONDS", 15.0),
        watch_keepalive_seconds=read.positive("TENANTMESH_REGISTRY_WATCH_KEEPALIVE_SECONDS", 30.0),
        watch_queue_size=read.count("TENANTMESH_REGISTRY_WATCH_QUEUE_SIZE", 1000),
    )
