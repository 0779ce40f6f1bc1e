"use client";
import Link from "next/link";
import { useForm } from "react-hook-form";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert, fieldError } from "@/components/error-alert";
import { Pager } from "@/components/pager";
import { Button } from "@/components/ui/button";
import { Badge, Card } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { DataTable } from "@/components/ui/table";
import { useActingTenant } from "@/lib/acting-tenant";
import { api } from "@/lib/api";
import { emptyDefinition } from "@/lib/form-builder";
import { useT } from "@/lib/i18n";
import { usePageTokens } from "@/lib/paging";
import { stateLabel } from "@/lib/tenants";

export default function FormsPage() {
  const t = useT();
  const acting = useActingTenant((s) => s.tenantId);
  const paging = usePageTokens();
  const queryClient = useQueryClient();
  const forms = useQuery({
    queryKey: ["forms", acting, paging.pageToken],
    queryFn: () => api("FormService_ListForms", { query: { pageSize: 50, pageToken: paging.pageToken || undefined } }),
  });
  const form = useForm<{ key: string; title: string }>({ defaultValues: { key: "", title: "" } });
  const create = useMutation({
    mutationFn: (values: { key: string; title: string }) =>
      api("FormService_CreateForm", {
        query: { requestId: crypto.randomUUID() },
        body: { key: values.key, title: values.title, draft: emptyDefinition() as never },
      }),
    onSuccess: () => {
      form.reset();
      void queryClient.invalidateQueries({ queryKey: ["forms"] });
    },
  });
  return (
    <AppShell title={t("forms.title")}>
      <div className="flex flex-col gap-4">
        <Card>
          <h2 className="mb-3 text-lg font-semibold">{t("forms.create")}</h2>
          <form onSubmit={form.handleSubmit((v) => create.mutate(v))} className="grid gap-3 sm:grid-cols-2">
            <Field label={t("forms.key")} error={fieldError(create.error, "key")}>
              <Input {...form.register("key", { required: true })} placeholder="visit-report" />
            </Field>
            <Field label={t("forms.formTitle")} error={fieldError(create.error, "title")}>
              <Input {...form.register("title", { required: true })} />
            </Field>
            <div className="sm:col-span-2">
              <Button type="submit" disabled={create.isPending}>
                {t("forms.create")}
              </Button>
            </div>
          </form>
          <ErrorAlert error={create.error} />
        </Card>
        <Card>
          <ErrorAlert error={forms.error} />
          <DataTable
            caption={t("forms.title")}
            rows={forms.data?.forms ?? []}
            rowKey={(f) => f.key ?? ""}
            empty={t("common.none")}
            columns={[
              { header: t("forms.key"), cell: (f) => f.key },
              { header: t("forms.formTitle"), cell: (f) => f.title },
              { header: t("forms.status"), cell: (f) => <Badge>{stateLabel(t, f.status, "FORM_STATUS_")}</Badge> },
              { header: t("forms.version"), cell: (f) => f.latestVersion ?? 0 },
              {
                header: t("common.actions"),
                cell: (f) => {
                  const key = encodeURIComponent(f.key ?? "");
                  return (
                    <div className="flex flex-wrap gap-2 text-sm">
                      <Link className="underline" href={`/forms/edit?key=${key}`}>
                        {t("forms.edit")} <span className="sr-only">{f.key}</span>
                      </Link>
                      {f.latestVersion ? (
                        <Link className="underline" href={`/forms/fill?key=${key}`}>
                          {t("forms.fill")} <span className="sr-only">{f.key}</span>
                        </Link>
                      ) : null}
                      <Link className="underline" href={`/submissions?form=${key}`}>
                        {t("forms.submissions")} <span className="sr-only">{f.key}</span>
                      </Link>
                    </div>
                  );
                },
              },
            ]}
          />
          <Pager paging={paging} nextPageToken={forms.data?.nextPageToken} />
        </Card>
      </div>
    </AppShell>
  );
}
