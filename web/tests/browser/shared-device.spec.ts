// One browser, two people: what the first leaves behind must not reach the second. A session that
// ends without "Sign out" (revoked or expired, the person walked away) sends the tab to sign-in;
// whoever signs in there next sees none of the first person's answers or the tenant they were
// managing. Signing out takes the forms kept for offline use off the device.
import { TenantmeshClient } from "@tenantmesh/sdk";
import { expect, test, type Page } from "@playwright/test";
import { adminClient, CONSOLE_URL, tenantWithAdmin, unique } from "./env";
import { signIn } from "./pages";

/** The access token of the page's session (sessionStorage, as the console keeps it). */
async function accessToken(page: Page): Promise<string> {
  const session = await page.evaluate(() => window.sessionStorage.getItem("tm.session"));
  return (JSON.parse(session ?? "{}") as { accessToken?: string }).accessToken ?? "";
}

/** A published one-field form in the tenant, made over the API. */
async function publishedForm(tenantId: string, title: string): Promise<string> {
  const client = adminClient().forTenant(tenantId);
  const key = unique("kept");
  const definition = {
    schema: { type: "object", properties: { name: { type: "string", maxLength: 200 } } },
    fields: [{ key: "name", type: "FIELD_TYPE_SHORT_TEXT", label: { en: "Name" } }],
  };
  await client.call("FormService_CreateForm", {
    query: { requestId: crypto.randomUUID() },
    body: { key, title, draft: definition as never },
  });
  await client.call("FormService_PublishForm", { path: { key }, body: {} as never });
  return key;
}

test("a session that ends without signing out leaves nothing for the next person", async ({ page }) => {
  test.setTimeout(90_000);
  const [first, second] = await Promise.all([tenantWithAdmin(), tenantWithAdmin()]);
  const secret = `Salary review ${unique("s")}`;
  await publishedForm(first.tenantId, secret);

  await signIn(page, first.slug, first.email, first.password);
  await page.getByTestId("navigation").getByRole("link", { name: "Form builder" }).click();
  await expect(page.getByRole("cell", { name: secret })).toBeVisible();
  // The session ends elsewhere (revoked): the console notices on its next call and asks to sign in.
  const revoker = new TenantmeshClient({ baseUrl: CONSOLE_URL, credentials: { accessToken: await accessToken(page) } });
  await revoker.call("AuthService_Logout", { body: {} });
  await expect(page).toHaveURL(/\/login\?next=%2Fforms/, { timeout: 15_000 });

  // The next person's list comes slowly: nothing of the first person's shows meanwhile.
  await page.route("**/v1/forms?*", async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await route.continue();
  });
  await page.getByLabel("Tenant").fill(second.slug);
  await page.getByLabel("Email").fill(second.email);
  await page.getByLabel("Password").fill(second.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Forms", level: 1 })).toBeVisible();
  // Checked as the page is now (an expect would wait for the slow answer to replace it).
  expect(await page.getByRole("main").innerText()).not.toContain(secret);
  await expect(page.getByRole("main").getByText("Nothing here yet.")).toBeVisible();
  expect(await page.getByRole("main").innerText()).not.toContain(secret);
});

test("signing out takes the forms kept for offline use off the device", async ({ page }) => {
  const tenant = await tenantWithAdmin();
  const key = await publishedForm(tenant.tenantId, "Home visit");
  await signIn(page, tenant.slug, tenant.email, tenant.password);
  await page.goto(`/forms/fill?key=${key}`);
  await expect(page.getByRole("heading", { name: "Home visit", level: 1 })).toBeVisible();
  const kept = () =>
    page.evaluate(() => Object.keys(window.localStorage).filter((name) => name.startsWith("tm.form.")));
  expect(await kept()).toHaveLength(1);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  expect(await kept()).toEqual([]);
});

test("the browser's HTTP cache keeps none of the person's answers", async ({ page }) => {
  const tenant = await tenantWithAdmin();
  await publishedForm(tenant.tenantId, "Cached?");
  await signIn(page, tenant.slug, tenant.email, tenant.password);
  await page.getByTestId("navigation").getByRole("link", { name: "Form builder" }).click();
  await expect(page.getByRole("cell", { name: "Cached?" })).toBeVisible();
  const read = await page.evaluate(() =>
    performance
      .getEntriesByType("resource")
      .map((entry) => entry.name)
      .filter((url) => new URL(url).pathname.startsWith("/v1/")),
  );
  expect(read.length).toBeGreaterThan(0);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  // Any script of the origin could ask the cache for them after the person has gone.
  const kept = await page.evaluate(async (urls) => {
    const found: string[] = [];
    for (const url of urls) {
      const answer = await fetch(url, { cache: "only-if-cached", mode: "same-origin" }).catch(() => null);
      if (answer?.ok) found.push(url);
    }
    return found;
  }, read);
  expect(kept).toEqual([]);
});
