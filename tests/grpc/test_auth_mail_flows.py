"""Invitations, email verification and password reset end to end: the in-process platform sends
through a real SMTP server (aiosmtpd, STARTTLS + AUTH); each test reads the message it received,
follows its link and completes the flow."""

from __future__ import annotations

import asyncio
import html
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from google.protobuf import field_mask_pb2
from sqlalchemy import delete, select, update
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.auth.v1 import user_pb2

from services.auth.models import AuditEventRow, InvitationRow, MembershipRow, RoleRow, UserRow
from services.runtime.clock import utcnow
from services.runtime.context import PLATFORM_TENANT_ID
from tests.support.accounts import PASSWORD, Account, Accounts, accounts_on
from tests.support.errors import error_info, expect_error, retry_info, violation_fields
from tests.support.platform import ADMIN_EMAIL, ADMIN_PASSWORD, bearer
from tests.support.smtp import FAST_DELIVERY_ENV, ReceivedMail, SmtpTestServer

PUBLIC_URL = "https://console.example.test"
NOT_FOUND = grpc.StatusCode.NOT_FOUND
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
ALREADY_EXISTS = grpc.StatusCode.ALREADY_EXISTS


async def invitation_refused(world: Accounts, token: str) -> None:
    """Neither read nor taken up: the link is dead, whatever made it so."""
    await expect_error(
        world.mesh.auth.GetInvitation(auth_pb.GetInvitationRequest(token=token)), NOT_FOUND, "INVITATION_INVALID"
    )
    await expect_error(
        world.mesh.auth.AcceptInvitation(auth_pb.AcceptInvitationRequest(token=token, password=PASSWORD)),
        NOT_FOUND,
        "INVITATION_INVALID",
    )


@pytest.fixture
async def world(db_backend_url: str, tmp_path: Path, smtp_server: SmtpTestServer) -> AsyncIterator[Accounts]:
    env = {**smtp_server.env(), **FAST_DELIVERY_ENV, "TENANTMESH_PUBLIC_URL": PUBLIC_URL}
    async with accounts_on(db_backend_url, tmp_path, env) as accounts:
        yield accounts


async def mail_to(smtp: SmtpTestServer, address: str, count: int = 1) -> ReceivedMail:
    """The ``count``-th message to ``address``, once it has arrived."""
    received = await smtp.wait_for(count, where=lambda m: address in m.envelope_to)
    return received[count - 1]


def token_of(mail: ReceivedMail, path: str) -> str:
    link = mail.link(f"{PUBLIC_URL}{path}")
    assert link in html.unescape(mail.html())  # the HTML part carries the same link
    return parse_qs(urlsplit(link).query)["token"][0]


async def rows(world: Accounts, model: Any, *criteria: Any) -> list[Any]:
    async with world.mesh.runtime.db.core_session() as session:
        return list((await session.execute(select(model).where(*criteria))).scalars())


def address(stem: str = "inv") -> str:
    return f"{stem}-{uuid.uuid4().hex[:10]}@example.test"


def shape(message: Any) -> list[str]:
    """The names of the fields a message has set."""
    return sorted(field.name for field, _ in message.ListFields())


def invitations(world: Accounts, token: str, tenant_id: str) -> Any:
    from tests.support.stubs import BoundStub  # noqa: PLC0415

    return BoundStub(world.mesh.admin_stub("InvitationService"), (*bearer(token), ("x-tenant-id", tenant_id)))


# --------------------------------------------------------------------------- invitations


