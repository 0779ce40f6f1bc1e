// The REST client: one generic, typed `call` per operation of the generated document, plus
// what every call needs (token, tenant header, deadline, retries of reads, typed errors),
// paging and streams. No dependency but `fetch`.

import { OPERATIONS, type OperationInfo } from "./generated/operations.js";
import { errorFromBody, MfaRequiredError, TenantmeshError } from "./errors.js";
import { jsonArrayElements } from "./stream.js";
import type { CallOptions, OperationId, PageItem, ResponseBody, StreamItem } from "./types.js";

export type Credentials =
  | { apiKey: string }
  | { tenant: string; email: string; password: string }
  | { accessToken: string };

export interface ClientOptions {
  /** The edge, e.g. "https://localhost:8443". */
  baseUrl: string;
  credentials?: Credentials;
  /** Tenant of tenant-scoped calls; defaults to the token's. */
  tenantId?: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Deadline of unary calls (ms); none by default: the edge ends a unary call after its route
   * timeout (15 s unless configured), and a timer per call is not free. */
  timeoutMs?: number;
  /** Attempts of reads answered 429/503 (first included); 4 by default. */
  maxAttempts?: number;
}

interface Token {
  accessToken: string;
  expiresAt: number; // ms since the epoch
  refreshToken: string;
}

interface TokenSet {
  accessToken?: string;
  accessTokenExpireTime?: string;
  refreshToken?: string;
}

/** Renew this long before the access token expires. */
const RENEW_BEFORE_MS = 60_000;
const TENANT_HEADER = "x-tenant-id";
/** The longest a server's RetryInfo may make a call wait (as the Python SDK). */
const MAX_SERVER_DELAY_MS = 30_000;
/** Path values URL resolution would turn into another path (another operation). */
const DOT_SEGMENTS = new Set(["", ".", ".."]);
const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** State shared by a client and its per-tenant siblings. */
class TokenState {
  token: Token | undefined;
  pending: Promise<Token> | undefined;
  constructor(readonly credentials: Credentials | undefined) {}
}

