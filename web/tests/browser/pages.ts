// Steps the flows share: signing in through the page, and the axe check.
import runAxe from "./axe";
import { expect, type Page } from "@playwright/test";

export async function signIn(page: Page, tenant: string, email: string, password: string): Promise<void> {
  await page.goto("/login");
  await page.getByLabel("Tenant").fill(tenant);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("navigation")).toBeVisible();
}

/** Zero serious or critical axe violations on the page as it is now. */
export async function expectAccessible(page: Page): Promise<void> {
  const violations = await runAxe(page);
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join("; ")})`)).toEqual([]);
}
