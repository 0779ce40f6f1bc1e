"""The rate limit service's configuration (TENANTMESH_RATE_LIMIT_*), read once at start."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.ratelimit.limits import BUILT_IN_PLANS, DEFAULT_PLAN, Limit, PlanLimits, Scope
from services.runtime.config import EnvReader


@dataclass(frozen=True)
class RateLimitSettings:
    """The rate limit service's configuration (TENANTMESH_RATE_LIMIT_*)."""

    # Plan name -> limits; a plan not listed (and a tenant without a plan) gets "default".
    plans: Mapping[str, PlanLimits] = field(default_factory=lambda: dict(BUILT_IN_PLANS))
    # Scopes refused (OVER_LIMIT) while Redis cannot count them; the others are let through.
    fail_closed: frozenset[Scope] = frozenset()
    # Where counters live: REDIS_URL unless TENANTMESH_RATE_LIMIT_REDIS_URL names another server.
    redis_url: str | None = None
    # How long one count may take before the scope's failure mode applies.
    redis_timeout_seconds: float = 0.1
    # How long a tenant's plan and settings are kept (tenant events drop them sooner).
    plan_cache_seconds: float = 30.0

    def plan(self, name: str) -> PlanLimits:
        return self.plans.get(name) or self.plans[DEFAULT_PLAN]


def parse_plans(text: str) -> dict[str, PlanLimits]:
    """``{"default": {"tenant": "6000/m"}, "free": {"tenant": "600/m", "route": "100/m"}}``."""
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("a JSON object of plan name -> {tenant, route}")
    plans: dict[str, PlanLimits] = {}
    for name, limits in document.items():
        if not isinstance(limits, dict) or set(limits) - {s.value for s in Scope}:
            raise ValueError(f"plan {name!r}: an object with 'tenant' and/or 'route' limits")
        plans[name] = PlanLimits(**{scope: Limit.parse(str(value)) for scope, value in limits.items()})
    plans.setdefault(DEFAULT_PLAN, BUILT_IN_PLANS[DEFAULT_PLAN])
    return plans


def _parse_scopes(text: str) -> frozenset[Scope]:
    return frozenset(Scope(part.strip()) for part in text.split(",") if part.strip())


def load_rate_limit_settings(env: Mapping[str, str]) -> RateLimitSettings:
    """Raises ConfigError."""
    read = EnvReader(env)
    return RateLimitSettings(
        plans=read.get("TENANTMESH_RATE_LIMIT_PLANS", dict(BUILT_IN_PLANS), parse_plans),
        fail_closed=read.get("TENANTMESH_RATE_LIMIT_FAIL_CLOSED", frozenset(), _parse_scopes),
        redis_url=read.raw("TENANTMESH_RATE_LIMIT_REDIS_URL") or read.raw("REDIS_URL"),
        redis_timeout_seconds=read.positive("TENANTMESH_RATE_LIMIT_REDIS_TIMEOUT_SECONDS", 0.1),
        plan_cache_seconds=read.positive("TENANTMESH_RATE_LIMIT_PLAN_CACHE_SECONDS", 30.0),
    )
