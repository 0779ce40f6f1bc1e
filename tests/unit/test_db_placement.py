from __future__ import annotations

import pytest

from services.runtime.db import TenantDatabase, quote_database_identifier, tenant_database_name
from services.runtime.db.placement import check_tenant_db_prefix


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("acme", "tenant_acme"),
        ("abc", "tenant_abc"),
        ("acme-corp", "tenant_acme_corp"),
        ("a1-b2-c3", "tenant_a1_b2_c3"),
        ("x" * 40, "tenant_" + "x" * 40),
        ("a-9", "tenant_a_9"),
    ],
)
def test_good_slugs_are_mapped(slug: str, expected: str) -> None:
    assert tenant_database_name(slug) == expected
    assert TenantDatabase("default", expected).name == expected


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "ab",  # too short
        "x" * 41,  # too long
        "Acme",
        "ACME",
        "acme_corp",
        "1acme",
        "-acme",
        "acme-",
        "a;drop",
        "a;drop database core",
        "acme`",
        "ac`me",
        "ac'me",
        'ac"me',
        "ac me",
        "ac.me",
        "ac/me",
        "../etc",
        "acme\n",
        "acme\x00",
        "acmé",
        "ac%me",
    ],
)
def test_bad_slugs_are_rejected(slug: str) -> None:
    with pytest.raises(ValueError, match="invalid tenant slug"):
        tenant_database_name(slug)


@pytest.mark.parametrize("name", ["tenant_acme", "tenant_acme_corp", "tenantmesh", "tm_test_0a1b", "core"])
def test_quote_accepts_whitelisted_names(name: str) -> None:
    assert quote_database_identifier(name) == f"`{name}`"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Tenant_acme",
        "tenant-acme",
        "a`b",
        "x;drop",
        "1core",
        "core\n",
        "c" * 65,
        "tenant_" + "a" * 41 + "`",
    ],
)
def test_quote_rejects_everything_else(name: str) -> None:
    with pytest.raises(ValueError, match="refusing to quote"):
        quote_database_identifier(name)


def test_the_prefix_is_the_platforms() -> None:
    assert tenant_database_name("acme-corp", "staging_t_") == "staging_t_acme_corp"
    assert tenant_database_name("x" * 40, "p" * 24) == "p" * 24 + "x" * 40  # 64: MySQL's limit
    assert TenantDatabase("default", "staging_t_acme").name == "staging_t_acme"


@pytest.mark.parametrize("prefix", ["", "T_", "1t_", "t-", "t;", "t`", "t ", "../", "p" * 25, "tenant_\n"])
def test_bad_prefixes_are_rejected(prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid tenant database prefix"):
        check_tenant_db_prefix(prefix)
    with pytest.raises(ValueError, match="invalid tenant database prefix"):
        tenant_database_name("acme", prefix)


@pytest.mark.parametrize(
    "name", ["", "ab", "tenant_Acme", "tenant_a;b", "tenant_../x", "tenant_a\n", "1acme", "a" * 65, "a`b"]
)
def test_tenant_database_validates_name(name: str) -> None:
    with pytest.raises(ValueError, match="invalid tenant database name"):
        TenantDatabase("default", name)


def test_tenant_database_requires_server() -> None:
    with pytest.raises(ValueError, match="server"):
        TenantDatabase("", "tenant_acme")
