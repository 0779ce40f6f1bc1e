// A tenant's people: the admin invites someone (who accepts through the mailed link), makes a
// role with the permission picker and gives it to them, enables a service and configures it
// through its schema form; the member sees only what the role allows, and loses an entry
// shortly after the role changes. A display name holding markup is shown as text everywhere.
import { expect, test, type Browser, type Page } from "@playwright/test";
import { adminClient, mailedLink, tenantWithAdmin, unique } from "./env";
import { expectAccessible, signIn } from "./pages";

const PAYLOAD = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`;

async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  return context.newPage();
}

test("tenant admin and member: invitation, role, service config, navigation by permission", async ({ browser }) => {
  test.setTimeout(120_000);
  const tenant = await tenantWithAdmin();
  const serviceName = unique("greeter").replace("-", "");
  await adminClient().call("CatalogService_RegisterService", {
    body: {
      name: serviceName,
      displayName: "Greeter",
      description: "Says hello",
      kind: "SERVICE_KIND_EXTERNAL_HTTP",
      configSchema: {
        type: "object",
        properties: {
          greeting: { type: "string", minLength: 3, title: "Greeting" },
          retries: { type: "integer", minimum: 0, title: "Retries" },
        },
        required: ["greeting"],
      },
    },
  });

  const admin = await newPage(browser);
  await signIn(admin, tenant.slug, tenant.email, tenant.password);
  const nav = admin.getByRole("navigation", { name: "Main navigation" });

  // Invite someone.
  const inviteeEmail = `${unique("bo")}@example.test`;
  await admin.goto("/admin/invitations");
  await admin.getByLabel("Email").fill(inviteeEmail);
  await admin.getByRole("button", { name: "Invite" }).click();
  await expect(admin.getByText(`Invitation sent to ${inviteeEmail}.`)).toBeVisible();
  await expect(admin.getByRole("cell", { name: inviteeEmail, exact: true })).toBeVisible();
  await expectAccessible(admin);

  // The invitee follows the mailed link and makes an account (their name is a script payload).
  const link = await mailedLink(inviteeEmail, "/invitations/accept");
  const invitee = await newPage(browser);
  await invitee.goto(new URL(link).pathname + new URL(link).search);
  await expect(invitee.getByTestId("invitation-summary")).toContainText(tenant.slug);
  await expectAccessible(invitee);
  await invitee.getByLabel("Your name").fill(PAYLOAD);
  await invitee.getByLabel("Choose a password for your new account").fill("a long passphrase for bo");
  await invitee.getByRole("button", { name: "Create my account and join" }).click();
  await expect(invitee.getByText(/Welcome!/)).toBeVisible();

  // A role made with the permission picker (grouped by service).
  await nav.getByRole("link", { name: "Roles" }).click();
  await admin.getByLabel("Name").fill("viewer");
  const auth = admin.getByRole("group", { name: "auth" });
  await auth.getByLabel("auth.users.list").check();
  await auth.getByLabel("auth.audit.list").check();
  await admin.getByRole("button", { name: "Create a role" }).click();
  await expect(admin.getByRole("cell", { name: "viewer", exact: true })).toBeVisible();
  await expectAccessible(admin);

  // Given to the new member beside "member" (which lets them see their own session).
  await nav.getByRole("link", { name: "Users" }).click();
  await expect(admin.getByText(PAYLOAD)).toBeVisible(); // the name, as text
  await admin.getByLabel("Member", { exact: true }).selectOption({ label: inviteeEmail });
  const roles = admin.getByRole("group", { name: "Roles" }).last();
  await roles.getByLabel("viewer").check();
  await admin.getByRole("button", { name: "Save" }).click();
  await expect(admin.getByRole("row", { name: new RegExp(inviteeEmail) }).getByRole("cell", { name: "member, viewer" })).toBeVisible();
  await expectAccessible(admin);

  // Enable the service and configure it through its schema form: the browser refuses what the
  // server would refuse, then saves what it accepts.
  await nav.getByRole("link", { name: "Services" }).click();
  await admin.getByRole("button", { name: `Enable ${serviceName}` }).click();
  await admin.getByLabel("Greeting *").fill("hi");
  await admin.getByRole("button", { name: "Save" }).click();
  await expect(admin.getByLabel("Greeting *")).toHaveAttribute("aria-invalid", "true");
  await admin.getByLabel("Greeting *").fill("hello there");
  await admin.getByLabel("Retries").fill("2");
  await admin.getByRole("button", { name: "Save" }).click();
  await expect(admin.getByText("✓")).toBeVisible();
  await expect(admin.getByRole("button", { name: `Configure ${serviceName}` })).toBeVisible();
  await expectAccessible(admin);
  const stored = await adminClient()
    .forTenant(tenant.tenantId)
    .call("EnabledServiceService_GetEnabledService", { path: { service: serviceName } });
  expect(stored.enabledService?.config).toEqual({ greeting: "hello there", retries: 2 });

  // The member signs in and sees what the role allows, nothing more.
  const member = await newPage(browser);
  await signIn(member, tenant.slug, inviteeEmail, "a long passphrase for bo");
  const memberNav = member.getByRole("navigation", { name: "Main navigation" });
  await expect(memberNav.getByRole("link", { name: "Users" })).toBeVisible();
  await expect(memberNav.getByRole("link", { name: "Audit log" })).toBeVisible();
  await expect(memberNav.getByRole("link", { name: "Roles" })).toHaveCount(0);
  await expect(memberNav.getByRole("link", { name: "Services" })).toHaveCount(0);
  await expect(member.getByTestId("signed-in-as")).toHaveText(`Signed in as ${PAYLOAD}`);

  // The audit log names the member: as text too.
  await memberNav.getByRole("link", { name: "Audit log" }).click();
  await expect(member.getByRole("heading", { name: "Audit log", level: 1 })).toBeVisible();
  await expectAccessible(member);

  // The role loses a permission: the entry goes.
  const tenantAdmin = adminClient().forTenant(tenant.tenantId);
  const role = await tenantAdmin.call("RoleService_GetRole", { path: { name: "viewer" } });
  const changedAt = Date.now();
  await tenantAdmin.call("RoleService_UpdateRole", {
    path: { name: "viewer" },
    query: { updateMask: "permissions" },
    body: { permissions: ["auth.users.list"], etag: role.role?.etag },
  });
  await expect(memberNav.getByRole("link", { name: "Audit log" })).toHaveCount(0, { timeout: 5_000 });
  console.log(`navigation entry gone ${Date.now() - changedAt} ms after the role change`);
  await expect(memberNav.getByRole("link", { name: "Users" })).toBeVisible();

  // No payload ever ran, on any of the pages that showed it.
  for (const page of [admin, invitee, member]) {
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  }
});
