"""Structs a gRPC caller fills with numbers JSON cannot hold (NaN, +-Infinity) are invalid
input. Found by the descriptor fuzzer: EnableService with such a config answered INTERNAL
(the Struct -> JSON conversion raised), and so did every RPC taking a Struct."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2
from tenantmesh.registry.v1 import registry_service_pb2 as pb
from tenantmesh.registry.v1 import service_pb2

from tests.support.errors import expect_error, violation_fields
from tests.support.registry import RegistryWorld, http_service, registry_world, unique_name


def not_json(value: float) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update({"limits": [{"max": value}]})
    return struct


@pytest.fixture
async def world(db_backend_url: str, tmp_path: Path) -> AsyncIterator[RegistryWorld]:
    async with registry_world(db_backend_url, tmp_path) as started:
        yield started


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
async def test_structs_with_non_json_numbers_are_invalid_arguments(world: RegistryWorld, value: float) -> None:
    name = unique_name()
    await world.register(http_service(name))
    tenant_id = await world.new_tenant()
    admin = await world.admin(tenant_id)

    enable = admin.enabled.EnableService(pb.EnableServiceRequest(service=name, config=not_json(value)))
    error = await expect_error(enable, grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")
    assert violation_fields(error) == {"config"}

    register = admin.catalog.RegisterService(
        pb.RegisterServiceRequest(service=http_service(unique_name(), config_schema=not_json(value)))
    )
    error = await expect_error(register, grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")
    assert violation_fields(error) == {"service.config_schema"}

    version = admin.catalog.RegisterServiceVersion(
        pb.RegisterServiceVersionRequest(
            service=name, version=service_pb2.ServiceVersion(version="1.0.0", openapi=not_json(value))
        )
    )
    error = await expect_error(version, grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")
    assert violation_fields(error) == {"version.openapi"}
