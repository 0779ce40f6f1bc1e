// The console in Bahasa Indonesia on a browser set to English: the choice is remembered, and what
// the pages show is in it — the review states, the times (written the Indonesian way, not the
// browser's), the form's own labels and the form engine's validation messages.
import { expect, test } from "@playwright/test";
import { adminClient, tenantWithAdmin, unique } from "./env";
import { signIn } from "./pages";

const definition = {
  schema: { type: "object", properties: { name: { type: "string", maxLength: 200 } }, required: ["name"] },
  fields: [{ key: "name", type: "FIELD_TYPE_SHORT_TEXT", label: { en: "Name", id: "Nama" } }],
};

test("Bahasa Indonesia is remembered and used for states, times and validation", async ({ page }) => {
  const tenant = await tenantWithAdmin();
  const client = adminClient().forTenant(tenant.tenantId);
  const key = unique("visit");
  const created = await client.call("FormService_CreateForm", {
    query: { requestId: crypto.randomUUID() },
    body: { key, title: "Kunjungan", draft: definition as never },
  });
  await client.call("FormService_PublishForm", { path: { key }, body: { etag: created.form?.etag } });
  await client.call("SubmissionService_SubmitForm", {
    path: { formKey: key },
    body: { version: 1, answers: { name: "Ani" }, requestId: crypto.randomUUID() } as never,
  });

  await signIn(page, tenant.slug, tenant.email, tenant.password);
  await page.getByRole("combobox", { name: "Language" }).selectOption("id");
  await page.goto(`/submissions?form=${key}`);
  await expect(page.locator("html")).toHaveAttribute("lang", "id");
  await expect(page.getByRole("heading", { name: "Kiriman", level: 1 })).toBeVisible();
  const row = page.getByRole("row").filter({ hasText: `${key} v1` });
  await expect(row.getByRole("cell").nth(3)).toHaveText("terkirim");
  await expect(page.getByRole("option", { name: "diterima" })).toBeAttached();
  // 07/12/26 18.05, never 12/7/2026, 6:05:00 PM (the browser's en-US).
  await expect(row.getByRole("cell").first()).toHaveText(/^\d{2}\/\d{2}\/\d{2},? \d{2}\.\d{2}$/);

  await page.goto(`/forms/fill?key=${key}`);
  await page.getByRole("button", { name: "Kirim" }).click();
  await expect(page.getByLabel("Nama *")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByText("Kolom ini wajib diisi.")).toBeVisible();
});
