// TypeScript half of `make bench-sdk`: @tenantmesh/sdk's call() vs a bare fetch of the same URL
// with the same headers, GetTenant through the edge, sequential and with 16 calls in flight.
// Prints one JSON line. Usage: NODE_EXTRA_CA_CERTS=ca.pem node bench_sdk.mjs SDK_ENTRY URL API_KEY TENANT_ID CALLS ROUNDS
const [entry, url, apiKey, tenantId, callsArg, roundsArg] = process.argv.slice(2);
const { TenantmeshClient } = await import(entry);
const calls = Number(callsArg);
const rounds = Number(roundsArg);

const client = TenantmeshClient.fromApiKey(url, apiKey);
await client.authenticate();
// The bare fetch uses the SDK's own token, so both send the same request.
const exchanged = await (
  await fetch(`${url}/v1/auth:exchangeApiKey`, { method: "POST", body: JSON.stringify({ apiKey }) })
).json();
const headers = { accept: "application/json", authorization: `Bearer ${exchanged.tokens.accessToken}` };
const target = `${url}/v1/tenants/${tenantId}`;

async function bare() {
  const response = await fetch(target, { headers });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}
function sdk() {
  return client.call("TenantService_GetTenant", { path: { tenantId } });
}

async function rate(call, concurrency) {
  const per = Math.ceil(calls / concurrency);
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = 0; i < per; i += 1) await call();
  }));
  return (per * concurrency) / ((performance.now() - started) / 1000);
}

const results = {};
for (const concurrency of [1, 16]) {
  await rate(bare, concurrency);
  await rate(sdk, concurrency); // warm both
  const bareRates = [];
  const sdkRates = [];
  for (let round = 0; round < rounds; round += 1) {
    bareRates.push(await rate(bare, concurrency));
    sdkRates.push(await rate(sdk, concurrency));
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  results[`c${concurrency}`] = { bare: median(bareRates), sdk: median(sdkRates) };
}
console.log(JSON.stringify(results));
