from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from services.manifest import PLATFORM
from services.runtime.config import ConfigError, load_settings
from services.runtime.telemetry.settings import load_tracing_settings


def test_defaults_need_no_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.data_dir == tmp_path / ".data"
    assert settings.database.url == f"sqlite+aiosqlite:///{tmp_path / '.data' / 'core.db'}"
    assert settings.database.is_sqlite
    assert settings.database.tenant_servers == {"default": settings.database.url}
    assert settings.database.default_tenant_server == "default"
    assert settings.database.pool_size == 10
    assert settings.database.max_overflow == 5
    assert settings.redis_url is None
    assert settings.bind_host == "127.0.0.1"
    assert settings.service_addresses == {s.name: f"127.0.0.1:{s.port}" for s in PLATFORM}
    assert settings.port_of("tenants") == 50051
    assert settings.lifecycle_services == ("tenants", "forms", "menus")
    assert settings.log_level == "info"
    assert settings.log_format == "json"
    assert settings.provisioning_lease_seconds > 0


def test_settings_are_frozen() -> None:
    settings = load_settings({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.log_level = "debug"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.database.pool_size = 1  # type: ignore[misc]


def test_values_are_read_and_typed() -> None:
    settings = load_settings(
        {
            "DATABASE_URL": "mysql+asyncmy://root@db:3306/tenantmesh",
            "TENANTMESH_TENANT_DB_SERVERS": "a=mysql+asyncmy://root@db-a:3306/x, b=mysql+asyncmy://root@db-b/x?x=1",
            "TENANTMESH_DEFAULT_TENANT_DB_SERVER": "b",
            "TENANTMESH_DB_POOL_SIZE": " 7 ",
            "TENANTMESH_DB_MAX_OVERFLOW": "0",
            "TENANTMESH_FORMS_ADDR": "forms.internal:6000",
            "TENANTMESH_LIFECYCLE_SERVICES": "tenants, forms",
            "TENANTMESH_LOG_LEVEL": "DEBUG",
            "TENANTMESH_RECONCILE_INTERVAL_SECONDS": "0.5",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert not settings.database.is_sqlite
    assert settings.database.tenant_servers == {
        "a": "mysql+asyncmy://root@db-a:3306/x",
        "b": "mysql+asyncmy://root@db-b/x?x=1",
    }
    assert settings.database.default_tenant_server == "b"
    assert settings.database.pool_size == 7
    assert settings.database.max_overflow == 0
    assert settings.address_of("forms") == "forms.internal:6000"
    assert settings.port_of("forms") == 6000
    assert settings.lifecycle_services == ("tenants", "forms")
    assert settings.log_level == "debug"
    assert settings.reconcile_interval_seconds == 0.5
    assert settings.redis_url == "redis://127.0.0.1:6379/0"


def test_blank_values_mean_default() -> None:
    assert load_settings({"TENANTMESH_DB_POOL_SIZE": "  "}).database.pool_size == 10


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TENANTMESH_DB_POOL_SIZE", "abc"),
        ("TENANTMESH_DB_POOL_SIZE", "0"),
        ("TENANTMESH_DB_POOL_SIZE", "2.5"),
        ("TENANTMESH_DB_MAX_OVERFLOW", "-1"),
        ("TENANTMESH_SQLITE_ENGINE_CACHE_SIZE", "0"),
        ("DATABASE_URL", "postgres://user@localhost/tenantmesh"),
        ("DATABASE_URL", "sqlite:///core.db"),
        ("DATABASE_URL", "mysql://root@localhost/tenantmesh"),
        ("TENANTMESH_FORMS_ADDR", "localhost"),
        ("TENANTMESH_FORMS_ADDR", "localhost:http"),
        ("TENANTMESH_FORMS_ADDR", "localhost:70000"),
        ("TENANTMESH_FORMS_ADDR", "localhost:0"),
        ("TENANTMESH_TENANTS_ADDR", ":50051"),
        ("TENANTMESH_LIFECYCLE_SERVICES", "tenants,billing"),
        ("TENANTMESH_LOG_LEVEL", "loud"),
        ("TENANTMESH_LOG_FORMAT", "xml"),
        ("TENANTMESH_TENANT_DB_SERVERS", "mysql+asyncmy://root@db/x"),
        ("TENANTMESH_DEFAULT_TENANT_DB_SERVER", "nowhere"),
        ("TENANTMESH_SHUTDOWN_GRACE_SECONDS", "0"),
        ("TENANTMESH_SHUTDOWN_GRACE_SECONDS", "soon"),
        ("TENANTMESH_TENANT_CACHE_TTL_SECONDS", "-5"),
        # Not a usable duration either: each would only blow up later, inside a request.
        ("TENANTMESH_PROVISIONING_LEASE_SECONDS", "nan"),
        ("TENANTMESH_PROVISIONING_LEASE_SECONDS", "inf"),
        ("TENANTMESH_RECONCILE_INTERVAL_SECONDS", "nan"),
        ("TENANTMESH_TENANT_DB_PREFIX", "Tenant_"),
        ("TENANTMESH_TENANT_DB_PREFIX", "t;drop"),
        ("TENANTMESH_TENANT_DB_PREFIX", "p" * 25),
    ],
)
def test_bad_value_names_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings({variable: value})


def test_unknown_service_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="billing"):
        load_settings({}).address_of("billing")


@pytest.mark.parametrize(
    ("load", "env", "named"),
    [
        (
            load_settings,
            {"TENANTMESH_TENANT_DB_SERVERS": "db1=mysql+asyncmy://tm:Secret_A@db1/,mysql+asyncmy://tm:Secret_B@db2/"},
            "TENANTMESH_TENANT_DB_SERVERS is not valid (its value is not shown: it may hold credentials): entry 2",
        ),
        (
            load_settings,
            {"TENANTMESH_TENANT_DB_REPLICAS": "default=mysql+asyncmy://ro:Secret_C@r1/,default="},
            "TENANTMESH_TENANT_DB_REPLICAS is not valid",
        ),
        (
            load_tracing_settings,
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otlp.example:4317",
                "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key: Secret_D",
            },
            "OTEL_EXPORTER_OTLP_HEADERS is not valid (its value is not shown: it may hold credentials): entry 1",
        ),
    ],
)
def test_a_bad_setting_that_may_hold_credentials_is_named_not_shown(
    load: Callable[[dict[str, str]], object], env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load(env)
    assert named in str(refused.value)
    assert "Secret_" not in str(refused.value)


def test_a_bad_plain_setting_is_shown() -> None:
    with pytest.raises(ConfigError, match="TENANTMESH_TENANT_DB_WEIGHTS='default' is not valid"):
        load_settings({"TENANTMESH_TENANT_DB_WEIGHTS": "default"})
