"""Settings of the webhooks service (TENANTMESH_WEBHOOKS_*, read once at startup)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.runtime.config import EnvReader

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class WebhookSettings:
    # Networks endpoints may resolve into although they are not public (loopback, private,
    # link-local...): empty by default, so no tenant can make the platform call inside its network.
    allowed_networks: tuple[Network, ...] = ()
    # CA certificates trusted for endpoints besides the system's (a private CA of the operator's).
    ca_file: Path | None = None
    # One attempt gives up after this long (well within the delivery lease).
    timeout_seconds: float = 10.0
    # Webhooks per tenant.
    max_per_tenant: int = 20


def _networks(value: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())


def load_webhook_settings(env: Mapping[str, str]) -> WebhookSettings:
    read = EnvReader(env)
    default = WebhookSettings()
    return WebhookSettings(
        allowed_networks=read.get("TENANTMESH_WEBHOOKS_ALLOWED_NETWORKS", default.allowed_networks, _networks),
        ca_file=read.get("TENANTMESH_WEBHOOKS_CA_FILE", default.ca_file, Path),
        timeout_seconds=read.positive("TENANTMESH_WEBHOOKS_TIMEOUT_SECONDS", default.timeout_seconds),
        max_per_tenant=read.count("TENANTMESH_WEBHOOKS_MAX_PER_TENANT", default.max_per_tenant),
    )
