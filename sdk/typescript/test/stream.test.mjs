// The stream reader against every way the edge's JSON array can be cut into chunks.
import assert from "node:assert/strict";
import { test } from "node:test";
import { errorFromBody, jsonArrayElements } from "../dist/index.js";

function chunked(text, size) {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size));
      controller.close();
    },
  });
}

const ARRAY = '[{"a":"x]y","b":[1,{"c":"\\"}"}]}\n,{"a":"é"},{"empty":{}}]';
const EXPECTED = [{ a: "x]y", b: [1, { c: '"}' }] }, { a: "é" }, { empty: {} }];

test("elements arrive whole whatever the chunk size", async () => {
  for (const size of [1, 2, 3, 7, 1000]) {
    const seen = [];
    for await (const element of jsonArrayElements(chunked(ARRAY, size))) seen.push(element);
    assert.deepEqual(seen, EXPECTED, `chunks of ${size}`);
  }
});

test("an empty array yields nothing; a cut one is an error", async () => {
  const none = [];
  for await (const element of jsonArrayElements(chunked("[]", 1))) none.push(element);
  assert.deepEqual(none, []);
  await assert.rejects(async () => {
    for await (const element of jsonArrayElements(chunked('[{"a":1},', 2))) void element;
  }, SyntaxError);
});

test("a google.rpc.Status body becomes a typed error", () => {
  const error = errorFromBody(
    400,
    {
      code: 3,
      message: "bad",
      details: [
        { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "FIELD_INVALID", domain: "tenantmesh.dev" },
        { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "tenant.slug", description: "d" }] },
        { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "1.500s" },
      ],
    },
    "req-1",
  );
  assert.equal(error.code, "INVALID_ARGUMENT");
  assert.equal(error.reason, "FIELD_INVALID");
  assert.deepEqual(error.fieldViolations, [{ field: "tenant.slug", description: "d", reason: "" }]);
  assert.equal(error.retryDelay, 1.5);
  assert.equal(error.requestId, "req-1");
});