async def test_an_invitation_is_mailed_and_accepted_with_a_new_account(
    world: Accounts, smtp_server: SmtpTestServer
) -> None:
    tenant = await world.tenant()
    admin = await world.person(tenant, roles=["tenant-admin"])
    invited = address()
    created = (
        await invitations(world, admin.token, tenant.tenant_id).CreateInvitation(
            admin_pb.CreateInvitationRequest(email=invited.upper(), roles=["member"], locale="id")
        )
    ).invitation
    assert (created.email, list(created.roles)) == (invited, ["member"])
    assert created.state == admin_pb.INVITATION_STATE_PENDING
    assert created.inviter == f"user:{admin.user_id}"

    mail = await mail_to(smtp_server, invited)
    assert mail.subject == f"Anda diundang ke {tenant.slug} di Tenantmesh"
    assert mail.tls
    assert mail.authenticated
    token = token_of(mail, "/invitations/accept?token=")
    # What the token shows: the tenant and the roles, nothing else.
    seen = await world.mesh.auth.GetInvitation(auth_pb.GetInvitationRequest(token=token))
    assert (seen.tenant, list(seen.roles)) == (tenant.slug, ["member"])
    # The token is stored hashed.
    (row,) = await rows(world, InvitationRow, InvitationRow.invitation_id == created.invitation_id)
    assert token not in row.token_hash

    accepted = await world.mesh.auth.AcceptInvitation(
        auth_pb.AcceptInvitationRequest(token=token, password=PASSWORD, display_name="Invitee")
    )
    assert accepted.tenant_id == tenant.tenant_id
    (user,) = await rows(world, UserRow, UserRow.user_id == accepted.user_id)
    assert (user.home_tenant_id, user.email, user.email_verified) == (tenant.tenant_id, invited, True)
    tokens = (await world.login(Account(accepted.user_id, invited, tenant.slug, tenant.tenant_id))).tokens
    me = await world.mesh.auth.GetMe(auth_pb.GetMeRequest(), metadata=bearer(tokens.access_token))
    assert (me.user.display_name, list(me.roles)) == ("Invitee", ["member"])
    # Single use.
    await expect_error(
        world.mesh.auth.AcceptInvitation(auth_pb.AcceptInvitationRequest(token=token, password=PASSWORD)),
        NOT_FOUND,
        "INVITATION_INVALID",
    )
    await expect_error(
        world.mesh.auth.GetInvitation(auth_pb.GetInvitationRequest(token=token)), NOT_FOUND, "INVITATION_INVALID"
    )
    listed = (
        await invitations(world, admin.token, tenant.tenant_id).ListInvitations(admin_pb.ListInvitationsRequest())
    ).invitations
    assert [(i.state, i.accepted_user_id) for i in listed] == [(admin_pb.INVITATION_STATE_ACCEPTED, accepted.user_id)]


async def test_inviting_an_address_used_in_another_tenant_looks_the_same_and_joins_only_by_consent(
    world: Accounts, smtp_server: SmtpTestServer
) -> None:
    tenant_a, tenant_b = await world.tenant("a"), await world.tenant("b")
    person = await world.person(tenant_a)
    admin_b = await world.person(tenant_b, roles=["tenant-admin"])
    stub = invitations(world, admin_b.token, tenant_b.tenant_id)
    known = (await stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=person.email))).invitation
    fresh = (await stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=address()))).invitation
    # Same shape: nothing says one of the addresses has an account somewhere.
    assert shape(known) == shape(fresh)
    assert (
        (known.state, known.accepted_user_id)
        == (fresh.state, fresh.accepted_user_id)
        == (
            admin_pb.INVITATION_STATE_PENDING,
            "",
        )
    )
    # Nothing joined yet.
    assert [m.tenant_id for m in await rows(world, MembershipRow, MembershipRow.user_id == person.user_id)] == [
        tenant_a.tenant_id
    ]

    token = token_of(await mail_to(smtp_server, person.email, count=2), "/invitations/accept?token=")
    joined = await world.mesh.auth.AcceptInvitationAsMe(
        auth_pb.AcceptInvitationAsMeRequest(token=token), metadata=bearer(person.token)
    )
    assert joined.tenant_id == tenant_b.tenant_id
    # One identity, two tenants: the A password logs in to B, where the person is external.
    in_b = (await world.login(person, slug=tenant_b.slug)).tokens
    assert in_b.tenant_id == tenant_b.tenant_id
    seen = (
        await world.mesh.admin_stub("UserService").GetUser(
            admin_pb.GetUserRequest(user_id=person.user_id),
            metadata=(*bearer(admin_b.token), ("x-tenant-id", tenant_b.tenant_id)),
        )
    ).user
    assert seen.external
    (event,) = await rows(world, AuditEventRow, AuditEventRow.action == "auth.invitation.accepted")
    assert (event.tenant_id, event.actor, event.details_json) == (
        tenant_b.tenant_id,
        f"user:{person.user_id}",
        '{"account": "existing"}',
    )


