"""Server reflection through the edge, on the `make run` mesh: what grpcurl and buf curl ask for
(list the services, fetch the files of a service and of the error detail types) works at the one
public address for a caller with an access token, and not without one."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.manifest import PLATFORM
from tests.support.running_mesh import Integrator

pytestmark = pytest.mark.edge


async def reflect(
    integrator: Integrator, request: reflection_pb2.ServerReflectionRequest, token: str | None
) -> reflection_pb2.ServerReflectionResponse:
    mesh = integrator.mesh
    credentials = grpc.ssl_channel_credentials(mesh.ca_file.read_bytes())
    metadata = [("authorization", f"Bearer {token}")] if token else []
    async with grpc.aio.secure_channel(mesh.grpc_tls_target, credentials) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        call = stub.ServerReflectionInfo(iter([request]), metadata=metadata, timeout=30)
        answers = [answer async for answer in call]
    assert len(answers) == 1
    return answers[0]


def file_names(answer: reflection_pb2.ServerReflectionResponse) -> set[str]:
    assert answer.WhichOneof("message_response") == "file_descriptor_response", answer
    return {
        descriptor_pb2.FileDescriptorProto.FromString(raw).name
        for raw in answer.file_descriptor_response.file_descriptor_proto
    }


async def test_reflection_lists_the_public_api_of_the_whole_mesh(integrator: Integrator) -> None:
    answer = await reflect(
        integrator, reflection_pb2.ServerReflectionRequest(list_services=""), integrator.tenant_admin_token
    )
    listed = {service.name for service in answer.list_services_response.service}
    assert set(PLATFORM.api_services()) <= listed
    assert "tenantmesh.meta.v1.MetaService" in listed
    # The internal lifecycle API is not routed at the edge and not listed either.
    assert not any("lifecycle" in name for name in listed)


@pytest.mark.parametrize(
    ("symbol", "file"),
    [
        ("tenantmesh.forms.v1.FormService", "tenantmesh/forms/v1/form_service.proto"),
        # Error details decode: their types are there too.
        ("google.rpc.ErrorInfo", "google/rpc/error_details.proto"),
        ("google.rpc.BadRequest", "google/rpc/error_details.proto"),
        ("google.rpc.Status", "google/rpc/status.proto"),
    ],
)
async def test_reflection_describes_services_and_error_details(integrator: Integrator, symbol: str, file: str) -> None:
    answer = await reflect(
        integrator,
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol),
        integrator.no_role_token,
    )
    assert file in file_names(answer)


async def test_reflection_needs_an_access_token(integrator: Integrator) -> None:
    # The edge refuses on the request's headers. The stream is opened without writing to it: a
    # write racing that refusal fails inside the client library and would mask the edge's answer
    # with a client-side INTERNAL.
    mesh = integrator.mesh
    credentials = grpc.ssl_channel_credentials(mesh.ca_file.read_bytes())
    async with grpc.aio.secure_channel(mesh.grpc_tls_target, credentials) as channel:
        call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(timeout=30)
        assert await call.code() == grpc.StatusCode.UNAUTHENTICATED
        assert await call.details()
