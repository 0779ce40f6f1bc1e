"""Webhooks of the caller's tenant: the domain behind WebhookService's management handlers.

Every query is filtered by the current call's tenant (checked by the runtime), so
another tenant's webhook is as absent as one that never existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.clock import utcnow
from services.runtime.context import current_tenant
from services.runtime.db import DatabaseRouter
from services.runtime.delivery import DeliveryRow, JobState
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound, ResourceExhausted
from services.runtime.ids import uuid7
from services.runtime.limits import count_after_insert
from services.runtime.paging import Page, page_of, page_request
from services.runtime.resources import bump_revision, check_etag, check_update_mask
from services.runtime.sealing import Sealer
from services.webhooks.endpoints import EndpointRefused, EndpointUnresolvable, check_endpoint
from services.webhooks.models import DeliveryLogRow, WebhookRow
from services.webhooks.reasons import WebhookReason
from services.webhooks.secret_store import current_secret, seal_secret
from services.webhooks.settings import WebhookSettings
from services.webhooks.signing import new_secret

UPDATABLE_FIELDS = ("url", "event_types", "description", "disabled")
DEFAULT_OVERLAP_SECONDS = 86_400


@dataclass(frozen=True)
class WebhookSpec:
    url: str
    event_types: Sequence[str]
    description: str
    disabled: bool


def webhook_not_found() -> NotFound:
    return NotFound("no such webhook", reason=WebhookReason.WEBHOOK_NOT_FOUND)


async def owned_webhook(session: AsyncSession, webhook_id: str, *, for_update: bool = False) -> WebhookRow:
    """The current call's tenant's webhook; another tenant's is as absent as an unknown one."""
    query = select(WebhookRow).where(
        WebhookRow.webhook_id == webhook_id, WebhookRow.tenant_id == current_tenant().tenant_id
    )
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise webhook_not_found()
    return row


def event_types_of(row: WebhookRow) -> list[str]:
    return row.event_types.split()


def _require(spec: WebhookSpec, fields: Sequence[str]) -> None:
    """The fields the request's rules leave optional (for updates of other fields) but a webhook needs."""
    missing = [field for field in fields if not getattr(spec, field)]
    if missing:
        raise InvalidArgument(
            "a webhook needs a url and at least one event type",
            violations=[FieldViolation(f"webhook.{field}", "value is required") for field in missing],
        )