async def test_lists_show_own_invitations_only(world: Accounts, smtp_server: SmtpTestServer) -> None:
    tenant_a, tenant_b = await world.tenant("a"), await world.tenant("b")
    admin_a = await world.person(tenant_a, roles=["tenant-admin"])
    admin_b = await world.person(tenant_b, roles=["tenant-admin"])
    in_a = invitations(world, admin_a.token, tenant_a.tenant_id)
    in_b = invitations(world, admin_b.token, tenant_b.tenant_id)
    # The same address invited by both tenants, and one more in each.
    both = address("both")
    a1 = (await in_a.CreateInvitation(admin_pb.CreateInvitationRequest(email=both))).invitation
    b1 = (await in_b.CreateInvitation(admin_pb.CreateInvitationRequest(email=both))).invitation
    a2 = (await in_a.CreateInvitation(admin_pb.CreateInvitationRequest(email=address("a")))).invitation
    b2 = (await in_b.CreateInvitation(admin_pb.CreateInvitationRequest(email=address("b")))).invitation

    async def listed(stub: Any) -> list[tuple[str, str]]:
        response = await stub.ListInvitations(admin_pb.ListInvitationsRequest())
        return [(i.invitation_id, i.email) for i in response.invitations]

    # Newest first, each tenant's own only.
    assert await listed(in_a) == [(a2.invitation_id, a2.email), (a1.invitation_id, both)]
    assert await listed(in_b) == [(b2.invitation_id, b2.email), (b1.invitation_id, both)]
    # A page at a time, too.
    first = await in_a.ListInvitations(admin_pb.ListInvitationsRequest(page_size=1))
    rest = await in_a.ListInvitations(admin_pb.ListInvitationsRequest(page_size=1, page_token=first.next_page_token))
    assert [i.invitation_id for i in (*first.invitations, *rest.invitations)] == [a2.invitation_id, a1.invitation_id]
    assert rest.next_page_token == ""


