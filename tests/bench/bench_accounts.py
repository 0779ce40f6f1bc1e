"""Do the account RPCs' timings tell whether an address exists in another tenant (or at all)?

Issue 9: no answer may differ between "exists in another tenant" and "does not exist", and a
password reset answers as fast for an unknown address as for a member's. This benchmark runs the
in-process platform (tenants + auth, SQLite) and times, interleaved, each pair of calls that must
look alike from tenant B:

- CreateUser in B with an address used in A vs a fresh one (argon2id dominates);
- CreateInvitation in B for an address used in A vs a fresh one;
- RequestPasswordReset in A for a member's address vs an unknown one.

It prints median and p90 per case and their difference. Run with ``make bench-accounts``; it
never asserts (timings on a shared machine are for reading, not for failing).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.auth.v1 import user_pb2

from tests.bench.common import percentile, print_table, quiet_driver_notes
from tests.support.platform import bearer, platform

PASSWORD = "bench-passphrase-long-enough"
ROUNDS = {"create_user": 15, "invitation": 40, "reset": 200}
CASES = ("user_elsewhere", "user_fresh", "inv_elsewhere", "inv_fresh", "reset_member", "reset_unknown")


def fresh(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:10]}@example.test"


async def timed(call: Callable[..., Awaitable[object]], *args: Any, **kwargs: Any) -> float:
    start = time.perf_counter()
    await call(*args, **kwargs)
    return (time.perf_counter() - start) * 1000


def row(name: str, samples: list[float]) -> tuple[str, str]:
    return name, f"median {statistics.median(samples):7.2f} ms   p90 {percentile(samples, 90):7.2f} ms"


async def main() -> None:
    quiet_driver_notes()
    env = {
        # Limits out of the way: the benchmark asks many times for the same two addresses.
        "TENANTMESH_PASSWORD_RESET_MAX_PER_ADDRESS": "100000",
        "TENANTMESH_PASSWORD_RESET_MAX_PER_CLIENT": "100000",
        "TENANTMESH_LOG_LEVEL": "warning",
    }
    with tempfile.TemporaryDirectory() as directory:
        data = Path(directory)
        async with platform(f"sqlite+aiosqlite:///{data / 'core.db'}", data, env) as mesh:
            admin = await mesh.admin_token()
            tenant_a = await mesh.create_tenant(f"bench-a-{uuid.uuid4().hex[:6]}")
            tenant_b = await mesh.create_tenant(f"bench-b-{uuid.uuid4().hex[:6]}")
            users = mesh.admin_stub("UserService")
            invitations = mesh.admin_stub("InvitationService")
            in_a = (*bearer(admin), ("x-tenant-id", tenant_a.tenant_id))
            in_b = (*bearer(admin), ("x-tenant-id", tenant_b.tenant_id))
            # Addresses with an identity in A: one per CreateUser and per invitation made in B.
            taken = [fresh("a") for _ in range(ROUNDS["create_user"] + ROUNDS["invitation"] + 1)]
            for email in taken:
                await users.CreateUser(
                    admin_pb.CreateUserRequest(user=user_pb2.User(email=email), password=PASSWORD), metadata=in_a
                )
            results: dict[str, list[float]] = {case: [] for case in CASES}
            for email in taken[: ROUNDS["create_user"]]:
                for name, address in (("user_elsewhere", email), ("user_fresh", fresh("f"))):
                    user = admin_pb.CreateUserRequest(user=user_pb2.User(email=address), password=PASSWORD)
                    results[name].append(await timed(users.CreateUser, user, metadata=in_b))
            for email in taken[ROUNDS["create_user"] : -1]:
                for name, address in (("inv_elsewhere", email), ("inv_fresh", fresh("n"))):
                    invitation = admin_pb.CreateInvitationRequest(email=address)
                    results[name].append(await timed(invitations.CreateInvitation, invitation, metadata=in_b))
            member, unknown = taken[-1], fresh("nobody")
            for _ in range(ROUNDS["reset"]):
                for name, email in (("reset_member", member), ("reset_unknown", unknown)):
                    reset = auth_pb.RequestPasswordResetRequest(tenant=tenant_a.slug, email=email)
                    results[name].append(await timed(mesh.auth.RequestPasswordReset, reset))
            await mesh.auth_app.flows.resets.drain()

    print("bench_accounts: answers that must not tell what exists (in-process, SQLite)")
    pairs = (
        ("CreateUser in B", "user_elsewhere", "user_fresh", "address used in A", "fresh address"),
        ("CreateInvitation in B", "inv_elsewhere", "inv_fresh", "address used in A", "fresh address"),
        ("RequestPasswordReset", "reset_member", "reset_unknown", "a member's address", "unknown address"),
    )
    for title, left, right, left_label, right_label in pairs:
        print(f"{title} ({len(results[left])} each, interleaved)")
        print_table([row(left_label, results[left]), row(right_label, results[right])], indent="    ")
        difference = statistics.median(results[left]) - statistics.median(results[right])
        print(f"    difference of medians {difference:+.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
