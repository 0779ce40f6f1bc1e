"""Webhooks end to end: a tenant's events reach a real HTTPS receiver, signed, at least once,
retried, logged, replayable; secrets rotate with overlap; endpoints inside the network are refused."""

from __future__ import annotations

import asyncio
import queue
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from tenantmesh.auth.v1 import admin_service_pb2, user_pb2
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2
from tenantmesh.webhooks.v1 import webhook_service_pb2 as pb
from tenantmesh.webhooks.v1 import webhook_service_pb2_grpc
from tenantmesh_sdk import WebhookVerificationError, WebhookVerifier

from services.runtime.events import Event
from services.webhooks.app import WebhooksApp
from services.webhooks.retention import LogRetention
from tests.support.errors import expect_error, expect_same_refusal
from tests.support.isolation import GrpcCaller, World, build_world, run_matrix, served_rpcs
from tests.support.platform import Platform, bearer, platform
from tests.support.readme import run_readme_example
from tests.support.webhook_receiver import Received, WebhookReceiver

FAST_RETRIES = {
    "TENANTMESH_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8",
    "TENANTMESH_DELIVERY_RETRY_BASE_SECONDS": "0.2",
    "TENANTMESH_DELIVERY_RETRY_MAX_SECONDS": "0.4",
    "TENANTMESH_DELIVERY_MAX_ATTEMPTS": "3",
    "TENANTMESH_DELIVERY_POLL_SECONDS": "0.2",
}


def _as(world: World, who: str, tenant_id: str) -> tuple[tuple[str, str], ...]:
    return (*bearer(world.tokens[who]), ("x-tenant-id", tenant_id))


async def _rename(mesh: Platform, world: World, name: str) -> None:
    """A real tenant.updated event of tenant A (the tenants service's UpdateTenant)."""
    await mesh.tenants.UpdateTenant(
        tenant_service_pb2.UpdateTenantRequest(
            tenant=tenant_pb2.Tenant(tenant_id=world.tenant_a, display_name=name),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        ),
        metadata=bearer(world.platform_admin),
    )


async def _deliveries(hooks: Any, meta: Any, webhook_id: str) -> list[pb.WebhookDelivery]:
    response = await hooks.ListWebhookDeliveries(pb.ListWebhookDeliveriesRequest(webhook_id=webhook_id), metadata=meta)
    return list(response.deliveries)


