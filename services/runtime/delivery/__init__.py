"""Durable outbound delivery: messages queued in the producer's transaction, sent by a dispatcher.

Channels (mail today, webhooks next) implement :class:`Channel`; producers call
:func:`enqueue` with their core session (mail has its own ``queue_mail``). See
``dispatcher`` for the guarantees: never lost, each attempt by one dispatcher,
retried with backoff, dead-lettered with a reason.
"""

from services.runtime.delivery.channel import Channel, Job, PermanentFailure, TransientFailure
from services.runtime.delivery.dead_letters import (
    DeadLetter,
    discard_dead_letters,
    list_dead_letters,
    retry_dead_letters,
)
from services.runtime.delivery.dispatcher import Dispatcher, backoff_seconds
from services.runtime.delivery.models import DELIVERY_MIGRATIONS, DeadReason, DeliveryRow, JobState
from services.runtime.delivery.queue import Delivery, DeliveryNotEnabled, enqueue
from services.runtime.delivery.settings import DeliverySettings, load_delivery_settings

__all__ = [
    "DELIVERY_MIGRATIONS",
    "Channel",
    "DeadLetter",
    "DeadReason",
    "Delivery",
    "DeliveryNotEnabled",
    "DeliveryRow",
    "DeliverySettings",
    "Dispatcher",
    "Job",
    "JobState",
    "PermanentFailure",
    "TransientFailure",
    "backoff_seconds",
    "discard_dead_letters",
    "enqueue",
    "list_dead_letters",
    "load_delivery_settings",
    "retry_dead_letters",
]