function claims(token: string): Record<string, unknown> {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function fromTokenSet(tokens: TokenSet | undefined): Token {
  const accessToken = tokens?.accessToken ?? "";
  if (!accessToken) {
    // Never keep an empty token: every call would then be refused and log in again.
    throw new TenantmeshError({ status: 401, code: "UNAUTHENTICATED", message: "the answer carried no access token" });
  }
  const expires = tokens?.accessTokenExpireTime
    ? Date.parse(tokens.accessTokenExpireTime)
    : Number(claims(accessToken).exp ?? 0) * 1000;
  return { accessToken, expiresAt: expires, refreshToken: tokens?.refreshToken ?? "" };
}

export class TenantmeshClient {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number | undefined;
  private readonly maxAttempts: number;
  private readonly explicitTenant: string | undefined;
  // Credentials and tokens in a real private field: `private` is only checked by the compiler,
  // and console.log / util.inspect / JSON.stringify of a client must not show them.
  readonly #tokens: TokenState;

  constructor(options: ClientOptions, shared?: TokenState) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = options.timeoutMs;
    this.maxAttempts = options.maxAttempts ?? 4;
    this.explicitTenant = options.tenantId;
    this.#tokens = shared ?? new TokenState(options.credentials);
    if ("credentials" in options && options.credentials && "accessToken" in options.credentials) {
      if (!options.credentials.accessToken) {
        throw new TypeError("empty access token");
      }
      this.#tokens.token = fromTokenSet({ accessToken: options.credentials.accessToken });
    }
  }

  /** What JSON.stringify shows: no credentials, no tokens. */
  toJSON(): Record<string, unknown> {
    const credentials = this.#tokens.credentials;
    const kind = !credentials
      ? undefined
      : "apiKey" in credentials
        ? "apiKey"
        : "password" in credentials
          ? "password"
          : "accessToken";
    return {
      baseUrl: this.baseUrl,
      tenantId: this.explicitTenant,
      credentials: kind && `[${kind}, redacted]`,
      timeoutMs: this.timeoutMs,
      maxAttempts: this.maxAttempts,
    };
  }

  /** What console.log and util.inspect show (Node): the same redacted view. */
  [INSPECT](_depth: number, options: unknown, inspect?: (value: unknown, options: unknown) => string): string {
    const view = this.toJSON();
    return `TenantmeshClient ${inspect ? inspect(view, options) : JSON.stringify(view)}`;
  }

  static fromApiKey(baseUrl: string, apiKey: string, options: Partial<ClientOptions> = {}): TenantmeshClient {
    return new TenantmeshClient({ ...options, baseUrl, credentials: { apiKey } });
  }

  static fromPassword(
    baseUrl: string,
    tenant: string,
    email: string,
    password: string,
    options: Partial<ClientOptions> = {},
  ): TenantmeshClient {
    return new TenantmeshClient({ ...options, baseUrl, credentials: { tenant, email, password } });
  }

  /** The tenant calls act in unless they name another: the one given, else the token's. */
  get tenantId(): string | undefined {
    if (this.explicitTenant) {
      return this.explicitTenant;
    }
    const token = this.#tokens.token;
    return token ? String(claims(token.accessToken).tid ?? "") || undefined : undefined;
  }

  /** A client acting in another tenant (a platform administrator's, say), sharing this one's token. */
  forTenant(tenantId: string): TenantmeshClient {
    return new TenantmeshClient(
      {
        baseUrl: this.baseUrl,
        fetch: this.fetchImpl,
        timeoutMs: this.timeoutMs,
        maxAttempts: this.maxAttempts,
        tenantId,
      },
      this.#tokens,
    );
  }

  /** Gets a token now (otherwise the first call does); throws the typed error if refused. */
  async authenticate(): Promise<void> {
    await this.token(false);
  }

  /** Calls one operation and returns its JSON answer (a binary answer: the Response); throws
   * TenantmeshError for any non-2xx. A deadline (`timeoutMs`) bounds the whole call, retries
   * included. */
  async call<K extends OperationId>(operation: K, options: CallOptions<K> = {}): Promise<ResponseBody<K>> {
    const info = OPERATIONS[operation];
    if (info.stream) {
      throw new TypeError(`${operation} is a server stream: use stream()`);
    }
    const retryable = info.method === "GET";
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const deadline = timeoutMs !== undefined ? Date.now() + timeoutMs : undefined;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const left = deadline !== undefined ? Math.max(0, deadline - Date.now()) : undefined;
        const response = await this.send(info, options, left);
        if (info.binaryResponse) {
          return response as ResponseBody<K>;
        }
        return (await response.json()) as ResponseBody<K>;
      } catch (error) {
        const retry =
          retryable &&
          error instanceof TenantmeshError &&
          (error.status === 429 || error.status === 503) &&
          attempt + 1 < this.maxAttempts;
        if (!retry) {
          throw error;
        }
        const delay =
          error.retryDelay !== undefined ? Math.min(error.retryDelay * 1000, MAX_SERVER_DELAY_MS) : backoff(attempt);
        if (deadline !== undefined && Date.now() + delay >= deadline) {
          throw error; // the wait would end past the deadline
        }
        await sleep(delay, options.signal);
      }
    }
  }

  /** Every item of a List operation, fetching pages (AIP-158 pageToken/nextPageToken) as needed. */
  async *paginate<K extends OperationId>(operation: K, options: CallOptions<K> = {}): AsyncGenerator<PageItem<K>> {
    let pageToken: string | undefined;
    do {
      const query = { ...(options.query ?? {}), ...(pageToken ? { pageToken } : {}) } as CallOptions<K>["query"];
      const page = (await this.call(operation, { ...options, query })) as Record<string, unknown>;
      for (const value of Object.values(page)) {
        if (Array.isArray(value)) {
          yield* value as PageItem<K>[];
        }
      }
      pageToken = typeof page.nextPageToken === "string" && page.nextPageToken ? page.nextPageToken : undefined;
    } while (pageToken);
  }

  /** A server stream's messages as they arrive; stop early with `break` or the signal. */
  async *stream<K extends OperationId>(operation: K, options: CallOptions<K> = {}): AsyncGenerator<StreamItem<K>> {
    const info = OPERATIONS[operation];
    if (!info.stream) {
      throw new TypeError(`${operation} is not a server stream: use call()`);
    }
    const response = await this.send(info, options, options.timeoutMs);
    if (!response.body) {
      return;
    }
    for await (const element of jsonArrayElements(response.body)) {
      // A stream that fails after it opened ends with an element carrying the error (a JSON
      // stream's trailers never reach fetch): it is raised as any error answer is.
      const error = streamError(element);
      if (error !== undefined) {
        throw errorFromBody(response.status, error, response.headers.get("x-request-id") ?? "");
      }
      yield element as StreamItem<K>;
    }
  }

  // ------------------------------------------------------------------ internals

  /** One attempt (and its repetition with a renewed token after a 401); `timeoutMs`: its deadline. */
  private async send(
    info: OperationInfo,
    options: CallOptions<OperationId>,
    timeoutMs: number | undefined,
  ): Promise<Response> {
    const url = this.url(info, options); // before any request: a bad path value is refused here
    let token = info.public ? undefined : (this.freshToken() ?? (await this.token(false)));
    // A stream body can be read once: it is not sent again after a 401.
    const replayable = !(typeof ReadableStream !== "undefined" && options.body instanceof ReadableStream);
    for (let renewed = false; ; renewed = true) {
      const response = await this.fetchOnce(info, url, options, token, timeoutMs);
      if (response.ok) {
        return response;
      }
      const error = await this.errorOf(response);
      if (response.status === 401 && token && !renewed && replayable && this.#tokens.credentials) {
        token = await this.token(true, token);
        continue;
      }
      throw error;
    }
  }

  private async fetchOnce(
    info: OperationInfo,
    url: string,
    options: CallOptions<OperationId>,
    token: Token | undefined,
    deadline: number | undefined,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: info.binaryResponse ? "*/*" : "application/json" };
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      headers[name.toLowerCase()] = value;
    }
    if (token) {
      headers.authorization = `Bearer ${token.accessToken}`;
    }
    const tenant = options.tenantId ?? this.explicitTenant ?? (token ? this.tenantOf(token) : undefined);
    if (info.tenantScoped && tenant) {
      headers[TENANT_HEADER] = tenant;
    }
    let body: BodyInit | undefined;
    if (info.binaryRequest) {
      // HttpBody: the bytes as given, with the caller's content type (the service checks it).
      if (options.body !== undefined && options.body !== null) {
        body = options.body as BodyInit;
        const blobType = typeof Blob !== "undefined" && body instanceof Blob ? body.type : "";
        if (!headers["content-type"] && !blobType) {
          headers["content-type"] = "application/octet-stream";
        }
      }
    } else if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.body);
    } else if (info.method === "POST" || info.method === "PATCH" || info.method === "PUT") {
      headers["content-type"] = "application/json";
      body = "{}";
    }
    const signals = [options.signal, deadline !== undefined ? AbortSignal.timeout(deadline) : undefined].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    const init: RequestInit & { duplex?: "half" } = { method: info.method, headers };
    if (body !== undefined) {
      init.body = body;
      if (typeof ReadableStream !== "undefined" && body instanceof ReadableStream) {
        init.duplex = "half"; // what fetch needs to send a stream
      }
    }
    if (signals.length > 0) {
      init.signal = signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    }
    return this.fetchImpl(url, init);
  }

  private url(info: OperationInfo, options: CallOptions<OperationId>): string {
    const pathParams = (options.path ?? {}) as Record<string, string | number>;
    const path = info.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const value = pathParams[name];
      if (value === undefined) {
        throw new TypeError(`missing path parameter ${name}`);
      }
      // "", "." and ".." would resolve to another path, hence another operation.
      if (DOT_SEGMENTS.has(String(value))) {
        throw new TypeError(`path parameter ${name} may not be ${JSON.stringify(String(value))}`);
      }
      return encodeURIComponent(String(value));
    });
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries((options.query ?? {}) as Record<string, unknown>)) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (item !== undefined && item !== null) {
          query.append(key, String(item));
        }
      }
    }
    const search = query.toString();
    return `${this.baseUrl}${path}${search ? `?${search}` : ""}`;
  }

  private tenantOf(token: Token): string | undefined {
    const tid = claims(token.accessToken).tid;
    return typeof tid === "string" && tid ? tid : undefined;
  }

  private async errorOf(response: Response): Promise<TenantmeshError> {
    const requestId = response.headers.get("x-request-id") ?? "";
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    return errorFromBody(response.status, body, requestId);
  }

  /** The current token when no renewal is due (no promise on the hot path). */
  private freshToken(): Token | undefined {
    const token = this.#tokens.token;
    const renewable = this.#tokens.credentials !== undefined && !("accessToken" in this.#tokens.credentials);
    return token && (!renewable || Date.now() <= token.expiresAt - RENEW_BEFORE_MS) ? token : undefined;
  }

  /** The current token, fetched or renewed when missing, near expiry, or refused (`force`). */
  private async token(force: boolean, previous?: Token): Promise<Token | undefined> {
    const state = this.#tokens;
    if (!state.credentials || "accessToken" in state.credentials) {
      return state.token;
    }
    const current = state.token;
    const stale = !current || Date.now() > current.expiresAt - RENEW_BEFORE_MS || (force && current === previous);
    if (!stale) {
      return current;
    }
    state.pending ??= this.fetchToken(state.credentials, current).finally(() => {
      state.pending = undefined;
    });
    state.token = await state.pending;
    return state.token;
  }

  private async fetchToken(credentials: Credentials, previous: Token | undefined): Promise<Token> {
    if ("apiKey" in credentials) {
      const answer = await this.call("AuthService_ExchangeApiKey", { body: { apiKey: credentials.apiKey } });
      return fromTokenSet(answer.tokens as TokenSet);
    }
    if ("password" in credentials) {
      if (previous?.refreshToken) {
        try {
          const answer = await this.call("AuthService_Refresh", { body: { refreshToken: previous.refreshToken } });
          return fromTokenSet(answer.tokens as TokenSet);
        } catch {
          // The session ended: log in again.
        }
      }
      const { tenant, email, password } = credentials;
      const answer = await this.call("AuthService_Login", { body: { tenant, email, password } });
      if (answer.mfaChallenge) {
        // A second factor is needed: no token to keep (password credentials are for accounts
        // without one); the error carries the challenge for CompleteMfaChallenge.
        throw new MfaRequiredError(answer.mfaChallenge);
      }
      return fromTokenSet(answer.tokens as TokenSet);
    }
    throw new TypeError("no credentials to renew the access token with");
  }
}

function backoff(attempt: number): number {
  return Math.min(100 * 2 ** attempt, 5_000) * (0.5 + Math.random());
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

/** The google.rpc.Status a stream's last element carries when the stream failed, if it is one. */
function streamError(element: unknown): unknown {
  if (typeof element !== "object" || element === null || !("error" in element)) {
    return undefined;
  }
  const error = (element as { error: unknown }).error;
  return typeof error === "object" && error !== null && "code" in error ? error : undefined;
}
