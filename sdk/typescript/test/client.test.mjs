// The client against a scripted fetch: what it sends for each call and what it makes of the
// answers (a second factor at login, redaction, binary operations, path values, deadlines).
import assert from "node:assert/strict";
import { test } from "node:test";
import { format, inspect } from "node:util";
import { MfaRequiredError, TenantmeshClient, TenantmeshError } from "../dist/index.js";

const BASE = "https://edge.test";
const PASSWORD = "correct horse battery staple";
const API_KEY = "tmk_" + "S3CRET".repeat(8);
const REFRESH = "refresh-token-secret";

/** A JWT-shaped access token (unsigned: the client only reads tid and exp). */
function accessToken(tid = "t-1") {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "none" })}.${encode({ tid, exp: Math.floor(Date.now() / 1000) + 3600 })}.access-signature`;
}

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

function status(httpStatus, code, extra = {}) {
  const details = [];
  if (extra.reason) details.push({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: extra.reason, domain: "tenantmesh.dev" });
  if (extra.retryDelay) details.push({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: extra.retryDelay });
  return json(httpStatus, { code, message: extra.message ?? "refused", details });
}

/** A fetch answering with `route(path, init, request)`; records every request. */
function scripted(route) {
  const requests = [];
  const fetchImpl = async (input, init = {}) => {
    const url = new URL(String(input));
    const request = { url, path: url.pathname, method: init.method, headers: init.headers ?? {}, body: init.body, init };
    requests.push(request);
    return route(url.pathname, init, request);
  };
  return { fetch: fetchImpl, requests };
}

const TOKENS = () => ({ tokens: { accessToken: accessToken(), refreshToken: REFRESH } });

const settled = (promise) =>
  promise.then(
    (value) => ({ value }),
    (error) => ({ error }),
  );

// ---------------------------------------------------------------- second factor

test("a login needing a second factor throws MfaRequiredError and keeps no token", async () => {
  const { fetch, requests } = scripted((path) => {
    if (path === "/v1/auth:login") {
      return json(200, {
        mfaChallenge: { challengeToken: "challenge-token-0123456789", expireTime: "2030-01-01T00:00:00Z", enrolmentRequired: true },
      });
    }
    return status(401, 16, { reason: "TOKEN_INVALID" });
  });
  const client = TenantmeshClient.fromPassword(BASE, "acme", "mfa@acme.test", PASSWORD, { fetch });

  const error = await client.authenticate().then(() => undefined, (e) => e);
  assert.ok(error instanceof MfaRequiredError, String(error));
  assert.ok(error instanceof TenantmeshError);
  assert.equal(error.code, "UNAUTHENTICATED");
  assert.equal(error.reason, "MFA_REQUIRED");
  assert.equal(error.challengeToken, "challenge-token-0123456789");
  assert.equal(error.enrolmentRequired, true);
  assert.equal(error.expireTime, "2030-01-01T00:00:00Z");
  assert.ok(!inspect(error).includes("challenge-token-0123456789"), "the challenge is not printed");
  assert.equal(client.tenantId, undefined);

  // A call: one login, the same error, and no request goes out with an empty token.
  requests.length = 0;
  await assert.rejects(client.call("AuthService_GetMe"), MfaRequiredError);
  assert.deepEqual(
    requests.map((r) => r.path),
    ["/v1/auth:login"],
  );
});

// ---------------------------------------------------------------- redaction

test("printing or serialising a client shows no credential and no token", async () => {
  const { fetch } = scripted((path) => (path.startsWith("/v1/auth:") ? json(200, TOKENS()) : json(200, {})));
  const byPassword = TenantmeshClient.fromPassword(BASE, "acme", "a@acme.test", PASSWORD, { fetch });
  const byKey = TenantmeshClient.fromApiKey(BASE, API_KEY, { fetch });
  const byToken = new TenantmeshClient({ baseUrl: BASE, credentials: { accessToken: accessToken() }, fetch });
  for (const client of [byPassword, byKey, byToken, byPassword.forTenant("t-2")]) {
    await client.authenticate();
    const token = accessToken().split(".")[2];
    for (const shown of [inspect(client, { depth: 10, showHidden: true }), format("%o", client), format("%s", client), JSON.stringify(client)]) {
      for (const secret of [PASSWORD, API_KEY, REFRESH, token]) {
        assert.ok(!shown.includes(secret), `${secret} in ${shown}`);
      }
      assert.ok(shown.includes(BASE), shown);
    }
  }
  assert.equal(byPassword.tenantId, "t-1"); // still works from the hidden token
});

// ---------------------------------------------------------------- binary operations

test("binary answers come back as the Response; their errors are typed", async () => {
  const csv = "id,name\n1,Ada\n";
  const { fetch, requests } = scripted((path) => {
    if (path.startsWith("/v1/auth:")) return json(200, TOKENS());
    if (path === "/v1/forms/intake/submissions:export") {
      return new Response(csv, { status: 200, headers: { "content-type": "text/csv" } });
    }
    if (path === "/v1/files/f-1:download") {
      return new Response(new Uint8Array([0, 1, 2, 255]), { headers: { "content-type": "application/octet-stream" } });
    }
    return status(404, 5, { reason: "FORM_NOT_FOUND" });
  });
  const client = TenantmeshClient.fromApiKey(BASE, API_KEY, { fetch });

  const exported = await client.call("SubmissionService_ExportSubmissions", {
    path: { formKey: "intake" },
    query: { format: "EXPORT_FORMAT_CSV" },
  });
  assert.ok(exported instanceof Response);
  assert.equal(exported.headers.get("content-type"), "text/csv");
  assert.equal(await exported.text(), csv);
  assert.equal(requests.at(-1).headers.accept, "*/*");

  const file = await client.call("FileService_DownloadFile", { path: { fileId: "f-1" } });
  assert.deepEqual([...new Uint8Array(await file.arrayBuffer())], [0, 1, 2, 255]);

  const error = await client
    .call("SubmissionService_ExportSubmissions", { path: { formKey: "nope" } })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof TenantmeshError, String(error));
  assert.equal(error.reason, "FORM_NOT_FOUND");
});

test("a binary request body is sent as given, with the caller's content type", async () => {
  const { fetch, requests } = scripted((path) =>
    path.startsWith("/v1/auth:") ? json(200, TOKENS()) : json(200, { file: { fileId: "f-1" } }),
  );
  const client = TenantmeshClient.fromApiKey(BASE, API_KEY, { fetch });
  const bytes = new TextEncoder().encode("hello");

  const uploaded = await client.call("FileService_UploadFile", {
    query: { filename: "a.txt" },
    body: bytes,
    headers: { "Content-Type": "text/plain" },
  });
  assert.equal(uploaded.file.fileId, "f-1"); // a JSON answer stays parsed
  const sent = requests.at(-1);
  assert.equal(sent.path, "/v1/files:upload");
  assert.equal(sent.body, bytes);
  assert.equal(sent.headers["content-type"], "text/plain");

  // Without a content type: a Blob's own, else application/octet-stream.
  await client.call("FileService_UploadFile", { body: new Blob(["x"], { type: "image/png" }) });
  assert.equal(requests.at(-1).headers["content-type"], undefined);
  await client.call("FileService_UploadFile", { body: bytes });
  assert.equal(requests.at(-1).headers["content-type"], "application/octet-stream");
});

// ---------------------------------------------------------------- path values

test('path values "", "." and ".." are refused before any request', async () => {
  const { fetch, requests } = scripted(() => json(200, TOKENS()));
  const client = TenantmeshClient.fromPassword(BASE, "acme", "a@acme.test", PASSWORD, { fetch });
  for (const [operation, path] of [
    ["TenantService_GetTenant", { tenantId: "." }],
    ["TenantService_GetTenant", { tenantId: ".." }],
    ["TenantService_GetTenant", { tenantId: "" }],
    ["UserService_GetUser", { userId: "." }],
    ["FormService_GetForm", { key: ".." }],
  ]) {
    await assert.rejects(client.call(operation, { path }), TypeError, `${operation} ${JSON.stringify(path)}`);
  }
  assert.equal(requests.length, 0);
  // Dots inside a value are just characters (encoded as such).
  await client.call("TenantService_GetTenant", { path: { tenantId: "..." } });
  assert.equal(requests.at(-1).url.pathname, "/v1/tenants/...");
});

// ---------------------------------------------------------------- deadlines and retry delays

test("a deadline bounds the retries: no wait that would pass it", async () => {
  let attempts = 0;
  const { fetch } = scripted(() => {
    attempts += 1;
    return status(429, 8, { retryDelay: "120s" });
  });
  const client = new TenantmeshClient({ baseUrl: BASE, fetch });
  const started = Date.now();
  const outcome = await Promise.race([
    settled(client.call("MetaService_GetServerInfo", { timeoutMs: 500 })),
    new Promise((resolve) => setTimeout(() => resolve({ pending: true }), 2_000)),
  ]);
  assert.ok(!outcome.pending, "still pending after 2 s with timeoutMs 500");
  assert.ok(outcome.error instanceof TenantmeshError, String(outcome.error));
  assert.equal(outcome.error.status, 429);
  assert.equal(attempts, 1);
  assert.ok(Date.now() - started < 500);

  // Short delays are waited for while they fit, then the last error is thrown.
  attempts = 0;
  const { fetch: quick } = scripted(() => {
    attempts += 1;
    return status(503, 14, { retryDelay: "0.200s" });
  });
  const again = new TenantmeshClient({ baseUrl: BASE, fetch: quick, timeoutMs: 500 });
  const began = Date.now();
  await assert.rejects(again.call("MetaService_GetServerInfo"), (e) => e instanceof TenantmeshError && e.status === 503);
  assert.ok(Date.now() - began < 500);
  assert.ok(attempts >= 2 && attempts <= 3, `${attempts} attempts`);
});

test("each attempt gets only what is left of the deadline", async () => {
  let attempts = 0;
  const { fetch } = scripted((path, init) => {
    attempts += 1;
    if (attempts === 1) {
      return new Promise((resolve) => setTimeout(() => resolve(status(503, 14, { retryDelay: "0.050s" })), 300));
    }
    return new Promise((_, reject) => {
      const timer = setTimeout(() => reject(new Error("the attempt was not cut")), 2_000);
      init.signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(init.signal.reason);
      });
    });
  });
  const client = new TenantmeshClient({ baseUrl: BASE, fetch });
  const started = Date.now();
  await assert.rejects(client.call("MetaService_GetServerInfo", { timeoutMs: 600 }), (e) => e.name === "TimeoutError");
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 800, `${elapsed} ms for a 600 ms deadline`);
  assert.equal(attempts, 2);
});

test("the server's retry delay is capped at 30 s", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  let attempts = 0;
  const { fetch } = scripted(() => {
    attempts += 1;
    return attempts === 1 ? status(429, 8, { retryDelay: "120s" }) : json(200, { product: "tenantmesh" });
  });
  const client = new TenantmeshClient({ baseUrl: BASE, fetch });
  let outcome;
  void settled(client.call("MetaService_GetServerInfo")).then((o) => (outcome = o));
  const turn = async () => {
    for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
  };
  await turn(); // the first answer is read; the client waits
  assert.equal(attempts, 1);
  t.mock.timers.tick(30_000);
  await turn();
  assert.equal(attempts, 2, "no second attempt 30 s after a RetryInfo of 120 s");
  assert.equal(outcome?.value?.product, "tenantmesh");
});

// ---------------------------------------------------------------- streams

test("a stream that failed after it opened throws its error after the elements before it", async () => {
  const overflow = {
    type: "WATCH_EVENT_TYPE_UNSPECIFIED",
    error: {
      code: 10,
      message: "the watcher fell too far behind; watch again",
      details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "WATCH_OVERFLOW", domain: "tenantmesh.dev" }],
    },
  };
  const body = JSON.stringify([{ type: "WATCH_EVENT_TYPE_SYNCED" }, overflow]);
  const { fetch } = scripted(() => new Response(body, { status: 200, headers: { "content-type": "application/json", "x-request-id": "r-1" } }));
  const client = new TenantmeshClient({ baseUrl: BASE, credentials: { accessToken: accessToken() }, fetch });
  const seen = [];
  const outcome = await settled(
    (async () => {
      for await (const element of client.stream("DiscoveryService_Watch")) seen.push(element);
    })(),
  );
  assert.deepEqual(seen, [{ type: "WATCH_EVENT_TYPE_SYNCED" }]);
  assert.ok(outcome.error instanceof TenantmeshError, String(outcome.error));
  assert.equal(outcome.error.code, "ABORTED");
  assert.equal(outcome.error.reason, "WATCH_OVERFLOW");
  assert.equal(outcome.error.requestId, "r-1");
});
