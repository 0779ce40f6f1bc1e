"""WebhookService handlers: thin adapters between protobuf and the domain."""

from __future__ import annotations

from typing import Any

import grpc
from tenantmesh.webhooks.v1 import webhook_service_pb2 as pb
from tenantmesh.webhooks.v1 import webhook_service_pb2_grpc as pb_grpc

from services.runtime.delivery import JobState
from services.webhooks.convert import delivery_to_proto, webhook_to_proto
from services.webhooks.deliveries import Deliveries
from services.webhooks.webhooks import Webhooks, WebhookSpec

Context = grpc.aio.ServicerContext[Any, Any]


def _spec(webhook: pb.Webhook) -> WebhookSpec:
    return WebhookSpec(
        url=webhook.url,
        event_types=list(webhook.event_types),
        description=webhook.description,
        disabled=webhook.disabled,
    )


class WebhookServicer(pb_grpc.WebhookServiceServicer):
    def __init__(self, webhooks: Webhooks, deliveries: Deliveries) -> None:
        self._webhooks = webhooks
        self._deliveries = deliveries

    async def CreateWebhook(self, request: pb.CreateWebhookRequest, context: Context) -> pb.CreateWebhookResponse:
        """Permission webhooks.webhooks.create, tenant-scoped. Reasons: FIELD_INVALID, WEBHOOK_URL_FORBIDDEN,
        WEBHOOK_URL_UNRESOLVABLE, WEBHOOK_LIMIT_REACHED."""
        row, secret = await self._webhooks.create(_spec(request.webhook))
        return pb.CreateWebhookResponse(webhook=webhook_to_proto(row), signing_secret=secret)

    async def GetWebhook(self, request: pb.GetWebhookRequest, context: Context) -> pb.GetWebhookResponse:
        """Permission webhooks.webhooks.get, tenant-scoped. Reasons: WEBHOOK_NOT_FOUND."""
        return pb.GetWebhookResponse(webhook=webhook_to_proto(await self._webhooks.get(request.webhook_id)))

    async def ListWebhooks(self, request: pb.ListWebhooksRequest, context: Context) -> pb.ListWebhooksResponse:
        """Permission webhooks.webhooks.list, tenant-scoped. Reasons: FIELD_INVALID, PAGE_TOKEN_INVALID."""
        page = await self._webhooks.list(request.page_size, request.page_token)
        return pb.ListWebhooksResponse(
            webhooks=[webhook_to_proto(row) for row in page.items], next_page_token=page.next_page_token
        )

    async def UpdateWebhook(self, request: pb.UpdateWebhookRequest, context: Context) -> pb.UpdateWebhookResponse:
        """Permission webhooks.webhooks.update, tenant-scoped. Reasons: WEBHOOK_NOT_FOUND, ETAG_MISMATCH,
        FIELD_INVALID, WEBHOOK_URL_FORBIDDEN, WEBHOOK_URL_UNRESOLVABLE."""
        webhook = request.webhook
        row = await self._webhooks.update(
            webhook.webhook_id, webhook.etag, list(request.update_mask.paths), _spec(webhook)
        )
        return pb.UpdateWebhookResponse(webhook=webhook_to_proto(row))

    async def DeleteWebhook(self, request: pb.DeleteWebhookRequest, context: Context) -> pb.DeleteWebhookResponse:
        """Permission webhooks.webhooks.delete, tenant-scoped. Reasons: WEBHOOK_NOT_FOUND, ETAG_MISMATCH."""
        await self._webhooks.delete(request.webhook_id, request.etag)
        return pb.DeleteWebhookResponse()

    async def RotateWebhookSecret(
        self, request: pb.RotateWebhookSecretRequest, context: Context
    ) -> pb.RotateWebhookSecretResponse:
        """Permission webhooks.webhooks.update, tenant-scoped. Reasons: WEBHOOK_NOT_FOUND, FIELD_INVALID."""
        overlap = request.overlap_seconds if request.HasField("overlap_seconds") else None
        row, secret = await self._webhooks.rotate_secret(request.webhook_id, overlap)
        return pb.RotateWebhookSecretResponse(webhook=webhook_to_proto(row), signing_secret=secret)

    async def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, context: Context
    ) -> pb.ListWebhookDeliveriesResponse:
        """Permission webhooks.deliveries.list, tenant-scoped. Reasons: WEBHOOK_NOT_FOUND, FIELD_INVALID,
        PAGE_TOKEN_INVALID."""
        page = await self._deliveries.list(request.webhook_id, request.page_size, request.page_token)
        return pb.ListWebhookDeliveriesResponse(
            deliveries=[delivery_to_proto(row, state) for row, state in page.items],
            next_page_token=page.next_page_token,
        )

    async def ReplayWebhookDelivery(
        self, request: pb.ReplayWebhookDeliveryRequest, context: Context
    ) -> pb.ReplayWebhookDeliveryResponse:
        """Permission webhooks.deliveries.replay, tenant-scoped. Reasons: WEBHOOK_NOT_FOUND, DELIVERY_NOT_FOUND."""
        row = await self._deliveries.replay(request.webhook_id, request.delivery_id)
        return pb.ReplayWebhookDeliveryResponse(delivery=delivery_to_proto(row, JobState.PENDING))
