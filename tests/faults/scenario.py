"""What every fault scenario does around its fault, written once.

A scenario has a tenant database prefix of its own (the checker tells its databases by it) and
an observer of the event stream; it runs its load in the background while it breaks something,
and afterwards checks the load's record against the databases and the events it observed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.faults.checker import Verdict, check
from tests.faults.load import LoadGenerator
from tests.faults.observer import EventObserver
from tests.faults.platform import FaultPlatform, fault_platform, scenario_db_prefix


@dataclass
class Scenario:
    database_url: str
    redis_url: str
    prefix: str = field(default_factory=scenario_db_prefix)
    observer: EventObserver = field(init=False)

    def __post_init__(self) -> None:
        self.observer = EventObserver(self.redis_url)

    @contextlib.asynccontextmanager
    async def platform(
        self, root: Path, env: Mapping[str, str] | None = None, **options: Any
    ) -> AsyncIterator[FaultPlatform]:
        """The platform (:func:`~tests.faults.platform.fault_platform`, ``options`` passed on) on
        the scenario's databases, Redis and tenant database prefix, its events observed from the
        moment it is up until it stops."""
        settings = {"TENANTMESH_TENANT_DB_PREFIX": self.prefix, **(env or {})}
        async with fault_platform(self.database_url, self.redis_url, root, settings, **options) as platform:
            await self.observer.start()
            try:
                yield platform
            finally:
                await self.observer.close()

    @contextlib.asynccontextmanager
    async def loading(self, load: LoadGenerator, seconds: float) -> AsyncIterator[asyncio.Task[None]]:
        """``load`` runs in the background for the block, which awaits it once the fault is over;
        a block that fails first cancels it."""
        running = asyncio.create_task(load.run(seconds))
        try:
            yield running
        finally:
            if not running.done():
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running

    async def check(self, load: LoadGenerator, *, run: str) -> Verdict:
        """The load's record against the databases and the observed events (tests.faults.checker)."""
        return await check(
            load.record,
            database_url=self.database_url,
            redis_url=self.redis_url,
            observer=self.observer,
            run=run,
            tenant_db_prefix=self.prefix,
        )
