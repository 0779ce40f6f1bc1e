"""Administration handlers: users, memberships, roles, service accounts and the audit log.

Thin adapters between protobuf and the domain (:mod:`services.auth.users`,
:mod:`services.auth.memberships`, :mod:`services.auth.service_accounts`,
:mod:`services.auth.role_admin`, :mod:`services.auth.mfa_policy`). The runtime has enforced the access policy,
the tenant and input validation before a handler runs; tenant-scoped handlers
act on ``current_tenant()`` only, so nothing of another tenant is reachable.
Every grant also passes PERMISSION_DENIED (PERMISSION_ESCALATION) when the
caller would hand out permissions it does not hold, and so does every act on a
person who holds permissions the caller does not (their user or membership), or
on such a service account.
"""

from __future__ import annotations

from typing import Any

import grpc
from tenantmesh.auth.v1 import admin_service_pb2 as pb
from tenantmesh.auth.v1 import admin_service_pb2_grpc as pb_grpc

from services.auth import audit
from services.auth.convert import (
    audit_event_to_proto,
    invitation_to_proto,
    membership_to_proto,
    role_to_proto,
    service_account_to_proto,
    user_to_proto,
)
from services.auth.deps import AuthDeps
from services.auth.invitations import Invitations
from services.auth.memberships import Memberships
from services.auth.mfa_policy import MfaPolicies, policy_to_proto
from services.auth.role_admin import RoleAdmin
from services.auth.service_accounts import ServiceAccounts
from services.auth.users import Users
from services.runtime.context import current_principal, current_tenant
from services.runtime.db import DatabaseRouter
from services.runtime.server import ServiceBinding, bind

Context = grpc.aio.ServicerContext[Any, Any]


def _tenant_id() -> str:
    return current_tenant().tenant_id


class UserServiceServicer(pb_grpc.UserServiceServicer):
    def __init__(self, users: Users) -> None:
        self._accounts = users

    async def CreateUser(self, request: pb.CreateUserRequest, context: Context) -> pb.CreateUserResponse:
        """Permission auth.users.create. Reasons: USER_EMAIL_TAKEN, PASSWORD_TOO_WEAK, ROLE_NOT_FOUND,
        PERMISSION_ESCALATION, FIELD_INVALID."""
        created = await self._accounts.create_user(
            _tenant_id(),
            email=request.user.email,
            password=request.password,
            display_name=request.user.display_name,
            roles=list(request.roles),
            locale=request.locale or "en",
            caller=current_principal(),
        )
        return pb.CreateUserResponse(user=user_to_proto(created.user), membership=membership_to_proto(created.member))

    async def GetUser(self, request: pb.GetUserRequest, context: Context) -> pb.GetUserResponse:
        """Permission auth.users.get. Reasons: USER_NOT_FOUND (also for users of other tenants)."""
        return pb.GetUserResponse(user=user_to_proto(await self._accounts.get_user(_tenant_id(), request.user_id)))

    async def ListUsers(self, request: pb.ListUsersRequest, context: Context) -> pb.ListUsersResponse:
        """Permission auth.users.list. Reasons: FIELD_INVALID, PAGE_TOKEN_INVALID."""
        page = await self._accounts.list_users(_tenant_id(), page_size=request.page_size, page_token=request.page_token)
        return pb.ListUsersResponse(users=[user_to_proto(u) for u in page.users], next_page_token=page.next_page_token)

    async def UpdateUser(self, request: pb.UpdateUserRequest, context: Context) -> pb.UpdateUserResponse:
        """Permission auth.users.update. Reasons: USER_NOT_FOUND, USER_MANAGED_ELSEWHERE, PERMISSION_ESCALATION,
        USER_EMAIL_TAKEN, ETAG_MISMATCH, FIELD_INVALID. A new email is pending until confirmed."""
        user = await self._accounts.update_user(
            _tenant_id(),
            request.user.user_id,
            etag=request.user.etag,
            mask=list(request.update_mask.paths),
            display_name=request.user.display_name,
            email=request.user.email,
            caller=current_principal(),
        )
        return pb.UpdateUserResponse(user=user_to_proto(user))

    async def DisableUser(self, request: pb.DisableUserRequest, context: Context) -> pb.DisableUserResponse:
        """Permission auth.users.disable. Reasons: USER_NOT_FOUND, USER_MANAGED_ELSEWHERE,
        PERMISSION_ESCALATION. Revokes the user's tokens in every tenant."""
        user = await self._accounts.disable_user(_tenant_id(), request.user_id, caller=current_principal())
        return pb.DisableUserResponse(user=user_to_proto(user))

    async def SetUserPassword(self, request: pb.SetUserPasswordRequest, context: Context) -> pb.SetUserPasswordResponse:
        """Permission auth.users.set_password. Reasons: USER_NOT_FOUND, USER_MANAGED_ELSEWHERE,
        PERMISSION_ESCALATION, PASSWORD_TOO_WEAK. Revokes every session of the user."""
        user = await self._accounts.set_password(
            _tenant_id(), request.user_id, request.password, caller=current_principal()
        )
        return pb.SetUserPasswordResponse(user=user_to_proto(user))

    async def ResetUserMfa(self, request: pb.ResetUserMfaRequest, context: Context) -> pb.ResetUserMfaResponse:
        """Permission auth.users.reset_mfa. Reasons: USER_NOT_FOUND, USER_MANAGED_ELSEWHERE,
        PERMISSION_ESCALATION. Audited; revokes every session of the user."""
        user = await self._accounts.reset_mfa(_tenant_id(), request.user_id, caller=current_principal())
        return pb.ResetUserMfaResponse(user=user_to_proto(user))


