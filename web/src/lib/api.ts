"use client";
// Every call the console makes goes through here, to the REST edge of the same origin, with the
// TypeScript SDK: the session's access token (renewed with the refresh token shortly before it
// expires, and once after a 401), and the tenant the user is acting in.

import {
  TenantmeshClient,
  TenantmeshError,
  type CallOptions,
  type OperationId,
  type ResponseBody,
} from "@tenantmesh/sdk";
import { useActingTenant } from "./acting-tenant";
import { tokensFrom, tokenTenant, useSession, type Tokens } from "./session";

/** Renew this long before the access token expires. */
const RENEW_BEFORE_MS = 60_000;

let fetchImpl: typeof fetch | undefined;
let baseUrl: string | undefined;

/** Tests point the layer at another fetch and origin. */
export function configureApi(options: { fetch?: typeof fetch; baseUrl?: string }): void {
  fetchImpl = options.fetch;
  baseUrl = options.baseUrl;
}

function origin(): string {
  return baseUrl ?? window.location.origin;
}

/** fetch, never through the browser's HTTP cache. The edge's answers carry no cache headers, and
 * a browser keeps such answers (on disk, after sign-out) where any script of this origin could
 * read them back without a token (`cache: "only-if-cached"`): on a shared computer, the next
 * person. Every answer here is someone's (profile, menus, forms, submissions, exports), so none
 * is stored or taken from that cache. */
function uncachedFetch(): typeof fetch {
  const base = fetchImpl ?? globalThis.fetch.bind(globalThis);
  return (input, init) => base(input, { ...init, cache: "no-store" });
}

// The SDK client carries no credentials: renewing tokens is this layer's (the session's refresh
// token), so each call gets the current access token in its headers and a 401 comes straight back.
function client(tenantId: string | undefined): TenantmeshClient {
  return new TenantmeshClient({
    baseUrl: origin(),
    tenantId,
    fetch: uncachedFetch(),
    // Retries of reads answered 429/503 stay with the SDK; one attempt more than that is for
    // a person to decide.
    maxAttempts: 2,
  });
}

let refreshing: Promise<Tokens | null> | null = null;

/** The session's tokens, renewed first when they are about to expire (or `force`). One renewal
 * at a time: refresh tokens rotate, and presenting one twice ends the session. */
export async function currentTokens(force = false): Promise<Tokens | null> {
  const { tokens } = useSession.getState();
  if (!tokens) {
    return null;
  }
  if (!force && Date.now() < tokens.expiresAt - RENEW_BEFORE_MS) {
    return tokens;
  }
  refreshing ??= renew(tokens).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function renew(tokens: Tokens): Promise<Tokens | null> {
  const { setTokens } = useSession.getState();
  try {
    const answer = await client(undefined).call("AuthService_Refresh", {
      body: { refreshToken: tokens.refreshToken },
    });
    const renewed = tokensFrom(answer.tokens);
    setTokens(renewed);
    return renewed;
  } catch (error) {
    if (error instanceof TenantmeshError && error.status >= 400 && error.status < 500) {
      setTokens(null); // the session ended (revoked, expired, reused): sign in again
      return null;
    }
    throw error;
  }
}

/** Calls one operation as the signed-in user (or anonymously for public ones). */
function withToken<K extends OperationId>(options: CallOptions<K>, tokens: Tokens | null): CallOptions<K> {
  if (!tokens) {
    return options;
  }
  return {
    ...options,
    tenantId: options.tenantId ?? useActingTenant.getState().tenantId ?? tokenTenant(tokens),
    headers: { ...(options.headers ?? {}), authorization: `Bearer ${tokens.accessToken}` },
  };
}

export async function api<K extends OperationId>(
  operation: K,
  options: CallOptions<K> = {},
): Promise<ResponseBody<K>> {
  const tokens = await currentTokens();
  try {
    return await client(undefined).call(operation, withToken(options, tokens));
  } catch (error) {
    if (!(error instanceof TenantmeshError) || error.status !== 401 || !tokens) {
      throw error;
    }
    // The access token was refused (revoked after a role change, say): renew once and retry.
    const renewed = await currentTokens(true);
    if (!renewed) {
      throw error;
    }
    return client(undefined).call(operation, withToken(options, renewed));
  }
}

/** Calls a public operation (sign-in, invitations, password reset) without any token. */
export function publicApi<K extends OperationId>(operation: K, options: CallOptions<K> = {}): Promise<ResponseBody<K>> {
  return client(undefined).call(operation, options);
}

export { TenantmeshError };

/** A server stream's messages as the signed-in user (Watch, migrations with progress). */
export async function* apiStream<K extends OperationId>(operation: K, options: CallOptions<K> = {}) {
  const tokens = await currentTokens();
  yield* client(undefined).stream(operation, withToken(options, tokens));
}

/** The headers of a call made outside the SDK (downloads, uploads): the token and the tenant acted in. */
export function authHeaders(tokens: Tokens | null): Record<string, string> {
  const headers: Record<string, string> = {};
  if (tokens) headers.authorization = `Bearer ${tokens.accessToken}`;
  const tenantId = useActingTenant.getState().tenantId ?? (tokens ? tokenTenant(tokens) : undefined);
  if (tenantId) headers["x-tenant-id"] = tenantId;
  return headers;
}

/** A download (CSV/NDJSON exports): the SDK's calls read JSON, so this one fetch is made here,
 * with the same token and tenant header, and returns the body as a Blob. */
export async function apiDownload(path: string): Promise<Blob> {
  const headers = authHeaders(await currentTokens());
  const response = await uncachedFetch()(`${origin()}${path}`, { headers });
  if (!response.ok) {
    throw new TenantmeshError({ status: response.status, code: "UNKNOWN", message: `HTTP ${response.status}` });
  }
  return response.blob();
}
