// What the pytest fixture (tests/web/conftest.py) tells the browser tests about the mesh it runs.
import { TenantmeshClient } from "@tenantmesh/sdk";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the browser tests through pytest (tests/web) or make test-console`);
  }
  return value;
}

export const CONSOLE_URL = required("CONSOLE_URL");
export const ADMIN_PASSWORD = required("CONSOLE_ADMIN_PASSWORD");
export const ADMIN_EMAIL = "admin@tenantmesh.local";
export const MAIL_DIR = required("CONSOLE_MAIL_DIR");

/** A platform administrator's SDK client (Node trusts the dev CA through NODE_EXTRA_CA_CERTS). */
export function adminClient(): TenantmeshClient {
  return TenantmeshClient.fromPassword(CONSOLE_URL, "platform", ADMIN_EMAIL, ADMIN_PASSWORD);
}

export function unique(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A fresh active tenant with a tenant administrator (made over the API, not through the UI). */
export async function tenantWithAdmin(): Promise<{ slug: string; tenantId: string; email: string; password: string }> {
  const admin = adminClient();
  const slug = unique("web");
  const created = await admin.call("TenantService_CreateTenant", { body: { slug, displayName: `Tenant ${slug}` } });
  const tenantId = created.tenant?.tenantId ?? "";
  for (let state = created.tenant?.state; state !== "TENANT_STATE_ACTIVE"; ) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    state = (await admin.call("TenantService_GetTenant", { path: { tenantId } })).tenant?.state;
  }
  const email = `owner@${slug}.example`;
  const password = `pw-${slug}-long-enough`;
  await admin.forTenant(tenantId).call("UserService_CreateUser", {
    body: { user: { email, displayName: "Owner" }, password, roles: ["tenant-admin"] },
  });
  return { slug, tenantId, email, password };
}

function decodeQuotedPrintable(text: string): string {
  return text.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** The newest link to ``pathPart`` in a mail to ``address`` the mesh wrote (file transport). */
export async function mailedLink(address: string, pathPart: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let files: string[] = [];
    try {
      files = readdirSync(MAIL_DIR).filter((name) => name.endsWith(".eml"));
    } catch {
      files = [];
    }
    const links = files
      .map((name) => path.join(MAIL_DIR, name))
      .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs)
      .map((file) => decodeQuotedPrintable(readFileSync(file, "utf8")))
      .filter((text) => text.includes(address))
      .flatMap((text) => text.match(/https:\/\/[^\s"<>]+/g) ?? [])
      .filter((link) => link.includes(pathPart));
    const last = links[links.length - 1];
    if (last) {
      return last.replace(/&amp;/g, "&");
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no mail to ${address} with a ${pathPart} link`);
}
