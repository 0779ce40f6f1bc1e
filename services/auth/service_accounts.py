"""Service accounts of a tenant and their API keys: the domain behind ServiceAccountService.

A service account belongs to exactly one tenant. Its API key is shown once
when it is created; the platform keeps the SHA-256 digest (the key is long and
random, so a slow hash buys nothing).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.deps import AuthDeps
from services.auth.identities import record, service_account_subject
from services.auth.models import ServiceAccountRow
from services.auth.reasons import AuthReason
from services.auth.role_admin import check_authority, check_grant, resolve_roles, role_names
from services.runtime.clock import utcnow
from services.runtime.context import Principal
from services.runtime.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound
from services.runtime.ids import uuid7

API_KEY_SCHEME = "tmk"
_GENERATED_KEY = re.compile(rf"^({API_KEY_SCHEME}_[0-9a-f]{{8}})_.")


def api_key_hash(api_key: str) -> str:
    """What is stored of an API key: its SHA-256, hex."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def shown_prefix(api_key: str) -> str:
    """What may be shown of a key to tell it from others: ``tmk_<8 hex>`` of a key of the generated
    form, nothing of any other (an operator's configured service key is secret from end to end)."""
    match = _GENERATED_KEY.match(api_key)
    return match.group(1) if match else ""


def new_api_key() -> tuple[str, str]:
    """A fresh key ``tmk_<8 hex>_<secret>`` and what is shown to tell keys apart: its first
    characters up to the secret, ``tmk_<8 hex>`` (as the bootstrap service account's)."""
    prefix = f"{API_KEY_SCHEME}_{secrets.token_hex(4)}"
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


async def find_service_account_by_key(session: AsyncSession, api_key: str) -> ServiceAccountRow | None:
    """The service account an API key belongs to, None for an unknown or malformed key."""
    if not api_key.startswith(f"{API_KEY_SCHEME}_") or len(api_key) > 256:
        return None
    query = select(ServiceAccountRow).where(ServiceAccountRow.api_key_hash == api_key_hash(api_key))
    return (await session.execute(query)).scalar_one_or_none()


@dataclass(frozen=True)
class CreatedServiceAccount:
    account: ServiceAccountRow
    api_key: str  # in this result only; never stored


class ServiceAccounts:
    def __init__(self, deps: AuthDeps) -> None:
        self._db = deps.db
        self._catalog = deps.roles
        self._revoker = deps.revoker

    async def create_service_account(
        self, tenant_id: str, *, name: str, roles: Sequence[str] = (), caller: Principal | None = None
    ) -> CreatedServiceAccount:
        """A service account with a fresh API key; the key is returned here only, a hash is kept."""
        if not name:
            raise InvalidArgument(
                "a service account needs a name",
                violations=[FieldViolation("service_account.name", "value is required")],
            )
        names = role_names(roles)
        api_key, prefix = new_api_key()
        account = ServiceAccountRow(
            service_account_id=uuid7(),
            tenant_id=tenant_id,
            name=name,
            roles_json=json.dumps(names),
            api_key_prefix=prefix,
            api_key_hash=api_key_hash(api_key),
            create_time=utcnow(),
        )
        exists = AlreadyExists("a service account with this name exists", reason=AuthReason.SERVICE_ACCOUNT_EXISTS)
        try:
            async with self._db.core_session() as session:
                check_grant(
                    caller,
                    await resolve_roles(session, self._catalog, tenant_id, names, field="service_account.roles"),
                )
                taken = await session.execute(
                    select(ServiceAccountRow.service_account_id).where(
                        ServiceAccountRow.tenant_id == tenant_id, ServiceAccountRow.name == name
                    )
                )
                if taken.first() is not None:
                    raise exists
                session.add(account)
                record(
                    session,
                    "auth.service_account.created",
                    tenant_id,
                    service_account_subject(account.service_account_id),
                    name=name,
                    roles=",".join(names),
                    api_key_prefix=prefix,
                )
                await session.commit()
        except IntegrityError:
            raise exists from None
        return CreatedServiceAccount(account=account, api_key=api_key)

    async def list_service_accounts(self, tenant_id: str) -> list[ServiceAccountRow]:
        """The tenant's service accounts in creation order."""
        query = (
            select(ServiceAccountRow)
            .where(ServiceAccountRow.tenant_id == tenant_id)
            .order_by(ServiceAccountRow.service_account_id)
        )
        async with self._db.core_session() as session:
            return list((await session.execute(query)).scalars())

    async def delete_service_account(
        self, tenant_id: str, service_account_id: str, *, caller: Principal | None = None
    ) -> None:
        """Deletes the account (its key stops working) and revokes its tokens; ``caller`` must hold
        every permission the account holds (PERMISSION_DENIED / PERMISSION_ESCALATION)."""
        async with self._db.core_session() as session:
            account = (
                await session.execute(
                    select(ServiceAccountRow)
                    .where(
                        ServiceAccountRow.tenant_id == tenant_id,
                        ServiceAccountRow.service_account_id == service_account_id,
                    )
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if account is None:
                raise NotFound("no such service account in this tenant", reason=AuthReason.SERVICE_ACCOUNT_NOT_FOUND)
            await check_authority(session, self._catalog, caller, account)
            await session.delete(account)
            record(session, "auth.service_account.deleted", tenant_id, service_account_subject(service_account_id))
            await session.commit()
        await self._revoker.revoke_subject(service_account_subject(service_account_id))
