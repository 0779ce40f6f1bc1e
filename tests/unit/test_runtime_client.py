from __future__ import annotations

import contextvars

import grpc

from services.runtime.client import _with_context, propagated_metadata
from services.runtime.context import (
    TenantContext,
    TenantState,
    authorization_var,
    request_id_var,
    tenant_var,
    traceparent_var,
)
from services.runtime.db import TenantDatabase

TENANT = TenantContext("t-1", "acme", TenantState.ACTIVE, TenantDatabase("default", "tenant_acme"))


def _in_call(*, explicit: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    def run() -> list[tuple[str, str]]:
        tenant_var.set(TENANT)
        authorization_var.set("Bearer abc")
        request_id_var.set("req-1")
        traceparent_var.set("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        details = grpc.aio.ClientCallDetails(
            method="/x.v1.X/Y",
            timeout=1.0,
            metadata=grpc.aio.Metadata(*(explicit or [])),
            credentials=None,
            wait_for_ready=True,
        )
        metadata = _with_context(details).metadata
        assert metadata is not None
        return [(str(key), str(value)) for key, value in metadata]

    return contextvars.copy_context().run(run)


def test_outside_a_call_nothing_is_propagated() -> None:
    assert contextvars.Context().run(propagated_metadata) == []


def test_tenant_credentials_request_id_and_trace_are_copied() -> None:
    assert dict(_in_call()) == {
        "x-tenant-id": "t-1",
        "authorization": "Bearer abc",
        "x-request-id": "req-1",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }


def test_explicit_metadata_wins() -> None:
    metadata = _in_call(explicit=[("x-tenant-id", "t-2"), ("x-extra", "1")])
    assert [v for k, v in metadata if k == "x-tenant-id"] == ["t-2"]
    assert ("x-extra", "1") in metadata
    assert ("x-request-id", "req-1") in metadata
