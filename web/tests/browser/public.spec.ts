// The pages reached without a session: accessible, in both languages, the choice remembered;
// links from the mails land on working pages.
import { expect, test } from "@playwright/test";
import { expectAccessible } from "./pages";

const PUBLIC_PAGES = ["/login", "/forgot-password", "/reset-password?token=x", "/verify-email?token=x", "/invitations/accept?token=x", "/offline", "/no-such-page"];

test("every public page passes axe in English and Indonesian", async ({ page }) => {
  test.setTimeout(180_000);
  for (const locale of ["en", "id"]) {
    await page.goto("/login");
    await page.getByRole("combobox").first().selectOption(locale);
    for (const path of PUBLIC_PAGES) {
      await page.goto(path);
      await expect(page.locator("h1")).toBeVisible();
      await expect(page.locator("html")).toHaveAttribute("lang", locale);
      await expectAccessible(page);
    }
  }
});

test("the Indonesian locale renders and is remembered", async ({ page }) => {
  await page.goto("/login");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.getByRole("combobox", { name: "Language" }).selectOption("id");
  await expect(page.getByRole("heading", { name: "Masuk" })).toBeVisible();
  await expect(page.getByLabel("Kata sandi")).toBeVisible();
  await page.reload();
  await expect(page.getByRole("heading", { name: "Masuk" })).toBeVisible();
  await expect(page.locator("html")).toHaveAttribute("lang", "id");
  await page.getByRole("combobox", { name: "Bahasa" }).selectOption("en");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
});

test("a wrong password is refused on the page, and links with spent tokens say so", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Tenant").fill("platform");
  await page.getByLabel("Email").fill("nobody@example.test");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "not right" })).toHaveText(
    "The tenant, email or password is not right.",
  );

  await page.goto("/invitations/accept?token=tmi_not-a-token");
  await expect(page.getByText("This invitation is not valid any more.")).toBeVisible();
  await page.goto("/verify-email?token=tmv_not-a-token");
  await expect(page.getByText("This link is not valid any more.")).toBeVisible();
});

test("the edge serves the console with a strict CSP and the API beside it", async ({ request }) => {
  const page = await request.get("/login");
  expect(page.status()).toBe(200);
  const csp = page.headers()["content-security-policy"] ?? "";
  expect(csp).toMatch(/script-src 'self' 'unsafe-eval' 'sha256-/);
  expect(csp).not.toContain("unsafe-inline' 'sha256"); // no inline script but the page's own
  expect((await request.get("/no-such-page")).status()).toBe(404);
  // An unknown API path is the API's answer (JSON), not a page.
  const api = await request.get("/v1/no-such-thing");
  expect(api.headers()["content-type"]).toContain("application/json");
  const manifest = await request.get("/manifest.webmanifest");
  expect((await manifest.json()).start_url).toBe("/dashboard");
});
