"""A stream opened while its tenant was active ends once the tenant is suspended: an upload is
refused at its next message (nothing of it kept), a download at its next chunk, each answered as
a new call of the suspended tenant would be (FAILED_PRECONDITION / TENANT_SUSPENDED)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from tenantmesh.forms.v1 import file_service_pb2 as pb
from tenantmesh.tenants.v1 import tenant_service_pb2 as tenants_pb

from tests.grpc.test_forms_files import Caller, files_platform, stored_rows, upload_messages
from tests.support.errors import expect_error
from tests.support.platform import bearer

SUSPENDED = (grpc.StatusCode.FAILED_PRECONDITION, "TENANT_SUSPENDED")


async def _drain(stream: Any) -> None:
    while await stream.read() is not grpc.aio.EOF:
        pass


async def test_open_streams_end_once_the_tenant_is_suspended(db_backend_url: str, tmp_path: Path) -> None:
    async with files_platform(db_backend_url, tmp_path, TENANTMESH_FILES_MAX_MIB="16") as (mesh, world):
        admin_a = Caller(mesh, world.tokens["admin_a"], world.tenant_a)
        # Many chunks: more than the transport buffers while the client has read only the first.
        kept = await admin_a.upload(upload_messages(os.urandom(8 * 1024 * 1024), "application/pdf"))
        download = admin_a.stub.DownloadFile(pb.DownloadFileRequest(file_id=kept.file_id), metadata=admin_a.metadata)
        assert (await download.read()).data

        suspended = asyncio.Event()

        async def slow_upload() -> AsyncIterator[pb.UploadFileRequest]:
            first, *rest = upload_messages(b"z" * 30_000, "application/pdf")
            yield first
            await suspended.wait()
            for message in rest:
                yield message

        upload = admin_a.stub.UploadFile(slow_upload(), metadata=admin_a.metadata)
        await asyncio.sleep(0.5)  # both calls are past the tenant check, into their handlers
        as_platform = bearer(world.platform_admin)
        await mesh.tenants.SuspendTenant(
            tenants_pb.SuspendTenantRequest(tenant_id=world.tenant_a), metadata=as_platform
        )
        suspended.set()

        await expect_error(upload, *SUSPENDED)
        await expect_error(_drain(download), *SUSPENDED)
        await mesh.tenants.ResumeTenant(tenants_pb.ResumeTenantRequest(tenant_id=world.tenant_a), metadata=as_platform)
        assert [row.file_id for row in await stored_rows(mesh, world.tenant_a)] == [kept.file_id]
