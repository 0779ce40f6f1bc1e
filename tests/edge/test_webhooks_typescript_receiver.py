"""The TypeScript SDK's webhook verifier in a real receiver: a Node HTTPS server built on the
packed `@tenantmesh/sdk` verifies the platform's deliveries, before, during and after a secret
rotation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from google.protobuf import field_mask_pb2
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2
from tenantmesh.webhooks.v1 import webhook_service_pb2 as pb
from tenantmesh.webhooks.v1 import webhook_service_pb2_grpc

from services.mesh.devtls import ensure_dev_tls
from tests.support.isolation import build_world
from tests.support.platform import bearer, platform

RECEIVER = """
import { createServer } from "node:https";
import { readFileSync } from "node:fs";
import { WebhookVerifier } from "@tenantmesh/sdk";

const [cert, key, secret] = process.argv.slice(2);
const verifier = new WebhookVerifier(secret);
const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, async (request, response) => {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  try {
    const event = await verifier.verify(new Uint8Array(Buffer.concat(chunks)), request.headers);
    console.log(JSON.stringify({ ok: true, type: event.type, id: event.id, data: event.data }));
    response.writeHead(204).end();
  } catch (error) {
    console.log(JSON.stringify({ ok: false, error: error.name }));
    response.writeHead(400).end();
  }
});
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: server.address().port })));
"""


async def _line(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 15)
    assert line, "the receiver ended"
    result: dict[str, Any] = json.loads(line)
    return result


async def test_the_typescript_verifier_checks_real_deliveries(
    sdk_typescript: Path, db_backend_url: str, tmp_path: Path
) -> None:
    tls = ensure_dev_tls(tmp_path / "receiver-tls")
    env = {
        "TENANTMESH_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8",
        "TENANTMESH_WEBHOOKS_CA_FILE": str(tls.ca_cert),
        "TENANTMESH_DELIVERY_RETRY_BASE_SECONDS": "0.2",
        "TENANTMESH_DELIVERY_RETRY_MAX_SECONDS": "0.4",
        "TENANTMESH_DELIVERY_MAX_ATTEMPTS": "2",
    }
    async with platform(db_backend_url, tmp_path, env, extra=("webhooks",)) as mesh:
        world = await build_world(mesh)
        try:
            hooks: Any = webhook_service_pb2_grpc.WebhookServiceStub(mesh.channel("webhooks"))
            admin_a = (*bearer(world.tokens["admin_a"]), ("x-tenant-id", world.tenant_a))
            created = await hooks.CreateWebhook(
                pb.CreateWebhookRequest(
                    webhook=pb.Webhook(url="https://127.0.0.1:9/hooks", event_types=["tenant.updated"])
                ),
                metadata=admin_a,
            )
            (sdk_typescript / "receiver.mjs").write_text(RECEIVER)
            proc = await asyncio.create_subprocess_exec(
                "node",
                "receiver.mjs",
                str(tls.cert),
                str(tls.key),
                created.signing_secret,
                cwd=sdk_typescript,
                stdout=asyncio.subprocess.PIPE,
            )
            try:
                port = (await _line(proc))["port"]
                await hooks.UpdateWebhook(
                    pb.UpdateWebhookRequest(
                        webhook=pb.Webhook(
                            webhook_id=created.webhook.webhook_id, url=f"https://127.0.0.1:{port}/hooks"
                        ),
                        update_mask=field_mask_pb2.FieldMask(paths=["url"]),
                    ),
                    metadata=admin_a,
                )

                async def rename(name: str) -> None:
                    await mesh.tenants.UpdateTenant(
                        tenant_service_pb2.UpdateTenantRequest(
                            tenant=tenant_pb2.Tenant(tenant_id=world.tenant_a, display_name=name),
                            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
                        ),
                        metadata=bearer(world.platform_admin),
                    )

                await rename("Before rotation")
                seen = await _line(proc)
                assert (seen["ok"], seen["type"]) == (True, "tenant.updated")

                # During the overlap the receiver's (old) secret still verifies.
                await hooks.RotateWebhookSecret(
                    pb.RotateWebhookSecretRequest(webhook_id=created.webhook.webhook_id, overlap_seconds=600),
                    metadata=admin_a,
                )
                await rename("During the overlap")
                assert (await _line(proc))["ok"] is True

                # Without an overlap, only the new secret signs: the old one no longer verifies.
                await hooks.RotateWebhookSecret(
                    pb.RotateWebhookSecretRequest(webhook_id=created.webhook.webhook_id, overlap_seconds=0),
                    metadata=admin_a,
                )
                await rename("After the rotation")
                refused = await _line(proc)
                assert refused == {"ok": False, "error": "WebhookVerificationError"}
            finally:
                proc.terminate()
                await proc.wait()
        finally:
            await world.cleanup()
