// The menu editor: moving an entry (buttons, or dragging it onto another of its level) shows at
// once in the editor, reaches the navigation, and is kept (a reload shows the same order);
// a renamed entry goes back to its default, and a custom entry is renamed, then deleted after a confirmation.
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

test("the menu editor resets a renamed entry and deletes a custom one", async ({ page }) => {
  const tenant = await tenantWithAdmin();
  await signIn(page, tenant.slug, tenant.email, tenant.password);
  const nav = page.getByRole("navigation", { name: "Main navigation" });
  const navLabels = () => nav.getByRole("link").allInnerTexts().then((texts) => texts.map((text) => text.trim()));
  await page.goto("/admin/menus");
  const editor = page.getByTestId("menu-entries");
  await expect(page.getByRole("button", { name: "Rename Roles" })).toBeVisible();
  // An entry of the platform is neither deletable nor (untouched) resettable.
  await expect(editor.getByRole("button", { name: "Delete Roles" })).toHaveCount(0);
  await expect(editor.getByRole("button", { name: "Reset to default Roles" })).toHaveCount(0);

  // Renamed, then back to its default: both reach the navigation.
  await page.getByRole("button", { name: "Rename Roles" }).click();
  await editor.getByLabel("Label").fill("Team roles");
  await editor.getByRole("button", { name: "Save" }).click();
  await expect.poll(navLabels).toContain("Team roles");
  expect(await navLabels()).not.toContain("Roles");
  await page.getByRole("button", { name: "Reset to default Team roles" }).click();
  await expect.poll(navLabels).toContain("Roles");
  expect(await navLabels()).not.toContain("Team roles");
  await expect(editor.getByRole("button", { name: "Reset to default Roles" })).toHaveCount(0);

  // A custom entry, added then deleted, all by keyboard; Escape cancels and gives focus back.
  await page.getByLabel("Label", { exact: true }).fill("Help desk");
  await page.getByLabel("Route or URL").fill("/dashboard");
  await page.getByRole("button", { name: "Add a custom entry" }).click();
  await expect.poll(navLabels).toContain("Help desk");
  // The tenant's own entry is renamed in place (it has no override, and deleting replaces hiding).
  await expect(editor.getByRole("button", { name: "Hide Help desk" })).toHaveCount(0);
  await page.getByRole("button", { name: "Rename Help desk" }).click();
  await editor.getByLabel("Label").fill("Service desk");
  await editor.getByRole("button", { name: "Save" }).click();
  await expect.poll(navLabels).toContain("Service desk");
  await page.getByRole("button", { name: "Rename Service desk" }).click();
  await editor.getByLabel("Label").fill("Help desk");
  await editor.getByRole("button", { name: "Save" }).click();
  await expect.poll(navLabels).toContain("Help desk");
  const remove = editor.getByRole("button", { name: "Delete Help desk" });
  await remove.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("alertdialog", { name: "Delete the entry Help desk? Entries under it must be moved out first." });
  await expect(dialog).toBeVisible();
  await expectAccessible(page);
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(remove).toBeFocused();
  expect(await navLabels()).toContain("Help desk");

  await page.keyboard.press("Enter");
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(dialog.getByRole("button", { name: "Delete" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(editor.locator("li", { hasText: "Help desk" })).toHaveCount(0);
  await expect.poll(navLabels).not.toContain("Help desk");

  // Kept: a fresh load shows the default label and no deleted entry.
  await page.reload();
  await expect(page.getByRole("button", { name: "Rename Roles" })).toBeVisible();
  const labels = await navLabels();
  expect(labels).toContain("Roles");
  expect(labels).not.toContain("Team roles");
  expect(labels).not.toContain("Help desk");
  await expectAccessible(page);
});
