"""Fixtures for in-process gRPC tests of the tenants service.

``world`` starts the real tenants server (real interceptors, port 0) on the
backend chosen by ``db_backend_url`` and hands out unique slugs. Tenant
databases on MariaDB are named ``tenant_<slug>`` server-wide, so every slug
carries a random token: it keeps tests independent of each other (and of
other runs on the same server) and lets a test look for stray databases of
exactly the tenants it touched.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.runtime.context import PLATFORM_TENANT_SLUG
from services.runtime.db import TenantDatabase, tenant_database_name
from services.runtime.db.placement import DEFAULT_TENANT_DB_PREFIX
from tests.support.mesh import TenantsHarness, tenants_service
from tests.support.secrets import KNOWN_SECRETS, SecretWatch


@pytest.fixture(autouse=True)
def no_known_secret_in_logs() -> Iterator[None]:
    """Fails a test after which a tenantmesh log record held one of the suite's fixed passwords."""
    watch = SecretWatch(KNOWN_SECRETS)
    logger = logging.getLogger("tenantmesh")
    logger.addHandler(watch)
    try:
        yield
    finally:
        logger.removeHandler(watch)
    if watch.disclosures:
        pytest.fail("a password reached the logs:\n" + "\n".join(watch.disclosures[:10]))


ALL_STATES = [s for s in tenant_pb2.TenantState.values() if s != tenant_pb2.TENANT_STATE_UNSPECIFIED]


def placement(tenant: tenant_pb2.Tenant) -> TenantDatabase:
    return TenantDatabase(server=tenant.database.server, name=tenant.database.database)


def _database_of(filename: str) -> str:
    """tenant_acme.db, tenant_acme.db-wal, ... -> tenant_acme"""
    return filename.split(".db", 1)[0]


@dataclass
class TenantWorld:
    mesh: TenantsHarness
    backend: str
    data_dir: Path
    slugs: list[str] = field(default_factory=list)

    @property
    def tenants(self) -> Any:
        return self.mesh.tenants

    def slug(self, stem: str = "t") -> str:
        """A fresh slug, unique across tests and runs; its database is dropped at teardown."""
        made = f"{stem}-{uuid.uuid4().hex[:12]}"
        self.slugs.append(made)
        return made

    async def create(self, slug: str, **fields: Any) -> tenant_pb2.Tenant:
        response = await self.tenants.CreateTenant(
            pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug, **fields))
        )
        tenant: tenant_pb2.Tenant = response.tenant
        return tenant

    async def get(self, tenant_id: str) -> tenant_pb2.Tenant:
        tenant: tenant_pb2.Tenant = (await self.tenants.GetTenant(pb.GetTenantRequest(tenant_id=tenant_id))).tenant
        return tenant

    async def list_all(self, states: Sequence[Any] = ALL_STATES, labels: Sequence[str] = ()) -> list[tenant_pb2.Tenant]:
        """Every tenant in ``states`` (tombstones and failures included by default), all pages."""
        found: list[tenant_pb2.Tenant] = []
        token = ""
        while True:
            page = await self.tenants.ListTenants(
                pb.ListTenantsRequest(page_size=100, page_token=token, states=states, labels=labels)
            )
            found.extend(page.tenants)
            token = page.next_page_token
            if not token:
                return found

    async def database_exists(self, tenant_or_slug: tenant_pb2.Tenant | str) -> bool:
        if isinstance(tenant_or_slug, str):
            db = TenantDatabase("default", tenant_database_name(tenant_or_slug, self.mesh.runtime.db.tenant_db_prefix))
        else:
            db = placement(tenant_or_slug)
        return await self.mesh.runtime.db.tenant_database_exists(db)

    async def databases_named_like(self, token: str) -> list[str]:
        """Tenant databases whose name contains ``token`` (any case, '-' read as '_').

        On SQLite any file of a database counts (a lone -wal file is a leftover too).
        """
        needle = token.lower().replace("-", "_")
        if self.backend == "sqlite":
            return sorted({_database_of(n) for n in await self.all_tenant_databases() if needle in n.lower()})
        async with self.mesh.runtime.db.core_connection() as conn:
            rows = await conn.execute(text("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA"))
            return sorted(str(r[0]) for r in rows if needle in str(r[0]).lower())

    async def all_tenant_databases(self) -> list[str]:
        """SQLite only: every file in this test's tenant data directory."""
        assert self.backend == "sqlite"
        directory = self.data_dir / "tenants"
        return sorted(p.name for p in directory.iterdir()) if directory.exists() else []

    async def drop_leftovers(self) -> None:
        if self.backend != "mysql":
            return  # tmp_path goes away with the test
        prefix = self.mesh.runtime.db.tenant_db_prefix
        # The platform tenant's database is shared by every test of the default prefix; one
        # made under a prefix of a test's own goes with that test.
        slugs = [*self.slugs, PLATFORM_TENANT_SLUG] if prefix != DEFAULT_TENANT_DB_PREFIX else self.slugs
        for slug in slugs:
            try:
                name = tenant_database_name(slug, prefix)
            except ValueError:
                continue
            await self.mesh.runtime.db.drop_tenant_database(TenantDatabase("default", name))


@pytest.fixture
async def world_factory(db_backend_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    """Starts tenants servers on this test's database; each can be given its own environment."""
    backend = "sqlite" if db_backend_url.startswith("sqlite") else "mysql"
    stack: list[tuple[Any, TenantWorld]] = []

    async def start(env: Mapping[str, str] | None = None) -> TenantWorld:
        manager = tenants_service(db_backend_url, tmp_path, env=env)
        mesh = await manager.__aenter__()
        world = TenantWorld(mesh=mesh, backend=backend, data_dir=tmp_path)
        stack.append((manager, world))
        return world

    try:
        yield start
    finally:
        for manager, world in reversed(stack):
            try:
                await world.drop_leftovers()
            finally:
                await manager.__aexit__(None, None, None)


@pytest.fixture
async def world(world_factory: Any) -> TenantWorld:
    started: TenantWorld = await world_factory()
    return started
