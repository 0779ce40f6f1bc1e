"""`make bench-sdk`: what the SDKs cost per call, GetTenant through the edge of a `make run` mesh.

Python: the SDK's sync and async clients (interceptors: token, tenant header, deadline,
retry policy, typed errors) against a raw generated stub on the same connection (sync: the
client's own underlying channel; async: a channel to the same target with the same options,
as grpc.aio fixes interceptors per channel). TypeScript: @tenantmesh/sdk's call() against a
bare fetch of the same URL with the same headers. Rounds alternate raw and SDK; medians of
calls per second and their ratio are printed (issue 17 targets: >= 0.9 for the async Python
client and for TypeScript). Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb
from tenantmesh.tenants.v1 import tenant_service_pb2_grpc
from tenantmesh_sdk import AsyncClient, Client

from services.runtime.context import PLATFORM_TENANT_ID
from tests.bench.common import load_note, print_table, verdict
from tests.support.running_mesh import FUZZ_FRIENDLY_ENV, MeshProcess, mesh_process, prepare_integrator

REPO = Path(__file__).resolve().parents[2]
SDK_TS_ENTRY = REPO / "sdk" / "typescript" / "dist" / "index.js"
TARGET_RATIO = 0.9


def sync_rate(call: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return calls / (time.perf_counter() - started)


async def async_rate(call: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> float:
    per = calls // concurrency

    async def worker() -> None:
        for _ in range(per):
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return per * concurrency / (time.perf_counter() - started)


def alternate(rounds: int, raw: Callable[[], float], sdk: Callable[[], float]) -> tuple[float, float]:
    raw_rates, sdk_rates = [], []
    raw(), sdk()  # warm up both
    for _ in range(rounds):
        raw_rates.append(raw())
        sdk_rates.append(sdk())
    return statistics.median(raw_rates), statistics.median(sdk_rates)


async def alternate_async(
    rounds: int, raw: Callable[[], Awaitable[float]], sdk: Callable[[], Awaitable[float]]
) -> tuple[float, float]:
    raw_rates, sdk_rates = [], []
    await raw()
    await sdk()
    for _ in range(rounds):
        raw_rates.append(await raw())
        sdk_rates.append(await sdk())
    return statistics.median(raw_rates), statistics.median(sdk_rates)


async def api_key(mesh: MeshProcess, admin_token: str) -> str:
    async with mesh.client() as client:
        created = await client.post(
            "/v1/serviceAccounts",
            json={"name": "bench-sdk", "roles": ["platform-admin"]},
            headers={"authorization": f"Bearer {admin_token}", "x-tenant-id": PLATFORM_TENANT_ID},
        )
    created.raise_for_status()
    key: str = created.json()["apiKey"]
    return key


def python_sync(mesh: MeshProcess, key: str, tenant_id: str, calls: int, rounds: int) -> tuple[float, float]:
    request = pb.GetTenantRequest(tenant_id=tenant_id)
    with Client.from_api_key(mesh.https_url, key, ca_file=mesh.ca_file) as client:
        sdk = tenant_service_pb2_grpc.TenantServiceStub(client.channel)
        sdk.GetTenant(request)  # the token
        assert client._tokens.token is not None
        metadata = (("authorization", f"Bearer {client._tokens.token.access_token}"),)
        raw = tenant_service_pb2_grpc.TenantServiceStub(client._raw)
        return alternate(
            rounds,
            lambda: sync_rate(lambda: raw.GetTenant(request, metadata=metadata, timeout=30), calls),
            lambda: sync_rate(lambda: sdk.GetTenant(request), calls),
        )


async def python_async(
    mesh: MeshProcess, key: str, tenant_id: str, calls: int, rounds: int, concurrency: int
) -> tuple[float, float]:
    request = pb.GetTenantRequest(tenant_id=tenant_id)
    async with AsyncClient.from_api_key(mesh.https_url, key, ca_file=mesh.ca_file) as client:
        sdk = tenant_service_pb2_grpc.TenantServiceStub(client.channel)
        await sdk.GetTenant(request)
        assert client._tokens.token is not None
        metadata = (("authorization", f"Bearer {client._tokens.token.access_token}"),)
        credentials = grpc.ssl_channel_credentials(mesh.ca_file.read_bytes())
        async with grpc.aio.secure_channel(client.target, credentials) as channel:
            raw = tenant_service_pb2_grpc.TenantServiceStub(channel)
            return await alternate_async(
                rounds,
                lambda: async_rate(lambda: raw.GetTenant(request, metadata=metadata, timeout=30), calls, concurrency),
                lambda: async_rate(lambda: sdk.GetTenant(request), calls, concurrency),
            )


def typescript(mesh: MeshProcess, key: str, tenant_id: str, calls: int, rounds: int) -> dict[str, dict[str, float]]:
    script = Path(__file__).with_name("bench_sdk.mjs")
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(mesh.ca_file)}
    args = [SDK_TS_ENTRY.as_uri(), mesh.https_url, key, tenant_id, str(calls), str(rounds)]
    result = subprocess.run(
        ["node", str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=600,
    )
    parsed: dict[str, dict[str, float]] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def ratio_row(label: str, raw: float, sdk: float, target: float | None) -> tuple[str, str]:
    ratio = sdk / raw
    note = f"  target >= {target}: {verdict(ratio >= target)}" if target is not None else ""
    return label, f"raw {raw:7.0f}/s   SDK {sdk:7.0f}/s   ratio {ratio:.3f}{note}"


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-sdk-") as workdir:
        async with mesh_process(Path(workdir), FUZZ_FRIENDLY_ENV) as mesh:
            who = await prepare_integrator(mesh)
            key = await api_key(mesh, who.admin_token)
            tenant_id = who.tenant_id
            print(f"bench_sdk: GetTenant through the edge (TLS), {args.calls} calls x {args.rounds} rounds")
            print(load_note())
            rows = []
            raw, sdk = await asyncio.to_thread(python_sync, mesh, key, tenant_id, args.calls, args.rounds)
            rows.append(ratio_row("python sync (sequential)", raw, sdk, None))
            for concurrency in (1, args.concurrency):
                raw, sdk = await python_async(mesh, key, tenant_id, args.calls, args.rounds, concurrency)
                rows.append(ratio_row(f"python async (c={concurrency})", raw, sdk, TARGET_RATIO))
            ts = await asyncio.to_thread(typescript, mesh, key, tenant_id, args.calls, args.rounds)
            for name, result in ts.items():
                rows.append(
                    ratio_row(
                        f"typescript vs fetch ({name.replace('c', 'c=')})", result["bare"], result["sdk"], TARGET_RATIO
                    )
                )
            print_table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per round and client")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight for the async runs")
    args = parser.parse_args(argv)
    if not SDK_TS_ENTRY.is_file():
        print("build the TypeScript SDK first (make bench-sdk does)", file=sys.stderr)
        return 2
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
