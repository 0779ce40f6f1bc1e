"""Tenant records ↔ protobuf messages."""

from __future__ import annotations

import json

from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.type.v1 import database_pb2

from services.runtime.proto_values import from_proto, timestamp
from services.runtime.resources import stamps
from services.tenants.repository import TenantRecord
from services.tenants.states import TenantState


def tenant_to_proto(record: TenantRecord) -> tenant_pb2.Tenant:
    row = record.row
    return tenant_pb2.Tenant(
        tenant_id=row.tenant_id,
        slug=row.slug or row.former_slug,
        display_name=row.display_name,
        state=f"TENANT_STATE_{row.state}",
        plan=row.plan,
        labels=record.labels,
        settings=json.loads(row.settings_json),
        database=database_pb2.DatabasePlacement(
            server=row.db_server, database=row.db_name, writes_frozen=row.db_writes_frozen
        ),
        provisioning=tenant_pb2.ProvisioningStatus(
            steps=[
                tenant_pb2.ProvisioningStep(
                    name=step.step,
                    state=f"STEP_STATE_{step.state}",
                    schema_version=step.schema_version,
                    update_time=timestamp(step.update_time),
                )
                for step in record.steps
            ],
            failure_reason=row.failure_reason,
        ),
        **stamps(row),
    )


def state_of(state: int) -> TenantState | None:
    """TENANT_STATE_ACTIVE (proto enum value) -> TenantState.ACTIVE (stored value); None if unspecified."""
    return from_proto(TenantState, tenant_pb2.TenantState, state)
