"""Wiring of the webhooks service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from services.runtime.app import Runtime
from services.runtime.db import MigrationSet
from services.runtime.service import ServiceApp
from services.webhooks.channel import WebhookChannel
from services.webhooks.deliveries import Deliveries
from services.webhooks.retention import LogRetention
from services.webhooks.servicer import WebhookServicer
from services.webhooks.settings import WebhookSettings, load_webhook_settings
from services.webhooks.webhooks import Webhooks

SERVICE = "webhooks"
CORE_MIGRATIONS = MigrationSet(service=SERVICE, scope="core", directory=Path(__file__).parent / "migrations" / "core")


class WebhooksApp(ServiceApp):
    name = SERVICE
    core_migrations = CORE_MIGRATIONS

    def __init__(self, runtime: Runtime, settings: WebhookSettings | None = None) -> None:
        super().__init__(runtime)
        self.settings = settings or load_webhook_settings(runtime.settings.environment)
        self.webhooks = Webhooks(runtime.db, runtime.sealer, self.settings)
        self.deliveries = Deliveries(runtime.db, runtime.sealer)
        self.channel = WebhookChannel(runtime.db, runtime.sealer, self.deliveries, self.settings)
        # Every replica sends (the queue's leases make each attempt one replica's); one replica of
        # the group fans each event out, at least once (the fan-out is idempotent).
        delivery = runtime.enable_delivery()
        delivery.serve(self.channel)
        self.retention = LogRetention(runtime.db, delivery.settings.retention_days)
        runtime.events.subscribe_group("webhooks", "", self.deliveries.on_event)

    def servicers(self) -> Sequence[object]:
        return [WebhookServicer(self.webhooks, self.deliveries)]

    async def start(self) -> None:
        await super().start()
        self.retention.start()

    async def stop(self) -> None:
        await self.retention.stop()
        # The dispatcher first (it lets an attempt in progress finish), then the HTTP client it
        # sends with; stopping it twice (again when the runtime closes) is harmless.
        if self.runtime.delivery is not None:
            await self.runtime.delivery.stop()
        await self.channel.close()