async def test_invitation_bad_input(world: Accounts, smtp_server: SmtpTestServer) -> None:
    tenant, other = await world.tenant(), await world.tenant("other")
    admin = await world.person(tenant, roles=["tenant-admin"])
    member = await world.person(tenant)
    outsider = await world.person(other)
    stub = invitations(world, admin.token, tenant.tenant_id)

    # An invitation for the platform administrator's address is made like any other (it must not
    # tell), but the operator's account can never accept it.
    for_admin = (await stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=ADMIN_EMAIL))).invitation
    assert for_admin.state == admin_pb.INVITATION_STATE_PENDING
    token = token_of(await mail_to(smtp_server, ADMIN_EMAIL), "/invitations/accept?token=")
    operator = (await world.mesh.login("platform", ADMIN_EMAIL, ADMIN_PASSWORD)).access_token
    await expect_error(
        world.mesh.auth.AcceptInvitationAsMe(
            auth_pb.AcceptInvitationAsMeRequest(token=token), metadata=bearer(operator)
        ),
        FAILED_PRECONDITION,
        "PLATFORM_IDENTITY_NOT_JOINABLE",
    )
    # Nor does anyone homed in a tenant join the platform tenant: their tenant's administrators
    # set their password.
    await invitations(world, world.admin, PLATFORM_TENANT_ID).CreateInvitation(
        admin_pb.CreateInvitationRequest(email=outsider.email, roles=["platform-admin"])
    )
    to_platform = token_of(await mail_to(smtp_server, outsider.email, count=2), "/invitations/accept?token=")
    await expect_error(
        world.mesh.auth.AcceptInvitationAsMe(
            auth_pb.AcceptInvitationAsMeRequest(token=to_platform), metadata=bearer(outsider.token)
        ),
        FAILED_PRECONDITION,
        "PLATFORM_TENANT_NOT_JOINABLE",
    )
    assert [m.tenant_id for m in await rows(world, MembershipRow, MembershipRow.user_id == outsider.user_id)] == [
        other.tenant_id
    ]
    # Someone signed in with another address cannot take it either.
    await expect_error(
        world.mesh.auth.AcceptInvitationAsMe(
            auth_pb.AcceptInvitationAsMeRequest(token=token), metadata=bearer(outsider.token)
        ),
        FAILED_PRECONDITION,
        "INVITATION_EMAIL_MISMATCH",
    )
    # A second pending invitation to the same address, and one to a member, are refused.
    await expect_error(
        stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=ADMIN_EMAIL)), ALREADY_EXISTS, "INVITATION_EXISTS"
    )
    await expect_error(
        stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=member.email)), ALREADY_EXISTS, "MEMBERSHIP_EXISTS"
    )
    # Plain members do not invite.
    await expect_error(
        invitations(world, member.token, tenant.tenant_id).CreateInvitation(
            admin_pb.CreateInvitationRequest(email=address())
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    error = await expect_error(
        stub.CreateInvitation(admin_pb.CreateInvitationRequest(email="not-an-address", roles=["ghost"])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )
    assert violation_fields(error) == {"email"}
    await expect_error(
        stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=address(), roles=["ghost"])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ROLE_NOT_FOUND",
    )
    # Forged, revoked and expired tokens.
    for forged in ("tmi_" + "A" * 43, "something-else-entirely"):
        await expect_error(
            world.mesh.auth.AcceptInvitation(auth_pb.AcceptInvitationRequest(token=forged, password=PASSWORD)),
            NOT_FOUND,
            "INVITATION_INVALID",
        )
    revoked = (
        await stub.RevokeInvitation(admin_pb.RevokeInvitationRequest(invitation_id=for_admin.invitation_id))
    ).invitation
    assert revoked.state == admin_pb.INVITATION_STATE_REVOKED
    await expect_error(
        world.mesh.auth.GetInvitation(auth_pb.GetInvitationRequest(token=token)), NOT_FOUND, "INVITATION_INVALID"
    )
    await expect_error(
        stub.RevokeInvitation(admin_pb.RevokeInvitationRequest(invitation_id=for_admin.invitation_id)),
        FAILED_PRECONDITION,
        "INVITATION_NOT_PENDING",
    )
    invited = address()
    late = (await stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=invited))).invitation
    late_token = token_of(await mail_to(smtp_server, invited), "/invitations/accept?token=")
    async with world.mesh.runtime.db.core_session() as session:
        await session.execute(
            update(InvitationRow)
            .where(InvitationRow.invitation_id == late.invitation_id)
            .values(expire_time=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    await expect_error(
        world.mesh.auth.AcceptInvitation(auth_pb.AcceptInvitationRequest(token=late_token, password=PASSWORD)),
        NOT_FOUND,
        "INVITATION_INVALID",
    )
    listed = (await stub.ListInvitations(admin_pb.ListInvitationsRequest())).invitations
    assert {i.invitation_id: i.state for i in listed}[late.invitation_id] == admin_pb.INVITATION_STATE_EXPIRED
    # Resending makes a new token; the old one stays dead.
    resent = (
        await stub.ResendInvitation(admin_pb.ResendInvitationRequest(invitation_id=late.invitation_id))
    ).invitation
    assert resent.state == admin_pb.INVITATION_STATE_PENDING
    fresh_token = token_of(await mail_to(smtp_server, invited, count=2), "/invitations/accept?token=")
    assert fresh_token != late_token
    # Once a minute at most: a resend loop mailed the invited address as often as it liked.
    error = await expect_error(
        stub.ResendInvitation(admin_pb.ResendInvitationRequest(invitation_id=late.invitation_id)),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "INVITATION_RESENT_RECENTLY",
    )
    delay = retry_info(error)
    assert delay is not None
    assert 0 < delay.retry_delay.ToTimedelta().total_seconds() <= 60
    await expect_error(
        world.mesh.auth.AcceptInvitation(auth_pb.AcceptInvitationRequest(token=late_token, password=PASSWORD)),
        NOT_FOUND,
        "INVITATION_INVALID",
    )
    error = await expect_error(
        world.mesh.auth.AcceptInvitation(auth_pb.AcceptInvitationRequest(token=fresh_token, password="short")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PASSWORD_TOO_WEAK",
    )
    assert violation_fields(error) == {"password"}
    await world.mesh.auth.AcceptInvitation(auth_pb.AcceptInvitationRequest(token=fresh_token, password=PASSWORD))
    # Another tenant's admin does not see (or touch) this tenant's invitations.
    other_admin = await world.person(other, roles=["tenant-admin"])
    await expect_error(
        invitations(world, other_admin.token, other.tenant_id).RevokeInvitation(
            admin_pb.RevokeInvitationRequest(invitation_id=late.invitation_id)
        ),
        NOT_FOUND,
        "INVITATION_NOT_FOUND",
    )


async def test_an_invitation_made_while_the_mail_server_is_down_arrives_when_it_is_back(
    world: Accounts, smtp_server: SmtpTestServer
) -> None:
    tenant = await world.tenant()
    admin = await world.person(tenant, roles=["tenant-admin"])
    await smtp_server.stop()
    invited = address()
    await invitations(world, admin.token, tenant.tenant_id).CreateInvitation(
        admin_pb.CreateInvitationRequest(email=invited)
    )
    await asyncio.sleep(0.5)  # a few failed attempts (FAST_DELIVERY_ENV)
    assert smtp_server.messages_to(invited) == []
    await smtp_server.start()
    mail = await mail_to(smtp_server, invited)
    await world.mesh.auth.AcceptInvitation(
        auth_pb.AcceptInvitationRequest(token=token_of(mail, "/invitations/accept?token="), password=PASSWORD)
    )
    assert len(smtp_server.messages_to(invited)) == 1  # sent once


# --------------------------------------------------------------------------- email verification


async def test_a_new_user_confirms_the_address_from_the_mail(world: Accounts, smtp_server: SmtpTestServer) -> None:
    tenant = await world.tenant()
    person = await world.person(tenant)
    (user,) = await rows(world, UserRow, UserRow.user_id == person.user_id)
    assert not user.email_verified
    mail = await mail_to(smtp_server, person.email)
    assert mail.subject == "Confirm your email address for Tenantmesh"
    token = token_of(mail, "/verify-email?token=")
    await world.mesh.auth.VerifyEmail(auth_pb.VerifyEmailRequest(token=token))
    (user,) = await rows(world, UserRow, UserRow.user_id == person.user_id)
    assert user.email_verified
    await expect_error(
        world.mesh.auth.VerifyEmail(auth_pb.VerifyEmailRequest(token=token)), NOT_FOUND, "EMAIL_TOKEN_INVALID"
    )
    await expect_error(
        world.mesh.auth.VerifyEmail(auth_pb.VerifyEmailRequest(token="tmv_" + "x" * 43)),
        NOT_FOUND,
        "EMAIL_TOKEN_INVALID",
    )


async def test_a_new_email_is_pending_until_confirmed_and_then_changes_everywhere(
    world: Accounts, smtp_server: SmtpTestServer
) -> None:
    home, other = await world.tenant("home"), await world.tenant("other")
    admin = await world.person(home, roles=["tenant-admin"])
    person = await world.person(home)
    await world.mesh.admin_stub("MembershipService").AddMembership(
        admin_pb.AddMembershipRequest(user_id=person.user_id), metadata=world.as_admin(other.tenant_id)
    )
    users = world.mesh.admin_stub("UserService")
    new_address = address("moved")
    updated = (
        await users.UpdateUser(
            admin_pb.UpdateUserRequest(
                user=user_pb2.User(user_id=person.user_id, email=new_address),
                update_mask=field_mask_pb2.FieldMask(paths=["email"]),
            ),
            metadata=(*bearer(admin.token), ("x-tenant-id", home.tenant_id)),
        )
    ).user
    assert updated.email == person.email  # still the confirmed one
    notice = await mail_to(smtp_server, person.email, count=2)  # after the creation's verification mail
    assert notice.subject == "Your Tenantmesh email address is being changed"
    assert new_address not in notice.text()  # masked for whoever reads the old mailbox
    await world.login(person)  # the old address still signs in
    first = token_of(await mail_to(smtp_server, new_address), "/verify-email?token=")
    # Setting the same pending address again sends a fresh link; the first stops working.
    await users.UpdateUser(
        admin_pb.UpdateUserRequest(
            user=user_pb2.User(user_id=person.user_id, email=new_address),
            update_mask=field_mask_pb2.FieldMask(paths=["email"]),
        ),
        metadata=(*bearer(admin.token), ("x-tenant-id", home.tenant_id)),
    )
    token = token_of(await mail_to(smtp_server, new_address, count=2), "/verify-email?token=")
    await expect_error(
        world.mesh.auth.VerifyEmail(auth_pb.VerifyEmailRequest(token=first)), NOT_FOUND, "EMAIL_TOKEN_INVALID"
    )
    await world.mesh.auth.VerifyEmail(auth_pb.VerifyEmailRequest(token=token))
    moved = Account(person.user_id, new_address, home.slug, home.tenant_id)
    await world.login(moved)
    await world.login(moved, slug=other.slug)
    await expect_error(world.login(person), grpc.StatusCode.UNAUTHENTICATED, "INVALID_CREDENTIALS")
    emails = {m.tenant_id: m.email for m in await rows(world, MembershipRow, MembershipRow.user_id == person.user_id)}
    assert emails == {home.tenant_id: new_address, other.tenant_id: new_address}


async def test_confirming_an_address_another_member_of_one_of_the_tenants_uses_changes_nothing(
    world: Accounts, smtp_server: SmtpTestServer
) -> None:
    home, other = await world.tenant("home"), await world.tenant("other")
    admin = await world.person(home, roles=["tenant-admin"])
    person = await world.person(home)
    await world.mesh.admin_stub("MembershipService").AddMembership(
        admin_pb.AddMembershipRequest(user_id=person.user_id), metadata=world.as_admin(other.tenant_id)
    )
    wanted = address("taken")
    await world.person(other, email=wanted)  # a member of the other tenant uses it
    await world.mesh.admin_stub("UserService").UpdateUser(
        admin_pb.UpdateUserRequest(
            user=user_pb2.User(user_id=person.user_id, email=wanted),
            update_mask=field_mask_pb2.FieldMask(paths=["email"]),
        ),
        metadata=(*bearer(admin.token), ("x-tenant-id", home.tenant_id)),
    )
    mails = await smtp_server.wait_for(2, where=lambda m: wanted in m.envelope_to)
    token = token_of(mails[-1], "/verify-email?token=")
    await expect_error(
        world.mesh.auth.VerifyEmail(auth_pb.VerifyEmailRequest(token=token)), ALREADY_EXISTS, "USER_EMAIL_TAKEN"
    )
    (user,) = await rows(world, UserRow, UserRow.user_id == person.user_id)
    assert (user.email, user.pending_email) == (person.email, wanted)


# --------------------------------------------------------------------------- password reset


async def test_a_password_reset_by_mail_ends_every_session(world: Accounts, smtp_server: SmtpTestServer) -> None:
    tenant = await world.tenant()
    person = await world.person(tenant)
    old = (await world.login(person)).tokens
    await world.mesh.auth.RequestPasswordReset(
        auth_pb.RequestPasswordResetRequest(tenant=tenant.slug, email=person.email.upper(), locale="id")
    )
    mail = await mail_to(smtp_server, person.email, count=2)
    assert mail.subject == "Atur ulang kata sandi Tenantmesh Anda"
    token = token_of(mail, "/reset-password?token=")
    error = await expect_error(
        world.mesh.auth.CompletePasswordReset(auth_pb.CompletePasswordResetRequest(token=token, new_password="short")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PASSWORD_TOO_WEAK",
    )
    assert violation_fields(error) == {"new_password"}
    await world.mesh.auth.CompletePasswordReset(
        auth_pb.CompletePasswordResetRequest(token=token, new_password="a-brand-new-passphrase")
    )
    await expect_error(
        world.mesh.auth.Refresh(auth_pb.RefreshRequest(refresh_token=old.refresh_token)),
        grpc.StatusCode.UNAUTHENTICATED,
        "REFRESH_TOKEN_INVALID",
    )
    await expect_error(
        world.mesh.auth.GetMe(auth_pb.GetMeRequest(), metadata=bearer(old.access_token)),
        grpc.StatusCode.UNAUTHENTICATED,
        "TOKEN_REVOKED",
    )
    await expect_error(world.login(person), grpc.StatusCode.UNAUTHENTICATED, "INVALID_CREDENTIALS")
    await world.mesh.auth.Login(
        auth_pb.LoginRequest(tenant=tenant.slug, email=person.email, password="a-brand-new-passphrase")
    )
    await expect_error(
        world.mesh.auth.CompletePasswordReset(
            auth_pb.CompletePasswordResetRequest(token=token, new_password="yet-another-passphrase")
        ),
        NOT_FOUND,
        "RESET_TOKEN_INVALID",
    )


async def test_a_reset_for_an_unknown_address_answers_the_same_and_sends_nothing(
    world: Accounts, smtp_server: SmtpTestServer
) -> None:
    tenant = await world.tenant()
    person = await world.person(tenant)
    await mail_to(smtp_server, person.email)  # the verification mail
    nobody = address("nobody")
    answers = [
        await world.mesh.auth.RequestPasswordReset(auth_pb.RequestPasswordResetRequest(tenant=tenant.slug, email=e))
        for e in (person.email, nobody)
    ]
    assert answers[0] == answers[1] == auth_pb.RequestPasswordResetResponse()
    await mail_to(smtp_server, person.email, count=2)
    await world.flows_drained()
    assert smtp_server.messages_to(nobody) == []


async def test_reset_requests_are_rate_limited_per_address_whether_or_not_it_exists(world: Accounts) -> None:
    tenant = await world.tenant()
    person = await world.person(tenant)
    for email in (person.email, address("nobody")):
        for _ in range(3):  # TENANTMESH_PASSWORD_RESET_MAX_PER_ADDRESS
            await world.mesh.auth.RequestPasswordReset(
                auth_pb.RequestPasswordResetRequest(tenant=tenant.slug, email=email)
            )
        await expect_error(
            world.mesh.auth.RequestPasswordReset(auth_pb.RequestPasswordResetRequest(tenant=tenant.slug, email=email)),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "RESET_RATE_LIMITED",
        )


async def test_an_invitation_of_a_suspended_tenant_cannot_be_used(world: Accounts, smtp_server: SmtpTestServer) -> None:
    from tenantmesh.tenants.v1 import tenant_service_pb2  # noqa: PLC0415

    tenant = await world.tenant()
    admin = await world.person(tenant, roles=["tenant-admin"])
    invited = address()
    await invitations(world, admin.token, tenant.tenant_id).CreateInvitation(
        admin_pb.CreateInvitationRequest(email=invited)
    )
    token = token_of(await mail_to(smtp_server, invited), "/invitations/accept?token=")
    await world.mesh.tenants.SuspendTenant(
        tenant_service_pb2.SuspendTenantRequest(tenant_id=tenant.tenant_id), metadata=bearer(world.admin)
    )
    await invitation_refused(world, token)
    assert await rows(world, UserRow, UserRow.email == invited) == []


async def test_an_inviter_grants_no_more_than_they_hold(world: Accounts, smtp_server: SmtpTestServer) -> None:
    tenant = await world.tenant()
    await world.mesh.admin_stub("RoleService").CreateRole(
        admin_pb.CreateRoleRequest(
            role=user_pb2.Role(name="inviter", permissions=["auth.invitations.create", "auth.self"])
        ),
        metadata=world.as_admin(tenant.tenant_id),
    )
    inviter = await world.person(tenant, roles=["inviter"])
    stub = invitations(world, inviter.token, tenant.tenant_id)
    error = await expect_error(
        stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=address(), roles=["tenant-admin"])),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_ESCALATION",
    )
    assert "auth.users.create" in error_info(error).metadata["permissions"]
    assert await rows(world, InvitationRow, InvitationRow.tenant_id == tenant.tenant_id) == []
    # Their own role they may hand out.
    created = (
        await stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=address(), roles=["inviter"]))
    ).invitation
    assert list(created.roles) == ["inviter"]


