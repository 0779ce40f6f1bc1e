// The operator manages a service of the catalogue: edits its details, registers a version from a
// descriptor set, and sees the compatibility result of the next one — refused with the breaking
// changes the registry found, then registered when the operator accepts them.
import { expect, test } from "@playwright/test";
import { ADMIN_EMAIL, ADMIN_PASSWORD, adminClient, unique } from "./env";
import { expectAccessible, signIn } from "./pages";

// A FileDescriptorSet, encoded by hand (protobuf wire format): package notes.v1, message Note with
// the given string fields.
function varint(value: number): number[] {
  const out: number[] = [];
  for (let v = value; ; v >>>= 7) {
    if (v < 0x80) return [...out, v];
    out.push((v & 0x7f) | 0x80);
  }
}
const bytesField = (no: number, payload: number[]) => [...varint((no << 3) | 2), ...varint(payload.length), ...payload];
const stringField = (no: number, text: string) => bytesField(no, [...new TextEncoder().encode(text)]);
const intField = (no: number, value: number) => [...varint(no << 3), ...varint(value)];

function descriptorSet(fields: string[]): Buffer {
  const note = [
    ...stringField(1, "Note"),
    // FieldDescriptorProto: name, number, label optional (1), type string (9), json_name.
    ...fields.flatMap((name, index) =>
      bytesField(2, [...stringField(1, name), ...intField(3, index + 1), ...intField(4, 1), ...intField(5, 9), ...stringField(10, name)]),
    ),
  ];
  const file = [...stringField(1, "notes/v1/note.proto"), ...stringField(2, "notes.v1"), ...bytesField(4, note), ...stringField(12, "proto3")];
  return Buffer.from(bytesField(1, file));
}

test("operator edits a service and registers versions with their compatibility result", async ({ page }) => {
  const name = unique("notes");
  const admin = adminClient();
  await admin.call("CatalogService_RegisterService", {
    query: { requestId: crypto.randomUUID() },
    body: { name, displayName: "Notes", kind: "SERVICE_KIND_INTERNAL_GRPC" },
  });
  await signIn(page, "platform", ADMIN_EMAIL, ADMIN_PASSWORD);
  await page.goto("/platform/services");
  await page.getByRole("button", { name: `Manage ${name}` }).click();
  const editor = page.getByRole("region").or(page.locator("section")).filter({ has: page.getByRole("heading", { name: `Manage ${name}` }) });

  // Details.
  await editor.getByLabel("Description").fill("Keeps <b>notes</b>");
  await editor.getByLabel("Owner").fill("team-notes");
  await editor.getByRole("button", { name: "Save" }).click();
  await expect(editor.getByText("Service saved.")).toBeVisible();
  const stored = await admin.call("CatalogService_GetService", { path: { name } });
  expect([stored.service?.description, stored.service?.owner]).toEqual(["Keeps <b>notes</b>", "team-notes"]);

  // The first version: nothing to break.
  const contract = editor.getByLabel("Contract file");
  await editor.getByLabel("Version", { exact: true }).fill("1.0.0");
  await contract.setInputFiles({ name: "v1.binpb", mimeType: "application/octet-stream", buffer: descriptorSet(["title", "body"]) });
  await editor.getByRole("button", { name: "Register the version" }).click();
  await expect(editor.getByTestId("compatibility")).toHaveText("Version 1.0.0 registered: compatible with the previous version.");
  await expect(editor.getByRole("cell", { name: "1.0.0", exact: true })).toBeVisible();

  // The next drops a field: refused, with the break named.
  await editor.getByLabel("Version", { exact: true }).fill("2.0.0");
  await contract.setInputFiles({ name: "v2.binpb", mimeType: "application/octet-stream", buffer: descriptorSet(["title"]) });
  await editor.getByRole("button", { name: "Register the version" }).click();
  const result = editor.getByTestId("compatibility");
  await expect(result).toContainText("Not registered: 1 breaking change(s) against the previous version.");
  await expect(result.getByRole("listitem")).toContainText("notes.v1.Note.body");
  await expectAccessible(page);
  await expect(editor.getByRole("cell", { name: "2.0.0", exact: true })).toHaveCount(0);

  // Accepted: registered, the break listed.
  await editor.getByLabel("Register even if the contract breaks the previous version's").check();
  await editor.getByRole("button", { name: "Register the version" }).click();
  await expect(result).toContainText("Version 2.0.0 registered despite 1 breaking change(s):");
  await expect(result.getByRole("listitem")).toContainText("notes.v1.Note.body");
  await expect(editor.getByRole("cell", { name: "2.0.0", exact: true })).toBeVisible();
  const versions = await admin.call("CatalogService_GetService", { path: { name } });
  expect((versions.service?.versions ?? []).map((v) => v.version)).toEqual(["1.0.0", "2.0.0"]);
});
