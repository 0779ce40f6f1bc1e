"""Services behind the platform verify its tokens with standard libraries: PyJWT's JWKS client
and npm `jose` (createRemoteJWKSet), against a running mesh's edge, from the discovery document
the tokens' issuer names; before and after a signing key rotation; with a registered service's
own audience, which the platform itself refuses."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.support.readme import run_readme_example
from tests.support.running_mesh import (
    FUZZ_FRIENDLY_ENV,
    REPO,
    Integrator,
    MeshProcess,
    login,
    mesh_process,
    prepare_integrator,
)

pytestmark = pytest.mark.edge

JOSE_SCRIPT = REPO / "tests" / "support" / "jose_verify.mjs"


@pytest.fixture
async def rotating_mesh(tmp_path: Path) -> AsyncIterator[MeshProcess]:
    # A rotated key signs at once (the production delay lets edges' JWKS caches catch up first),
    # and may be rotated right after the first key was made.
    env = {
        **FUZZ_FRIENDLY_ENV,
        "TENANTMESH_SIGNING_KEY_ACTIVATION_DELAY_SECONDS": "0",
        "TENANTMESH_SIGNING_KEY_MIN_ROTATION_SECONDS": "0",
    }
    async with mesh_process(tmp_path, env) as mesh:
        yield mesh


async def _jose(mesh: MeshProcess, issuer: str, checks: list[dict[str, str]]) -> dict[str, Any]:
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(mesh.ca_file)}
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(JOSE_SCRIPT),
        issuer,
        json.dumps(checks),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


async def _register_external_service(mesh: MeshProcess, admin: str) -> str:
    name = f"billing-{uuid.uuid4().hex[:8]}"
    async with mesh.client() as client:
        response = await client.post(
            "/v1/services",
            json={"name": name, "displayName": "Billing", "kind": "SERVICE_KIND_EXTERNAL_HTTP"},
            headers={"authorization": f"Bearer {admin}"},
        )
        assert response.status_code == 200, response.text
    return name


async def test_third_parties_verify_platform_tokens(
    rotating_mesh: MeshProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    mesh = rotating_mesh
    who: Integrator = await prepare_integrator(mesh)
    async with mesh.client() as client:
        # Public, through the edge, at the address the tokens name as their issuer.
        discovered = await client.get("/.well-known/openid-configuration")
        assert discovered.status_code == 200, discovered.text
        metadata = discovered.json()
        issuer = metadata["issuer"]
        assert issuer == mesh.https_url.rstrip("/")
        assert metadata["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
        assert metadata["id_token_signing_alg_values_supported"] == ["ES256"]
        assert {"tid", "roles", "perms", "sid"} <= set(metadata["claims_supported"])

        token = who.tenant_admin_token
        # No cooldown before refetching for an unknown kid: here a rotated key signs at once. In
        # production it is published 330 s before it signs, so a client's default cooldown (30 s
        # in PyJWT and jose) never holds up a token.
        keys = jwt.PyJWKClient(metadata["jwks_uri"], ssl_context=mesh.ssl_context(), cooldown_duration=0)

        def verify(access_token: str, audience: str = "tenantmesh") -> dict[str, Any]:
            signing_key = keys.get_signing_key_from_jwt(access_token)
            claims: dict[str, Any] = jwt.decode(
                access_token,
                signing_key.key,
                algorithms=metadata["id_token_signing_alg_values_supported"],
                audience=audience,
                issuer=issuer,
            )
            return claims

        claims = await asyncio.to_thread(verify, token)
        assert (claims["tid"], claims["iss"]) == (who.tenant_id, issuer)
        assert "tenant-admin" in claims["roles"]

        # A registered external service gets tokens of its own audience; the platform refuses them.
        service = await _register_external_service(mesh, who.admin_token)
        issued = await client.post(
            "/v1/auth:issueServiceToken",
            json={"service": service},
            headers={"authorization": f"Bearer {token}"},
        )
        assert issued.status_code == 200, issued.text
        service_token = issued.json()["accessToken"]
        assert issued.json()["audience"] == f"tenantmesh:service:{service}"
        service_claims = await asyncio.to_thread(verify, service_token, f"tenantmesh:service:{service}")
        assert (service_claims["sub"], service_claims["tid"]) == (claims["sub"], claims["tid"])
        assert service_claims["exp"] <= claims["exp"]
        with pytest.raises(jwt.InvalidAudienceError):
            await asyncio.to_thread(verify, service_token)
        # The README's check, as written, for this mesh and this service.
        monkeypatch.setenv("TENANTMESH_URL", issuer)
        monkeypatch.setenv("TENANTMESH_CA", str(mesh.ca_file))
        verified_claims = run_readme_example("python-verify-token")["verified_claims"]
        readme_claims = await asyncio.to_thread(verified_claims, service_token, f"tenantmesh:service:{service}")
        assert readme_claims["tid"] == who.tenant_id
        with pytest.raises(jwt.InvalidAudienceError):
            await asyncio.to_thread(verified_claims, token, f"tenantmesh:service:{service}")
        refused = await client.get("/v1/auth/me", headers={"authorization": f"Bearer {service_token}"})
        assert refused.status_code == 401, refused.text
        unknown = await client.post(
            "/v1/auth:issueServiceToken",
            json={"service": "no-such-service"},
            headers={"authorization": f"Bearer {token}"},
        )
        assert unknown.status_code == 404, unknown.text
        assert unknown.json()["details"][0]["reason"] == "SERVICE_NOT_FOUND"

        # A key rotation: new tokens carry the new kid; the same JWKS client verifies both.
        rotated = await client.post(
            "/v1/platform/signingKeys:rotate", json={}, headers={"authorization": f"Bearer {who.admin_token}"}
        )
        assert rotated.status_code == 200, rotated.text
        fresh = await login(client, who.tenant_slug, who.tenant_admin_email, who.tenant_admin_password)
        assert jwt.get_unverified_header(fresh)["kid"] != jwt.get_unverified_header(token)["kid"]
        assert (await asyncio.to_thread(verify, fresh))["tid"] == who.tenant_id
        assert (await asyncio.to_thread(verify, token))["tid"] == who.tenant_id

    # npm jose, from the discovery document, after the rotation: old and new tokens verify, the
    # service token only with its own audience, a tampered token not at all.
    checks = [
        {"token": token, "audience": "tenantmesh"},
        {"token": fresh, "audience": "tenantmesh"},
        {"token": service_token, "audience": f"tenantmesh:service:{service}"},
        {"token": service_token, "audience": "tenantmesh"},
        {"token": fresh[:-4] + ("AAAA" if not fresh.endswith("AAAA") else "BBBB"), "audience": "tenantmesh"},
    ]
    result = await _jose(mesh, issuer, checks)
    outcomes = result["results"]
    assert [entry["ok"] for entry in outcomes] == [True, True, True, False, False], outcomes
    assert outcomes[0]["payload"]["tid"] == outcomes[1]["payload"]["tid"] == who.tenant_id
    assert outcomes[0]["kid"] != outcomes[1]["kid"]
    assert outcomes[3]["code"] == "ERR_JWT_CLAIM_VALIDATION_FAILED"
    assert outcomes[4]["code"] == "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"
