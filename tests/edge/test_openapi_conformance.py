"""The OpenAPI document tells the truth: real calls through the edge of a running mesh
(``python -m services.mesh run``), every operation at least once answering 2xx and once
answering an error, every answer validated against the schema the document gives for its
status. Success calls follow an integrator's scenario (one per operation, listed below);
the error calls are derived from each operation's access policy, so a new RPC is covered
by them without a list, and the success list fails loudly until it names the new RPC.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest

from tests.support.openapi import OpenApiOracle, Operation
from tests.support.running_mesh import Integrator, login
from tests.support.smtp import body_of, links_in, read_eml

pytestmark = pytest.mark.edge

# The permission of calls on the caller's own session: every principal holds it.
SELF_PERMISSION = "auth.self"


class Conformance:
    """Calls operations by id and checks each answer against the document."""

    def __init__(self, oracle: OpenApiOracle, client: httpx.AsyncClient) -> None:
        self.oracle = oracle
        self.client = client
        self.seen: dict[str, set[str]] = defaultdict(set)  # operationId -> {"2xx", "error"}
        self.problems: list[str] = []

    async def call(
        self,
        operation_id: str,
        *,
        token: str | None,
        tenant: str | None = None,
        path: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
        body: Any = None,
        expect: int = 200,
    ) -> Any:
        operation = self.oracle.operation(operation_id)
        headers = {}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if tenant:
            headers["x-tenant-id"] = tenant
        request = self.client.build_request(
            operation.method.upper(),
            operation.url(**(path or {})),
            params=query,
            json=body if operation.spec.get("requestBody") else None,
            headers=headers,
        )
        if operation.streaming:
            return await self._stream(operation, request, expect)
        response = await self.client.send(request)
        return self._check(operation, response.status_code, response, expect)

    async def _stream(self, operation: Operation, request: httpx.Request, expect: int) -> Any:
        """Reads a server stream's JSON array incrementally; stops after the first elements of
        a stream that does not end by itself (Watch)."""
        response = await self.client.send(request, stream=True)
        try:
            if response.status_code != 200:
                await response.aread()
                return self._check(operation, response.status_code, response, expect)
            items = []
            async for item in _json_array_items(response):
                items.append(item)
                for problem in self.oracle.item_errors(operation, item):
                    self.problems.append(f"{operation.operation_id} stream item: {problem}")
                if item.get("type") == "WATCH_EVENT_TYPE_SYNCED":
                    break
            self.seen[operation.operation_id].add("2xx")
            assert expect == 200, f"{operation.operation_id}: expected {expect}, got a stream"
            return items
        finally:
            await response.aclose()

    def _check(self, operation: Operation, status: int, response: httpx.Response, expect: int) -> Any:
        assert status == expect, f"{operation.operation_id}: expected {expect}, got {status}: {response.text[:500]}"
        content_type = response.headers.get("content-type", "")
        if 200 <= status < 300 and operation.raw_body:
            # A body of its own (google.api.HttpBody): any content type the service names, not JSON.
            self.seen[operation.operation_id].add("2xx")
            return response.content
        if not content_type.startswith("application/json"):
            self.problems.append(f"{operation.operation_id} {status}: content-type {content_type!r}")
            return None
        body = response.json()
        for problem in self.oracle.response_errors(operation, status, body):
            self.problems.append(f"{operation.operation_id} {status}: {problem}")
        self.seen[operation.operation_id].add("2xx" if 200 <= status < 300 else "error")
        return body


async def _json_array_items(response: httpx.Response) -> Any:
    """Elements of a JSON array as they arrive (the transcoder writes one element per message)."""
    decoder = json.JSONDecoder()
    buffer = ""
    started = False
    async for chunk in response.aiter_text():
        buffer += chunk
        while True:
            buffer = buffer.lstrip()
            if not started:
                if not buffer:
                    break
                assert buffer[0] == "[", buffer[:100]
                buffer, started = buffer[1:], True
                continue
            buffer = buffer.lstrip(",").lstrip()
            if not buffer or buffer[0] == "]":
                break
            try:
                item, end = decoder.raw_decode(buffer)
            except json.JSONDecodeError:
                break  # incomplete: wait for more
            buffer = buffer[end:]
            yield item


@dataclass
class AccountsPerson:
    user_id: str
    email: str
    password: str
    session: str


async def mailed_token(who: Integrator, address: str, path: str, after: float, count: int = 1) -> str:
    """The token of the newest of at least ``count`` mails to ``address`` with a ``path`` link that the
    mesh wrote (file transport) since ``after``."""
    directory = who.mesh.data_dir / "mail"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = []
        for file in directory.glob("*.eml") if directory.exists() else []:
            if file.stat().st_mtime >= after:
                message = read_eml(file)
                if address in str(message["To"]):
                    found.append((file.stat().st_mtime, message))
        tokens = [
            parse_qs(urlsplit(link).query)["token"][0]
            for _, message in sorted(found, key=lambda item: item[0])
            for link in links_in(body_of(message, "plain"))
            if path in link
        ]
        if len(tokens) >= count:
            return tokens[-1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no mail to {address} with a {path} link")


async def accounts_scenario(c: Conformance, who: Integrator, person: AccountsPerson, other: str, slug: str) -> str:
    """Invitations, verification, second factor and reset, with tokens read from the mailed files;
    returns a new session of the person (the reset ended the others)."""
    ta, tid, admin = who.tenant_admin_token, who.tenant_id, who.admin_token
    started = time.time() - 1
    token = await mailed_token(who, person.email, "/verify-email", 0)  # sent when the user was made
    await c.call("AuthService_VerifyEmail", token=None, body={"token": token})
    await c.call(
        "UserService_SetUserPassword",
        token=ta,
        tenant=tid,
        path={"userId": person.user_id},
        body={"password": person.password},
    )
    await c.call("UserService_ResetUserMfa", token=ta, tenant=tid, path={"userId": person.user_id}, body={})
    # Both ended the person's sessions; a token of the same second as the cut-off is refused too.
    await asyncio.sleep(1.1)
    person.session = await login(c.client, who.tenant_slug, person.email, person.password)

    invited = f"invited-{uuid.uuid4().hex[:8]}@example.test"
    created = await c.call("InvitationService_CreateInvitation", token=ta, tenant=tid, body={"email": invited})
    invitation_id = created["invitation"]["invitationId"]
    await c.call("InvitationService_ListInvitations", token=ta, tenant=tid, query={"pageSize": 5})
    await c.call(
        "InvitationService_ResendInvitation", token=ta, tenant=tid, path={"invitationId": invitation_id}, body={}
    )
    token = await mailed_token(who, invited, "/invitations/accept", started, count=2)  # the resent one
    await c.call("AuthService_GetInvitation", token=None, body={"token": token})
    await c.call("AuthService_AcceptInvitation", token=None, body={"token": token, "password": person.password})
    withdrawn = await c.call("InvitationService_CreateInvitation", token=ta, tenant=tid, body={"email": f"x-{invited}"})
    await c.call(
        "InvitationService_RevokeInvitation",
        token=ta,
        tenant=tid,
        path={"invitationId": withdrawn["invitation"]["invitationId"]},
        body={},
    )
    await c.call("InvitationService_CreateInvitation", token=admin, tenant=other, body={"email": person.email})
    token = await mailed_token(who, person.email, "/invitations/accept", started)
    await c.call("AuthService_AcceptInvitationAsMe", token=person.session, body={"token": token})

    # The caller's own second factor; codes from pyotp.
    await c.call("MfaService_GetMfaStatus", token=person.session)
    enrolment = await c.call("MfaService_EnrolTotp", token=person.session, body={})
    totp = pyotp.TOTP(enrolment["totp"]["secret"])
    confirmed = await c.call("MfaService_ConfirmTotp", token=person.session, body={"code": totp.now()})
    challenge = await c.call(
        "AuthService_Login",
        token=None,
        body={"tenant": who.tenant_slug, "email": person.email, "password": person.password},
    )
    await c.call(
        "AuthService_CompleteMfaChallenge",
        token=None,
        body={"challengeToken": challenge["mfaChallenge"]["challengeToken"], "code": confirmed["recoveryCodes"][0]},
    )
    codes = await c.call(
        "MfaService_RegenerateRecoveryCodes", token=person.session, body={"code": totp.at(int(time.time()) + 30)}
    )
    await c.call("MfaService_DisableTotp", token=person.session, body={"code": codes["recoveryCodes"][0]})
    # A tenant policy that requires a factor: the next login there enrols one.
    await c.call("MfaPolicyService_GetMfaPolicy", token=ta, tenant=tid)
    await c.call("MfaPolicyService_UpdateMfaPolicy", token=admin, tenant=other, body={"requireAll": True})
    challenge = await c.call(
        "AuthService_Login", token=None, body={"tenant": slug, "email": person.email, "password": person.password}
    )
    await c.call(
        "AuthService_BeginChallengeEnrolment",
        token=None,
        body={"challengeToken": challenge["mfaChallenge"]["challengeToken"]},
    )

    # Last, as it ends the person's sessions: a password reset by mail.
    await c.call(
        "AuthService_RequestPasswordReset", token=None, body={"tenant": who.tenant_slug, "email": person.email}
    )
    token = await mailed_token(who, person.email, "/reset-password", started)
    await c.call(
        "AuthService_CompletePasswordReset", token=None, body={"token": token, "newPassword": person.password + "-2"}
    )
    await asyncio.sleep(1.1)  # past the second of the reset's cut-off
    return await login(c.client, who.tenant_slug, person.email, person.password + "-2")


async def menus_scenario(c: Conformance, ta: str, tid: str, user_id: str) -> None:
    """A tenant administrator shapes the menu and asks who sees what."""
    await c.call("MenuService_GetMyMenu", token=ta, tenant=tid, query={"locale": "id"})
    await c.call("MenuService_GetMyMenu_2", token=ta, tenant=tid, query={"locale": "id"})  # printed by the edge
    await c.call("MenuService_ListMenuEntries", token=ta, tenant=tid)
    body = {"entryId": "help", "kind": "ENTRY_KIND_EXTERNAL_LINK", "label": "Help", "externalUrl": "https://help.test"}
    await c.call("MenuService_CreateCustomEntry", token=ta, tenant=tid, body=body)
    await c.call(
        "MenuService_UpdateCustomEntry",
        token=ta,
        tenant=tid,
        path={"entryId": "help"},
        query={"updateMask": "label"},
        body={"label": "Handbook", "etag": "1"},
    )
    override = {"key": "platform/users", "label": "People", "labelTranslations": {"id": "Orang"}}
    await c.call("MenuService_SetMenuOverride", token=ta, tenant=tid, body={"override": override})
    await c.call("MenuService_MoveMenuEntry", token=ta, tenant=tid, body={"key": "custom/help", "position": 0})
    await c.call("MenuService_PreviewMenu", token=ta, tenant=tid, body={"roles": {"roles": ["member"]}})
    await c.call("MenuService_WhoCanSee", token=ta, tenant=tid, query={"key": "platform/users"})
    await c.call("MenuService_WhatCanReach", token=ta, tenant=tid, query={"userId": user_id})
    await c.call("MenuService_ClearMenuOverride", token=ta, tenant=tid, body={"key": "platform/users"})
    await c.call("MenuService_DeleteCustomEntry", token=ta, tenant=tid, path={"entryId": "help"})


async def success_scenario(c: Conformance, who: Integrator) -> None:
    admin, ta, tid = who.admin_token, who.tenant_admin_token, who.tenant_id
    mark = uuid.uuid4().hex[:8]

    # --- public
    await c.call("MetaService_GetServerInfo", token=None)
    await c.call("AuthService_GetJwks", token=None)
    tokens = await c.call(
        "AuthService_Login",
        token=None,
        body={"tenant": who.tenant_slug, "email": who.tenant_admin_email, "password": who.tenant_admin_password},
    )
    refreshed = await c.call("AuthService_Refresh", token=None, body={"refreshToken": tokens["tokens"]["refreshToken"]})
    await c.call("AuthService_GetMe", token=refreshed["tokens"]["accessToken"])

    # --- tenants (platform administrator)
    slug = f"conf-{mark}"
    created = await c.call(
        "TenantService_CreateTenant",
        token=admin,
        body={"slug": slug, "displayName": "Conformance", "labels": {"suite": "conformance"}},
        query={"requestId": str(uuid.uuid4())},
    )
    other = created["tenant"]["tenantId"]
    await c.call("TenantService_ListTenants", token=admin, query={"pageSize": 2, "labels": ["suite=conformance"]})
    await c.call("TenantService_GetTenant", token=admin, path={"tenantId": other})
    await c.call("TenantService_GetTenant_2", token=admin, query={"slug": slug})
    await c.call(
        "TenantService_UpdateTenant",
        token=admin,
        path={"tenantId": other},
        query={"updateMask": "displayName"},
        body={"displayName": "Conformance 2"},
    )
    await c.call("TenantService_SuspendTenant", token=admin, path={"tenantId": other}, body={})
    await c.call("TenantService_ResumeTenant", token=admin, path={"tenantId": other}, body={})
    await c.call("TenantService_MigrateTenantDatabases", token=admin, body={"tenantIds": [other]})
    await c.call("TenantService_GetCurrentTenant", token=ta, tenant=tid)

    # --- users, memberships, roles, service accounts (tenant administrator)
    email = f"user-{mark}@example.test"
    password = f"pw-{uuid.uuid4().hex}"
    user = await c.call(
        "UserService_CreateUser",
        token=ta,
        tenant=tid,
        body={"user": {"email": email, "displayName": "U"}, "password": password, "roles": ["member"]},
    )
    user_id = user["user"]["userId"]
    await c.call("UserService_ListUsers", token=ta, tenant=tid, query={"pageSize": 1})
    await c.call("UserService_GetUser", token=ta, tenant=tid, path={"userId": user_id})
    await c.call(
        "UserService_UpdateUser",
        token=ta,
        tenant=tid,
        path={"userId": user_id},
        query={"updateMask": "displayName"},
        body={"displayName": "U2"},
    )
    session = await login(c.client, who.tenant_slug, email, password)
    new_password = f"pw-{uuid.uuid4().hex}"
    await c.call(
        "AuthService_ChangePassword",
        token=session,
        body={"currentPassword": password, "newPassword": new_password},
    )
    session = await login(c.client, who.tenant_slug, email, new_password)
    await c.call("MembershipService_AddMembership", token=admin, tenant=other, body={"userId": user_id, "roles": []})
    await c.call("AuthService_SwitchTenant", token=session, body={"tenant": slug})
    await c.call("MembershipService_ListMemberships", token=ta, tenant=tid, query={"pageSize": 5})
    await c.call(
        "MembershipService_UpdateMembership",
        token=admin,
        tenant=other,
        path={"userId": user_id},
        body={"roles": ["tenant-admin"]},
    )
    await c.call("MembershipService_RemoveMembership", token=admin, tenant=other, path={"userId": user_id})
    session = await accounts_scenario(c, who, AccountsPerson(user_id, email, new_password, session), other, slug)
    await c.call("AuthService_Logout", token=session, body={})

    role = f"viewer-{mark}"
    await c.call(
        "RoleService_CreateRole", token=ta, tenant=tid, body={"name": role, "permissions": ["auth.users.list"]}
    )
    await c.call("RoleService_ListRoles", token=ta, tenant=tid)
    await c.call("RoleService_GetRole", token=ta, tenant=tid, path={"name": role})
    await c.call(
        "RoleService_UpdateRole",
        token=ta,
        tenant=tid,
        path={"name": role},
        query={"updateMask": "description"},
        body={"description": "reads users"},
    )
    await c.call("RoleService_DeleteRole", token=ta, tenant=tid, path={"name": role})

    account = await c.call(
        "ServiceAccountService_CreateServiceAccount", token=ta, tenant=tid, body={"name": f"sync-{mark}"}
    )
    await c.call("AuthService_ExchangeApiKey", token=None, body={"apiKey": account["apiKey"]})
    await c.call("ServiceAccountService_ListServiceAccounts", token=ta, tenant=tid)
    await c.call(
        "ServiceAccountService_DeleteServiceAccount",
        token=ta,
        tenant=tid,
        path={"serviceAccountId": account["serviceAccount"]["serviceAccountId"]},
    )
    await c.call("AuditService_ListAuditEvents", token=ta, tenant=tid, query={"pageSize": 3})
    await c.call("AuditService_ListPlatformAuditEvents", token=admin, query={"pageSize": 3, "tenantId": tid})
    await c.call("UserService_DisableUser", token=admin, tenant=tid, path={"userId": user_id}, body={})

    # --- registry: catalogue, versions, instances, discovery, enablement
    name = f"billing-{mark}"
    await c.call(
        "CatalogService_RegisterService",
        token=admin,
        body={
            "name": name,
            "displayName": "Billing",
            "kind": "SERVICE_KIND_EXTERNAL_HTTP",
            "configSchema": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {"currency": {"type": "string"}},
            },
            "permissions": [{"name": f"{name}.invoices.read"}],
        },
    )
    await c.call("CatalogService_ListServices", token=admin, query={"pageSize": 2})
    await c.call("CatalogService_GetService", token=admin, path={"name": name})
    await c.call(
        "CatalogService_UpdateService",
        token=admin,
        path={"name": name},
        query={"updateMask": "description"},
        body={"description": "Invoices"},
    )
    await c.call(
        "CatalogService_RegisterServiceVersion",
        token=admin,
        path={"service": name},
        body={
            "version": "1.0.0",
            "openapi": {"openapi": "3.1.0", "info": {"title": "Billing", "version": "1.0.0"}, "paths": {}},
        },
    )
    instance = await c.call(
        "InstanceService_RegisterInstance",
        token=admin,
        path={"service": name},
        query={"ttlSeconds": 60},
        body={"version": "1.0.0", "address": "https://billing.example.test"},
    )
    instance_id = instance["instance"]["instanceId"]
    await c.call("InstanceService_Heartbeat", token=admin, path={"instanceId": instance_id}, body={})
    await c.call("InstanceService_ListInstances", token=admin, query={"services": [name]})
    await c.call("DiscoveryService_ResolveService", token=admin, path={"service": name})
    await c.call("DiscoveryService_Watch", token=admin, query={"services": [name], "sendInitialState": "true"})
    await c.call("InstanceService_DeregisterInstance", token=admin, path={"instanceId": instance_id})

    await c.call("EnabledServiceService_ListAvailableServices", token=ta, tenant=tid, query={"pageSize": 50})
    await c.call(
        "EnabledServiceService_EnableService",
        token=ta,
        tenant=tid,
        body={"service": name, "config": {"currency": "EUR"}, "requestId": str(uuid.uuid4())},
    )
    await c.call("EnabledServiceService_ListEnabledServices", token=ta, tenant=tid)
    await c.call("EnabledServiceService_GetEnabledService", token=ta, tenant=tid, path={"service": name})
    await c.call(
        "EnabledServiceService_UpdateServiceConfig",
        token=ta,
        tenant=tid,
        path={"service": name},
        body={"currency": "IDR"},
    )
    await menus_scenario(c, ta, tid, user_id)
    await c.call("EnabledServiceService_DisableService", token=ta, tenant=tid, path={"service": name})
    issued = await c.call("AuthService_IssueServiceToken", token=ta, body={"service": name})
    assert issued["audience"] == f"tenantmesh:service:{name}"
    await c.call("AuthService_GetOpenIdConfiguration", token=None)
    await c.call("CatalogService_DeleteService", token=admin, path={"name": name})

    await webhooks_scenario(c, who)
    await forms_scenario(c, ta, tid)
    await c.call("TenantService_GetTenantUsage", token=admin, path={"tenantId": tid})

    await c.call("SigningKeyService_RotateSigningKey", token=admin, body={})
    await c.call("TenantService_DeleteTenant", token=admin, path={"tenantId": other})


async def webhooks_scenario(c: Conformance, who: Integrator) -> None:
    """A webhook on an endpoint that never answers (port 9 of loopback): its deliveries fail and
    wait for a retry, which is all the log and a replay need."""
    ta, tid, admin = who.tenant_admin_token, who.tenant_id, who.admin_token
    hook = await c.call(
        "WebhookService_CreateWebhook",
        token=ta,
        tenant=tid,
        body={"url": "https://127.0.0.1:9/hook", "eventTypes": ["tenant.updated"], "description": "audit"},
    )
    webhook_id = hook["webhook"]["webhookId"]
    await c.call("WebhookService_GetWebhook", token=ta, tenant=tid, path={"webhookId": webhook_id})
    await c.call("WebhookService_ListWebhooks", token=ta, tenant=tid, query={"pageSize": 5})
    await c.call(
        "WebhookService_UpdateWebhook",
        token=ta,
        tenant=tid,
        path={"webhookId": webhook_id},
        query={"updateMask": "description"},
        body={"description": "audit trail"},
    )
    await c.call("WebhookService_RotateWebhookSecret", token=ta, tenant=tid, path={"webhookId": webhook_id}, body={})
    await c.call(
        "TenantService_UpdateTenant",
        token=admin,
        path={"tenantId": tid},
        query={"updateMask": "displayName"},
        body={"displayName": "Webhooked"},
    )
    deliveries: list[Any] = []
    for _ in range(100):
        listed = await c.call(
            "WebhookService_ListWebhookDeliveries", token=ta, tenant=tid, path={"webhookId": webhook_id}
        )
        deliveries = listed.get("deliveries", [])
        if deliveries:
            break
        await asyncio.sleep(0.1)
    assert deliveries, "the tenant.updated event was not fanned out to the webhook"
    await c.call(
        "WebhookService_ReplayWebhookDelivery",
        token=ta,
        tenant=tid,
        path={"webhookId": webhook_id, "deliveryId": deliveries[0]["deliveryId"]},
        body={},
    )
    await c.call("WebhookService_DeleteWebhook", token=ta, tenant=tid, path={"webhookId": webhook_id})


async def forms_scenario(c: Conformance, ta: str, tid: str) -> None:
    """A tenant administrator builds a form from a JSON Schema, publishes it, gets answers, reviews,
    edits and exports them, and clears up."""
    schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 80}}}
    generated = await c.call("FormService_GenerateForm", token=ta, tenant=tid, body={"jsonSchema": schema})
    form = {"key": "intake", "title": "Intake", "draft": generated["definition"], "allowEdits": True}
    created = await c.call("FormService_CreateForm", token=ta, tenant=tid, body=form)
    await c.call(
        "FormService_UpdateForm",
        token=ta,
        tenant=tid,
        path={"key": "intake"},
        query={"updateMask": "title"},
        body={"title": "Intake form", "etag": created["form"]["etag"]},
    )
    await c.call("FormService_PublishForm", token=ta, tenant=tid, path={"key": "intake"}, body={})
    await c.call("FormService_GetForm", token=ta, tenant=tid, path={"key": "intake"})
    await c.call("FormService_ListForms", token=ta, tenant=tid, query={"status": "FORM_STATUS_PUBLISHED"})
    await c.call("FormService_ListFormVersions", token=ta, tenant=tid, path={"key": "intake"})
    await c.call("FormService_GetFormVersion", token=ta, tenant=tid, path={"key": "intake", "version": "1"})
    answers = {"answers": {"name": "Ada"}}
    await c.call("SubmissionService_ValidateSubmission", token=ta, tenant=tid, path={"formKey": "intake"}, body=answers)
    submitted = await c.call(
        "SubmissionService_SubmitForm", token=ta, tenant=tid, path={"formKey": "intake"}, body=answers
    )
    sid = submitted["submission"]["submissionId"]
    await c.call("SubmissionService_GetSubmission", token=ta, tenant=tid, path={"submissionId": sid})
    await c.call(
        "SubmissionService_ListSubmissions",
        token=ta,
        tenant=tid,
        query={"formKey": "intake", "filter": 'answers.name = "Ada"'},
    )
    await c.call(
        "SubmissionService_ListSubmissions_2",  # printed by the edge
        token=ta,
        tenant=tid,
        query={"formKey": "intake", "filter": 'answers.name = "Ada"'},
    )
    await c.call(
        "SubmissionService_ReviewSubmission",
        token=ta,
        tenant=tid,
        path={"submissionId": sid},
        query={"updateMask": "status"},
        body={"status": "SUBMISSION_STATUS_ACCEPTED"},
    )
    await c.call(
        "SubmissionService_UpdateSubmission",
        token=ta,
        tenant=tid,
        path={"submissionId": sid},
        body={"answers": {"name": "Ada L."}},
    )
    await c.call("SubmissionService_ListSubmissionRevisions", token=ta, tenant=tid, path={"submissionId": sid})
    exported = await c.call(
        "SubmissionService_ExportSubmissions",
        token=ta,
        tenant=tid,
        path={"formKey": "intake"},
        query={"format": "EXPORT_FORMAT_NDJSON"},
    )
    assert json.loads(exported.splitlines()[0])["answers"] == {"name": "Ada L."}
    await c.call("SubmissionService_DeleteSubmission", token=ta, tenant=tid, path={"submissionId": sid})
    await files_scenario(c, ta, tid)
    await c.call("FormService_ArchiveForm", token=ta, tenant=tid, path={"key": "intake"}, body={})
    await c.call("FormService_UnarchiveForm", token=ta, tenant=tid, path={"key": "intake"}, body={})
    await c.call("FormService_DeleteForm", token=ta, tenant=tid, path={"key": "intake"})


async def files_scenario(c: Conformance, ta: str, tid: str) -> None:
    """An upload (the raw bytes as the body, as the edge takes them), its record, its bytes, its deletion."""
    upload = c.oracle.operation("FileService_UploadFile")
    response = await c.client.post(
        upload.url(),
        params={"filename": "scan.pdf"},
        content=b"%PDF-1.7 conformance",
        headers={"authorization": f"Bearer {ta}", "x-tenant-id": tid, "content-type": "application/pdf"},
    )
    file_id = c._check(upload, response.status_code, response, 200)["file"]["fileId"]
    await c.call("FileService_GetFile", token=ta, tenant=tid, path={"fileId": file_id})
    body = await c.call("FileService_DownloadFile", token=ta, tenant=tid, path={"fileId": file_id})
    assert body == b"%PDF-1.7 conformance"
    await c.call("FileService_DeleteFile", token=ta, tenant=tid, path={"fileId": file_id})


def error_call(operation: Operation, who: Integrator) -> tuple[dict[str, Any], int]:
    """A call of ``operation`` that must fail, chosen by its access policy: a tenant-scoped call
    without its tenant header (the service: 400 TENANT_HEADER_MISSING), a platform call with a
    valid token that carries no permission (the service: 403; calls on the caller's own session,
    which every token may make, without a token: the edge's 401), a public call with a query
    parameter the operation does not have (the edge: 400)."""
    path = {name: _sample(name) for name in _path_names(operation)}
    body: dict[str, Any] | None = {} if operation.spec.get("requestBody") else None
    if operation.public:
        return {"token": None, "path": path, "query": {"noSuchParameter": "1"}, "body": body}, 400
    if operation.scope == "TENANT":
        return {"token": who.admin_token, "path": path, "body": body}, 400
    if operation.spec["x-tenantmesh-access"].get("permission") == SELF_PERMISSION:
        return {"token": None, "path": path, "body": body}, 401
    return {"token": who.no_role_token, "path": path, "body": body}, 403


def _path_names(operation: Operation) -> list[str]:
    return [p["name"] for p in operation.spec.get("parameters", []) if p.get("in") == "path"]


def _sample(name: str) -> str:
    # A well-formed value for any path parameter: ids are uuids, names are DNS labels.
    return str(uuid.uuid4()) if name.lower().endswith("id") else "sample-name"


async def test_every_operation_answers_what_the_document_says(integrator: Integrator) -> None:
    oracle = OpenApiOracle()
    async with integrator.mesh.client() as client:
        c = Conformance(oracle, client)
        await success_scenario(c, integrator)
        for operation in oracle.operations.values():
            kwargs, expect = error_call(operation, integrator)
            await c.call(operation.operation_id, expect=expect, **kwargs)

        # A service-side validation error: BadRequest field violations in the body.
        bad = await c.call("TenantService_CreateTenant", token=integrator.admin_token, body={"slug": "X!"}, expect=400)
        assert any("fieldViolations" in detail for detail in bad["details"])
        # An Envoy-side error (no token) has the same shape.
        await c.call("TenantService_ListTenants", token=None, expect=401)

    missing = {
        op: {"2xx", "error"} - c.seen.get(op, set())
        for op in oracle.operations
        if {"2xx", "error"} - c.seen.get(op, set())
    }
    assert not missing, f"operations not exercised: {missing}"
    assert not c.problems, "\n".join(c.problems)


async def test_hundreds_of_invalid_items_get_the_first_violations_and_a_count_of_the_rest(
    integrator: Integrator,
) -> None:
    # Every violation in the status trailer made it larger than Envoy passes on: the caller got 502.
    # Now it gets 400 with the violations that fit and, in ErrorInfo, how many more there were.
    async with integrator.mesh.client() as client:
        c = Conformance(OpenApiOracle(), client)
        bad = await c.call(
            "CatalogService_RegisterService",
            token=integrator.admin_token,
            body={"permissions": [{}] * 500},
            expect=400,
        )
    [info] = [detail for detail in bad["details"] if detail["@type"].endswith("ErrorInfo")]
    [bad_request] = [detail for detail in bad["details"] if detail["@type"].endswith("BadRequest")]
    kept = bad_request["fieldViolations"]
    assert info["reason"] == "FIELD_INVALID"
    assert 0 < len(kept) < 500
    assert kept[0]["field"].startswith("service.permissions[0].")
    assert int(info["metadata"]["violations_omitted"]) + len(kept) >= 500
    assert not c.problems, "\n".join(c.problems)


def test_error_call_choice_needs_no_list() -> None:
    # The error calls come from the access policy alone: every operation gets one.
    oracle = OpenApiOracle()
    who = Integrator(None, "a", "t", "s", "e", "p", "ta", "none")  # type: ignore[arg-type]
    for operation in oracle.operations.values():
        _, expect = error_call(operation, who)
        assert expect in (400, 401, 403)
