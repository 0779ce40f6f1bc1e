// A tenant admin's people: a custom role created and then edited with the permission picker; a
// person of another tenant invited with it (the invitation sent again: only the new link
// works), joining with the account they are signed in with; their roles changed, then removed
// from the tenant — their own tenant keeps them.
import { expect, test, type Browser, type Page } from "@playwright/test";
import { adminClient, mailedLink, tenantWithAdmin } from "./env";
import { expectAccessible, signIn } from "./pages";

async function newPage(browser: Browser): Promise<Page> {
  return (await browser.newContext()).newPage();
}

test("tenant admin: edit a custom role, resend an invitation, change a member's roles, remove the member", async ({ browser }) => {
  test.setTimeout(120_000);
  const [home, tenant] = await Promise.all([tenantWithAdmin(), tenantWithAdmin()]);
  const admin = await newPage(browser);
  await signIn(admin, tenant.slug, tenant.email, tenant.password);
  const nav = admin.getByRole("navigation", { name: "Main navigation" });

  // A custom role, then edited: another permission and a description.
  await nav.getByRole("link", { name: "Roles" }).click();
  await admin.getByLabel("Name").fill("auditor");
  await admin.getByRole("group", { name: "auth" }).getByLabel("auth.audit.list").check();
  await admin.getByRole("button", { name: "Create a role" }).click();
  const row = admin.getByRole("row", { name: /auditor/ });
  await expect(row.getByRole("cell", { name: "auth.audit.list", exact: true })).toBeVisible();
  await admin.getByRole("button", { name: "Edit auditor" }).click();
  await expect(admin.getByRole("heading", { name: "Edit the role auditor" })).toBeVisible();
  await expect(admin.getByRole("group", { name: "auth" }).getByLabel("auth.audit.list")).toBeChecked();
  await admin.getByLabel("Description").fill("Reads the audit log and the people");
  await admin.getByRole("group", { name: "auth" }).getByLabel("auth.users.list").check();
  await expectAccessible(admin);
  await admin.getByRole("button", { name: "Save" }).click();
  await expect(row.getByRole("cell", { name: "auth.audit.list, auth.users.list" })).toBeVisible();
  await expect(row.getByRole("cell", { name: "Reads the audit log and the people" })).toBeVisible();
  const tenantApi = adminClient().forTenant(tenant.tenantId);
  const stored = await tenantApi.call("RoleService_GetRole", { path: { name: "auditor" } });
  expect(stored.role?.permissions?.slice().sort()).toEqual(["auth.audit.list", "auth.users.list"]);

  // The other tenant's owner is invited with the role; the invitation goes again.
  await nav.getByRole("link", { name: "Invitations" }).click();
  await admin.getByLabel("Email").fill(home.email);
  await admin.getByRole("group", { name: "Roles" }).getByLabel("auditor").check();
  await admin.getByRole("button", { name: "Invite" }).click();
  await expect(admin.getByRole("cell", { name: home.email, exact: true })).toBeVisible();
  const firstLink = await mailedLink(home.email, "/invitations/accept");
  await admin.getByRole("button", { name: `Send again ${home.email}` }).click();
  await expect(admin.getByText(`A new invitation link went to ${home.email}`)).toBeVisible();
  await expectAccessible(admin);
  let link = firstLink;
  await expect.poll(async () => (link = await mailedLink(home.email, "/invitations/accept"))).not.toBe(firstLink);

  // The old link is dead; with the new one they join with the account they are signed in with.
  const person = await newPage(browser);
  await signIn(person, home.slug, home.email, home.password);
  await person.goto(new URL(firstLink).pathname + new URL(firstLink).search);
  await expect(person.getByText("This invitation is not valid any more.")).toBeVisible();
  await person.goto(new URL(link).pathname + new URL(link).search);
  await person.getByRole("button", { name: "Join with the account I am signed in with" }).click();
  await expect(person.getByText(/Welcome!/)).toBeVisible();

  // Their roles here change…
  await nav.getByRole("link", { name: "Users" }).click();
  const member = admin.getByRole("row", { name: new RegExp(home.email) });
  await expect(member.getByRole("cell", { name: "member, auditor" })).toBeVisible();
  await admin.getByLabel("Member", { exact: true }).selectOption({ label: home.email });
  const roles = admin.getByRole("group", { name: "Roles" }).last();
  await roles.getByLabel("auditor").uncheck();
  await admin.getByRole("button", { name: "Save", exact: true }).click();
  await expect(member.getByRole("cell", { name: "member", exact: true })).toBeVisible();

  // …then they are removed from it, after a confirmation.
  await member.getByRole("button", { name: `Remove from tenant ${home.email}` }).click();
  const dialog = admin.getByRole("alertdialog");
  await expect(dialog).toContainText(`Remove ${home.email} from this tenant?`);
  await expectAccessible(admin);
  await dialog.getByRole("button", { name: "Remove from tenant" }).click();
  await expect(member).toHaveCount(0);
  const memberships = await tenantApi.call("MembershipService_ListMemberships", { query: { pageSize: 100 } });
  expect((memberships.memberships ?? []).map((m) => m.email)).not.toContain(home.email);
  // Their own tenant keeps them.
  const homeMembers = await adminClient().forTenant(home.tenantId).call("MembershipService_ListMemberships", { query: { pageSize: 100 } });
  expect((homeMembers.memberships ?? []).map((m) => m.email)).toContain(home.email);
});