class MembershipServiceServicer(pb_grpc.MembershipServiceServicer):
    def __init__(self, memberships: Memberships) -> None:
        self._accounts = memberships

    async def AddMembership(self, request: pb.AddMembershipRequest, context: Context) -> pb.AddMembershipResponse:
        """Permission auth.memberships.create (platform administrators). Reasons: USER_NOT_FOUND,
        MEMBERSHIP_EXISTS, USER_EMAIL_TAKEN, PLATFORM_IDENTITY_NOT_JOINABLE, PLATFORM_TENANT_NOT_JOINABLE,
        ROLE_NOT_FOUND, PERMISSION_ESCALATION."""
        member = await self._accounts.add_membership(
            _tenant_id(), user_id=request.user_id, roles=list(request.roles), caller=current_principal()
        )
        return pb.AddMembershipResponse(membership=membership_to_proto(member))

    async def ListMemberships(self, request: pb.ListMembershipsRequest, context: Context) -> pb.ListMembershipsResponse:
        """Permission auth.memberships.list. Reasons: FIELD_INVALID, PAGE_TOKEN_INVALID."""
        page = await self._accounts.list_memberships(
            _tenant_id(), page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListMembershipsResponse(
            memberships=[membership_to_proto(m) for m in page.members], next_page_token=page.next_page_token
        )

    async def UpdateMembership(
        self, request: pb.UpdateMembershipRequest, context: Context
    ) -> pb.UpdateMembershipResponse:
        """Permission auth.memberships.update. Reasons: MEMBERSHIP_NOT_FOUND, ETAG_MISMATCH, ROLE_NOT_FOUND,
        PERMISSION_ESCALATION, FIELD_INVALID. A change of roles revokes the member's tokens in the tenant."""
        member = await self._accounts.update_membership(
            _tenant_id(),
            request.membership.user_id,
            etag=request.membership.etag,
            roles=list(request.membership.roles),
            title=request.membership.title,
            mask=list(request.update_mask.paths),
            caller=current_principal(),
        )
        return pb.UpdateMembershipResponse(membership=membership_to_proto(member))

    async def RemoveMembership(
        self, request: pb.RemoveMembershipRequest, context: Context
    ) -> pb.RemoveMembershipResponse:
        """Permission auth.memberships.delete. Reasons: MEMBERSHIP_NOT_FOUND, HOME_MEMBERSHIP,
        PERMISSION_ESCALATION. Revokes the member's tokens in the tenant."""
        await self._accounts.remove_membership(_tenant_id(), request.user_id, caller=current_principal())
        return pb.RemoveMembershipResponse()


class RoleServiceServicer(pb_grpc.RoleServiceServicer):
    def __init__(self, roles: RoleAdmin) -> None:
        self._roles = roles

    async def CreateRole(self, request: pb.CreateRoleRequest, context: Context) -> pb.CreateRoleResponse:
        """Permission auth.roles.create. Reasons: ROLE_EXISTS (also for built-in names),
        PERMISSION_NOT_GRANTABLE, PERMISSION_ESCALATION, FIELD_INVALID."""
        view = await self._roles.create(
            _tenant_id(),
            name=request.role.name,
            description=request.role.description,
            permissions=list(request.role.permissions),
            caller=current_principal(),
        )
        return pb.CreateRoleResponse(role=role_to_proto(view))

    async def GetRole(self, request: pb.GetRoleRequest, context: Context) -> pb.GetRoleResponse:
        """Permission auth.roles.get. Reasons: ROLE_NOT_FOUND."""
        return pb.GetRoleResponse(role=role_to_proto(await self._roles.get(_tenant_id(), request.name)))

    async def ListRoles(self, request: pb.ListRolesRequest, context: Context) -> pb.ListRolesResponse:
        """Permission auth.roles.list. Built-in roles first, then custom roles by name."""
        return pb.ListRolesResponse(roles=[role_to_proto(v) for v in await self._roles.list(_tenant_id())])

    async def UpdateRole(self, request: pb.UpdateRoleRequest, context: Context) -> pb.UpdateRoleResponse:
        """Permission auth.roles.update. Reasons: ROLE_NOT_FOUND, ROLE_BUILT_IN, ETAG_MISMATCH,
        PERMISSION_NOT_GRANTABLE, PERMISSION_ESCALATION, FIELD_INVALID. A permission change revokes the
        tokens of every holder in the tenant."""
        view = await self._roles.update(
            _tenant_id(),
            request.role.name,
            etag=request.role.etag,
            mask=list(request.update_mask.paths),
            description=request.role.description,
            permissions=list(request.role.permissions),
            caller=current_principal(),
        )
        return pb.UpdateRoleResponse(role=role_to_proto(view))

    async def DeleteRole(self, request: pb.DeleteRoleRequest, context: Context) -> pb.DeleteRoleResponse:
        """Permission auth.roles.delete. Reasons: ROLE_NOT_FOUND, ROLE_BUILT_IN, ROLE_IN_USE (held by members,
        service accounts or pending invitations)."""
        await self._roles.delete(_tenant_id(), request.name)
        return pb.DeleteRoleResponse()


class ServiceAccountServiceServicer(pb_grpc.ServiceAccountServiceServicer):
    def __init__(self, accounts: ServiceAccounts) -> None:
        self._accounts = accounts

    async def CreateServiceAccount(
        self, request: pb.CreateServiceAccountRequest, context: Context
    ) -> pb.CreateServiceAccountResponse:
        """Permission auth.service_accounts.create. Reasons: SERVICE_ACCOUNT_EXISTS, ROLE_NOT_FOUND,
        PERMISSION_ESCALATION, FIELD_INVALID. The API key is in this response only."""
        created = await self._accounts.create_service_account(
            _tenant_id(),
            name=request.service_account.name,
            roles=list(request.service_account.roles),
            caller=current_principal(),
        )
        return pb.CreateServiceAccountResponse(
            service_account=service_account_to_proto(created.account), api_key=created.api_key
        )

    async def ListServiceAccounts(
        self, request: pb.ListServiceAccountsRequest, context: Context
    ) -> pb.ListServiceAccountsResponse:
        """Permission auth.service_accounts.list. Never returns keys, only their prefixes."""
        accounts = await self._accounts.list_service_accounts(_tenant_id())
        return pb.ListServiceAccountsResponse(service_accounts=[service_account_to_proto(a) for a in accounts])

    async def DeleteServiceAccount(
        self, request: pb.DeleteServiceAccountRequest, context: Context
    ) -> pb.DeleteServiceAccountResponse:
        """Permission auth.service_accounts.delete. Reasons: SERVICE_ACCOUNT_NOT_FOUND, PERMISSION_ESCALATION
        (the account holds a permission the caller does not). Revokes its tokens."""
        await self._accounts.delete_service_account(
            _tenant_id(), request.service_account_id, caller=current_principal()
        )
        return pb.DeleteServiceAccountResponse()


class AuditServiceServicer(pb_grpc.AuditServiceServicer):
    def __init__(self, db: DatabaseRouter) -> None:
        self._db = db

    async def ListAuditEvents(self, request: pb.ListAuditEventsRequest, context: Context) -> pb.ListAuditEventsResponse:
        """Permission auth.audit.list. The current tenant's events, newest first. Reasons: FIELD_INVALID,
        PAGE_TOKEN_INVALID."""
        async with self._db.core_session() as session:
            page = await audit.list_events(
                session,
                tenant_id=_tenant_id(),
                action_prefix=request.action_prefix,
                page_size=request.page_size,
                page_token=request.page_token,
            )
        return pb.ListAuditEventsResponse(
            audit_events=[audit_event_to_proto(e) for e in page.items], next_page_token=page.next_page_token
        )

    async def ListPlatformAuditEvents(
        self, request: pb.ListPlatformAuditEventsRequest, context: Context
    ) -> pb.ListPlatformAuditEventsResponse:
        """Permission auth.audit.list_platform (platform scope). Every tenant's events, or one tenant's,
        newest first. Reasons: FIELD_INVALID, PAGE_TOKEN_INVALID."""
        async with self._db.core_session() as session:
            page = await audit.list_events(
                session,
                tenant_id=request.tenant_id or None,
                action_prefix=request.action_prefix,
                page_size=request.page_size,
                page_token=request.page_token,
            )
        return pb.ListPlatformAuditEventsResponse(
            audit_events=[audit_event_to_proto(e) for e in page.items], next_page_token=page.next_page_token
        )


class MfaPolicyServiceServicer(pb_grpc.MfaPolicyServiceServicer):
    def __init__(self, policies: MfaPolicies) -> None:
        self._policies = policies

    async def GetMfaPolicy(self, request: pb.GetMfaPolicyRequest, context: Context) -> pb.GetMfaPolicyResponse:
        """Permission auth.mfa_policy.get."""
        return pb.GetMfaPolicyResponse(policy=policy_to_proto(await self._policies.get(_tenant_id())))

    async def UpdateMfaPolicy(self, request: pb.UpdateMfaPolicyRequest, context: Context) -> pb.UpdateMfaPolicyResponse:
        """Permission auth.mfa_policy.update. Reasons: ROLE_NOT_FOUND, ETAG_MISMATCH."""
        policy = await self._policies.update(
            _tenant_id(),
            require_all=request.policy.require_all,
            roles=list(request.policy.required_roles),
            etag=request.policy.etag,
        )
        return pb.UpdateMfaPolicyResponse(policy=policy_to_proto(policy))


class InvitationServiceServicer(pb_grpc.InvitationServiceServicer):
    def __init__(self, invitations: Invitations) -> None:
        self._invitations = invitations

    async def CreateInvitation(
        self, request: pb.CreateInvitationRequest, context: Context
    ) -> pb.CreateInvitationResponse:
        """Permission auth.invitations.create. Reasons: MEMBERSHIP_EXISTS, INVITATION_EXISTS, ROLE_NOT_FOUND,
        PERMISSION_ESCALATION, INVITATION_RESENT_RECENTLY, FIELD_INVALID."""
        row = await self._invitations.create(
            _tenant_id(),
            email=request.email,
            roles=list(request.roles),
            locale=request.locale or "en",
            caller=current_principal(),
        )
        return pb.CreateInvitationResponse(invitation=invitation_to_proto(row))

    async def ListInvitations(self, request: pb.ListInvitationsRequest, context: Context) -> pb.ListInvitationsResponse:
        """Permission auth.invitations.list. Reasons: FIELD_INVALID, PAGE_TOKEN_INVALID."""
        page = await self._invitations.list(_tenant_id(), page_size=request.page_size, page_token=request.page_token)
        return pb.ListInvitationsResponse(
            invitations=[invitation_to_proto(r) for r in page.invitations], next_page_token=page.next_page_token
        )

    async def RevokeInvitation(
        self, request: pb.RevokeInvitationRequest, context: Context
    ) -> pb.RevokeInvitationResponse:
        """Permission auth.invitations.revoke. Reasons: INVITATION_NOT_FOUND, INVITATION_NOT_PENDING."""
        row = await self._invitations.revoke(_tenant_id(), request.invitation_id)
        return pb.RevokeInvitationResponse(invitation=invitation_to_proto(row))

    async def ResendInvitation(
        self, request: pb.ResendInvitationRequest, context: Context
    ) -> pb.ResendInvitationResponse:
        """Permission auth.invitations.create. Reasons: INVITATION_NOT_FOUND, INVITATION_NOT_PENDING,
        INVITATION_RESENT_RECENTLY."""
        row = await self._invitations.resend(_tenant_id(), request.invitation_id)
        return pb.ResendInvitationResponse(invitation=invitation_to_proto(row))


def admin_bindings(deps: AuthDeps, invitations: Invitations) -> list[ServiceBinding]:
    """The administration services, ready for ``create_server``."""
    users = UserServiceServicer(Users(deps))
    memberships = MembershipServiceServicer(Memberships(deps))
    roles = RoleServiceServicer(RoleAdmin(deps))
    service_accounts = ServiceAccountServiceServicer(ServiceAccounts(deps))
    audit_log = AuditServiceServicer(deps.db)
    mfa_policy = MfaPolicyServiceServicer(MfaPolicies(deps))
    invitation_service = InvitationServiceServicer(invitations)
    return [
        bind(servicer)
        for servicer in (users, memberships, roles, service_accounts, audit_log, mfa_policy, invitation_service)
    ]