async def test_an_invitation_whose_role_is_gone_is_refused_and_joins_nobody(
    world: Accounts, smtp_server: SmtpTestServer
) -> None:
    tenant = await world.tenant()
    admin = await world.person(tenant, roles=["tenant-admin"])
    as_admin = (*bearer(admin.token), ("x-tenant-id", tenant.tenant_id))
    await world.mesh.admin_stub("RoleService").CreateRole(
        admin_pb.CreateRoleRequest(role=user_pb2.Role(name="auditor", permissions=["auth.audit.list"])),
        metadata=as_admin,
    )
    invited = address()
    await invitations(world, admin.token, tenant.tenant_id).CreateInvitation(
        admin_pb.CreateInvitationRequest(email=invited, roles=["auditor"])
    )
    token = token_of(await mail_to(smtp_server, invited), "/invitations/accept?token=")
    # DeleteRole refuses while the invitation is pending; an invitation from before that rule
    # may still name a deleted role.
    async with world.mesh.runtime.db.core_session() as session:
        await session.execute(delete(RoleRow).where(RoleRow.tenant_id == tenant.tenant_id, RoleRow.name == "auditor"))
        await session.commit()
    await expect_error(
        world.mesh.auth.AcceptInvitation(auth_pb.AcceptInvitationRequest(token=token, password=PASSWORD)),
        NOT_FOUND,
        "INVITATION_INVALID",
    )
    assert await rows(world, UserRow, UserRow.email == invited) == []
    assert await rows(world, MembershipRow, MembershipRow.email == invited) == []


