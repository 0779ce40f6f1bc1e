"""Limits: what a tenant may spend per window, from its plan and its own settings.

A limit is written ``N/unit`` (``600/m``: 600 requests per minute; units s, m, h, d). Each plan
names a limit for the tenant as a whole (``tenant``) and for the tenant on one service behind
the edge (``route``); a tenant's own settings ``rate_limit.tenant`` and ``rate_limit.route``
override its plan's. Both live in the tenants service and change at runtime (UpdateTenant).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

# The tenant settings that override a plan's limits.
TENANT_SETTING_PREFIX = "rate_limit."
_LIMIT = re.compile(r"([1-9][0-9]{0,9})/(s|m|h|d)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


class Scope(enum.Enum):
    """What a descriptor counts: the tenant's requests, or its requests to one service."""

    TENANT = "tenant"
    ROUTE = "route"


@dataclass(frozen=True)
class Limit:
    requests: int
    window_seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        match = _LIMIT.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"a limit is N/unit with unit s, m, h or d (e.g. 600/m), got {text!r}")
        requests = int(match.group(1))
        if requests > 0xFFFFFFFF:
            raise ValueError(f"{text!r}: at most {0xFFFFFFFF} requests per window")
        return cls(requests, _UNIT_SECONDS[match.group(2)])

    def __str__(self) -> str:
        unit = next(u for u, s in _UNIT_SECONDS.items() if s == self.window_seconds)
        return f"{self.requests}/{unit}"


@dataclass(frozen=True)
class PlanLimits:
    """The limits of one plan (None: that scope is not limited)."""

    tenant: Limit | None = None
    route: Limit | None = None

    def of(self, scope: Scope) -> Limit | None:
        return self.tenant if scope is Scope.TENANT else self.route

    def overridden_by(self, settings: Mapping[str, str]) -> PlanLimits:
        """These limits with a tenant's own ``rate_limit.*`` settings applied (unparsable ones are ignored:
        the tenants service holds them as opaque strings)."""
        values = {}
        for scope in Scope:
            raw = settings.get(TENANT_SETTING_PREFIX + scope.value)
            if raw is None:
                continue
            try:
                values[scope.value] = Limit.parse(raw)
            except ValueError:
                continue
        return PlanLimits(**{"tenant": self.tenant, "route": self.route, **values})


DEFAULT_PLAN = "default"
# As the edge's per-instance tenant bucket (100 requests per second), but for every edge together.
BUILT_IN_PLANS: Mapping[str, PlanLimits] = {DEFAULT_PLAN: PlanLimits(tenant=Limit(100, 1))}
