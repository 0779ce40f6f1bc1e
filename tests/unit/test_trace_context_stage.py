"""The caller's traceparent is passed on (to outgoing calls and the events a call writes) only
when it has W3C's shape: a caller's arbitrary text, of a size of its choosing, is not."""

from __future__ import annotations

from typing import Any, cast

import pytest

from services.runtime.access import MethodPolicy, Scope
from services.runtime.context import traceparent_var
from services.runtime.interceptors.chain import IncomingCall
from services.runtime.interceptors.telemetry import trace_context_stage

METHOD = "/tenantmesh.tenants.v1.TenantService/GetTenant"
VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def passed_on(traceparent: str | None) -> str:
    policy = MethodPolicy(METHOD, "tenants.read", public=False, scope=Scope.TENANT, server_streaming=False)
    metadata = {} if traceparent is None else {"traceparent": traceparent}
    call = IncomingCall(METHOD, policy, metadata, context=cast(Any, None), request=None, peer="")
    token = traceparent_var.set("left over")
    try:
        await trace_context_stage(call)
        return traceparent_var.get()
    finally:
        traceparent_var.reset(token)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (VALID, VALID),
        (f" {VALID.upper()} ", VALID),  # read as parse_traceparent reads it
        (f"cc-{VALID[3:]}-0a1b2c", f"cc-{VALID[3:]}-0a1b2c"),  # a later version's extra field
        (None, ""),
        ("", ""),
        ('FORGED {"level":"error","tenant_id":"someone-else"}', ""),
        (VALID + "-" + "a" * 7000, ""),
        (VALID[:-1], ""),
    ],
)
async def test_only_a_w3c_shaped_traceparent_is_passed_on(sent: str | None, kept: str) -> None:
    assert await passed_on(sent) == kept