# --------------------------------------------------------------------------- an attacker's probes


async def test_revoking_and_inviting_again_waits_out_the_resend_interval(
    world: Accounts, smtp_server: SmtpTestServer
) -> None:
    """Revoke + create made a fresh mail at once: a loop of the two mailed any address as often
    as ResendInvitation's interval was meant to prevent."""
    tenant = await world.tenant()
    admin = await world.person(tenant, roles=["tenant-admin"])
    stub = invitations(world, admin.token, tenant.tenant_id)
    target = address("flood")
    first = (await stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=target))).invitation
    await stub.RevokeInvitation(admin_pb.RevokeInvitationRequest(invitation_id=first.invitation_id))
    error = await expect_error(
        stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=target.upper())),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "INVITATION_RESENT_RECENTLY",
    )
    delay = retry_info(error)
    assert delay is not None
    assert 0 < delay.retry_delay.ToTimedelta().total_seconds() <= 60
    await mail_to(smtp_server, target)
    assert len(await rows(world, InvitationRow, InvitationRow.tenant_id == tenant.tenant_id)) == 1
    # Another tenant inviting the address is its own business.
    other = await world.tenant("other")
    other_admin = await world.person(other, roles=["tenant-admin"])
    await invitations(world, other_admin.token, other.tenant_id).CreateInvitation(
        admin_pb.CreateInvitationRequest(email=target)
    )
    await mail_to(smtp_server, target, count=2)
    # Once the last mail is older than the interval, inviting again works.
    async with world.mesh.runtime.db.core_session() as session:
        row = await session.get(InvitationRow, first.invitation_id)
        assert row is not None
        row.expire_time -= timedelta(seconds=61)
        await session.commit()
    await stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=target))
    assert len(await smtp_server.wait_for(3, where=lambda m: target in m.envelope_to)) == 3


