"""Active health checks of registered instances, and the sweep of expired leases.

One replica at a time does this work: it holds the ``health-checker`` lease
in the core database, renews it every tick and releases it on stop, so a
second replica takes over within a lease period if the first dies. Each
instance is probed every interval of its service's HealthCheck (gRPC health
protocol for INTERNAL_GRPC, HTTP GET for EXTERNAL_HTTP). Health changes only
after N consecutive failures (to UNHEALTHY) or M consecutive successes (back
to HEALTHY), so one lost probe does not flap an instance in and out of
discovery; a new instance becomes HEALTHY on its first success.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.registry import repository as repo
from services.registry.definitions import HealthState, ServiceKind
from services.registry.instances import CheckTarget, Instances
from services.registry.settings import HealthDefaults, RegistrySettings
from services.runtime.background import stop_background
from services.runtime.client import create_mesh_channel
from services.runtime.db import DatabaseRouter
from services.runtime.http_status import status_within
from services.runtime.ids import uuid7
from services.runtime.mesh_tls import MeshTls, channel_credentials

log = logging.getLogger("tenantmesh.registry.health")

LEASE_NAME = "health-checker"


@dataclass(frozen=True)
class EffectiveCheck:
    interval_seconds: float
    timeout_seconds: float
    unhealthy_threshold: int
    healthy_threshold: int
    http_path: str
    grpc_service: str
    # Whose certificate an internal gRPC instance must present (mesh TLS).
    service: str = ""


def effective(target: CheckTarget, defaults: HealthDefaults) -> EffectiveCheck:
    check = target.check
    return EffectiveCheck(
        interval_seconds=check.interval_seconds or defaults.interval_seconds,
        timeout_seconds=check.timeout_seconds or defaults.timeout_seconds,
        unhealthy_threshold=check.unhealthy_threshold or defaults.unhealthy_threshold,
        healthy_threshold=check.healthy_threshold or defaults.healthy_threshold,
        http_path=check.http_path or "/",
        grpc_service=check.grpc_service,
        service=target.service,
    )


class Probe(Protocol):
    async def __call__(self, kind: str, address: str, check: EffectiveCheck) -> str | None:
        """None when the instance answered healthy, else why not."""
        ...


class NetworkProbe:
    """gRPC health checks over cached channels; HTTP GETs over one pooled client.

    With mesh TLS, internal gRPC instances are checked over mutual TLS like any call inside the
    mesh: the registry presents its own certificate and the instance must present one issued
    for its service's name (a plaintext server, or one with another service's certificate, is
    unhealthy).
    """

    def __init__(self, mesh_tls: MeshTls | None = None, caller: str = "") -> None:
        self._tls = mesh_tls
        self._caller = caller
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stamp: tuple[tuple[int, int, int], ...] = ()
        # Made on the first HTTP check: a client loads the system's CA bundle (tens of
        # milliseconds), which a registry of gRPC instances only never needs.
        self._http: httpx.AsyncClient | None = None

    async def __call__(self, kind: str, address: str, check: EffectiveCheck) -> str | None:
        try:
            if kind == ServiceKind.INTERNAL_GRPC:
                return await self._grpc(address, check)
            return await self._get(address, check)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]

    async def _grpc(self, address: str, check: EffectiveCheck) -> str | None:
        if self._tls is not None and self._tls.stamp(self._caller) != self._stamp:
            # Re-issued certificate: new channels from now on.
            await self.forget(set())
            self._stamp = self._tls.stamp(self._caller)
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = self._channel(address, check.service)
        stub: Any = health_pb2_grpc.HealthStub(channel)
        try:
            answer = await stub.Check(
                health_pb2.HealthCheckRequest(service=check.grpc_service), timeout=check.timeout_seconds
            )
        except grpc.aio.AioRpcError as exc:
            return f"gRPC {exc.code().name}"
        if answer.status != health_pb2.HealthCheckResponse.SERVING:
            return f"gRPC health {health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)}"
        return None

    def _channel(self, address: str, service: str) -> grpc.aio.Channel:
        if self._tls is None:
            return grpc.aio.insecure_channel(address)
        credentials, _ = channel_credentials(self._tls, self._caller)
        return create_mesh_channel(address, service, credentials)

    async def _get(self, address: str, check: EffectiveCheck) -> str | None:
        url = address.rstrip("/") + check.http_path
        if self._http is None:
            # No proxies from the environment: instances are reached directly.
            self._http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        try:
            status = await status_within(self._http, "GET", url, check.timeout_seconds)
        except TimeoutError:
            return f"no answer within {check.timeout_seconds:g} s"
        if not 200 <= status < 300:
            return f"HTTP {status}"
        return None

    async def forget(self, keep: set[str]) -> None:
        """Closes channels of addresses no instance has any more."""
        for address in [a for a in self._channels if a not in keep]:
            await self._channels.pop(address).close()

    async def close(self) -> None:
        await self.forget(set())
        if self._http is not None:
            await self._http.aclose()


@dataclass
class _Tally:
    successes: int = 0
    failures: int = 0
    due: float = 0.0  # monotonic time of the next check


def next_health(current: str, tally: _Tally, check: EffectiveCheck) -> str:
    """The health after a check, given the consecutive counts including it."""
    if tally.failures:
        return HealthState.UNHEALTHY if tally.failures >= check.unhealthy_threshold else current
    if current == HealthState.UNKNOWN:
        return HealthState.HEALTHY
    if current == HealthState.UNHEALTHY:
        return HealthState.HEALTHY if tally.successes >= check.healthy_threshold else current
    return current


# How far last_check_time may lag while checks keep finding the same.
RECORD_UNCHANGED_EVERY = timedelta(seconds=60)


class HealthChecker:
    def __init__(
        self,
        db: DatabaseRouter,
        instances: Instances,
        settings: RegistrySettings,
        probe: Probe | None = None,
        *,
        mesh_tls: MeshTls | None = None,
        identity: str = "",
    ) -> None:
        self._db = db
        self._instances = instances
        self._settings = settings
        self._network = NetworkProbe(mesh_tls, identity) if probe is None else None
        self._probe: Probe = probe or self._network  # type: ignore[assignment]
        self._holder = f"{socket.gethostname()}-{os.getpid()}-{uuid7()[-12:]}"[:100]
        self._tallies: dict[tuple[str, datetime], _Tally] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.leader = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="registry-health-checker")

    def wake(self) -> None:
        """Checks due instances now instead of at the next tick (a new instance is due at once)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("health check round failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.tick_seconds)

    async def run_once(self) -> None:
        """One round: hold the lease, sweep expired leases, probe every instance that is due."""
        self.leader = await self._claim()
        if not self.leader:
            self._tallies.clear()
            return
        await self._instances.sweep()
        targets = await self._instances.check_targets()
        keys = {(t.instance_id, t.register_time) for t in targets}
        for key in [k for k in self._tallies if k not in keys]:
            del self._tallies[key]
        if self._network is not None:
            await self._network.forget({t.address for t in targets if t.kind == ServiceKind.INTERNAL_GRPC})
        now = time.monotonic()
        due = [t for t in targets if self._tallies.setdefault((t.instance_id, t.register_time), _Tally()).due <= now]
        if not due:
            return
        limit = asyncio.Semaphore(self._settings.max_concurrent_checks)

        async def check(target: CheckTarget) -> None:
            async with limit:
                await self._check(target)

        await asyncio.gather(*(check(t) for t in due))

    async def _check(self, target: CheckTarget) -> None:
        check = effective(target, self._settings.health)
        tally = self._tallies[(target.instance_id, target.register_time)]
        tally.due = time.monotonic() + check.interval_seconds
        error = await self._probe(target.kind, target.address, check)
        if error is None:
            tally.successes, tally.failures = tally.successes + 1, 0
        else:
            tally.successes, tally.failures = 0, tally.failures + 1
        health = next_health(target.health, tally, check)
        if health != target.health:
            log.info(
                "instance health changed",
                extra={"instance_id": target.instance_id, "address": target.address, "health": health},
            )
        if self._worth_recording(target, health, error or ""):
            await self._instances.record_check(target, health, error or "")

    def _worth_recording(self, target: CheckTarget, health: str, error: str) -> bool:
        """A check that changed nothing is written at most every RECORD_UNCHANGED_EVERY.

        One row write per probe per instance would be the registry's main database load
        with many instances (1,000 at the 10 s default: 100 writes/s); what readers need is
        a changed health or error at once and a last_check_time that is never far behind.
        """
        if health != target.health or error != target.last_check_error or target.last_check_time is None:
            return True
        return target.read_time - target.last_check_time >= RECORD_UNCHANGED_EVERY

    async def _claim(self) -> bool:
        async with self._db.core_session() as session:
            # On the clock of the instance leases (the database's): a replica whose clock runs
            # ahead does not take the checks over from a live one.
            now = await self._instances.clock(session)
            until = now + timedelta(seconds=self._settings.checker_lease_seconds)
            held = await repo.claim_lease(session, LEASE_NAME, self._holder, now, until)
            await session.commit()
        return held

    async def stop(self) -> None:
        await stop_background(self._task)
        self._task = None
        if self.leader:
            # Hand over at once instead of making another replica wait out the lease.
            with contextlib.suppress(Exception):
                async with self._db.core_session() as session:
                    await repo.release_lease(session, LEASE_NAME, self._holder)
                    await session.commit()
        if self._network is not None:
            await self._network.close()
