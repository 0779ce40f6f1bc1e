from __future__ import annotations

import pytest

from services.runtime.config import ConfigError, load_settings
from services.tenants.placement import ServerPlacement, pick_server

SERVERS = "a=mysql+asyncmy://root@db-a/x,b=mysql+asyncmy://root@db-b/x,c=mysql+asyncmy://root@db-c/x"


def test_the_server_with_fewest_tenants_per_weight_is_chosen() -> None:
    assert pick_server({"a": 1, "b": 1}, {}) == "a"  # a tie goes to the first named
    assert pick_server({"a": 1, "b": 1}, {"a": 3, "b": 2}) == "b"
    assert pick_server({"a": 1, "b": 2}, {"a": 1, "b": 1}) == "b"
    assert pick_server({"a": 1, "b": 2}, {"a": 1, "b": 3}) == "a"


def test_weights_spread_new_tenants_in_proportion() -> None:
    weights = {"a": 1, "b": 2, "c": 0}
    counts: dict[str, int] = {}
    for _ in range(30):
        chosen = pick_server(weights, counts)
        counts[chosen] = counts.get(chosen, 0) + 1
    assert counts == {"a": 10, "b": 20}


def test_weights_are_read_with_a_default_of_one() -> None:
    settings = load_settings(
        {
            "DATABASE_URL": "mysql+asyncmy://root@db:3306/core",
            "TENANTMESH_TENANT_DB_SERVERS": SERVERS,
            "TENANTMESH_TENANT_DB_WEIGHTS": "b=3, c=0",
        }
    )
    assert settings.database.tenant_server_weights == {"a": 1, "b": 3, "c": 0}


@pytest.mark.parametrize("weights", ["d=1", "a=-1", "a=x", "a=0,b=0,c=0"])
def test_unusable_weights_are_refused(weights: str) -> None:
    env = {
        "DATABASE_URL": "mysql+asyncmy://root@db:3306/core",
        "TENANTMESH_TENANT_DB_SERVERS": SERVERS,
        "TENANTMESH_TENANT_DB_WEIGHTS": weights,
    }
    with pytest.raises(ConfigError, match="TENANTMESH_TENANT_DB_WEIGHTS"):
        load_settings(env)


def test_a_placement_needs_a_server_that_takes_tenants() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ServerPlacement({"a": 0})