async def test_an_invitation_grants_no_more_than_its_inviter_holds_when_accepted(
    world: Accounts, smtp_server: SmtpTestServer
) -> None:
    """The grant was checked when the invitation was made only: an administrator demoted (or
    removed) since still had their pending invitations make tenant administrators."""
    tenant = await world.tenant()
    inviter = await world.person(tenant, roles=["tenant-admin"])
    stub = invitations(world, inviter.token, tenant.tenant_id)
    new_account, existing_account = address("new"), address("existing")
    other = await world.tenant("other")
    person = await world.person(other, email=existing_account)
    await mail_to(smtp_server, existing_account)  # the verification mail
    await stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=new_account, roles=["tenant-admin"]))
    await stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=existing_account, roles=["tenant-admin"]))
    as_member = address("member")
    await stub.CreateInvitation(admin_pb.CreateInvitationRequest(email=as_member, roles=["member"]))
    await world.mesh.admin_stub("MembershipService").UpdateMembership(
        admin_pb.UpdateMembershipRequest(membership=user_pb2.Membership(user_id=inviter.user_id, roles=["member"])),
        metadata=world.as_admin(tenant.tenant_id),
    )
    token = token_of(await mail_to(smtp_server, new_account), "/invitations/accept?token=")
    await invitation_refused(world, token)
    assert await rows(world, UserRow, UserRow.email == new_account) == []
    as_me = token_of(await mail_to(smtp_server, existing_account, count=2), "/invitations/accept?token=")
    await expect_error(
        world.mesh.auth.AcceptInvitationAsMe(
            auth_pb.AcceptInvitationAsMeRequest(token=as_me), metadata=bearer(person.token)
        ),
        NOT_FOUND,
        "INVITATION_INVALID",
    )
    assert [m.tenant_id for m in await rows(world, MembershipRow, MembershipRow.user_id == person.user_id)] == [
        other.tenant_id
    ]
    # What the inviter still holds, the invitation still gives.
    member_token = token_of(await mail_to(smtp_server, as_member), "/invitations/accept?token=")
    await world.mesh.auth.AcceptInvitation(auth_pb.AcceptInvitationRequest(token=member_token, password=PASSWORD))
    # A platform administrator's invitation into the tenant holds while they are one.
    by_operator = address("operator")
    await world.mesh.admin_stub("InvitationService").CreateInvitation(
        admin_pb.CreateInvitationRequest(email=by_operator, roles=["tenant-admin"]),
        metadata=world.as_admin(tenant.tenant_id),
    )
    operator_token = token_of(await mail_to(smtp_server, by_operator), "/invitations/accept?token=")
    await world.mesh.auth.AcceptInvitation(auth_pb.AcceptInvitationRequest(token=operator_token, password=PASSWORD))
