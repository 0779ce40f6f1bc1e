"""The platform under fault: tenants and auth (with ``with_services``, the registry and forms
too) as separate processes on MariaDB and Redis.

As production runs it: each service in its own process, the reconciler on a short interval
(so a fault's leftovers are finished or cleaned while the test watches), every process's
Prometheus endpoint on a port the test knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from google.protobuf import json_format
from prometheus_client.parser import text_string_to_metric_families
from tenantmesh.auth.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    auth_service_pb2,
    auth_service_pb2_grpc,
    user_pb2,
)
from tenantmesh.forms.v1 import form_pb2, form_service_pb2, form_service_pb2_grpc
from tenantmesh.registry.v1 import registry_service_pb2, registry_service_pb2_grpc, service_pb2
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc

from tests.faults.load import USER_PASSWORD, ServiceTargets, Targets, bearer
from tests.support.mesh import RUN_TENANT_DB_PREFIX
from tests.support.ports import free_port
from tests.support.processes import ProcessMesh, ServiceProcess, process_mesh

ADMIN_EMAIL = "admin@example.test"
ADMIN_PASSWORD = "correct-horse-battery-staple"
# Short enough that a tenant whose provisioning a fault interrupted is taken over within the test.
RECONCILE_INTERVAL_SECONDS = "1"
PROVISIONING_LEASE_SECONDS = "5"
# Tenant database prefixes are at most 24 characters; the run's prefix already takes some.
_PREFIX_LIMIT = 24
# What the load enables and submits with ``with_services``: a catalogue service without a
# config schema (any configuration, an empty one here) and a one-field form.
CATALOGUE_SERVICE = "fault-load"
FORM_KEY = "fault-load"
FORM_DEFINITION = {
    "schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
    "fields": [{"key": "n", "type": "FIELD_TYPE_INTEGER"}],
}


def scenario_db_prefix() -> str:
    """A tenant database prefix of the scenario's own, under the run's (dropped with the run's):
    the checker tells the scenario's databases by it. As many random characters as fit."""
    room = _PREFIX_LIMIT - len(RUN_TENANT_DB_PREFIX) - 2
    if room < 3:
        raise ValueError(f"TEST_MYSQL_URL's database name leaves no room for a scenario prefix: {RUN_TENANT_DB_PREFIX}")
    return f"{RUN_TENANT_DB_PREFIX}f{uuid.uuid4().hex[: min(6, room)]}_"


@dataclass
class FaultPlatform:
    mesh: ProcessMesh
    metrics_ports: dict[str, int]
    # Set by fault_platform before it yields.
    tenants: ServiceProcess = field(init=False)
    auth: ServiceProcess = field(init=False)
    targets: Targets = field(init=False)
    # With ``with_services`` only.
    registry: ServiceProcess | None = None
    forms: ServiceProcess | None = None

    async def start(
        self, service: str, instance: str | None = None, env: Mapping[str, str] | None = None
    ) -> ServiceProcess:
        """Another process of the platform (a service of ``fault_platform``'s ``services``, or a
        further instance of one), its metrics on a port of its own; returns once it serves."""
        port = free_port()
        started = self.mesh.spawn(
            service, instance=instance, extra_env={"TENANTMESH_METRICS_PORT": str(port), **dict(env or {})}
        )
        await started.wait_serving(within_seconds=90)
        self.metrics_ports[instance or service] = port
        return started

    async def metric(self, service: str, name: str, **labels: str) -> float:
        """The sum of a metric's samples on one process that carry ``labels``."""
        return await read_metric(self.metrics_ports[service], name, **labels)


async def read_metric(port: int, name: str, **labels: str) -> float:
    """The sum of the samples of a metric that carry ``labels``, on the process serving ``port``."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


@contextlib.asynccontextmanager
async def fault_platform(
    database_url: str,
    redis_url: str,
    root: Path,
    env: Mapping[str, str] | None = None,
    services: Sequence[str] = ("tenants", "auth"),
    service_env: Mapping[str, Mapping[str, str]] | None = None,
    with_services: bool = False,
) -> AsyncIterator[FaultPlatform]:
    """Starts tenants then auth (tenants first: both would race to create the core tables),
    creates the tenant the load works in and its login user; stops every process on exit.

    ``services``: every service the scenario may run (each gets its address); only tenants and
    auth are started here, the others with :meth:`FaultPlatform.start`. ``service_env``: settings
    of one service's processes started here only, by service name. ``with_services``: the
    registry and forms start too (forms provisions every tenant with the tenants service), a
    catalogue service is registered and the load's tenant gets a published form, so the load
    enables services and submits forms (``Targets.services``)."""
    own = dict(service_env or {})
    if with_services:
        services = tuple(dict.fromkeys((*services, "registry", "forms")))
    settings = {
        "TENANTMESH_RECONCILE_INTERVAL_SECONDS": RECONCILE_INTERVAL_SECONDS,
        "TENANTMESH_PROVISIONING_LEASE_SECONDS": PROVISIONING_LEASE_SECONDS,
        **({"TENANTMESH_LIFECYCLE_SERVICES": "tenants,forms"} if with_services else {}),
        **dict(env or {}),
    }
    async with process_mesh(
        database_url,
        redis_url,
        root,
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
        env=settings,
        services=services,
    ) as mesh:
        platform = FaultPlatform(mesh=mesh, metrics_ports={})
        tenants = platform.tenants = await platform.start("tenants", env=own.get("tenants"))
        # Then the others at once, as a deployment starts them (each takes its migrations' lock):
        # with ``with_services``, forms is up before the first tenant, whose provisioning waits for it.
        others = ("auth", "registry", "forms") if with_services else ("auth",)
        started = await asyncio.gather(*(platform.start(name, env=own.get(name)) for name in others))
        auth = platform.auth = started[0]
        if with_services:
            registry = platform.registry = started[1]
            forms = platform.forms = started[2]
        auth_stub: Any = auth_service_pb2_grpc.AuthServiceStub(auth.channel)
        login = await auth_stub.Login(
            auth_service_pb2.LoginRequest(tenant="platform", email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        )
        admin = login.tokens.access_token
        tenants_stub: Any = tenant_service_pb2_grpc.TenantServiceStub(tenants.channel)
        slug = f"fl-{uuid.uuid4().hex[:10]}"
        tenant = (
            await tenants_stub.CreateTenant(
                tenant_service_pb2.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug)), metadata=bearer(admin)
            )
        ).tenant
        email = f"login-{uuid.uuid4().hex[:8]}@example.test"
        await admin_service_pb2_grpc.UserServiceStub(auth.channel).CreateUser(
            admin_service_pb2.CreateUserRequest(user=user_pb2.User(email=email), password=USER_PASSWORD),
            metadata=bearer(admin, tenant.tenant_id),
        )
        platform.targets = Targets(
            tenants_channel=tenants.channel,
            auth_channel=auth.channel,
            admin_token=admin,
            tenant_id=tenant.tenant_id,
            tenant_slug=slug,
            login_email=email,
        )
        if with_services:
            platform.targets.services = await _service_targets(registry, forms, admin, tenant.tenant_id)
        yield platform


async def _service_targets(
    registry: ServiceProcess, forms: ServiceProcess, admin: str, tenant_id: str
) -> ServiceTargets:
    """Registers the catalogue service and publishes the form in the load's tenant."""
    catalogue: Any = registry_service_pb2_grpc.CatalogServiceStub(registry.channel)
    await catalogue.RegisterService(
        registry_service_pb2.RegisterServiceRequest(
            service=service_pb2.Service(
                name=CATALOGUE_SERVICE,
                kind=service_pb2.SERVICE_KIND_EXTERNAL_HTTP,
                display_name="Fault load",
                versions=[service_pb2.ServiceVersion(version="1.0.0")],
            )
        ),
        metadata=bearer(admin),
    )
    stub: Any = form_service_pb2_grpc.FormServiceStub(forms.channel)
    draft = json_format.ParseDict(FORM_DEFINITION, form_pb2.FormDefinition())
    form = form_service_pb2.Form(key=FORM_KEY, draft=draft)
    await stub.CreateForm(form_service_pb2.CreateFormRequest(form=form), metadata=bearer(admin, tenant_id))
    await stub.PublishForm(form_service_pb2.PublishFormRequest(key=FORM_KEY), metadata=bearer(admin, tenant_id))
    return ServiceTargets(
        registry_channel=registry.channel,
        forms_channel=forms.channel,
        catalogue_service=CATALOGUE_SERVICE,
        form_key=FORM_KEY,
    )
