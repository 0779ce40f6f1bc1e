"""A tenant's second-factor policy: the domain behind MfaPolicyService, and the login's question
"must this member use a second factor here?"."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from tenantmesh.auth.v1 import admin_service_pb2 as pb

from services.auth.deps import AuthDeps
from services.auth.identities import record
from services.auth.models import MfaPolicyRow
from services.auth.role_admin import resolve_roles
from services.runtime.errors import Aborted, CommonReason
from services.runtime.proto_values import etag_of
from services.runtime.resources import check_etag


@dataclass(frozen=True)
class MfaPolicy:
    require_all: bool
    roles: tuple[str, ...]
    revision: int  # 0: never set

    def requires(self, member_roles: Sequence[str]) -> bool:
        return self.require_all or any(role in self.roles for role in member_roles)


NO_POLICY = MfaPolicy(require_all=False, roles=(), revision=0)


def policy_to_proto(policy: MfaPolicy) -> pb.MfaPolicy:
    return pb.MfaPolicy(
        require_all=policy.require_all,
        required_roles=list(policy.roles),
        etag=etag_of(policy.revision) if policy.revision else "",
    )


async def policy_of(session: AsyncSession, tenant_id: str, *, for_update: bool = False) -> MfaPolicy:
    query = select(MfaPolicyRow).where(MfaPolicyRow.tenant_id == tenant_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        return NO_POLICY
    return policy_from_columns(row.require_all, row.roles_json, row.revision)


def policy_from_columns(require_all: bool | None, roles_json: str | None, revision: int | None) -> MfaPolicy:
    """The policy of an ``auth_mfa_policies`` row read as columns (all None: no row, no policy)."""
    if require_all is None or roles_json is None or revision is None:
        return NO_POLICY
    return MfaPolicy(bool(require_all), tuple(json.loads(roles_json)), revision)


class MfaPolicies:
    def __init__(self, deps: AuthDeps) -> None:
        self._db = deps.db
        self._catalog = deps.roles

    async def get(self, tenant_id: str) -> MfaPolicy:
        async with self._db.core_session() as session:
            return await policy_of(session, tenant_id)

    async def update(self, tenant_id: str, *, require_all: bool, roles: Sequence[str], etag: str) -> MfaPolicy:
        names = sorted(set(roles))
        try:
            async with self._db.core_session() as session:
                await resolve_roles(session, self._catalog, tenant_id, names, field="policy.required_roles")
                current = await policy_of(session, tenant_id, for_update=True)
                if current.revision:
                    check_etag(current.revision, etag, "policy")
                row = await session.get(MfaPolicyRow, tenant_id)
                if row is None:
                    row = MfaPolicyRow(tenant_id=tenant_id, require_all=require_all, roles_json="[]", revision=0)
                    session.add(row)
                row.require_all = require_all
                row.roles_json = json.dumps(names)
                row.revision = current.revision + 1
                record(
                    session,
                    "auth.mfa_policy.updated",
                    tenant_id,
                    "mfa-policy",
                    require_all=str(require_all).lower(),
                    roles=",".join(names),
                )
                await session.commit()
        except IntegrityError:
            raise Aborted("the policy changed concurrently; read it again", reason=CommonReason.ETAG_MISMATCH) from None
        return MfaPolicy(require_all, tuple(names), current.revision + 1)
