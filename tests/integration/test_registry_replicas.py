"""Two registry replicas on one MariaDB and one Redis, as in production: a watcher on
one replica sees the changes made on the other (the event bus fans out), and only
one of them runs the health checks at a time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tenantmesh.registry.v1 import registry_service_pb2 as pb
from tenantmesh.registry.v1 import registry_service_pb2_grpc as pb_grpc

from services.registry.app import RegistryApp
from services.runtime.app import Runtime, start_app, stop_apps
from tests.support.mesh import mesh_settings
from tests.support.platform import bearer
from tests.support.registry import FAST_REGISTRY, SwitchProbe, eventually, http_service, registry_world, unique_name


async def test_watchers_see_every_replicas_changes(db_backend_url: str, redis_url: str, tmp_path: Path) -> None:
    env = {"REDIS_URL": redis_url}
    async with registry_world(db_backend_url, tmp_path, env=env, probe=SwitchProbe()) as first:
        runtime = first.mesh.runtime
        settings = mesh_settings(
            db_backend_url,
            tmp_path / "second",
            **FAST_REGISTRY,
            REDIS_URL=redis_url,
            TENANTMESH_TENANTS_ADDR=runtime.addresses["tenants"],
            TENANTMESH_AUTH_ADDR=runtime.addresses["auth"],
            TENANTMESH_SERVICE_API_KEY=runtime.service_api_key or "",
        )
        other = await Runtime.open(settings)
        second_app = RegistryApp(other, probe=SwitchProbe())
        started = [await start_app(second_app, other, "127.0.0.1:0")]
        try:
            token = await first.admin_token()
            channel = other.channel("registry")
            stub: Any = pb_grpc.DiscoveryServiceStub(channel)
            watch = stub.Watch(pb.WatchRequest(), metadata=bearer(token))
            await eventually(lambda: _watching(second_app))
            name = unique_name()
            await first.register(http_service(name))  # on the first replica
            async with asyncio.timeout(10):
                while True:
                    message = await watch.read()
                    if message.type == pb.WATCH_EVENT_TYPE_ADDED and message.service.name == name:
                        break
            watch.cancel()
            # One health checker for both.
            await eventually(lambda: _one_leader(first.app, second_app))
        finally:
            await stop_apps(started, 0.5)
            await other.close()


async def _watching(app: RegistryApp) -> bool:
    return app.hub.watcher_count == 1


async def _one_leader(*apps: RegistryApp) -> bool:
    return [app.checker.leader for app in apps].count(True) == 1
