// The menu editor: moving an entry (buttons, or dragging it onto another of its level) shows at
// once in the editor, reaches the navigation, and is kept (a reload shows the same order).
import { expect, test, type Locator } from "@playwright/test";
import { tenantWithAdmin } from "./env";
import { expectAccessible, signIn } from "./pages";

/** The order of these labels as a list shows them. */
async function orderOf(list: Locator, labels: string[]): Promise<string[]> {
  const texts = (await list.allInnerTexts()).map((text) => text.trim());
  return texts.filter((text) => labels.includes(text));
}

// Tall enough for the whole list: a drag runs between two entries on screen.
test.use({ viewport: { width: 1280, height: 1500 } });

test("the menu editor reorders the navigation, and the order is kept", async ({ page }) => {
  const tenant = await tenantWithAdmin();
  await signIn(page, tenant.slug, tenant.email, tenant.password);
  const navLinks = page.getByRole("navigation", { name: "Main navigation" }).getByRole("link");
  await page.goto("/admin/menus");
  const editor = page.getByTestId("menu-entries");
  const editorLabels = editor.getByTestId("menu-entry-label");
  const watched = ["Users", "Invitations", "Roles", "Audit log"];
  await expect(page.getByRole("button", { name: "Move up Roles" })).toBeVisible();
  expect(await orderOf(navLinks, watched)).toEqual(["Users", "Invitations", "Roles", "Audit log"]);
  // A platform page is listed but no tenant member sees it: the editor says so.
  await expect(editor.locator("li", { hasText: "Signing keys" })).toContainText("not in your menu");
  await expectAccessible(page);

  // Up: the editor shows it, then the navigation.
  await page.getByRole("button", { name: "Move up Roles" }).click();
  await expect.poll(() => orderOf(editorLabels, watched)).toEqual(["Users", "Roles", "Invitations", "Audit log"]);
  await expect.poll(() => orderOf(navLinks, watched)).toEqual(["Users", "Roles", "Invitations", "Audit log"]);

  // Dragged onto "Users": "Audit log" takes its place at the top of the section.
  await expect(page.getByRole("button", { name: "Move up Audit log" })).toBeEnabled();
  await editor.locator("li", { hasText: "Audit log" }).dragTo(editor.locator("li", { hasText: "Users" }));
  await expect.poll(() => orderOf(editorLabels, watched)).toEqual(["Audit log", "Users", "Roles", "Invitations"]);
  await expect.poll(() => orderOf(navLinks, watched)).toEqual(["Audit log", "Users", "Roles", "Invitations"]);

  // Down, twice in a row.
  const down = page.getByRole("button", { name: "Move down Audit log" });
  await down.click();
  await expect(down).toBeEnabled();
  await down.click();
  await expect.poll(() => orderOf(navLinks, watched)).toEqual(["Users", "Roles", "Audit log", "Invitations"]);

  // Kept: a fresh load shows the same order in both.
  await page.reload();
  await expect(page.getByRole("button", { name: "Move up Roles" })).toBeVisible();
  expect(await orderOf(editorLabels, watched)).toEqual(["Users", "Roles", "Audit log", "Invitations"]);
  await expect.poll(() => orderOf(navLinks, watched)).toEqual(["Users", "Roles", "Audit log", "Invitations"]);
});
