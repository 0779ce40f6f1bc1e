"""Auth rows ↔ protobuf messages. Secrets (password hashes, API key hashes) never leave here."""

from __future__ import annotations

import json

from tenantmesh.auth.v1 import user_pb2

from services.auth.accounts import Member, roles_of
from services.auth.models import AuditEventRow, ServiceAccountRow, UserRow
from services.auth.role_admin import RoleView
from services.runtime.proto_values import timestamp
from services.runtime.resources import stamps


def user_to_proto(row: UserRow) -> user_pb2.User:
    return user_pb2.User(
        user_id=row.user_id,
        email=row.email,
        display_name=row.display_name,
        disabled=row.disabled,
        **stamps(row),
    )


def membership_to_proto(member: Member) -> user_pb2.Membership:
    row = member.membership
    return user_pb2.Membership(
        user_id=row.user_id,
        email=member.email,
        tenant_id=row.tenant_id,
        roles=roles_of(row),
        **stamps(row),
    )


def role_to_proto(view: RoleView) -> user_pb2.Role:
    role = view.definition
    return user_pb2.Role(
        name=role.name,
        description=role.description,
        permissions=sorted(role.permissions),
        built_in=role.built_in,
        etag=view.etag,
    )


def service_account_to_proto(row: ServiceAccountRow) -> user_pb2.ServiceAccount:
    return user_pb2.ServiceAccount(
        service_account_id=row.service_account_id,
        name=row.name,
        roles=roles_of(row),
        api_key_prefix=row.api_key_prefix,
        create_time=timestamp(row.create_time),
    )


def audit_event_to_proto(row: AuditEventRow) -> user_pb2.AuditEvent:
    return user_pb2.AuditEvent(
        audit_event_id=row.audit_event_id,
        action=row.action,
        actor=row.actor,
        tenant_id=row.tenant_id,
        target=row.target,
        client_address=row.client_address,
        request_id=row.request_id,
        details={str(k): str(v) for k, v in json.loads(row.details_json).items()},
        create_time=timestamp(row.create_time),
    )
