// The webhook verifier against signatures computed independently with node:crypto.
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { test } from "node:test";
import { WebhookVerificationError, WebhookVerifier } from "../dist/index.js";

const BODY = '{"data":{"userId":"u1"},"id":"e1","tenantId":"t","time":"2026-01-01T00:00:00Z","type":"user.created"}';

function secret() {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

function sign(key, id, stamp, body) {
  const raw = Buffer.from(key.slice("whsec_".length), "base64");
  return `v1,${createHmac("sha256", raw).update(`${id}.${stamp}.${body}`).digest("base64")}`;
}

function headers(keys, { id = "e1", stamp = Math.floor(Date.now() / 1000), body = BODY } = {}) {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(stamp),
    "webhook-signature": keys.map((key) => sign(key, id, stamp, body)).join(" "),
  };
}

test("a signed delivery verifies and parses", async () => {
  const key = secret();
  const event = await new WebhookVerifier(key).verify(BODY, headers([key]));
  assert.equal(event.type, "user.created");
  // Fetch's Headers and raw bytes work too.
  const asBytes = new TextEncoder().encode(BODY);
  assert.equal((await new WebhookVerifier(key).verify(asBytes, new Headers(headers([key])))).id, "e1");
});

test("during a rotation either secret verifies", async () => {
  const [oldKey, newKey] = [secret(), secret()];
  const both = headers([newKey, oldKey]);
  await new WebhookVerifier(oldKey).verify(BODY, both);
  await new WebhookVerifier(newKey).verify(BODY, both);
  await new WebhookVerifier([oldKey, newKey]).verify(BODY, headers([newKey]));
});

test("anything else is refused", async () => {
  const key = secret();
  const now = Math.floor(Date.now() / 1000);
  const cases = [
    [key, BODY.replace("u1", "u2"), headers([key])],
    [key, BODY, { ...headers([key]), "webhook-id": "e2" }],
    [key, BODY, { ...headers([key]), "webhook-timestamp": String(now + 1) }],
    [secret(), BODY, headers([key])],
    [key, BODY, headers([key], { stamp: now - 600 })],
    [key, BODY, headers([key], { stamp: now + 600 })],
    [key, BODY, { "webhook-id": "e1", "webhook-timestamp": String(now) }],
    [key, BODY, { ...headers([key]), "webhook-signature": headers([key])["webhook-signature"].replace("v1,", "v2,") }],
  ];
  for (const [verifierKey, body, given] of cases) {
    await assert.rejects(new WebhookVerifier(verifierKey).verify(body, given), WebhookVerificationError);
  }
});
