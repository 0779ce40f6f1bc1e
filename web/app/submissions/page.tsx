"use client";
// Submissions: a table with filters, a detail view with the answers (other people's text, shown
// as text; files with a download), the review status, and exports as CSV or NDJSON.
import { useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Schema } from "@tenantmesh/sdk";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert } from "@/components/error-alert";
import { FileAnswer } from "@/components/file-answer";
import { Pager } from "@/components/pager";
import { Button } from "@/components/ui/button";
import { Badge, Card } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input, Select } from "@/components/ui/input";
import { DataTable } from "@/components/ui/table";
import { useActingTenant } from "@/lib/acting-tenant";
import { api, apiDownload } from "@/lib/api";
import { useFormat, useT } from "@/lib/i18n";
import { usePageTokens } from "@/lib/paging";
import { saveBlob } from "@/lib/save-blob";
import { fileFieldKeys } from "@/lib/submissions";
import { stateLabel } from "@/lib/tenants";

type Submission = Schema<"tenantmesh.forms.v1.Submission">;
type Status = Exclude<NonNullable<Submission["status"]>, "SUBMISSION_STATUS_UNSPECIFIED">;
const SUBMISSION_STATUSES: readonly Status[] = ["SUBMISSION_STATUS_SUBMITTED", "SUBMISSION_STATUS_ACCEPTED", "SUBMISSION_STATUS_REJECTED"];

function Submissions() {
  const t = useT();
  const fmt = useFormat();
  const acting = useActingTenant((s) => s.tenantId);
  const paging = usePageTokens();
  const queryClient = useQueryClient();
  const [formKey, setFormKey] = useState(useSearchParams().get("form") ?? "");
  const [status, setStatus] = useState<Status | "">("");
  const [selected, setSelected] = useState<Submission | null>(null);
  const list = useQuery({
    queryKey: ["submissions", acting, formKey, status, paging.pageToken],
    queryFn: () =>
      api("SubmissionService_ListSubmissions", {
        query: {
          pageSize: 50,
          pageToken: paging.pageToken || undefined,
          formKey: formKey || undefined,
          status: status ? [status] : undefined,
        } as never,
      }),
  });
  const review = useMutation({
    mutationFn: ({ submission, to }: { submission: Submission; to: Status }) =>
      api("SubmissionService_ReviewSubmission", {
        path: { submissionId: submission.submissionId ?? "" },
        query: { updateMask: "status" },
        body: { status: to, etag: submission.etag } as never,
      }),
    onSuccess: (answer) => {
      setSelected((answer as { submission?: Submission }).submission ?? null);
      void queryClient.invalidateQueries({ queryKey: ["submissions"] });
    },
  });
  const download = async (format: "csv" | "ndjson") => {
    const blob = await apiDownload(`/v1/forms/${encodeURIComponent(formKey)}/submissions:export?format=EXPORT_FORMAT_${format.toUpperCase()}`);
    saveBlob(blob, `${formKey}.${format}`);
  };
  // The selected submission's form version: which answers are files (shown with a download).
  const version = useQuery({
    queryKey: ["form-version", acting, selected?.formKey, selected?.version],
    queryFn: () =>
      api("FormService_GetFormVersion", { path: { key: selected?.formKey ?? "", version: selected?.version ?? 0 } }),
    enabled: selected !== null,
  });
  const fileKeys = fileFieldKeys(version.data?.version?.definition as { fields?: unknown } | undefined);
  return (
    <AppShell title={t("submissions.title")}>
      <div className="flex flex-col gap-4">
        <Card>
          <div className="mb-3 flex flex-wrap items-end gap-3">
            <Field label={t("submissions.form")}>
              <Input value={formKey} onChange={(e) => setFormKey(e.target.value)} />
            </Field>
            <Field label={t("submissions.status")}>
              <Select value={status} onChange={(e) => setStatus(e.target.value as Status | "")}>
                <option value="">—</option>
                {SUBMISSION_STATUSES.map((value) => (
                  <option key={value} value={value}>
                    {stateLabel(t, value, "SUBMISSION_STATUS_")}
                  </option>
                ))}
              </Select>
            </Field>
            {formKey ? (
              <div className="flex gap-2">
                <Button variant="outline" onClick={() => void download("csv")}>
                  {t("submissions.export")} CSV
                </Button>
                <Button variant="outline" onClick={() => void download("ndjson")}>
                  {t("submissions.export")} NDJSON
                </Button>
              </div>
            ) : null}
          </div>
          <ErrorAlert error={list.error} />
          <DataTable
            caption={t("submissions.title")}
            rows={list.data?.submissions ?? []}
            rowKey={(s) => s.submissionId ?? ""}
            empty={t("common.none")}
            columns={[
              { header: t("audit.time"), cell: (s) => fmt.dateTime(s.createTime) },
              { header: t("submissions.form"), cell: (s) => `${s.formKey ?? ""} v${s.version ?? ""}` },
              { header: t("submissions.submitter"), cell: (s) => s.submitter },
              { header: t("submissions.status"), cell: (s) => <Badge>{stateLabel(t, s.status, "SUBMISSION_STATUS_")}</Badge> },
              {
                header: t("common.actions"),
                cell: (s) => (
                  <Button variant="outline" size="sm" onClick={() => setSelected(s)}>
                    {t("submissions.answers")} <span className="sr-only">{s.submissionId}</span>
                  </Button>
                ),
              },
            ]}
          />
          <Pager paging={paging} nextPageToken={list.data?.nextPageToken} />
        </Card>
        {selected ? (
          <Card data-testid="submission-detail">
            <h2 className="mb-3 text-lg font-semibold">{t("submissions.answers")}</h2>
            <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
              {Object.entries(selected.answers ?? {}).map(([name, value]) => (
                <div key={name} className="contents">
                  <dt className="font-medium">{name}</dt>
                  <dd>
                    {fileKeys.has(name) && typeof value === "string" ? (
                      <FileAnswer fileId={value} />
                    ) : typeof value === "string" ? (
                      value
                    ) : (
                      JSON.stringify(value)
                    )}
                  </dd>
                </div>
              ))}
            </dl>
            <div className="mt-3 flex gap-2">
              <Button onClick={() => review.mutate({ submission: selected, to: "SUBMISSION_STATUS_ACCEPTED" })}>
                {t("submissions.accept")}
              </Button>
              <Button variant="outline" onClick={() => review.mutate({ submission: selected, to: "SUBMISSION_STATUS_REJECTED" })}>
                {t("submissions.reject")}
              </Button>
            </div>
            <ErrorAlert error={review.error} />
          </Card>
        ) : null}
      </div>
    </AppShell>
  );
}

export default function SubmissionsPage() {
  return (
    <Suspense>
      <Submissions />
    </Suspense>
  );
}
