"""How long a revocation is kept: until the last token it may refuse has expired for every verifier,
including tokens signed by an auth process whose clock runs ahead of the revoker's by as much as
verifiers accept (ISSUED_AHEAD_LEEWAY_SECONDS)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.runtime.auth.claims import AccessClaims
from services.runtime.auth.revocation import RevocationList
from services.runtime.auth.verifier import ISSUED_AHEAD_LEEWAY_SECONDS, LEEWAY_SECONDS
from services.runtime.ids import uuid7
from tests.support.auth_admin import TOKEN_TTL_SECONDS, AdminMesh, admin_mesh


@pytest.fixture
async def mesh(db_backend_url: str) -> AsyncIterator[AdminMesh]:
    async with admin_mesh(db_backend_url) as started:
        yield started


def _signed_ahead(session_id: str, subject: str, tenant_id: str, real_time: float) -> AccessClaims:
    """The longest-lived token a process whose clock runs ahead by the accepted leeway can sign
    at ``real_time``: its issue and expiry times are on that clock."""
    issued_at = int(real_time) + ISSUED_AHEAD_LEEWAY_SECONDS
    return AccessClaims(
        subject=subject,
        tenant_id=tenant_id,
        session_id=session_id,
        roles=("member",),
        permissions=frozenset(),
        issued_at=issued_at,
        expires_at=issued_at + TOKEN_TTL_SECONDS,
        token_id=uuid7(),
    )


async def test_a_revoked_session_stays_revoked_while_a_token_signed_ahead_is_accepted(mesh: AdminMesh) -> None:
    session_id = uuid7()
    await mesh.deps.revoker.revoke_session(session_id, mesh.tenant_a)
    (revocation,) = mesh.published
    token = _signed_ahead(session_id, f"user:{uuid7()}", mesh.tenant_a, revocation.cutoff)
    # The last moment a verifier whose clock is right still takes the token (expiry leeway).
    last_accepted = token.expires_at + LEEWAY_SECONDS - 1
    assert revocation.expires > last_accepted
    revocations = RevocationList()
    revocations.apply(revocation)
    revocations.prune(now=last_accepted)
    assert revocations.is_revoked(token)
