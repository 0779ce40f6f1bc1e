"use client";
// The form builder: fields added from a small form or written in the definition's JSON (schema,
// fields with layout and rules, checks), checked live by the form engine, previewed with the same
// rules the server runs, saved as the draft and published with the compatibility report.
import dynamic from "next/dynamic";
import { useSearchParams } from "next/navigation";
import { Suspense, useEffect, useMemo, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { JsonObject } from "@tenantmesh/form-engine";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert } from "@/components/error-alert";
import { Loading } from "@/components/loading";
import { Button } from "@/components/ui/button";
import { Alert, Card } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input, Select, Textarea } from "@/components/ui/input";
import { DataTable } from "@/components/ui/table";
import { api } from "@/lib/api";
import { addField, FIELD_TYPES, parseDefinition, type BuilderFieldType } from "@/lib/form-builder";
import { useFormEngine } from "@/lib/form-engine";
import { useLocaleStore, useFormat, useT } from "@/lib/i18n";

// The preview renders with the form engine, loaded as a chunk of its own (see useFormEngine).
const FormRenderer = dynamic(() => import("@/components/form-renderer").then((m) => m.FormRenderer), { ssr: false, loading: Loading });

function Builder() {
  const t = useT();
  const fmt = useFormat();
  const locale = useLocaleStore((s) => s.locale);
  const key = useSearchParams().get("key") ?? "";
  const queryClient = useQueryClient();
  const form = useQuery({ queryKey: ["form", key], queryFn: () => api("FormService_GetForm", { path: { key } }), enabled: key !== "" });
  const versions = useQuery({
    queryKey: ["form-versions", key],
    queryFn: () => api("FormService_ListFormVersions", { path: { key }, query: { pageSize: 50 } }),
    enabled: key !== "",
  });
  const [text, setText] = useState("");
  useEffect(() => {
    if (form.data?.form?.draft) {
      setText(JSON.stringify(form.data.form.draft, null, 2));
    }
  }, [form.data?.form?.draft]);
  const definition = useMemo(() => parseDefinition(text), [text]);
  const engine = useFormEngine();
  // Unknown until the engine is here: publishing waits for the check.
  const problems = useMemo(() => (definition && engine ? engine.checkDefinition(definition) : null), [definition, engine]);
  const [previewAnswers, setPreviewAnswers] = useState<JsonObject>({});
  const [newField, setNewField] = useState<{ key: string; type: BuilderFieldType; label: string; required: boolean }>({
    key: "",
    type: "SHORT_TEXT",
    label: "",
    required: false,
  });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["form", key] });
    void queryClient.invalidateQueries({ queryKey: ["form-versions", key] });
  };
  const save = useMutation({
    mutationFn: () =>
      api("FormService_UpdateForm", {
        path: { key },
        query: { updateMask: "draft" },
        body: { draft: definition as never, etag: form.data?.form?.etag },
      }),
    // The answer carries the new etag: publishing right after uses it, not a refetch in flight.
    onSuccess: (answer) => queryClient.setQueryData(["form", key], answer),
  });
  const publish = useMutation({
    mutationFn: () => api("FormService_PublishForm", { path: { key }, body: { etag: form.data?.form?.etag } }),
    onSuccess: refresh,
  });
  const report = publish.data?.version?.compatibility;
  return (
    <AppShell title={form.data?.form?.title || key}>
      <ErrorAlert error={form.error} />
      <div className="grid gap-4 lg:grid-cols-2">
        <Card>
          <h2 className="mb-3 text-lg font-semibold">{t("forms.addField")}</h2>
          <div className="grid gap-2 sm:grid-cols-2">
            <Field label={t("forms.fieldKey")}>
              <Input value={newField.key} onChange={(e) => setNewField({ ...newField, key: e.target.value })} />
            </Field>
            <Field label={t("forms.fieldLabel")}>
              <Input value={newField.label} onChange={(e) => setNewField({ ...newField, label: e.target.value })} />
            </Field>
            <Field label={t("forms.fieldType")}>
              <Select value={newField.type} onChange={(e) => setNewField({ ...newField, type: e.target.value as BuilderFieldType })}>
                {FIELD_TYPES.map((type) => (
                  <option key={type} value={type}>
                    {type.toLowerCase().replace("_", " ")}
                  </option>
                ))}
              </Select>
            </Field>
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" checked={newField.required} onChange={(e) => setNewField({ ...newField, required: e.target.checked })} />
              required
            </label>
          </div>
          <Button
            className="mt-2"
            variant="outline"
            disabled={!newField.key || !definition}
            onClick={() => {
              if (definition) {
                setText(JSON.stringify(addField(definition, { ...newField, locale }), null, 2));
                setNewField({ key: "", type: "SHORT_TEXT", label: "", required: false });
              }
            }}
          >
            {t("forms.addField")}
          </Button>
          <div className="mt-4">
            <Field label={t("forms.definition")}>
              <Textarea rows={18} className="font-mono text-xs" value={text} onChange={(e) => setText(e.target.value)} />
            </Field>
          </div>
          {!definition && text ? <Alert className="mt-2">{t("forms.invalidJson")}</Alert> : null}
          {problems && problems.length > 0 ? (
            <Alert className="mt-2" data-testid="definition-problems">
              {t("forms.problems")}
              <ul className="list-disc pl-5">
                {problems.map((p) => (
                  <li key={p.pointer + p.reason}>
                    {p.pointer}: {p.message}
                  </li>
                ))}
              </ul>
            </Alert>
          ) : null}
          <div className="mt-3 flex gap-2">
            <Button variant="outline" disabled={!definition || save.isPending} onClick={() => save.mutate()}>
              {t("forms.saveDraft")}
            </Button>
            <Button
              disabled={!definition || problems === null || problems.length > 0 || publish.isPending || form.isFetching}
              onClick={() => publish.mutate()}
            >
              {t("forms.publish")}
            </Button>
          </div>
          {save.isSuccess ? <Alert tone="success" className="mt-2">{t("forms.saved")}</Alert> : null}
          <ErrorAlert error={save.error ?? publish.error} />
          {publish.data ? (
            <Alert tone="success" className="mt-2" data-testid="published">
              {t("forms.published", { version: publish.data.version?.version ?? 0 })}{" "}
              {t("forms.compatibility")}:{" "}
              {report?.changes?.length ? (
                <ul className="list-disc pl-5">
                  {report.changes.map((change, index) => (
                    <li key={index}>{JSON.stringify(change)}</li>
                  ))}
                </ul>
              ) : (
                t("forms.noChanges")
              )}
              {report?.breaking ? <strong> {t("forms.breaking")}</strong> : null}
            </Alert>
          ) : null}
        </Card>
        <Card>
          <h2 className="mb-3 text-lg font-semibold">{t("forms.preview")}</h2>
          {definition && problems?.length === 0 ? (
            <FormRenderer definition={definition} answers={previewAnswers} onChange={setPreviewAnswers} locale={locale} showErrors />
          ) : null}
        </Card>
      </div>
      <Card className="mt-4">
        <h2 className="mb-3 text-lg font-semibold">{t("forms.versions")}</h2>
        <DataTable
          caption={t("forms.versions")}
          rows={versions.data?.versions ?? []}
          rowKey={(v) => String(v.version)}
          empty={t("common.none")}
          columns={[
            { header: t("forms.version"), cell: (v) => v.version },
            { header: t("audit.actor"), cell: (v) => v.publisher },
            { header: t("audit.time"), cell: (v) => fmt.dateTime(v.createTime) },
            { header: t("forms.breaking"), cell: (v) => (v.compatibility?.breaking ? t("common.yes") : t("common.no")) },
          ]}
        />
      </Card>
    </AppShell>
  );
}

export default function FormBuilderPage() {
  return (
    <Suspense>
      <Builder />
    </Suspense>
  );
}
