"""OpenID Connect discovery metadata: how a third party finds and checks the platform's tokens.

Services behind the platform verify its access tokens with any standard JWT library:
they read ``<issuer>/.well-known/openid-configuration`` (public, through the edge),
fetch the keys from ``jwks_uri`` and check ``iss``, ``aud`` and the signature. The
issuer is the platform's public URL (TENANTMESH_PUBLIC_URL), so the document is found
at the address the tokens name.
"""

from __future__ import annotations

from tenantmesh.auth.v1 import auth_service_pb2 as pb

from services.runtime.auth.claims import ALGORITHM, REQUIRED_CLAIMS

JWKS_PATH = "/.well-known/jwks.json"
# The claims an access token carries (services/runtime/auth/claims.py).
CLAIMS = (*REQUIRED_CLAIMS, "roles", "perms")


def openid_configuration(issuer: str) -> pb.GetOpenIdConfigurationResponse:
    return pb.GetOpenIdConfigurationResponse(
        issuer=issuer,
        jwks_uri=issuer + JWKS_PATH,
        id_token_signing_alg_values_supported=[ALGORITHM],
        subject_types_supported=["public"],
        response_types_supported=["token"],
        claims_supported=list(CLAIMS),
    )
