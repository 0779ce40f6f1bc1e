"""The rate limit service's pieces without I/O: limits, plans, settings, windows, lease sizes, the book of leases."""

from __future__ import annotations

import json

import pytest
from envoyapi.service.ratelimit.v3 import rls_pb2
from redis.asyncio import Redis

from services.ratelimit.counter import RedisCounter, Window
from services.ratelimit.descriptors import CLUSTER_KEY, DOMAIN, TENANT_KEY, Counted, read_request
from services.ratelimit.leases import MAX_LEASE, LeaseBook, lease_size
from services.ratelimit.limits import Limit, PlanLimits, Scope
from services.ratelimit.settings import load_rate_limit_settings
from services.runtime.config import ConfigError
from services.runtime.errors import InvalidArgument


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


def test_leases_are_a_twentieth_of_the_limit_between_one_and_a_hundred() -> None:
    # Small limits are leased one hit at a time: exact even with several replicas.
    assert lease_size(Limit(6, 60)) == 1
    assert lease_size(Limit(39, 60)) == 1
    assert lease_size(Limit(100, 1)) == 5
    assert lease_size(Limit(1_000_000, 60)) == MAX_LEASE


def test_a_plan_change_gets_a_fresh_lease_and_the_book_is_bounded() -> None:
    now = [100.0]
    book = LeaseBook(RedisCounter(Redis()), max_entries=2, clock=lambda: now[0])
    window = Window.current("t:a", Limit(5, 60), now[0])
    assert book.lease(window) is book.lease(window)
    # The tenant's plan changed: the same counter under another limit is leased again.
    assert book.lease(Window.current("t:a", Limit(500, 60), now[0])) is not book.lease(window)
    # Bounded: ended windows go first, then the oldest live ones.
    now[0] = window.ends_at
    for name in ("t:b", "t:c", "t:d"):
        book.lease(Window.current(name, Limit(1, 60), now[0]))
    assert len(book) == 2


def test_requests_read_again_are_answered_alike_and_bad_ones_are_never_remembered() -> None:
    entry = rls_pb2.RateLimitDescriptor.Entry
    request = rls_pb2.RateLimitRequest(
        domain=DOMAIN,
        descriptors=[
            rls_pb2.RateLimitDescriptor(entries=[entry(key=TENANT_KEY, value="t1")]),
            rls_pb2.RateLimitDescriptor(entries=[entry(key=TENANT_KEY, value="t1"), entry(key=CLUSTER_KEY, value="c")]),
        ],
        hits_addend=2,
    )
    first = read_request(request)
    assert first == ([Counted(Scope.TENANT, "t1", "t:t1"), Counted(Scope.ROUTE, "t1", "r:t1:c")], 2)
    assert read_request(rls_pb2.RateLimitRequest.FromString(request.SerializeToString())) == first
    request.descriptors[0].entries[0].value = "not a tenant!"
    for _ in range(2):
        with pytest.raises(InvalidArgument):
            read_request(request)
