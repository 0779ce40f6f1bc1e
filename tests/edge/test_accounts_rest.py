"""Issue 9 over REST through a real Envoy: the cross-tenant attacks of the issue now fail, and the
bad input of invitations, password reset and the second factor gets its HTTP status and reason
(JSON google.rpc.Status), with mail going through a real SMTP server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest

from services.mesh.runner import upstreams_for
from tests.edge.conftest import EdgeFactory
from tests.support.platform import ADMIN_EMAIL, ADMIN_PASSWORD, Platform, platform
from tests.support.smtp import FAST_DELIVERY_ENV, SmtpTestServer

pytestmark = pytest.mark.edge

PUBLIC_URL = "https://console.example.test"
PASSWORD = "a-long-enough-passphrase-9"


def reason_of(response: httpx.Response) -> str:
    for detail in response.json().get("details", []):
        if detail.get("@type", "").endswith("google.rpc.ErrorInfo"):
            return str(detail["reason"])
    return ""


def expect(response: httpx.Response, status: int, reason: str) -> None:
    assert (response.status_code, reason_of(response)) == (status, reason), response.text


@dataclass
class Rest:
    mesh: Platform
    client: httpx.AsyncClient
    smtp: SmtpTestServer
    admin: str  # the platform administrator's token

    async def call(
        self, method: str, path: str, token: str | None = None, tenant: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if tenant:
            headers["x-tenant-id"] = tenant
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def ok(self, method: str, path: str, token: str | None = None, tenant: str | None = None, **kw: Any) -> Any:
        response = await self.call(method, path, token, tenant, **kw)
        assert response.status_code == 200, response.text
        return response.json()

    async def tenant(self) -> dict[str, Any]:
        created = await self.ok("POST", "/v1/tenants", self.admin, json={"slug": f"rest-{uuid.uuid4().hex[:10]}"})
        tenant: dict[str, Any] = created["tenant"]
        return tenant

    async def person(self, tenant: dict[str, Any], role: str = "member") -> dict[str, str]:
        email = f"p-{uuid.uuid4().hex[:10]}@example.test"
        created = await self.ok(
            "POST",
            "/v1/users",
            self.admin,
            tenant["tenantId"],
            json={"user": {"email": email}, "password": PASSWORD, "roles": [role]},
        )
        login = await self.ok(
            "POST", "/v1/auth:login", json={"tenant": tenant["slug"], "email": email, "password": PASSWORD}
        )
        return {"user_id": created["user"]["userId"], "email": email, "token": login["tokens"]["accessToken"]}

    async def token_mailed_to(self, address: str, path: str, count: int = 1) -> str:
        mails = await self.smtp.wait_for(count, where=lambda m: address in m.envelope_to)
        return parse_qs(urlsplit(mails[count - 1].link(f"{PUBLIC_URL}{path}")).query)["token"][0]


@pytest.fixture
async def rest(
    db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory, smtp_server: SmtpTestServer
) -> AsyncIterator[Rest]:
    env = {**smtp_server.env(), **FAST_DELIVERY_ENV, "TENANTMESH_PUBLIC_URL": PUBLIC_URL}
    async with platform(db_backend_url, tmp_path, env) as mesh:
        # The edge checks tokens against the issuer the services sign with: the public URL.
        edge = await edge_factory(upstreams_for(mesh.started, mesh.runtime.settings), public_url=PUBLIC_URL)
        async with edge.https_client() as client:
            login = await client.post(
                "/v1/auth:login", json={"tenant": "platform", "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            assert login.status_code == 200, login.text
            yield Rest(mesh, client, smtp_server, login.json()["tokens"]["accessToken"])


async def test_the_cross_tenant_attacks_of_the_issue_fail(rest: Rest) -> None:
    tenant_a, tenant_b = await rest.tenant(), await rest.tenant()
    person = await rest.person(tenant_a)
    admin_b = await rest.person(tenant_b, "tenant-admin")
    b = tenant_b["tenantId"]
    # An address used in A is just an address to B: a new, separate identity (not 409).
    created = await rest.ok(
        "POST", "/v1/users", admin_b["token"], b, json={"user": {"email": person["email"]}, "password": PASSWORD}
    )
    assert created["user"]["userId"] != person["user_id"]
    # Adding someone by email without consent is gone (platform administrators only, by user id).
    response = await rest.call("POST", "/v1/memberships", admin_b["token"], b, json={"userId": person["user_id"]})
    expect(response, 403, "PERMISSION_DENIED")
    # The platform administrator's identity cannot be renamed from a tenant.
    me = await rest.ok("GET", "/v1/auth/me", rest.admin)
    response = await rest.call(
        "PATCH",
        f"/v1/users/{me['user']['userId']}?updateMask=displayName",
        admin_b["token"],
        b,
        json={"displayName": "pwned"},
    )
    expect(response, 404, "USER_NOT_FOUND")
    assert (await rest.ok("GET", "/v1/auth/me", rest.admin))["user"]["displayName"] == "Platform administrator"


async def test_invitation_and_reset_bad_input(rest: Rest) -> None:
    tenant = await rest.tenant()
    admin = await rest.person(tenant, "tenant-admin")
    t = tenant["tenantId"]
    # An invitation for the platform administrator is made like any other; accepting as them is refused.
    await rest.ok("POST", "/v1/invitations", admin["token"], t, json={"email": ADMIN_EMAIL})
    token = await rest.token_mailed_to(ADMIN_EMAIL, "/invitations/accept?token=")
    response = await rest.call("POST", "/v1/auth/invitations:acceptAsMe", rest.admin, json={"token": token})
    expect(response, 400, "PLATFORM_IDENTITY_NOT_JOINABLE")
    for forged in ("tmi_" + "A" * 43, token + "x"):
        response = await rest.call("POST", "/v1/auth/invitations:accept", json={"token": forged, "password": PASSWORD})
        expect(response, 404, "INVITATION_INVALID")
    # Used.
    invited = f"new-{uuid.uuid4().hex[:8]}@example.test"
    await rest.ok("POST", "/v1/invitations", admin["token"], t, json={"email": invited})
    token = await rest.token_mailed_to(invited, "/invitations/accept?token=")
    await rest.ok("POST", "/v1/auth/invitations:accept", json={"token": token, "password": PASSWORD})
    response = await rest.call("POST", "/v1/auth/invitations:accept", json={"token": token, "password": PASSWORD})
    expect(response, 404, "INVITATION_INVALID")

    # A reset for an unknown address answers exactly as for a known one.
    known = await rest.call("POST", "/v1/auth:requestPasswordReset", json={"tenant": tenant["slug"], "email": invited})
    unknown = await rest.call(
        "POST", "/v1/auth:requestPasswordReset", json={"tenant": tenant["slug"], "email": "nobody@example.test"}
    )
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (200, {})
    token = await rest.token_mailed_to(invited, "/reset-password?token=", count=2)
    response = await rest.call("POST", "/v1/auth:completePasswordReset", json={"token": token, "newPassword": "short"})
    expect(response, 400, "PASSWORD_TOO_WEAK")
    await rest.ok(
        "POST", "/v1/auth:completePasswordReset", json={"token": token, "newPassword": "brand-new-passphrase"}
    )
    response = await rest.call(
        "POST", "/v1/auth:completePasswordReset", json={"token": token, "newPassword": "brand-new-passphrase-2"}
    )
    expect(response, 404, "RESET_TOKEN_INVALID")
    for _ in range(2):
        await rest.ok("POST", "/v1/auth:requestPasswordReset", json={"tenant": tenant["slug"], "email": invited})
    response = await rest.call(
        "POST", "/v1/auth:requestPasswordReset", json={"tenant": tenant["slug"], "email": invited}
    )
    expect(response, 429, "RESET_RATE_LIMITED")


async def test_an_invitation_made_while_mail_is_down_is_delivered_later(rest: Rest) -> None:
    tenant = await rest.tenant()
    admin = await rest.person(tenant, "tenant-admin")
    await rest.smtp.stop()
    invited = f"later-{uuid.uuid4().hex[:8]}@example.test"
    await rest.ok("POST", "/v1/invitations", admin["token"], tenant["tenantId"], json={"email": invited})
    await asyncio.sleep(0.3)
    await rest.smtp.start()
    assert await rest.token_mailed_to(invited, "/invitations/accept?token=")


async def test_totp_replay_and_wrong_code_lockout(rest: Rest) -> None:
    tenant = await rest.tenant()
    person = await rest.person(tenant)
    enrolment = await rest.ok("POST", "/v1/auth/mfa:enrolTotp", person["token"], json={})
    totp = pyotp.TOTP(enrolment["totp"]["secret"])
    await rest.ok("POST", "/v1/auth/mfa:confirmTotp", person["token"], json={"code": totp.now()})
    login = await rest.ok(
        "POST", "/v1/auth:login", json={"tenant": tenant["slug"], "email": person["email"], "password": PASSWORD}
    )
    challenge = login["mfaChallenge"]["challengeToken"]
    # The code that confirmed the enrolment is spent: replay within its window is refused.
    response = await rest.call(
        "POST", "/v1/auth:completeMfaChallenge", json={"challengeToken": challenge, "code": totp.now()}
    )
    expect(response, 401, "MFA_CODE_INVALID")
    wrong = str((int(totp.now()) + 500_000) % 1_000_000).zfill(6)
    for _ in range(4):  # with the replay above: five failures (TENANTMESH_LOGIN_MAX_FAILURES)
        response = await rest.call(
            "POST", "/v1/auth:completeMfaChallenge", json={"challengeToken": challenge, "code": wrong}
        )
        expect(response, 401, "MFA_CODE_INVALID")
    response = await rest.call(
        "POST", "/v1/auth:completeMfaChallenge", json={"challengeToken": challenge, "code": wrong}
    )
    expect(response, 429, "LOGIN_LOCKED")
    response = await rest.call(
        "POST", "/v1/auth:completeMfaChallenge", json={"challengeToken": "tmc_" + "z" * 43, "code": "123456"}
    )
    expect(response, 401, "MFA_CHALLENGE_INVALID")


async def test_the_edge_flattens_nested_arrays_and_drops_null_items_of_a_list_and_the_service_still_checks_each_item(
    rest: Rest,
) -> None:
    # Envoy's JSON transcoder (protobuf's JSON parser) reads [["a"]] for a repeated field as ["a"]:
    # a leniency of the edge that no filter option turns off (docs/decisions.md, Edge). What it
    # reads is what the service validates, so an item that breaks a rule is still refused.
    tenant = (await rest.tenant())["tenantId"]
    nested = await rest.ok("PUT", "/v1/mfaPolicy", rest.admin, tenant, json={"requiredRoles": [["tenant-admin"]]})
    assert nested["policy"]["requiredRoles"] == ["tenant-admin"]
    expect(
        await rest.call("PUT", "/v1/mfaPolicy", rest.admin, tenant, json={"requiredRoles": [["Not A Role"]]}),
        400,
        "FIELD_INVALID",
    )
    # A null item of a list is read as no item (the fuzz found it, seed 1020774022).
    nulls = await rest.ok(
        "PUT", "/v1/mfaPolicy", rest.admin, tenant, json={"requiredRoles": [None, "tenant-admin", None]}
    )
    assert nulls["policy"]["requiredRoles"] == ["tenant-admin"]
    # An object where a string belongs is not flattened: the body does not fit the method.
    expect(
        await rest.call("PUT", "/v1/mfaPolicy", rest.admin, tenant, json={"requiredRoles": [{}]}),
        400,
        "MALFORMED_REQUEST",
    )
