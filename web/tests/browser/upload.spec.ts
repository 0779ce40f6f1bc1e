// A FILE field: a file its rules refuse is refused before it is sent, one the server refuses shows
// the server's reason, a slow upload shows its progress and can be cancelled, and an uploaded
// file answers the field: the submission holds it, and a reviewer downloads it from its detail.
import { expect, test } from "@playwright/test";
import { TenantmeshClient } from "@tenantmesh/sdk";
import { adminClient, CONSOLE_URL, tenantWithAdmin, unique } from "./env";
import { expectAccessible, signIn } from "./pages";

const definition = {
  schema: {
    type: "object",
    properties: { note: { type: "string", maxLength: 200 }, report: { type: "string" } },
    required: ["report"],
  },
  fields: [
    { key: "note", type: "FIELD_TYPE_SHORT_TEXT", label: { en: "Note" } },
    {
      key: "report",
      type: "FIELD_TYPE_FILE",
      label: { en: "Report" },
      // text/html: the field would take it, the platform does not (the server's refusal is shown).
      fileRules: { maxBytes: "3000000", accept: ["application/pdf", "text/plain", "text/html"] },
    },
  ],
};

test("file uploads in a form: rules, server refusal, progress and cancel, then submitted", async ({ page, context }) => {
  test.setTimeout(90_000);
  const tenant = await tenantWithAdmin();
  const client = adminClient().forTenant(tenant.tenantId);
  const key = unique("claim");
  const created = await client.call("FormService_CreateForm", {
    query: { requestId: crypto.randomUUID() },
    body: { key, title: "Expense claim", draft: definition as never },
  });
  await client.call("FormService_PublishForm", { path: { key }, body: { etag: created.form?.etag } });

  await signIn(page, tenant.slug, tenant.email, tenant.password);
  await page.goto(`/forms/fill?key=${key}`);
  const report = page.getByLabel("Report *");
  const error = page.getByTestId("upload-error");

  // Refused by the field's rules, before anything is sent.
  await report.setInputFiles({ name: "huge.pdf", mimeType: "application/pdf", buffer: Buffer.alloc(3_100_000, 1) });
  await expect(error).toHaveText("The file is larger than this field allows (2.9 MB).");
  await report.setInputFiles({ name: "photo.png", mimeType: "image/png", buffer: Buffer.alloc(100, 1) });
  await expect(error).toHaveText("This field does not take files of this type.");
  // Refused by the server: its reason is shown.
  await report.setInputFiles({ name: "page.html", mimeType: "text/html", buffer: Buffer.from("<p>hi</p>") });
  await expect(error).toContainText("The file was not accepted:");
  await expectAccessible(page);

  // A slow upload (throttled network): progress, then cancelled; the field stays unanswered.
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 20,
    downloadThroughput: -1,
    uploadThroughput: 256 * 1024,
  });
  await report.setInputFiles({ name: "scan.pdf", mimeType: "application/pdf", buffer: Buffer.alloc(2_500_000, 7) });
  const progress = page.getByRole("progressbar", { name: "Uploading scan.pdf" });
  await expect(progress).toBeVisible();
  await expect.poll(async () => Number(await progress.getAttribute("value"))).toBeGreaterThan(0);
  await expectAccessible(page);
  await page.getByRole("button", { name: "Cancel the upload" }).click();
  await expect(page.getByText("The upload was cancelled.")).toBeVisible();
  await expect(progress).toHaveCount(0);
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.getByRole("button", { name: "Submit" }).click();
  await expect(report).toHaveAttribute("aria-invalid", "true");

  // Uploaded: the reference answers the field, and the submission holds the file.
  await report.setInputFiles({ name: "receipt.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4\n% a receipt\n") });
  await expect(page.getByTestId("upload-done")).toHaveText(/receipt\.pdf \(21 B\) is uploaded\./);
  await page.getByLabel("Note").fill("Taxi to the client");
  await page.getByRole("button", { name: "Submit" }).click();
  await expect(page.getByTestId("submitted")).toBeVisible();
  const stored = await client.call("SubmissionService_ListSubmissions", { query: { formKey: key } as never });
  const answers = (stored.submissions ?? []).map((s) => s.answers as { report?: string; note?: string });
  expect(answers.map((a) => a.note)).toEqual(["Taxi to the client"]);
  const fileId = answers[0]?.report ?? "";
  // Reading files is the tenant's own (no platform override): asked as its administrator.
  const owner = TenantmeshClient.fromPassword(CONSOLE_URL, tenant.slug, tenant.email, tenant.password);
  const file = await owner.call("FileService_GetFile", { path: { fileId } });
  expect(file.file?.filename).toBe("receipt.pdf");
  expect(file.file?.state).toBe("FILE_STATE_ATTACHED");

  // The reviewer sees the file in the submission's detail and downloads it.
  await page.goto(`/submissions?form=${key}`);
  await page.getByRole("button", { name: /^Answers / }).click();
  const detail = page.getByTestId("submission-detail");
  await expect(detail).toContainText("receipt.pdf (21 B)");
  await expectAccessible(page);
  const downloading = page.waitForEvent("download");
  await detail.getByRole("button", { name: "Download receipt.pdf" }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe("receipt.pdf");
  const chunks: Buffer[] = [];
  for await (const chunk of (await download.createReadStream()) as AsyncIterable<Buffer>) chunks.push(chunk);
  expect(Buffer.concat(chunks).toString()).toBe("%PDF-1.4\n% a receipt\n");
});
