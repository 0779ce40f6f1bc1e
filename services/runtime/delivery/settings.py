"""Delivery queue settings (TENANTMESH_DELIVERY_*), read once at startup."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.runtime.config import ConfigError, EnvReader


@dataclass(frozen=True)
class DeliverySettings:
    # Attempts before a job that keeps failing transiently is dead-lettered.
    max_attempts: int = 12
    # Backoff after the n-th failed attempt: min(max, base * 2^(n-1)), half of it jittered.
    # With the defaults the 12 attempts span about three hours.
    retry_base_seconds: float = 10.0
    retry_max_seconds: float = 3600.0
    # How long a claim holds a job; a dispatcher that dies mid-send leaves it to another
    # after this. Longer than any send may take (transports time out well before).
    lease_seconds: float = 120.0
    # How often an idle dispatcher looks for due jobs (a producer's commit wakes its own at once).
    poll_seconds: float = 1.0
    # Jobs claimed per scan.
    batch: int = 20
    # Sent jobs stay this long (the delivery log), then are deleted; dead ones stay until handled.
    retention_days: float = 7.0

    def __post_init__(self) -> None:
        if self.retry_max_seconds < self.retry_base_seconds:
            raise ConfigError("TENANTMESH_DELIVERY_RETRY_MAX_SECONDS must be at least the base")


def load_delivery_settings(env: Mapping[str, str]) -> DeliverySettings:
    read = EnvReader(env)
    default = DeliverySettings()
    return DeliverySettings(
        max_attempts=read.count("TENANTMESH_DELIVERY_MAX_ATTEMPTS", default.max_attempts),
        retry_base_seconds=read.positive("TENANTMESH_DELIVERY_RETRY_BASE_SECONDS", default.retry_base_seconds),
        retry_max_seconds=read.positive("TENANTMESH_DELIVERY_RETRY_MAX_SECONDS", default.retry_max_seconds),
        lease_seconds=read.positive("TENANTMESH_DELIVERY_LEASE_SECONDS", default.lease_seconds),
        poll_seconds=read.positive("TENANTMESH_DELIVERY_POLL_SECONDS", default.poll_seconds),
        batch=default.batch,
        retention_days=read.positive("TENANTMESH_DELIVERY_RETENTION_DAYS", default.retention_days),
    )
