"""Auth rows ↔ protobuf messages. Secrets (password hashes, API key hashes) never leave here."""

from __future__ import annotations

import json

from tenantmesh.auth.v1 import admin_service_pb2, user_pb2

from services.auth.identities import Member, TenantUser, roles_of
from services.auth.invitations import state_of
from services.auth.models import AuditEventRow, InvitationRow, ServiceAccountRow
from services.auth.role_admin import RoleView
from services.runtime.proto_values import copy_fields, timestamp
from services.runtime.resources import stamps


def user_to_proto(view: TenantUser) -> user_pb2.User:
    """A user as the viewing tenant sees it; which tenant owns an external identity is not shown."""
    row = view.user
    return user_pb2.User(
        **copy_fields(row, "user_id", "email", "display_name", "disabled", "email_verified"),
        external=view.external,
        **stamps(row),
    )


def membership_to_proto(member: Member) -> user_pb2.Membership:
    row = member.membership
    return user_pb2.Membership(
        **copy_fields(row, "user_id", "tenant_id", "email", "title"), roles=roles_of(row), **stamps(row)
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
        **copy_fields(row, "service_account_id", "name", "api_key_prefix"), roles=roles_of(row), **stamps(row)
    )


def audit_event_to_proto(row: AuditEventRow) -> user_pb2.AuditEvent:
    return user_pb2.AuditEvent(
        **copy_fields(row, "audit_event_id", "action", "actor", "tenant_id", "target", "client_address", "request_id"),
        details={str(k): str(v) for k, v in json.loads(row.details_json).items()},
        **stamps(row),
    )


def invitation_to_proto(row: InvitationRow) -> admin_service_pb2.Invitation:
    """An invitation as its tenant sees it; the token went to the address only."""
    return admin_service_pb2.Invitation(
        **copy_fields(row, "invitation_id", "email", "inviter", "accepted_user_id"),
        roles=json.loads(row.roles_json),
        state=f"INVITATION_STATE_{state_of(row)}",
        expire_time=timestamp(row.expire_time),
        **stamps(row, etag=False),
    )
