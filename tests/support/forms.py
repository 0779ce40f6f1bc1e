"""The forms service in a running platform, its stubs, and a sample definition for tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from tenantmesh.forms.v1 import form_pb2
from tenantmesh.forms.v1 import form_service_pb2_grpc as pb_grpc

from services.forms.app import FormsApp
from services.runtime.db import TenantDatabase
from tests.support.isolation import World, build_world
from tests.support.platform import Platform, bearer, platform


def sample_definition() -> dict[str, Any]:
    """Name (required), age, country (a choice), a start and an end date with a check, a repeating
    group of items and a computed total; the end date only shows once a start date is given."""
    return {
        "schema": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "maxLength": 50},
                "age": {"type": "integer", "minimum": 0},
                "country": {"type": "string", "enum": ["ID", "NL", "US"]},
                "start": {"type": "string", "format": "date"},
                "end": {"type": "string", "format": "date"},
                "items": {
                    "type": "array",
                    "maxItems": 5,
                    "items": {
                        "type": "object",
                        "properties": {"qty": {"type": "integer", "minimum": 1}},
                    },
                },
                "total": {"type": "number"},
            },
        },
        "fields": [
            {"key": "name", "type": "FIELD_TYPE_SHORT_TEXT", "label": {"en": "Name", "id": "Nama"}},
            {"key": "age", "type": "FIELD_TYPE_INTEGER"},
            {
                "key": "country",
                "type": "FIELD_TYPE_SINGLE_CHOICE",
                "options": [{"value": "ID"}, {"value": "NL"}, {"value": "US"}],
            },
            {"key": "start", "type": "FIELD_TYPE_DATE"},
            {"key": "end", "type": "FIELD_TYPE_DATE", "visibleWhen": {"!!": {"var": "start"}}},
            {
                "key": "items",
                "type": "FIELD_TYPE_REPEATING_GROUP",
                "maxItems": 5,
                "fields": [{"key": "qty", "type": "FIELD_TYPE_INTEGER"}],
            },
            {
                "key": "total",
                "type": "FIELD_TYPE_COMPUTED",
                "compute": {"reduce": [{"var": "items"}, {"+": [{"var": "accumulator"}, {"var": "current.qty"}]}, 0]},
            },
        ],
        "checks": [
            {
                "id": "end-after-start",
                "field": "end",
                "rule": {"or": [{"!": {"var": "end"}}, {">": [{"var": "end"}, {"var": "start"}]}]},
                "message": {"en": "The end date is after the start date", "id": "Tanggal akhir setelah tanggal mulai"},
            }
        ],
    }


def definition(document: dict[str, Any]) -> form_pb2.FormDefinition:
    message = form_pb2.FormDefinition()
    json_format.ParseDict(document, message)
    return message


@dataclass
class FormsWorld:
    mesh: Platform
    world: World

    def as_(self, who: str, tenant: str = "") -> tuple[tuple[str, str], ...]:
        """Call metadata of ``admin_a``, ``member_a``, ``admin_b``... in their own tenant (or ``tenant``)."""
        default = self.world.tenant_a if who.endswith("_a") else self.world.tenant_b
        return (*bearer(self.world.tokens[who]), ("x-tenant-id", tenant or default))

    async def database_of(self, tenant_id: str) -> TenantDatabase:
        app = next(item.app for item in self.mesh.started if isinstance(item.app, FormsApp))
        context = await app.tenant_directory().lookup(tenant_id)
        assert context is not None
        return context.database

    @property
    def forms(self) -> Any:
        return pb_grpc.FormServiceStub(self.mesh.channel("forms"))

    @property
    def submissions(self) -> Any:
        return pb_grpc.SubmissionServiceStub(self.mesh.channel("forms"))


@contextlib.asynccontextmanager
async def forms_world(
    database_url: str, data_dir: Path, *extra: str, env: dict[str, str] | None = None
) -> AsyncIterator[FormsWorld]:
    async with platform(database_url, data_dir, env, extra=(*extra, "forms")) as mesh:
        world = await build_world(mesh)
        try:
            yield FormsWorld(mesh, world)
        finally:
            await world.cleanup()
