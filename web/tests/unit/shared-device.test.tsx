// What one person's session leaves in the browser for the next: the answers held in memory and the
// tenant acted in end with the session, forms kept for offline use are the keeper's alone; and the
// chosen language decides how times and states read, not the browser's.
import { useQueryClient } from "@tanstack/react-query";
import { act, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { AuditTable } from "@/components/audit-table";
import { Providers } from "@/components/providers";
import { PublicPage } from "@/components/public-page";
import { useActingTenant } from "@/lib/acting-tenant";
import { api, apiDownload, configureApi } from "@/lib/api";
import { useLocaleStore, type Translate } from "@/lib/i18n";
import { format, formatBytes } from "@/lib/messages";
import { discardPersonsForms, keepForm, keptForm } from "@/lib/offline-forms";
import { useSession } from "@/lib/session";
import { stateLabel } from "@/lib/tenants";

function jwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, "");
  return `${encode({ alg: "ES256" })}.${encode(claims)}.sig`;
}

const signedIn = (sub: string, tid: string, refreshToken = `r-${sub}`) =>
  useSession.getState().setTokens({ accessToken: jwt({ sub, tid }), refreshToken, expiresAt: Date.now() + 900_000 });

afterEach(() => {
  useSession.getState().setTokens(null);
  useActingTenant.getState().actIn(null);
  useLocaleStore.setState({ locale: "en" });
  window.localStorage.clear();
});

describe("a shared browser", () => {
  it("drops what one session read, and the tenant it acted in, when another person's begins", () => {
    signedIn("ada", "t1");
    let client: ReturnType<typeof useQueryClient> | undefined;
    function Probe() {
      client = useQueryClient();
      return null;
    }
    render(
      <Providers>
        <Probe />
      </Providers>,
    );
    act(() => {
      client?.setQueryData(["forms", null, ""], { forms: [{ title: "Salary review" }] });
      useActingTenant.getState().actIn("t9", "other");
    });
    // A renewed token is the same session: nothing is dropped.
    act(() => signedIn("ada", "t1", "r-renewed"));
    expect(client?.getQueryData(["forms", null, ""])).toBeDefined();
    // The session ends without signing out (revoked, expired), and someone else signs in here.
    act(() => useSession.getState().setTokens(null));
    act(() => signedIn("bob", "t2"));
    expect(client?.getQueryData(["forms", null, ""])).toBeUndefined();
    expect(useActingTenant.getState().tenantId).toBeNull();
  });

  it("keeps no answer in the browser's HTTP cache", async () => {
    const modes: (RequestCache | undefined)[] = [];
    configureApi({
      baseUrl: "https://edge.test",
      fetch: (async (_input: RequestInfo | URL, init?: RequestInit) => {
        modes.push(init?.cache);
        return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
      }) as typeof fetch,
    });
    signedIn("ada", "t1");
    await api("AuthService_GetMe");
    await apiDownload("/v1/forms/visit/submissions:export");
    configureApi({});
    expect(modes).toEqual(["no-store", "no-store"]);
  });

  it("keeps a form for offline use for its keeper only, and deletes the person's on sign-out", () => {
    keepForm("ada@t1", "t1", "visit", { title: "Visit" });
    keepForm("ada@t2", "t2", "visit", { title: "Visit 2" });
    keepForm("bob@t1", "t1", "visit", { title: "Bob's" });
    keepForm(null, "t1", "nobody", { title: "none" });
    window.localStorage.setItem("tm.form.t1.legacy", "{}"); // an older build's, owner unknown
    expect(keptForm("ada@t1", "t1", "visit")).toEqual({ title: "Visit" });
    expect(keptForm("bob@t1", "t1", "visit")).toEqual({ title: "Bob's" });
    expect(keptForm("carol@t1", "t1", "visit")).toBeNull();
    discardPersonsForms("ada@t1");
    expect(keptForm("ada@t1", "t1", "visit")).toBeNull();
    expect(keptForm("ada@t2", "t2", "visit")).toBeNull();
    expect(keptForm("bob@t1", "t1", "visit")).toEqual({ title: "Bob's" });
    expect(Object.keys(window.localStorage).filter((name) => name.startsWith("tm.form."))).toHaveLength(1);
  });
});

describe("the chosen language", () => {
  it("writes times the way it does, not the browser's way", () => {
    useLocaleStore.setState({ locale: "id" });
    render(<AuditTable caption="Log" events={[{ auditEventId: "e1", createTime: "2026-12-07T18:05:00Z", action: "x" }]} />);
    expect(screen.getAllByRole("cell")[0]?.textContent).toMatch(/^\d{2}\/12\/26,? \d{2}\.\d{2}$/);
  });

  it("titles the tab of a page without a session in it", () => {
    useLocaleStore.setState({ locale: "id" });
    render(<PublicPage title="Masuk">form</PublicPage>);
    expect(document.title).toBe("Masuk · Konsol Tenantmesh");
  });

  it("names states and sizes in it", () => {
    const t: Translate = (key, values) => format("id", key, values);
    expect(stateLabel(t, "SUBMISSION_STATUS_ACCEPTED", "SUBMISSION_STATUS_")).toBe("diterima");
    expect(stateLabel(t, "TENANT_STATE_ACTIVE")).toBe("aktif");
    expect(stateLabel(t, "TENANT_STATE_SOMETHING_NEW")).toBe("something_new");
    expect(formatBytes("id", 1536)).toBe("1,5 kB");
    expect(formatBytes("en", 1536)).toBe("1.5 kB");
    expect(formatBytes("en", 21)).toBe("21 B");
  });
});
