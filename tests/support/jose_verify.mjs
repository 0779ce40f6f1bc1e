// A third party verifying platform tokens with npm `jose`, as a service behind the platform
// would: discover the issuer's metadata, then verify each token against the remote JWKS.
// Usage: node jose_verify.mjs <issuer> '[{"token": "...", "audience": "..."}, ...]'
// Prints one JSON line: per token, its verified payload or the error's code.
// The edge's CA comes from NODE_EXTRA_CA_CERTS.
import { createRemoteJWKSet, jwtVerify } from "jose";

const [issuer, checks] = process.argv.slice(2);
const discovery = await fetch(`${issuer}/.well-known/openid-configuration`);
if (!discovery.ok) throw new Error(`discovery answered ${discovery.status}`);
const metadata = await discovery.json();
const keys = createRemoteJWKSet(new URL(metadata.jwks_uri));
const results = [];
for (const { token, audience } of JSON.parse(checks)) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keys, {
      issuer: metadata.issuer,
      audience,
      algorithms: metadata.id_token_signing_alg_values_supported,
    });
    results.push({ ok: true, payload, kid: protectedHeader.kid });
  } catch (error) {
    results.push({ ok: false, code: error.code ?? String(error) });
  }
}
console.log(JSON.stringify({ metadata, results }));
