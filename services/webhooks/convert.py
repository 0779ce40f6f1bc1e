"""Rows to protos."""

from __future__ import annotations

from tenantmesh.webhooks.v1 import webhook_service_pb2 as pb

from services.runtime.delivery import JobState
from services.runtime.proto_values import copy_fields, timestamp
from services.runtime.resources import stamps
from services.webhooks.models import DeliveryLogRow, WebhookRow
from services.webhooks.webhooks import event_types_of


def webhook_to_proto(row: WebhookRow) -> pb.Webhook:
    return pb.Webhook(
        **copy_fields(row, "webhook_id", "url", "description", "disabled"),
        event_types=event_types_of(row),
        previous_secret_expire_time=timestamp(row.previous_secret_expire_time),
        **stamps(row),
    )


def _state(row: DeliveryLogRow, job_state: str | None) -> pb.DeliveryState:
    if row.succeeded:
        return pb.DELIVERY_STATE_SUCCEEDED
    if job_state == JobState.PENDING:
        return pb.DELIVERY_STATE_PENDING
    # Dead-lettered, or its dead job was discarded by an operator.
    return pb.DELIVERY_STATE_FAILED


def delivery_to_proto(row: DeliveryLogRow, job_state: str | None) -> pb.WebhookDelivery:
    return pb.WebhookDelivery(
        **copy_fields(
            row, "delivery_id", "webhook_id", "event_id", "event_type", "attempts", "last_status_code", "last_error"
        ),
        state=_state(row, job_state),
        replay_of=row.replay_of or "",
        create_time=timestamp(row.create_time),
        last_attempt_time=timestamp(row.last_attempt_time),
    )