async def _until(check: Any, seconds: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


def _verified(received: Received, *secrets: str) -> dict[str, Any]:
    return WebhookVerifier(*secrets).verify(received.body, received.headers)


async def test_events_reach_the_endpoint_signed_retried_logged_and_replayable(
    db_backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WebhookReceiver(tmp_path / "tls") as receiver:
        env = {**FAST_RETRIES, "TENANTMESH_WEBHOOKS_CA_FILE": str(receiver.tls.ca_cert)}
        async with platform(db_backend_url, tmp_path, env, extra=("webhooks",)) as mesh:
            world = await build_world(mesh)
            try:
                hooks: Any = webhook_service_pb2_grpc.WebhookServiceStub(mesh.channel("webhooks"))
                admin_a = _as(world, "admin_a", world.tenant_a)
                created = await hooks.CreateWebhook(
                    pb.CreateWebhookRequest(webhook=pb.Webhook(url=receiver.url, event_types=["tenant.updated"])),
                    metadata=admin_a,
                )
                webhook, secret = created.webhook, created.signing_secret
                assert secret.startswith("whsec_")

                # Delivered, signed; the body is the event in the REST style.
                await _rename(mesh, world, "First name")
                first = await receiver.next()
                event = _verified(first, secret)
                assert (event["type"], event["tenantId"]) == ("tenant.updated", world.tenant_a)
                assert first.headers["webhook-id"] == event["id"]
                assert first.headers["content-type"] == "application/json"
                with pytest.raises(WebhookVerificationError):
                    _verified(first, "whsec_" + "A" * 44)
                with pytest.raises(WebhookVerificationError):
                    WebhookVerifier(secret).verify(first.body + b" ", first.headers)
                # The README's receiver, as written, with this webhook's secret.
                monkeypatch.setenv("TENANTMESH_WEBHOOK_SECRET", secret)
                handle = run_readme_example("python-webhook-receiver")["handle"]
                assert handle(first.body, first.headers) == 204
                assert handle(first.body.replace(b"tenant.updated", b"tenant.deleting"), first.headers) == 400

                # The bus delivers at least once: the same event handled again queues nothing new.
                app = next(item.app for item in mesh.started if isinstance(item.app, WebhooksApp))
                again = Event("tenant.updated", world.tenant_a, {"tenant_id": world.tenant_a}, id=event["id"])
                await app.deliveries.on_event(again)
                logged = await _until(lambda: _succeeded(hooks, admin_a, webhook.webhook_id, 1))
                assert [d.event_id for d in logged] == [event["id"]]

                # A failing endpoint is retried with the same webhook-id until it accepts.
                receiver.statuses.extend([500])
                await _rename(mesh, world, "Second name")
                failed, retried = await receiver.next(), await receiver.next()
                assert failed.headers["webhook-id"] == retried.headers["webhook-id"]
                assert failed.headers["webhook-delivery-id"] == retried.headers["webhook-delivery-id"]
                logged = await _until(lambda: _succeeded(hooks, admin_a, webhook.webhook_id, 2))
                assert (logged[0].attempts, logged[0].last_status_code) == (2, 204)

                # One that never accepts is given up after the last attempt, then replayed by hand.
                receiver.statuses.extend([503, 503, 503])
                await _rename(mesh, world, "Third name")
                for _ in range(3):
                    await receiver.next()

                async def given_up() -> list[pb.WebhookDelivery] | None:
                    found = await _deliveries(hooks, admin_a, webhook.webhook_id)
                    return found if found[0].state == pb.DELIVERY_STATE_FAILED else None

                dead = (await _until(given_up))[0]
                assert (dead.attempts, dead.last_status_code, dead.last_error) == (3, 503, "HTTP 503")
                replay = (
                    await hooks.ReplayWebhookDelivery(
                        pb.ReplayWebhookDeliveryRequest(webhook_id=webhook.webhook_id, delivery_id=dead.delivery_id),
                        metadata=admin_a,
                    )
                ).delivery
                assert (replay.replay_of, replay.event_id, replay.state) == (
                    dead.delivery_id,
                    dead.event_id,
                    pb.DELIVERY_STATE_PENDING,
                )
                replayed = await receiver.next()
                assert replayed.headers["webhook-id"] == dead.event_id
                assert _verified(replayed, secret)["tenantId"] == world.tenant_a
                await _until(lambda: _succeeded(hooks, admin_a, webhook.webhook_id, 3))

                # Rotation with overlap: both secrets sign until the overlap ends.
                rotated = await hooks.RotateWebhookSecret(
                    pb.RotateWebhookSecretRequest(webhook_id=webhook.webhook_id, overlap_seconds=3600),
                    metadata=admin_a,
                )
                assert rotated.signing_secret != secret
                assert rotated.webhook.HasField("previous_secret_expire_time")
                await _rename(mesh, world, "Fourth name")
                during = await receiver.next()
                assert len(during.headers["webhook-signature"].split()) == 2
                _verified(during, secret)
                _verified(during, rotated.signing_secret)
                final = await hooks.RotateWebhookSecret(
                    pb.RotateWebhookSecretRequest(webhook_id=webhook.webhook_id, overlap_seconds=0), metadata=admin_a
                )
                await _rename(mesh, world, "Fifth name")
                after = await receiver.next()
                _verified(after, final.signing_secret)
                for old in (secret, rotated.signing_secret):
                    with pytest.raises(WebhookVerificationError):
                        _verified(after, old)

                # Disabled: nothing is sent; events of unsubscribed types are not sent either.
                await hooks.UpdateWebhook(
                    pb.UpdateWebhookRequest(
                        webhook=pb.Webhook(webhook_id=webhook.webhook_id, disabled=True),
                        update_mask=field_mask_pb2.FieldMask(paths=["disabled"]),
                    ),
                    metadata=admin_a,
                )
                await _rename(mesh, world, "Sixth name")
                await mesh.runtime.unit_of_work("test").emit(Event("tenant.resumed", world.tenant_a))
                with pytest.raises(queue.Empty):
                    await receiver.next(wait_seconds=1.5)

                # The log keeps entries for the queue's retention; finished ones older than it go.
                await asyncio.sleep(1.1)  # stored times are whole seconds
                assert await LogRetention(mesh.runtime.db, retention_days=0).purge_once() >= 6
                assert await _deliveries(hooks, admin_a, webhook.webhook_id) == []

                # Deleted with its log.
                await hooks.DeleteWebhook(pb.DeleteWebhookRequest(webhook_id=webhook.webhook_id), metadata=admin_a)
                await expect_error(
                    hooks.GetWebhook(pb.GetWebhookRequest(webhook_id=webhook.webhook_id), metadata=admin_a),
                    grpc.StatusCode.NOT_FOUND,
                    "WEBHOOK_NOT_FOUND",
                )
            finally:
                await world.cleanup()


async def _succeeded(hooks: Any, meta: Any, webhook_id: str, count: int) -> list[pb.WebhookDelivery] | None:
    found = await _deliveries(hooks, meta, webhook_id)
    done = [d for d in found if d.state == pb.DELIVERY_STATE_SUCCEEDED]
    return done if len(done) >= count else None


async def test_webhooks_refuse_internal_endpoints_and_stay_in_their_tenant(db_backend_url: str, tmp_path: Path) -> None:
    # Loopback is allowed here (the receiver); every other non-public network stays refused.
    async with platform(db_backend_url, tmp_path, FAST_RETRIES, extra=("webhooks",)) as mesh:
        world = await build_world(mesh)
        try:
            hooks: Any = webhook_service_pb2_grpc.WebhookServiceStub(mesh.channel("webhooks"))
            admin_a = _as(world, "admin_a", world.tenant_a)
            for url in (
                "https://10.1.2.3/hook",
                "https://169.254.169.254/latest/meta-data",
                "https://[::ffff:192.168.0.1]/hook",
                "https://[fd00::1]/hook",
                "https://100.64.0.1/hook",
            ):
                error = await expect_error(
                    hooks.CreateWebhook(
                        pb.CreateWebhookRequest(webhook=pb.Webhook(url=url, event_types=["user.created"])),
                        metadata=admin_a,
                    ),
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "WEBHOOK_URL_FORBIDDEN",
                )
                assert error is not None
            await expect_error(
                hooks.CreateWebhook(
                    pb.CreateWebhookRequest(
                        webhook=pb.Webhook(url="https://no-such-host.invalid/hook", event_types=["user.created"])
                    ),
                    metadata=admin_a,
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
                "WEBHOOK_URL_UNRESOLVABLE",
            )
            # Plain http and unknown event types are refused by the request's rules.
            for webhook in (
                pb.Webhook(url="http://127.0.0.1/hook", event_types=["user.created"]),
                pb.Webhook(url="https://127.0.0.1/hook", event_types=["auth.revoked"]),
                pb.Webhook(url="https://127.0.0.1/hook"),
            ):
                await expect_error(
                    hooks.CreateWebhook(pb.CreateWebhookRequest(webhook=webhook), metadata=admin_a),
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "FIELD_INVALID",
                )

            created = (
                await hooks.CreateWebhook(
                    pb.CreateWebhookRequest(
                        webhook=pb.Webhook(url="https://127.0.0.1:9/hook", event_types=["user.created"])
                    ),
                    metadata=admin_a,
                )
            ).webhook
            # B subscribes to the same event type before A's event happens: A's event must not reach it.
            admin_b = _as(world, "admin_b", world.tenant_b)
            of_b = (
                await hooks.CreateWebhook(
                    pb.CreateWebhookRequest(
                        webhook=pb.Webhook(url="https://127.0.0.1:9/b-hook", event_types=["user.created"])
                    ),
                    metadata=admin_b,
                )
            ).webhook
            # Tenant B's administrator cannot see, change, list or replay A's webhook, nor one of its
            # deliveries: every answer is the one for an id that never existed.
            users = mesh.admin_stub("UserService")
            await users.CreateUser(
                admin_service_pb2.CreateUserRequest(
                    user=user_pb2.User(email="queued@example.test"), password="a-long-enough-password-1"
                ),
                metadata=admin_a,
            )
            [delivery, *_] = logged = await _until(lambda: _deliveries(hooks, admin_a, created.webhook_id))
            unknown = "00000000-0000-7000-8000-0000000000fe"

            def as_b(webhook_id: str, delivery_id: str) -> list[Any]:
                edit = pb.Webhook(webhook_id=webhook_id, description="taken", etag=created.etag)
                return [
                    hooks.GetWebhook(pb.GetWebhookRequest(webhook_id=webhook_id), metadata=admin_b),
                    hooks.UpdateWebhook(
                        pb.UpdateWebhookRequest(
                            webhook=edit, update_mask=field_mask_pb2.FieldMask(paths=["description"])
                        ),
                        metadata=admin_b,
                    ),
                    hooks.DeleteWebhook(
                        pb.DeleteWebhookRequest(webhook_id=webhook_id, etag=created.etag), metadata=admin_b
                    ),
                    hooks.RotateWebhookSecret(pb.RotateWebhookSecretRequest(webhook_id=webhook_id), metadata=admin_b),
                    hooks.ListWebhookDeliveries(
                        pb.ListWebhookDeliveriesRequest(webhook_id=webhook_id), metadata=admin_b
                    ),
                    hooks.ReplayWebhookDelivery(
                        pb.ReplayWebhookDeliveryRequest(webhook_id=webhook_id, delivery_id=delivery_id),
                        metadata=admin_b,
                    ),
                ]

            for foreign, absent in zip(
                as_b(created.webhook_id, delivery.delivery_id), as_b(unknown, delivery.delivery_id), strict=True
            ):
                await expect_same_refusal(foreign, absent, grpc.StatusCode.NOT_FOUND, "WEBHOOK_NOT_FOUND")
            # A's delivery under B's own webhook is as unknown as a delivery that never was.
            await expect_same_refusal(
                hooks.ReplayWebhookDelivery(
                    pb.ReplayWebhookDeliveryRequest(webhook_id=of_b.webhook_id, delivery_id=delivery.delivery_id),
                    metadata=admin_b,
                ),
                hooks.ReplayWebhookDelivery(
                    pb.ReplayWebhookDeliveryRequest(webhook_id=of_b.webhook_id, delivery_id=unknown),
                    metadata=admin_b,
                ),
                grpc.StatusCode.NOT_FOUND,
                "DELIVERY_NOT_FOUND",
            )
            # A's webhook and its log are as they were.
            got = (
                await hooks.GetWebhook(pb.GetWebhookRequest(webhook_id=created.webhook_id), metadata=admin_a)
            ).webhook
            assert got == created
            after = await _deliveries(hooks, admin_a, created.webhook_id)
            assert {d.delivery_id for d in logged} <= {d.delivery_id for d in after}
            assert not [d for d in after if d.replay_of]
            # B's webhook logs only B's events: its own users' (build_world's, when their fan-out came
            # after it existed), never one of A's, though it was subscribed when A's happened.
            of_b_log = await _deliveries(hooks, admin_b, of_b.webhook_id)
            assert not {d.event_id for d in of_b_log} & {d.event_id for d in after}
            listed = await hooks.ListWebhooks(pb.ListWebhooksRequest(), metadata=admin_b)
            assert [w.webhook_id for w in listed.webhooks] == [of_b.webhook_id]
            listed = await hooks.ListWebhooks(pb.ListWebhooksRequest(), metadata=admin_a)
            assert [w.webhook_id for w in listed.webhooks] == [created.webhook_id]
            # A stale etag is refused.
            await expect_error(
                hooks.UpdateWebhook(
                    pb.UpdateWebhookRequest(
                        webhook=pb.Webhook(webhook_id=created.webhook_id, description="x", etag="99"),
                        update_mask=field_mask_pb2.FieldMask(paths=["description"]),
                    ),
                    metadata=admin_a,
                ),
                grpc.StatusCode.ABORTED,
                "ETAG_MISMATCH",
            )
            await expect_error(
                hooks.ReplayWebhookDelivery(
                    pb.ReplayWebhookDeliveryRequest(
                        webhook_id=created.webhook_id, delivery_id="00000000-0000-7000-8000-0000000000ff"
                    ),
                    metadata=admin_a,
                ),
                grpc.StatusCode.NOT_FOUND,
                "DELIVERY_NOT_FOUND",
            )
        finally:
            await world.cleanup()


async def test_the_per_tenant_limit_holds_against_concurrent_creates(db_backend_url: str, tmp_path: Path) -> None:
    limit = {**FAST_RETRIES, "TENANTMESH_WEBHOOKS_MAX_PER_TENANT": "3"}
    async with platform(db_backend_url, tmp_path, limit, extra=("webhooks",)) as mesh:
        world = await build_world(mesh)
        try:
            hooks: Any = webhook_service_pb2_grpc.WebhookServiceStub(mesh.channel("webhooks"))
            admin_a = _as(world, "admin_a", world.tenant_a)

            async def create(n: int) -> grpc.StatusCode:
                hook = pb.Webhook(url=f"https://127.0.0.1:9/hook-{n}", event_types=["user.created"])
                try:
                    await hooks.CreateWebhook(pb.CreateWebhookRequest(webhook=hook), metadata=admin_a)
                except grpc.aio.AioRpcError as error:
                    return error.code()
                return grpc.StatusCode.OK

            outcomes = await asyncio.gather(*(create(n) for n in range(12)))
            # A create that lost a race is refused as over the limit, or ABORTED (retry it).
            assert set(outcomes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED}
            listed = (await hooks.ListWebhooks(pb.ListWebhooksRequest(), metadata=admin_a)).webhooks
            assert len(listed) == outcomes.count(grpc.StatusCode.OK) <= 3
            while len(listed) < 3:
                assert await create(len(listed) + 100) == grpc.StatusCode.OK
                listed = (await hooks.ListWebhooks(pb.ListWebhooksRequest(), metadata=admin_a)).webhooks
            assert await create(200) == grpc.StatusCode.RESOURCE_EXHAUSTED
        finally:
            await world.cleanup()


async def test_webhooks_isolation_matrix_grpc(db_backend_url: str, tmp_path: Path) -> None:
    """The isolation matrix (tests/support/isolation.py) over every WebhookService RPC: every way of
    lacking access is refused, none leaks."""
    async with platform(db_backend_url, tmp_path, FAST_RETRIES, extra=("webhooks",)) as mesh:
        world = await build_world(mesh)
        caller = GrpcCaller()
        try:
            rpcs = [rpc for rpc in served_rpcs(mesh.started) if rpc.server == "webhooks"]
            declared = {
                f"/tenantmesh.webhooks.v1.WebhookService/{m.name}"
                for m in pb.DESCRIPTOR.services_by_name["WebhookService"].methods
            }
            assert {rpc.path for rpc in rpcs if "webhooks.v1" in rpc.path} == declared
            result = await run_matrix(world, rpcs, caller)
        finally:
            await caller.close()
            await world.cleanup()
        print(result.summary("gRPC"))
        assert not result.leaks, result.summary("gRPC") + "\n" + "\n".join(result.leaks)


async def _event_about(receiver: WebhookReceiver, secret: str, user_id: str) -> dict[str, Any]:
    """The next event about ``user_id`` (the world's own users' events may still be on their way:
    the relay publishes them at its next poll, when the webhook may already exist)."""
    while True:
        event = _verified(await receiver.next(), secret)
        if event["data"] == {"userId": user_id}:
            return event


async def test_user_events_reach_the_endpoint(db_backend_url: str, tmp_path: Path) -> None:
    """The auth service announces a tenant's user changes with their transaction (user.*)."""
    with WebhookReceiver(tmp_path / "tls") as receiver:
        env = {**FAST_RETRIES, "TENANTMESH_WEBHOOKS_CA_FILE": str(receiver.tls.ca_cert)}
        async with platform(db_backend_url, tmp_path, env, extra=("webhooks",)) as mesh:
            world = await build_world(mesh)
            try:
                hooks: Any = webhook_service_pb2_grpc.WebhookServiceStub(mesh.channel("webhooks"))
                admin_a = _as(world, "admin_a", world.tenant_a)
                created = await hooks.CreateWebhook(
                    pb.CreateWebhookRequest(
                        webhook=pb.Webhook(url=receiver.url, event_types=["user.created", "user.updated"])
                    ),
                    metadata=admin_a,
                )
                users = mesh.admin_stub("UserService")
                user = (
                    await users.CreateUser(
                        admin_service_pb2.CreateUserRequest(
                            user=user_pb2.User(email="hooked@example.test"), password="a-long-enough-password-1"
                        ),
                        metadata=admin_a,
                    )
                ).user
                event = await _event_about(receiver, created.signing_secret, user.user_id)
                assert (event["type"], event["tenantId"]) == ("user.created", world.tenant_a)
                await users.DisableUser(admin_service_pb2.DisableUserRequest(user_id=user.user_id), metadata=admin_a)
                event = await _event_about(receiver, created.signing_secret, user.user_id)
                assert event["type"] == "user.updated"
                # Tenant B's changes are B's: nothing reaches A's endpoint.
                await mesh.admin_stub("UserService").CreateUser(
                    admin_service_pb2.CreateUserRequest(
                        user=user_pb2.User(email="other@example.test"), password="a-long-enough-password-1"
                    ),
                    metadata=_as(world, "admin_b", world.tenant_b),
                )
                await asyncio.sleep(2)  # B's event relayed and fanned out, if it were going anywhere
                while not receiver.nothing_more():
                    assert _verified(await receiver.next(), created.signing_secret)["tenantId"] == world.tenant_a
            finally:
                await world.cleanup()


async def test_a_slow_endpoint_holds_an_attempt_no_longer_than_the_timeout(db_backend_url: str, tmp_path: Path) -> None:
    """An endpoint that answers 200 and then drips its body for 8 s (the timeout is 1 s): the
    attempt is judged by its status and over at once. Reading the body held the sender as long
    as each byte came within the timeout, past the delivery lease (another replica then sent the
    event again) and into memory however large it was."""
    with WebhookReceiver(tmp_path / "tls") as receiver:
        receiver.drip_seconds = 8.0
        env = {
            **FAST_RETRIES,
            "TENANTMESH_WEBHOOKS_CA_FILE": str(receiver.tls.ca_cert),
            "TENANTMESH_WEBHOOKS_TIMEOUT_SECONDS": "1",
        }
        async with platform(db_backend_url, tmp_path, env, extra=("webhooks",)) as mesh:
            world = await build_world(mesh)
            try:
                hooks: Any = webhook_service_pb2_grpc.WebhookServiceStub(mesh.channel("webhooks"))
                admin_a = _as(world, "admin_a", world.tenant_a)
                created = await hooks.CreateWebhook(
                    pb.CreateWebhookRequest(webhook=pb.Webhook(url=receiver.url, event_types=["tenant.updated"])),
                    metadata=admin_a,
                )
                await _rename(mesh, world, "Slow name")
                await receiver.next()
                started = asyncio.get_running_loop().time()
                await _until(lambda: _succeeded(hooks, admin_a, created.webhook.webhook_id, 1), seconds=15)
                assert asyncio.get_running_loop().time() - started < 3
            finally:
                await world.cleanup()
