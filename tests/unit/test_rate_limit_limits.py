"""The rate limit service's pieces without I/O: limits, plans, settings, windows, the over-limit cache."""

from __future__ import annotations

import json

import pytest

from services.ratelimit.counter import OverLimitCache, Window
from services.ratelimit.limits import Limit, PlanLimits, Scope
from services.ratelimit.settings import load_rate_limit_settings
from services.runtime.config import ConfigError


def test_limits_are_written_n_per_unit() -> None:
    assert Limit.parse("600/m") == Limit(600, 60)
    assert Limit.parse(" 5/s ") == Limit(5, 1)
    assert str(Limit(2, 3600)) == "2/h"
    for bad in ("0/m", "10", "10/w", "-1/s", "1.5/s", "99999999999/d"):
        with pytest.raises(ValueError, match=r"N/unit|at most"):
            Limit.parse(bad)


def test_a_tenants_own_settings_override_its_plan_and_bad_ones_are_ignored() -> None:
    plan = PlanLimits(tenant=Limit(10, 60))
    overridden = plan.overridden_by({"rate_limit.route": "3/s", "rate_limit.tenant": "not a limit", "other": "1/s"})
    assert overridden == PlanLimits(tenant=Limit(10, 60), route=Limit(3, 1))
    assert overridden.of(Scope.ROUTE) == Limit(3, 1)


def test_settings_from_the_environment() -> None:
    plans = {"free": {"tenant": "60/m", "route": "10/m"}}
    settings = load_rate_limit_settings(
        {
            "REDIS_URL": "redis://shared/0",
            "TENANTMESH_RATE_LIMIT_PLANS": json.dumps(plans),
            "TENANTMESH_RATE_LIMIT_FAIL_CLOSED": "route",
        }
    )
    assert settings.plan("free") == PlanLimits(Limit(60, 60), Limit(10, 60))
    # An unknown plan, or none, gets the default (built in unless the operator names one).
    assert settings.plan("") == settings.plan("gold") == PlanLimits(tenant=Limit(100, 1))
    assert settings.fail_closed == {Scope.ROUTE}
    assert settings.redis_url == "redis://shared/0"
    for name, value in (
        ("TENANTMESH_RATE_LIMIT_PLANS", "{"),
        ("TENANTMESH_RATE_LIMIT_PLANS", '{"free": {"tenant": "lots"}}'),
        ("TENANTMESH_RATE_LIMIT_PLANS", '{"free": {"everything": "1/s"}}'),
        ("TENANTMESH_RATE_LIMIT_FAIL_CLOSED", "tenant,everything"),
    ):
        with pytest.raises(ConfigError, match=name):
            load_rate_limit_settings({name: value})


def test_windows_are_fixed_and_named_by_their_start() -> None:
    limit = Limit(5, 60)
    first = Window.current("t:a", limit, now=125.0)
    assert (first.key, first.ends_at) == ("tm:rl:t:a:60:2", 180.0)
    assert Window.current("t:a", limit, now=179.9).key == first.key
    assert Window.current("t:a", limit, now=180.0).key != first.key


def test_the_over_limit_cache_forgets_a_window_when_it_ends_or_its_limit_changes() -> None:
    now = [100.0]
    cache = OverLimitCache(max_entries=2, clock=lambda: now[0])
    window = Window.current("t:a", Limit(5, 60), now[0])
    cache.add(window)
    assert window in cache
    # The tenant's plan changed: the same counter under another limit is asked about again.
    assert Window.current("t:a", Limit(500, 60), now[0]) not in cache
    now[0] = window.ends_at
    assert window not in cache
    # Bounded: live entries beyond the cap push the oldest out.
    for name in ("t:b", "t:c", "t:d"):
        cache.add(Window.current(name, Limit(1, 60), now[0]))
    assert len(cache) == 2
