"""Secret fields of a tenant's service configuration (``writeOnly`` in the config schema) are
stored sealed under the key-encryption key and never returned; an update that leaves one out
keeps it. ListEnabledServices' page tokens are bound to the tenant."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from sqlalchemy import select
from tenantmesh.registry.v1 import registry_service_pb2 as pb

from services.registry.models import EnabledServiceRow
from services.registry.secrets import ConfigSecrets, secret_pointers
from services.runtime.sealing import UnsealError
from tests.support.errors import expect_error, violation_fields
from tests.support.registry import RegistryWorld, http_service, registry_world, struct, unique_name

SECRET = "s3cr3t-value-that-must-never-show"
SCHEMA = {
    "type": "object",
    "properties": {
        "region": {"type": "string"},
        "apiSecret": {"type": "string", "minLength": 8, "writeOnly": True},
        "webhook": {
            "type": "object",
            "properties": {"url": {"type": "string"}, "signingKey": {"type": "string", "writeOnly": True}},
        },
    },
    "required": ["region", "apiSecret"],
    "additionalProperties": False,
}


@pytest.fixture
async def world(db_backend_url: str, tmp_path: Path) -> AsyncIterator[RegistryWorld]:
    async with registry_world(db_backend_url, tmp_path) as started:
        yield started


async def _stored(world: RegistryWorld, tenant_id: str, service: str) -> str:
    async with world.mesh.runtime.db.core_session() as session:
        row = (
            await session.execute(
                select(EnabledServiceRow).where(
                    EnabledServiceRow.tenant_id == tenant_id, EnabledServiceRow.service == service
                )
            )
        ).scalar_one()
        return row.config_json


async def test_secret_fields_are_sealed_and_never_returned(world: RegistryWorld) -> None:
    name = unique_name()
    await world.register(http_service(name, config_schema=struct(SCHEMA)))
    tenant_id = await world.new_tenant()
    admin = await world.admin(tenant_id)
    config = {"region": "eu", "apiSecret": SECRET, "webhook": {"url": "https://h.example", "signingKey": "k-123456"}}
    enabled = (
        await admin.enabled.EnableService(pb.EnableServiceRequest(service=name, config=struct(config)))
    ).enabled_service
    got = (await admin.enabled.GetEnabledService(pb.GetEnabledServiceRequest(service=name))).enabled_service
    listed = (await admin.enabled.ListEnabledServices(pb.ListEnabledServicesRequest())).enabled_services
    for answer in (enabled, got, *listed):
        assert SECRET not in str(answer)
        assert "k-123456" not in str(answer)
        assert list(answer.secret_fields) == ["/apiSecret", "/webhook/signingKey"]
        assert dict(answer.config)["region"] == "eu"
        assert "apiSecret" not in answer.config
    # At rest: sealed, not the plain value.
    stored = await _stored(world, tenant_id, name)
    assert SECRET not in stored
    assert "k-123456" not in stored
    assert set(json.loads(stored)["apiSecret"]) == {"$sealed"}

    # An update without the secret keeps it (the required field is still satisfied) ...
    updated = (
        await admin.enabled.UpdateServiceConfig(
            pb.UpdateServiceConfigRequest(service=name, config=struct({"region": "us"}), etag=got.etag)
        )
    ).enabled_service
    assert dict(updated.config) == {"region": "us"}
    assert list(updated.secret_fields) == ["/apiSecret"]
    secrets = ConfigSecrets(world.mesh.runtime.sealer)
    kept = secrets.with_kept_secrets(
        {}, json.loads(await _stored(world, tenant_id, name)), secret_pointers(SCHEMA), tenant_id, name
    )
    assert kept["apiSecret"] == SECRET
    # ... a new value replaces it, and is validated like any other field (without repeating it).
    error = await expect_error(
        admin.enabled.UpdateServiceConfig(
            pb.UpdateServiceConfigRequest(service=name, config=struct({"region": "us", "apiSecret": "tiny7"}))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CONFIG_INVALID",
    )
    assert violation_fields(error) == {"config.apiSecret"}
    assert "tiny7" not in answer_text(error)
    await admin.enabled.UpdateServiceConfig(
        pb.UpdateServiceConfigRequest(service=name, config=struct({"region": "us", "apiSecret": "another-secret"}))
    )
    kept = secrets.with_kept_secrets(
        {}, json.loads(await _stored(world, tenant_id, name)), secret_pointers(SCHEMA), tenant_id, name
    )
    assert kept["apiSecret"] == "another-secret"


def answer_text(error: grpc.aio.AioRpcError) -> str:
    """Everything a failed call tells its caller: message and trailers, details included."""
    trailers = [
        value if isinstance(value, str) else value.decode(errors="replace")
        for _, value in error.trailing_metadata() or ()
    ]
    return "\n".join([error.details() or "", *trailers])


async def test_a_refused_update_does_not_repeat_the_stored_secret(world: RegistryWorld) -> None:
    # The update leaves the secret out, so the stored one is kept and validated with the rest;
    # the rule it breaks is the whole object's, whose validator message would quote every value.
    schema = {
        "type": "object",
        "properties": {"region": {"type": "string"}, "token": {"type": "string", "writeOnly": True}},
        "maxProperties": 2,
    }
    name = unique_name()
    await world.register(http_service(name, config_schema=struct(schema)))
    admin = await world.admin(await world.new_tenant())
    await admin.enabled.EnableService(
        pb.EnableServiceRequest(service=name, config=struct({"region": "eu", "token": SECRET}))
    )
    error = await expect_error(
        admin.enabled.UpdateServiceConfig(
            pb.UpdateServiceConfigRequest(service=name, config=struct({"region": "us", "note": "x"}))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CONFIG_INVALID",
    )
    assert violation_fields(error) == {"config"}
    assert SECRET not in answer_text(error)


async def test_a_sealed_secret_opens_only_for_its_tenant_service_and_field(world: RegistryWorld) -> None:
    secrets = ConfigSecrets(world.mesh.runtime.sealer)
    pointers = secret_pointers(SCHEMA)
    stored = secrets.sealed({"region": "eu", "apiSecret": SECRET}, pointers, "tenant-a", "svc")
    assert secrets.with_kept_secrets({}, stored, pointers, "tenant-a", "svc")["apiSecret"] == SECRET
    with pytest.raises(UnsealError):
        secrets.with_kept_secrets({}, stored, pointers, "tenant-b", "svc")


async def test_a_required_secret_missing_on_enable_is_a_field_violation(world: RegistryWorld) -> None:
    name = unique_name()
    await world.register(http_service(name, config_schema=struct(SCHEMA)))
    admin = await world.admin(await world.new_tenant())
    error = await expect_error(
        admin.enabled.EnableService(pb.EnableServiceRequest(service=name, config=struct({"region": "eu"}))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CONFIG_INVALID",
    )
    assert violation_fields(error)


async def test_list_page_tokens_are_bound_to_the_tenant(world: RegistryWorld) -> None:
    names = [unique_name() for _ in range(3)]
    for name in names:
        await world.register(http_service(name))
    tenant_a, tenant_b = await world.new_tenant(), await world.new_tenant()
    admin_a, admin_b = await world.admin(tenant_a), await world.admin(tenant_b)
    for name in names:
        await admin_a.enabled.EnableService(pb.EnableServiceRequest(service=name))
        await admin_b.enabled.EnableService(pb.EnableServiceRequest(service=name))
    first = await admin_a.enabled.ListEnabledServices(pb.ListEnabledServicesRequest(page_size=1))
    assert first.next_page_token
    await admin_a.enabled.ListEnabledServices(pb.ListEnabledServicesRequest(page_token=first.next_page_token))
    await expect_error(
        admin_b.enabled.ListEnabledServices(pb.ListEnabledServicesRequest(page_token=first.next_page_token)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PAGE_TOKEN_INVALID",
    )


async def test_a_secret_marker_the_registry_would_not_honour_is_refused_at_registration(world: RegistryWorld) -> None:
    # writeOnly behind a $ref (a secret type defined once) marks nothing the registry seals: the
    # value would be stored and returned in plain text, so the schema is refused instead.
    schema = {
        "type": "object",
        "$defs": {"secret": {"type": "string", "writeOnly": True}},
        "properties": {"token": {"$ref": "#/$defs/secret"}},
    }
    error = await expect_error(
        world.register(http_service(unique_name(), config_schema=struct(schema))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "SCHEMA_INVALID",
    )
    assert violation_fields(error) == {'service.config_schema["$defs"].secret.writeOnly'}


async def test_a_field_the_schema_makes_secret_later_is_never_returned(world: RegistryWorld) -> None:
    """A configuration stored while a field was plain, then the service's schema marks that field
    ``writeOnly``: reads hide it (by the schema they answer under, not by how it was stored)."""
    name = unique_name()
    properties: dict[str, Any] = {"region": {"type": "string"}, "apiKey": {"type": "string"}}
    plain = {"type": "object", "properties": properties}
    service = await world.register(http_service(name, config_schema=struct(plain)))
    tenant_id = await world.new_tenant()
    admin = await world.admin(tenant_id)
    config = {"region": "eu", "apiKey": SECRET}
    await admin.enabled.EnableService(pb.EnableServiceRequest(service=name, config=struct(config)))
    secret = {**plain, "properties": {**properties, "apiKey": {"type": "string", "writeOnly": True}}}
    service.config_schema.CopyFrom(struct(secret))
    await (await world.admin()).catalog.UpdateService(
        pb.UpdateServiceRequest(service=service, update_mask=field_mask_pb2.FieldMask(paths=["config_schema"]))
    )
    got = (await admin.enabled.GetEnabledService(pb.GetEnabledServiceRequest(service=name))).enabled_service
    listed = (await admin.enabled.ListEnabledServices(pb.ListEnabledServicesRequest())).enabled_services
    for answer in (got, *listed):
        assert SECRET not in str(answer)
        assert list(answer.secret_fields) == ["/apiKey"]
        assert dict(answer.config) == {"region": "eu"}
