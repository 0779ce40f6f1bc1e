"""Deliveries: events fanned out to webhooks, the delivery log, and replays.

Each event of a tenant that a webhook subscribes to becomes, in one core
transaction, a row of the delivery log and a job of the runtime's delivery queue
(services/runtime/delivery), which sends it with retries and backoff. The log
row's dedup key makes the fan-out idempotent: the event bus delivers at least
once, and an event handled twice finds its deliveries already queued.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.clock import utcnow
from services.runtime.context import current_tenant
from services.runtime.db import DatabaseRouter
from services.runtime.delivery import DeliveryRow, enqueue
from services.runtime.errors import NotFound
from services.runtime.events import Event
from services.runtime.ids import uuid7
from services.runtime.paging import Page, page_of, page_request
from services.runtime.sealing import Sealer
from services.webhooks.models import DeliveryLogRow, WebhookRow
from services.webhooks.reasons import WebhookReason
from services.webhooks.webhooks import delete_webhooks, event_types_of, owned_webhook

CHANNEL = "webhook"
# What tenants may subscribe to (the proto lists the same; a test keeps them in step).
EVENT_TYPES = (
    "tenant.updated",
    "tenant.suspended",
    "tenant.resumed",
    "tenant.deleting",
    "user.created",
    "user.updated",
    "user.deleted",
    "tenant_service.enabled",
    "tenant_service.updated",
    "tenant_service.disabled",
    "form.submission.created",
)
TENANT_DELETED = "tenant.deleted"
_FAN_OUT_TRIES = 3


def body_of(event: Event) -> bytes:
    """What the endpoint receives: the event in the REST API's JSON style (lowerCamelCase)."""
    payload = event.payload
    data: dict[str, Any] = json_format.MessageToDict(payload) if isinstance(payload, Message) else dict(payload)
    document = {
        "id": event.id,
        "type": event.type,
        "tenantId": event.tenant_id,
        "time": datetime.fromtimestamp(event.time, UTC).isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def _body_context(delivery_id: str) -> str:
    return f"webhook-delivery:{delivery_id}"


class Deliveries:
    def __init__(self, db: DatabaseRouter, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    async def on_event(self, event: Event) -> None:
        """Queues the event for every enabled webhook of its tenant subscribed to its type."""
        if event.tenant_id is None:
            return
        if event.type == TENANT_DELETED:
            await self._forget_tenant(event.tenant_id)
            return
        if event.type not in EVENT_TYPES:
            return
        for _ in range(_FAN_OUT_TRIES):
            try:
                await self._fan_out(event)
                return
            except IntegrityError:
                # The same event fanned out concurrently (published at once after its commit and
                # again by the relay, or taken over by another consumer): theirs committed; the
                # next pass finds its deliveries queued and adds only what is missing.
                continue
        await self._fan_out(event)

    async def _fan_out(self, event: Event) -> None:
        assert event.tenant_id is not None
        async with self._db.core_session() as session:
            webhooks = [
                row
                for row in (
                    await session.execute(
                        select(WebhookRow).where(
                            WebhookRow.tenant_id == event.tenant_id, WebhookRow.disabled.is_(False)
                        )
                    )
                ).scalars()
                if event.type in event_types_of(row)
            ]
            if not webhooks:
                return
            keys = {f"{row.webhook_id}:{event.id}": row for row in webhooks}
            queued = set(
                (
                    await session.execute(select(DeliveryLogRow.dedup_key).where(DeliveryLogRow.dedup_key.in_(keys)))
                ).scalars()
            )
            body = body_of(event)
            for key, row in keys.items():
                if key not in queued:
                    self._queue(session, row, event.id, event.type, body, dedup_key=key)
            await session.commit()

    def _queue(
        self,
        session: AsyncSession,
        webhook: WebhookRow,
        event_id: str,
        event_type: str,
        body: bytes,
        *,
        dedup_key: str | None = None,
        replay_of: str | None = None,
    ) -> DeliveryLogRow:
        delivery_id = uuid7()
        job_id = enqueue(
            session, CHANNEL, {"delivery_id": delivery_id}, topic=f"webhook {event_type}", tenant_id=webhook.tenant_id
        )
        row = DeliveryLogRow(
            delivery_id=delivery_id,
            dedup_key=dedup_key or delivery_id,
            tenant_id=webhook.tenant_id,
            webhook_id=webhook.webhook_id,
            event_id=event_id,
            event_type=event_type,
            job_id=job_id,
            replay_of=replay_of,
            body=self._sealer.seal(body, _body_context(delivery_id)),
            attempts=0,
            succeeded=False,
            last_status_code=0,
            last_error="",
            create_time=utcnow(),
            last_attempt_time=None,
        )
        session.add(row)
        return row

    def open_body(self, row: DeliveryLogRow) -> bytes:
        return self._sealer.open(row.body, _body_context(row.delivery_id))

    async def _forget_tenant(self, tenant_id: str) -> None:
        async with self._db.core_session() as session:
            ids = list(
                (
                    await session.execute(select(WebhookRow.webhook_id).where(WebhookRow.tenant_id == tenant_id))
                ).scalars()
            )
            await delete_webhooks(session, ids)
            await session.commit()

    async def list(self, webhook_id: str, page_size: int, page_token: str) -> Page[tuple[DeliveryLogRow, str | None]]:
        """The webhook's log, newest first, each row with its queue job's state (None once purged)."""
        tenant_id = current_tenant().tenant_id
        page, marker = page_request(page_size, page_token, "webhook-deliveries", tenant_id, webhook_id)
        query = (
            select(DeliveryLogRow, DeliveryRow.state)
            .outerjoin(DeliveryRow, DeliveryRow.job_id == DeliveryLogRow.job_id)
            .where(DeliveryLogRow.tenant_id == tenant_id, DeliveryLogRow.webhook_id == webhook_id)
            .order_by(DeliveryLogRow.delivery_id.desc())
            .limit(page.limit)
        )
        if page.after is not None:
            query = query.where(DeliveryLogRow.delivery_id < page.after)
        async with self._db.core_session() as session:
            await owned_webhook(session, webhook_id)
            rows = [(log, state) for log, state in (await session.execute(query)).all()]
        return page_of(rows, page, marker, lambda pair: pair[0].delivery_id)

    async def replay(self, webhook_id: str, delivery_id: str) -> DeliveryLogRow:
        tenant_id = current_tenant().tenant_id
        async with self._db.core_session() as session:
            webhook = await owned_webhook(session, webhook_id)
            original = (
                await session.execute(
                    select(DeliveryLogRow).where(
                        DeliveryLogRow.delivery_id == delivery_id,
                        DeliveryLogRow.webhook_id == webhook_id,
                        DeliveryLogRow.tenant_id == tenant_id,
                    )
                )
            ).scalar_one_or_none()
            if original is None:
                raise NotFound("no such delivery", reason=WebhookReason.DELIVERY_NOT_FOUND)
            row = self._queue(
                session,
                webhook,
                original.event_id,
                original.event_type,
                self.open_body(original),
                replay_of=original.delivery_id,
            )
            await session.commit()
        return row
