// The platform operator: signs in, creates a tenant and watches it become active, suspends and
// resumes it, migrates every tenant database; every admin page passes axe.
import { expect, test } from "@playwright/test";
import { ADMIN_EMAIL, ADMIN_PASSWORD, unique } from "./env";
import { expectAccessible, signIn } from "./pages";

test("operator creates a tenant and sees it become active, suspends and resumes it", async ({ page }) => {
  test.setTimeout(180_000);
  await signIn(page, "platform", ADMIN_EMAIL, ADMIN_PASSWORD);
  await expectAccessible(page);
  await page.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: "Tenants" }).click();
  await expect(page.getByRole("heading", { name: "Tenants", level: 1 })).toBeVisible();

  const slug = unique("op");
  await page.getByLabel("Slug").fill(slug);
  await page.getByLabel("Display name").fill(`Operator's ${slug}`);
  await page.getByLabel("Labels (key=value, comma separated)").fill("tier=gold");
  await page.getByRole("button", { name: "Create tenant" }).click();
  await expect(page.getByTestId(`state-${slug}`)).toHaveText("active", { timeout: 30_000 });
  await expectAccessible(page);

  // Filters: the label narrows the list to tenants carrying it.
  await page.getByLabel("Label (key=value)").fill("tier=gold");
  await expect(page.getByTestId(`state-${slug}`)).toBeVisible();
  await page.getByLabel("Label (key=value)").fill("tier=none-such");
  await expect(page.getByTestId(`state-${slug}`)).toHaveCount(0);
  await page.getByLabel("Label (key=value)").fill("");

  await page.getByRole("button", { name: `Suspend ${slug}` }).click();
  await expectAccessible(page); // the confirmation dialog
  await page.getByRole("alertdialog").getByRole("button", { name: "Suspend" }).click();
  await expect(page.getByTestId(`state-${slug}`)).toHaveText("suspended");
  await page.getByRole("button", { name: `Resume ${slug}` }).click();
  await expect(page.getByTestId(`state-${slug}`)).toHaveText("active");

  // Deleting asks for the slug before it does anything.
  await page.getByRole("button", { name: `Delete ${slug}` }).click();
  const dialog = page.getByRole("alertdialog");
  await expect(dialog.getByRole("button", { name: "Delete" })).toBeDisabled();
  await dialog.getByRole("button", { name: "Cancel" }).click();

  await page.getByRole("button", { name: "Migrate every tenant database" }).click();
  await expect(page.getByTestId("migrate-done")).toContainText("0 failed", { timeout: 30_000 });
});

test("every admin page passes axe", async ({ page }) => {
  test.setTimeout(180_000);
  await signIn(page, "platform", ADMIN_EMAIL, ADMIN_PASSWORD);
  for (const [path, title] of [
    ["/dashboard", "Dashboard"],
    ["/admin/tenants", "Tenants"],
    ["/platform/services", "Service catalogue"],
    ["/platform/keys", "Signing keys"],
    ["/platform/audit", "Platform audit log"],
    ["/account", "My account"],
  ] as const) {
    await page.goto(path);
    await expect(page.getByRole("heading", { name: title, level: 1 })).toBeVisible();
    await expectAccessible(page);
  }
  // The audit log shows what the operator just did.
  await page.goto("/platform/audit");
  await expect(page.getByRole("cell", { name: /tenant/i }).first()).toBeVisible();
});
