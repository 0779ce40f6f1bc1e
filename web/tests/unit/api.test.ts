// The API layer against a scripted fetch: tokens renewed before expiry and once after a 401,
// the session ended when renewal is refused, the acting tenant sent, transient failures queued.
import { beforeEach, describe, expect, it } from "vitest";
import { useActingTenant } from "@/lib/acting-tenant";
import { api, configureApi } from "@/lib/api";
import { discardPersonsQueue, flushQueue, sendOrQueue, useOfflineQueue } from "@/lib/offline-queue";
import { useSession } from "@/lib/session";

interface Seen {
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

function jwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, "");
  return `${encode({ alg: "ES256" })}.${encode(claims)}.sig`;
}

function scripted(answers: ((seen: Seen) => Response)[]) {
  const seen: Seen[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const entry = {
      url: String(input),
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    seen.push(entry);
    const next = answers.shift();
    if (!next) throw new Error(`unexpected call ${entry.url}`);
    return next(entry);
  }) as typeof fetch;
  configureApi({ fetch: fetchImpl, baseUrl: "https://edge.test" });
  return seen;
}

const json = (status: number, body: unknown) => () =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const tokenSet = (name: string, expiresInMs: number) => ({
  tokens: {
    accessToken: jwt({ tid: "t1", sub: name }),
    refreshToken: `tmr_${name}`,
    accessTokenExpireTime: new Date(Date.now() + expiresInMs).toISOString(),
  },
});

describe("api", () => {
  beforeEach(() => {
    window.sessionStorage.clear();
    window.localStorage.clear();
    useActingTenant.setState({ tenantId: null, label: null });
    useOfflineQueue.setState({ items: [], sending: false });
  });

  it("renews a token about to expire before the call, then calls with the new one", async () => {
    useSession.getState().setTokens({ accessToken: jwt({ tid: "t1" }), refreshToken: "tmr_old", expiresAt: Date.now() + 5_000 });
    const seen = scripted([json(200, tokenSet("new", 900_000)), json(200, { tenant: { slug: "acme" } })]);
    await api("TenantService_GetCurrentTenant");
    expect(seen[0]?.url).toBe("https://edge.test/v1/auth:refresh");
    expect(seen[0]?.body).toEqual({ refreshToken: "tmr_old" });
    expect(seen[1]?.headers.authorization).toBe(`Bearer ${jwt({ tid: "t1", sub: "new" })}`);
    expect(useSession.getState().tokens?.refreshToken).toBe("tmr_new");
  });

  it("after a 401 renews once and retries; a refused renewal ends the session", async () => {
    useSession.getState().setTokens({ accessToken: jwt({ tid: "t1" }), refreshToken: "tmr_a", expiresAt: Date.now() + 900_000 });
    scripted([json(401, { code: 16 }), json(200, tokenSet("b", 900_000)), json(200, {})]);
    await api("TenantService_GetCurrentTenant");
    expect(useSession.getState().tokens?.refreshToken).toBe("tmr_b");

    scripted([json(401, { code: 16 }), json(401, { code: 16 })]);
    await expect(api("TenantService_GetCurrentTenant")).rejects.toMatchObject({ status: 401 });
    expect(useSession.getState().tokens).toBeNull();
  });

  it("sends the tenant a platform administrator acts in", async () => {
    useSession.getState().setTokens({ accessToken: jwt({ tid: "platform" }), refreshToken: "r", expiresAt: Date.now() + 900_000 });
    useActingTenant.getState().actIn("t-9", "acme");
    const seen = scripted([json(200, { users: [] })]);
    await api("UserService_ListUsers");
    expect(seen[0]?.headers["x-tenant-id"]).toBe("t-9");
  });

  it("queues a submission the edge cannot take now, and not one it refuses", async () => {
    useSession.getState().setTokens({ accessToken: jwt({ tid: "t1", sub: "ada" }), refreshToken: "r", expiresAt: Date.now() + 900_000 });
    scripted([json(503, { code: 14 })]);
    const body = { version: 1, answers: { name: "Ada" }, requestId: "5f0c3a52-8a47-4a8e-9d7e-8b4a2a3c1d10" };
    expect(await sendOrQueue("SubmissionService_SubmitForm", { path: { formKey: "visit" }, body })).toEqual({ queued: true });
    expect(useOfflineQueue.getState().items.map((i) => i.options.body)).toEqual([body]);

    scripted([json(400, { code: 3, details: [] })]);
    await expect(sendOrQueue("SubmissionService_SubmitForm", { path: { formKey: "visit" }, body })).rejects.toMatchObject({ status: 400 });
    expect(useOfflineQueue.getState().items).toHaveLength(1);
  });

  const signIn = (sub: string, tid = "t1") =>
    useSession.getState().setTokens({ accessToken: jwt({ tid, sub }), refreshToken: `r-${sub}`, expiresAt: Date.now() + 900_000 });
  const visit = (name: string) => ({
    path: { formKey: "visit" },
    body: { version: 1, answers: { name }, requestId: crypto.randomUUID() },
  });

  it("sends a queued submission only in the session of the person who made it", async () => {
    signIn("ada");
    scripted([json(503, { code: 14 })]);
    expect(await sendOrQueue("SubmissionService_SubmitForm", visit("Ada"))).toEqual({ queued: true });
    expect(JSON.parse(window.localStorage.getItem("tm.outbox") ?? "[]")[0].owner).toBe("ada@t1");

    // Another person on the same browser (Ada's session ended): nothing of Ada's goes out.
    signIn("bob");
    const seenByBob = scripted([]);
    await flushQueue();
    expect(seenByBob).toHaveLength(0);
    // Nor in Ada's name in another tenant.
    signIn("ada", "t2");
    await flushQueue();
    expect(seenByBob).toHaveLength(0);
    expect(useOfflineQueue.getState().items.map((i) => i.error)).toEqual([undefined]);

    signIn("ada");
    const seenByAda = scripted([json(200, { submission: {} })]);
    await flushQueue();
    expect(seenByAda.map((s) => s.body)).toEqual([expect.objectContaining({ answers: { name: "Ada" } })]);
    expect(useOfflineQueue.getState().items).toEqual([]);
  });

  it("keeps a queued submission waiting when the session ends while sending it", async () => {
    signIn("ada");
    scripted([json(503, { code: 14 })]);
    await sendOrQueue("SubmissionService_SubmitForm", visit("Ada"));
    scripted([json(401, { code: 16 }), json(401, { code: 16 })]);
    await flushQueue();
    expect(useOfflineQueue.getState().items.map((i) => i.error)).toEqual([undefined]);
  });

  it("does not queue without a session, and discards only the signing-out person's calls", async () => {
    useSession.getState().setTokens(null);
    scripted([json(503, { code: 14 })]);
    await expect(sendOrQueue("SubmissionService_SubmitForm", visit("Nobody"))).rejects.toMatchObject({ status: 503 });
    expect(useOfflineQueue.getState().items).toEqual([]);

    for (const [person, tenant] of [["ada", "t1"], ["bob", "t1"], ["bob", "t2"], ["bobby", "t1"]] as const) {
      signIn(person, tenant);
      scripted([json(503, { code: 14 })]);
      await sendOrQueue("SubmissionService_SubmitForm", visit(person));
    }
    // Bob signs out (in t1): what he queued in t2 goes too, nobody else's.
    discardPersonsQueue("bob@t1");
    expect(useOfflineQueue.getState().items.map((i) => i.owner)).toEqual(["ada@t1", "bobby@t1"]);
    expect(JSON.parse(window.localStorage.getItem("tm.outbox") ?? "[]")).toHaveLength(2);
  });
});
