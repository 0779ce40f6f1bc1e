// Errors in the user's language: the server's ErrorInfo reason picks the console's words, in
// Bahasa Indonesia here, and the dashboard names the tenant by its display name, not its id.
import { expect, test } from "@playwright/test";
import { tenantWithAdmin } from "./env";

test("errors and the tenant's name in Bahasa Indonesia", async ({ page }) => {
  const tenant = await tenantWithAdmin();
  await page.goto("/login");
  await page.getByRole("combobox", { name: "Language" }).selectOption("id");
  await page.getByLabel("Tenant").fill(tenant.slug);
  await page.getByLabel("Email").fill(tenant.email);
  await page.getByLabel("Kata sandi").fill("not-the-password");
  await page.getByRole("button", { name: "Masuk" }).click();
  await expect(page.locator("main").getByRole("alert")).toHaveText("Tenant, email, atau kata sandi tidak benar.");

  await page.getByLabel("Kata sandi").fill(tenant.password);
  await page.getByRole("button", { name: "Masuk" }).click();
  await expect(page.getByText(`Anda bekerja di Tenant ${tenant.slug}.`)).toBeVisible();

  // MEMBERSHIP_EXISTS: the server's English text stays out of the message, in the details only.
  await page.goto("/admin/invitations");
  await page.getByLabel("Email").first().fill(tenant.email);
  await page.getByRole("button", { name: "Undang" }).click();
  const alert = page.getByTestId("error");
  await expect(alert).toContainText("Orang ini sudah menjadi anggota tenant ini.");
  await expect(alert.locator("summary")).toHaveText("Detail teknis");
});
