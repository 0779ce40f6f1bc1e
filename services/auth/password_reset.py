"""Replacing a user's password from outside their own session: a home-tenant administrator
(UserService.SetUserPassword), an operator at the command line (the platform administrator,
through the service key or straight in the database), or the user through a mailed link.

Every path ends the user's sessions: whoever had the old password must not keep a way in.

A reset request answers the same, as quickly, whether or not the tenant has a member with
that email: the answer is given once the request passed its rate limits (per address and per
client, counted whether or not the member exists), and the lookup, the token and the mail are
done after the answer, in a task of their own. A request lost to a crash in between is one the
person repeats; nothing about who exists can be read from the answer or its timing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import audit, mail, mailed_tokens
from services.auth.identities import end_sessions, find_member_by_email, normalize_email, record_by_user, user_subject
from services.auth.models import UserRow
from services.auth.passwords import check_policy, hash_password
from services.auth.reasons import AuthReason
from services.auth.revocation import Revoker
from services.auth.throttle import LoginThrottle, account_key, address_key
from services.runtime.clock import utcnow
from services.runtime.context import TenantContext, client_address_var
from services.runtime.db import DatabaseRouter
from services.runtime.errors import NotFound

_log = logging.getLogger(__name__)


async def replace_password(session: AsyncSession, user: UserRow, password_hash: str, reason: str) -> None:
    """Stores the new hash and revokes every session of the user (in ``session``; the caller commits,
    then publishes ``revoke_subject`` so that live access tokens are refused too)."""
    await session.execute(
        update(UserRow)
        .where(UserRow.user_id == user.user_id)
        .values(password_hash=password_hash, revision=UserRow.revision + 1, update_time=utcnow())
    )
    await end_sessions(session, user.user_id, reason)


def reset_token_invalid() -> NotFound:
    return NotFound("the reset link is not valid (used, expired or unknown)", reason=AuthReason.RESET_TOKEN_INVALID)


class PasswordResets:
    def __init__(
        self,
        db: DatabaseRouter,
        revoker: Revoker,
        throttle: LoginThrottle,
        resolve_tenant: Callable[[str], Awaitable[TenantContext | None]],
        *,
        ttl_seconds: float,
        per_address: int,
        per_client: int,
    ) -> None:
        self._db = db
        self._revoker = revoker
        self._throttle = throttle
        self._resolve_tenant = resolve_tenant
        self._ttl = ttl_seconds
        self._per_address = per_address
        self._per_client = per_client
        self._tasks: set[asyncio.Task[None]] = set()

    async def request(self, tenant_reference: str, email: str, locale: str) -> None:
        email = normalize_email(email)
        # The tenant is resolved before the answer (only the member's lookup waits until after
        # it): every spelling of one tenant counts against one limit.
        tenant = await self._resolve_tenant(tenant_reference)
        keys = (
            account_key(tenant.tenant_id if tenant else None, tenant_reference, email, self._per_address, kind="reset"),
            address_key(client_address_var.get(), self._per_client, kind="reset-client"),
        )
        # Every request counts, found or not: the limit is on asking, not on failing.
        await self._throttle.reserve(keys, reason=AuthReason.RESET_RATE_LIMITED)
        task = asyncio.create_task(self._send(tenant_reference, email, locale, client_address_var.get()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, tenant_reference: str, email: str, locale: str, client_address: str) -> None:
        try:
            tenant = await self._resolve_tenant(tenant_reference)
            async with self._db.core_session() as session:
                found = await find_member_by_email(session, tenant.tenant_id, email) if tenant else None
                if found is None or found[0].disabled or tenant is None:
                    return
                user = found[0]
                token, expires = await mailed_tokens.issue(
                    session, user.user_id, mailed_tokens.RESET_PASSWORD, user.email, self._ttl
                )
                mail.send(
                    session,
                    "password_reset",
                    user.email,
                    {
                        "name": user.display_name,
                        "tenant": tenant.slug,
                        "token": token,
                        "expires": mailed_tokens.expiry_text(expires),
                    },
                    locale=locale,
                    tenant_id=tenant.tenant_id,
                )
                audit.record(
                    session,
                    "auth.password.reset_requested",
                    tenant_id=tenant.tenant_id,
                    actor="anonymous",
                    target=user_subject(user.user_id),
                    client_address=client_address,
                )
                await session.commit()
        except Exception:
            _log.exception("a password reset request could not be processed")

    async def complete(self, token: str, new_password: str) -> None:
        check_policy(new_password, "new_password")
        password_hash = await hash_password(new_password)
        async with self._db.core_session() as session:
            row = await mailed_tokens.spend(session, token, mailed_tokens.RESET_PASSWORD)
            user = await session.get(UserRow, row.user_id) if row is not None else None
            if row is None or user is None or user.disabled or row.email != user.email:
                raise reset_token_invalid()
            await replace_password(session, user, password_hash, "PASSWORD_RESET")
            # The link reached the address: it is the user's.
            await session.execute(update(UserRow).where(UserRow.user_id == user.user_id).values(email_verified=True))
            record_by_user(session, "auth.password.reset", user.home_tenant_id, user.user_id)
            await session.commit()
        await self._revoker.revoke_subject(user_subject(user.user_id))

    async def drain(self) -> None:
        """Waits for requests still being processed (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
