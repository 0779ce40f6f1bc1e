// Forms end to end: the admin builds a form (fields added in the builder, preview with the
// server's rules) and publishes it; filling it refuses what the server would refuse, then sends;
// offline, the submission is queued and delivered exactly once when the connection returns; the
// menu editor adds a custom entry. The service worker serves the shell offline.
import { expect, test } from "@playwright/test";
import { adminClient, tenantWithAdmin, unique } from "./env";
import { expectAccessible, signIn } from "./pages";

test("build, publish and fill a form, offline too; the menu editor", async ({ page, context }) => {
  test.setTimeout(120_000);
  const tenant = await tenantWithAdmin();
  await signIn(page, tenant.slug, tenant.email, tenant.password);
  const nav = page.getByRole("navigation", { name: "Main navigation" });

  // Build.
  const key = unique("visit");
  await page.goto("/forms");
  await page.getByLabel("Key").fill(key);
  await page.getByLabel("Title").fill("Visit report <b>bold?</b>");
  await page.getByRole("button", { name: "Create a form" }).click();
  await page.getByRole("link", { name: `Edit ${key}` }).click();
  await expect(page.getByRole("heading", { name: "Visit report <b>bold?</b>", level: 1 })).toBeVisible();
  for (const [fieldKey, label, type, required] of [
    ["name", "Name", "SHORT_TEXT", true],
    ["visitors", "Visitors", "INTEGER", false],
  ] as const) {
    await page.getByLabel("Field key").fill(fieldKey);
    await page.getByLabel("Field label").fill(label);
    await page.getByLabel("Field type").selectOption(type);
    await page.getByLabel("required").setChecked(required);
    await page.getByRole("button", { name: "Add a field" }).click();
  }
  // The preview runs the same rules: the required name is flagged before anything is sent.
  const preview = page.getByRole("region").or(page.locator("section")).filter({ hasText: "Preview" });
  await expect(preview.getByLabel("Name *")).toHaveAttribute("aria-invalid", "true");
  await expectAccessible(page);
  await page.getByRole("button", { name: "Save draft" }).click();
  await expect(page.getByText("Draft saved.")).toBeVisible();
  await page.getByRole("button", { name: "Publish" }).click();
  await expect(page.getByTestId("published")).toContainText("Version 1 published.");

  // Fill: an error first, then fixed.
  await page.goto(`/forms/fill?key=${key}`);
  await page.getByRole("button", { name: "Submit" }).click();
  await expect(page.getByText("Some answers need attention.")).toBeVisible();
  await expect(page.getByLabel("Name *")).toHaveAttribute("aria-invalid", "true");
  await page.getByLabel("Name *").fill("Ada");
  await page.getByLabel("Visitors").fill("3");
  await page.getByRole("button", { name: "Submit" }).click();
  await expect(page.getByTestId("submitted")).toBeVisible();
  await expectAccessible(page);

  // Offline: the shell still loads (service worker), the submission waits, then goes once.
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 15_000 });
  await context.setOffline(true);
  await page.reload();
  await expect(page.getByLabel("Name *")).toBeVisible();
  await page.getByLabel("Name *").fill("Offline Olga");
  await page.getByRole("button", { name: "Submit" }).click();
  await expect(page.getByTestId("queued")).toBeVisible();
  await expect(page.getByTestId("offline-banner")).toContainText("1 submission(s) waiting");
  // Signing out would delete it from the device: the console asks first, and Cancel keeps both.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("alertdialog")).toContainText("1 submission(s) made offline have not been sent");
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByRole("alertdialog")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
  await context.setOffline(false);
  await expect(page.getByTestId("offline-banner")).toHaveCount(0, { timeout: 20_000 });
  const client = adminClient().forTenant(tenant.tenantId);
  const stored = await client.call("SubmissionService_ListSubmissions", { query: { formKey: key } as never });
  const names = (stored.submissions ?? []).map((s) => (s.answers as { name?: string }).name).sort();
  expect(names).toEqual(["Ada", "Offline Olga"]);

  // Submissions: the table shows them, the detail shows answers as text.
  await page.goto(`/submissions?form=${key}`);
  await expect(page.getByRole("cell", { name: new RegExp(`${key} v1`) })).toHaveCount(2);
  await expectAccessible(page);

  // The menu editor (its reordering: menus.spec.ts).
  await page.goto("/admin/menus");
  await expect(page.getByTestId("menu-entries")).toBeVisible();
  await expectAccessible(page);
  // A custom entry added in the editor shows in the navigation.
  await page.getByLabel("Label").fill("Team wiki");
  await page.getByLabel("Route or URL").fill(`/forms/fill?key=${key}`);
  await page.getByRole("button", { name: "Add a custom entry" }).click();
  await expect(nav.getByRole("link", { name: "Team wiki" })).toBeVisible({ timeout: 10_000 });
});
