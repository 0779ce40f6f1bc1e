"""The webhook channel of the delivery queue: one signed POST per attempt.

The dispatcher (services/runtime/delivery) claims a job, this sends it and
records the attempt in the delivery log; the dispatcher retries failures with
backoff and dead-letters the job after the last attempt. Secrets are read at
send time, so a delivery queued before a rotation is signed with the secrets
valid when it is sent.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
import time
import urllib.parse
from datetime import datetime

import httpx
from sqlalchemy import select, update

from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter
from services.runtime.delivery import DeadReason, Job, PermanentFailure, TransientFailure
from services.runtime.http_status import status_within
from services.runtime.sealing import Sealer, UnsealError
from services.webhooks.deliveries import CHANNEL, Deliveries
from services.webhooks.endpoints import Endpoint, EndpointRefused, EndpointUnresolvable, check_endpoint
from services.webhooks.models import DeliveryLogRow, WebhookRow
from services.webhooks.secret_store import signing_secrets
from services.webhooks.settings import WebhookSettings
from services.webhooks.signing import signature_header

log = logging.getLogger("tenantmesh.webhooks")

USER_AGENT = "Tenantmesh-Webhooks/1"


def _tls_context(settings: WebhookSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.ca_file is not None:
        context.load_verify_locations(cafile=str(settings.ca_file))
    return context


def pinned_url(endpoint: Endpoint) -> str:
    """The endpoint's URL with its host replaced by the checked address (the connection goes there;
    the Host header and TLS server name keep the real host)."""
    parts = urllib.parse.urlsplit(endpoint.url)
    address = endpoint.addresses[0]
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{host}:{endpoint.port}"))


def _host_header(endpoint: Endpoint) -> str:
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return host if endpoint.port == 443 else f"{host}:{endpoint.port}"


class WebhookChannel:
    name = CHANNEL

    def __init__(self, db: DatabaseRouter, sealer: Sealer, deliveries: Deliveries, settings: WebhookSettings) -> None:
        self._db = db
        self._sealer = sealer
        self._deliveries = deliveries
        self._settings = settings
        self._client = httpx.AsyncClient(
            verify=_tls_context(settings),
            timeout=settings.timeout_seconds,
            # A redirect would lead the request past the address check.
            follow_redirects=False,
            trust_env=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def deliver(self, job: Job) -> None:
        delivery_id = str(job.payload["delivery_id"])
        async with self._db.core_session() as session:
            found = (
                await session.execute(
                    select(DeliveryLogRow, WebhookRow)
                    .join(WebhookRow, WebhookRow.webhook_id == DeliveryLogRow.webhook_id)
                    .where(DeliveryLogRow.delivery_id == delivery_id)
                )
            ).first()
        if found is None:
            raise PermanentFailure("the webhook was deleted")
        entry, webhook = found
        if webhook.disabled:
            raise PermanentFailure("the webhook is disabled")
        now = utcnow()
        try:
            body = self._deliveries.open_body(entry)
            secrets = signing_secrets(self._sealer, webhook, now)
        except UnsealError:
            raise PermanentFailure("stored content does not open", DeadReason.PAYLOAD_UNREADABLE) from None
        status, error = await self._post(webhook.url, entry, body, secrets)
        await self._record(entry.delivery_id, now, status, error)
        if error:
            raise TransientFailure(error)

    async def _post(self, url: str, entry: DeliveryLogRow, body: bytes, secrets: list[str]) -> tuple[int, str]:
        """Sends once; returns the status (0 without an answer) and the error ("" on success)."""
        try:
            endpoint = await check_endpoint(url, self._settings.allowed_networks)
        except EndpointRefused as exc:
            return 0, f"refused: {exc}"
        except EndpointUnresolvable as exc:
            return 0, str(exc)
        timestamp = int(time.time())
        headers = {
            "host": _host_header(endpoint),
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": entry.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(secrets, entry.event_id, timestamp, body),
            "webhook-delivery-id": entry.delivery_id,
            "webhook-event-type": entry.event_type,
        }
        try:
            status = await status_within(
                self._client,
                "POST",
                pinned_url(endpoint),
                self._settings.timeout_seconds,
                content=body,
                headers=headers,
                extensions={"sni_hostname": endpoint.host},
            )
        except (TimeoutError, httpx.TimeoutException):
            return 0, f"no answer within {self._settings.timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            # The class names what failed (connect, TLS, protocol) without quoting the endpoint's reply.
            return 0, f"{type(exc).__name__}: {exc}"[:300]
        if 200 <= status < 300:
            return status, ""
        return status, f"HTTP {status}"

    async def _record(self, delivery_id: str, when: datetime, status: int, error: str) -> None:
        async with self._db.core_session() as session:
            await session.execute(
                update(DeliveryLogRow)
                .where(DeliveryLogRow.delivery_id == delivery_id)
                .values(
                    attempts=DeliveryLogRow.attempts + 1,
                    succeeded=not error,
                    last_status_code=status,
                    last_error=error[:500],
                    last_attempt_time=when,
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        if error:
            log.info("webhook delivery %s failed: %s", delivery_id, error)
