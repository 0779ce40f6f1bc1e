"""What a delivery channel implements, and how it reports a failed attempt."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from services.runtime.delivery.models import DeadReason


@dataclass(frozen=True)
class Job:
    """One attempt at one queued message, as a channel sees it."""

    job_id: str
    channel: str
    tenant_id: str | None
    topic: str
    # 1 for the first attempt.
    attempt: int
    # The payload as queued (decrypted; never log it).
    payload: Mapping[str, Any]


class TransientFailure(Exception):
    """The attempt failed but may succeed later (server down, 4xx, timeout): retried with backoff."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class PermanentFailure(Exception):
    """The message can never be delivered as it is (5xx): dead-lettered at once with ``reason``."""

    def __init__(self, detail: str, reason: DeadReason = DeadReason.REJECTED) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason = reason


class Channel(Protocol):
    # Stored with each job; a process's dispatcher claims only jobs of the channels it serves.
    name: str

    async def deliver(self, job: Job) -> None:
        """Sends the job once; returns when the receiver has accepted it.

        Raises TransientFailure or PermanentFailure; any other exception counts as transient.
        Must give up well within the delivery lease (TENANTMESH_DELIVERY_LEASE_SECONDS).
        The job id is stable across attempts: send it along so receivers can deduplicate.
        """
        ...
