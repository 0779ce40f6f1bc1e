// The TypeScript SDK scenario, run by tests/edge/test_sdk_typescript.py in a scratch npm
// project that installed the packed tarball: an API key -> create a tenant -> create users ->
// enable a service -> list with paging -> watch (a stream read incrementally, then aborted) ->
// a typed error on bad input. Prints one line per step; exits non-zero on the first surprise.
//
// Usage: NODE_EXTRA_CA_CERTS=ca.pem node typescript_scenario.mjs URL API_KEY
import { TenantmeshClient, TenantmeshError } from "@tenantmesh/sdk";

function check(condition, what) {
  if (!condition) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

const [url, apiKey] = process.argv.slice(2);
const mark = Math.random().toString(16).slice(2, 10);
const client = TenantmeshClient.fromApiKey(url, apiKey);

const created = await client.call("TenantService_CreateTenant", {
  body: { slug: `ts-${mark}`, displayName: "TS" },
  query: { requestId: crypto.randomUUID() },
});
const tenantId = created.tenant.tenantId;
check(created.tenant.state === "TENANT_STATE_ACTIVE", "create a tenant");

const inTenant = client.forTenant(tenantId);
for (let n = 0; n < 3; n += 1) {
  await inTenant.call("UserService_CreateUser", {
    body: { user: { email: `user${n}-${mark}@example.test` }, password: `a long passphrase ${mark}`, roles: ["member"] },
  });
}
check(true, "create users in the new tenant");
// A user's own login: the password path of the SDK (token from Login, renewed by Refresh).
const member = TenantmeshClient.fromPassword(url, `ts-${mark}`, `user0-${mark}@example.test`, `a long passphrase ${mark}`);
const me = await member.call("AuthService_GetMe");
check(me.user.email === `user0-${mark}@example.test` && member.tenantId === tenantId, "log in with a password");

const users = [];
for await (const user of inTenant.paginate("UserService_ListUsers", { query: { pageSize: 2 } })) {
  users.push(user);
}
check(users.length === 3, `list users two per page: ${users.length} users`);

const name = `billing-${mark}`;
await client.call("CatalogService_RegisterService", {
  body: { name, displayName: "Billing", kind: "SERVICE_KIND_EXTERNAL_HTTP" },
});
await inTenant.call("EnabledServiceService_EnableService", { body: { service: name, config: {} } });
const enabled = [];
for await (const item of inTenant.paginate("EnabledServiceService_ListEnabledServices")) {
  enabled.push(item.service);
}
check(enabled.length === 1 && enabled[0] === name, "enable a service for the tenant");

const controller = new AbortController();
const events = [];
try {
  for await (const event of client.stream("DiscoveryService_Watch", {
    query: { services: [name], sendInitialState: true },
    signal: controller.signal,
  })) {
    events.push(event.type);
    if (event.type === "WATCH_EVENT_TYPE_SYNCED") {
      controller.abort();
    }
  }
} catch (error) {
  if (!controller.signal.aborted) throw error;
}
check(events.at(-1) === "WATCH_EVENT_TYPE_SYNCED" && events.length >= 2, `watch the service: ${events.join(", ")}`);

try {
  await client.call("TenantService_CreateTenant", { body: { slug: "Not Valid!" } });
  check(false, "an invalid slug was refused");
} catch (error) {
  check(error instanceof TenantmeshError, "bad input throws TenantmeshError");
  check(error.status === 400 && error.code === "INVALID_ARGUMENT", `status ${error.status} ${error.code}`);
  check(error.reason === "FIELD_INVALID" && error.domain === "tenantmesh.dev", `reason ${error.reason}`);
  const fields = error.fieldViolations.map((v) => v.field);
  check(fields.includes("tenant.slug") && error.requestId !== "", `field violations ${fields}, request id`);
}

try {
  await client.call("TenantService_GetTenant", { path: { tenantId: crypto.randomUUID() } });
  check(false, "a random tenant id was found");
} catch (error) {
  check(error instanceof TenantmeshError && error.reason === "TENANT_NOT_FOUND", "a missing tenant: TENANT_NOT_FOUND");
}
console.log("scenario passed");