class Webhooks:
    def __init__(self, db: DatabaseRouter, sealer: Sealer, settings: WebhookSettings) -> None:
        self._db = db
        self._sealer = sealer
        self._settings = settings

    async def _check_url(self, url: str, field: str) -> None:
        try:
            await check_endpoint(url, self._settings.allowed_networks)
        except EndpointRefused as exc:
            raise InvalidArgument(
                "the webhook's URL is not allowed",
                reason=WebhookReason.WEBHOOK_URL_FORBIDDEN,
                violations=[FieldViolation(field, str(exc), WebhookReason.WEBHOOK_URL_FORBIDDEN)],
            ) from None
        except EndpointUnresolvable as exc:
            raise InvalidArgument(
                "the webhook's URL does not resolve",
                reason=WebhookReason.WEBHOOK_URL_UNRESOLVABLE,
                violations=[FieldViolation(field, str(exc), WebhookReason.WEBHOOK_URL_UNRESOLVABLE)],
            ) from None

    async def create(self, spec: WebhookSpec) -> tuple[WebhookRow, str]:
        """The new webhook and its signing secret (returned this once)."""
        _require(spec, ("url", "event_types"))
        await self._check_url(spec.url, "webhook.url")
        tenant_id = current_tenant().tenant_id
        now = utcnow()
        secret = new_secret()
        webhook_id = uuid7()
        row = WebhookRow(
            webhook_id=webhook_id,
            tenant_id=tenant_id,
            url=spec.url,
            event_types=" ".join(spec.event_types),
            description=spec.description,
            disabled=spec.disabled,
            secret=seal_secret(self._sealer, webhook_id, secret),
            previous_secret=None,
            previous_secret_expire_time=None,
            revision=1,
            create_time=now,
            update_time=now,
        )
        async with self._db.core_session() as session:
            session.add(row)
            if await count_after_insert(session, WebhookRow, WebhookRow.tenant_id == tenant_id) > (
                self._settings.max_per_tenant
            ):
                raise ResourceExhausted(
                    f"a tenant has at most {self._settings.max_per_tenant} webhooks",
                    reason=WebhookReason.WEBHOOK_LIMIT_REACHED,
                )
            await session.commit()
        return row, secret

    async def get(self, webhook_id: str) -> WebhookRow:
        async with self._db.core_session() as session:
            return await owned_webhook(session, webhook_id)

    async def list(self, page_size: int, page_token: str) -> Page[WebhookRow]:
        tenant_id = current_tenant().tenant_id
        page, marker = page_request(page_size, page_token, "webhooks", tenant_id)
        query = (
            select(WebhookRow)
            .where(WebhookRow.tenant_id == tenant_id)
            .order_by(WebhookRow.webhook_id)
            .limit(page.limit)
        )
        if page.after is not None:
            query = query.where(WebhookRow.webhook_id > page.after)
        async with self._db.core_session() as session:
            rows = list((await session.execute(query)).scalars())
        return page_of(rows, page, marker, lambda row: row.webhook_id)

    async def update(self, webhook_id: str, etag: str, mask: Sequence[str], spec: WebhookSpec) -> WebhookRow:
        check_update_mask(mask, UPDATABLE_FIELDS)
        _require(spec, [field for field in ("url", "event_types") if field in mask])
        if "url" in mask:
            await self._check_url(spec.url, "webhook.url")
        values: dict[str, object] = {
            "url": spec.url,
            "event_types": " ".join(spec.event_types),
            "description": spec.description,
            "disabled": spec.disabled,
        }
        async with self._db.core_session() as session:
            row = await owned_webhook(session, webhook_id, for_update=True)
            check_etag(row.revision, etag, "webhook")
            await bump_revision(session, row, "webhook", **{field: values[field] for field in mask})
            await session.commit()
        return await self.get(webhook_id)

    async def delete(self, webhook_id: str, etag: str) -> None:
        """Deletes the webhook with its log and the deliveries still queued for it, in one transaction."""
        async with self._db.core_session() as session:
            row = await owned_webhook(session, webhook_id, for_update=True)
            check_etag(row.revision, etag, "webhook")
            await delete_webhooks(session, [row.webhook_id])
            await session.commit()

    async def rotate_secret(self, webhook_id: str, overlap_seconds: int | None) -> tuple[WebhookRow, str]:
        overlap = DEFAULT_OVERLAP_SECONDS if overlap_seconds is None else overlap_seconds
        secret = new_secret()
        async with self._db.core_session() as session:
            row = await owned_webhook(session, webhook_id, for_update=True)
            current = current_secret(self._sealer, row)
            await bump_revision(
                session,
                row,
                "webhook",
                secret=seal_secret(self._sealer, row.webhook_id, secret),
                previous_secret=seal_secret(self._sealer, row.webhook_id, current, previous=True) if overlap else None,
                previous_secret_expire_time=utcnow() + timedelta(seconds=overlap) if overlap else None,
            )
            await session.commit()
        return await self.get(webhook_id), secret


async def delete_webhooks(session: AsyncSession, webhook_ids: Sequence[str]) -> None:
    """Deletes webhooks, their delivery logs and their queued (not yet sent) deliveries."""
    if not webhook_ids:
        return
    jobs = select(DeliveryLogRow.job_id).where(DeliveryLogRow.webhook_id.in_(webhook_ids))
    await session.execute(
        delete(DeliveryRow)
        .where(DeliveryRow.job_id.in_(jobs))
        .where(DeliveryRow.state == JobState.PENDING)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(DeliveryLogRow)
        .where(DeliveryLogRow.webhook_id.in_(webhook_ids))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(WebhookRow).where(WebhookRow.webhook_id.in_(webhook_ids)).execution_options(synchronize_session=False)
    )
