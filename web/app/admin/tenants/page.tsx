"use client";
import Link from "next/link";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Schema } from "@tenantmesh/sdk";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert, fieldError } from "@/components/error-alert";
import { Pager } from "@/components/pager";
import { Button } from "@/components/ui/button";
import { Alert, Badge, Card } from "@/components/ui/card";
import { Confirm } from "@/components/ui/confirm";
import { Field } from "@/components/ui/field";
import { Input, Select } from "@/components/ui/input";
import { DataTable } from "@/components/ui/table";
import { api, apiStream } from "@/lib/api";
import { useT } from "@/lib/i18n";
import { usePageTokens } from "@/lib/paging";
import { formatLabels, isTransitional, parseLabels, stateLabel } from "@/lib/tenants";

type Tenant = Schema<"tenantmesh.tenants.v1.Tenant">;
type TenantState = Exclude<NonNullable<Tenant["state"]>, "TENANT_STATE_UNSPECIFIED">;
const STATES: TenantState[] = [
  "TENANT_STATE_PROVISIONING",
  "TENANT_STATE_ACTIVE",
  "TENANT_STATE_SUSPENDED",
  "TENANT_STATE_DELETING",
  "TENANT_STATE_FAILED",
  "TENANT_STATE_DELETED",
];

export default function TenantsPage() {
  const t = useT();
  const queryClient = useQueryClient();
  const paging = usePageTokens();
  const [state, setState] = useState<TenantState | "">("");
  const [label, setLabel] = useState("");
  const list = useQuery({
    queryKey: ["tenants", state, label, paging.pageToken],
    queryFn: () =>
      api("TenantService_ListTenants", {
        query: {
          pageSize: 20,
          pageToken: paging.pageToken || undefined,
          states: state ? [state] : undefined,
          labels: label ? [label] : undefined,
        },
      }),
    // Live provisioning: poll while any tenant on the page is still changing.
    refetchInterval: (query) =>
      query.state.data?.tenants?.some((tenant) => isTransitional(tenant.state)) ? 1000 : false,
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["tenants"] });
  const action = useMutation({
    mutationFn: async ({ tenant, verb }: { tenant: Tenant; verb: "suspend" | "resume" | "delete" }) => {
      const path = { tenantId: tenant.tenantId ?? "" };
      if (verb === "suspend") return api("TenantService_SuspendTenant", { path, body: {} });
      if (verb === "resume") return api("TenantService_ResumeTenant", { path, body: {} });
      return api("TenantService_DeleteTenant", { path });
    },
    onSettled: refresh,
  });
  return (
    <AppShell title={t("tenants.title")}>
      <div className="flex flex-col gap-4">
        <CreateTenant onCreated={refresh} />
        <MigrateAll />
        <Card>
          <form
            className="mb-3 flex flex-wrap items-end gap-3"
            onSubmit={(event) => {
              event.preventDefault();
              paging.first();
            }}
          >
            <Field label={t("tenants.filterState")}>
              <Select value={state} onChange={(event) => setState(event.target.value as TenantState | "")}>
                <option value="">{t("tenants.all")}</option>
                {STATES.map((s) => (
                  <option key={s} value={s}>
                    {stateLabel(t, s)}
                  </option>
                ))}
              </Select>
            </Field>
            <Field label={t("tenants.filterLabel")}>
              <Input value={label} onChange={(event) => setLabel(event.target.value)} placeholder="tier=gold" />
            </Field>
          </form>
          <ErrorAlert error={list.error ?? action.error} />
          <DataTable
            caption={t("tenants.title")}
            rows={list.data?.tenants ?? []}
            rowKey={(tenant) => tenant.tenantId ?? ""}
            empty={t("common.none")}
            columns={[
              { header: t("tenants.slug"), cell: (tenant) => tenant.slug },
              { header: t("tenants.displayName"), cell: (tenant) => tenant.displayName },
              {
                header: t("common.state"),
                cell: (tenant) => <Badge data-testid={`state-${tenant.slug}`}>{stateLabel(t, tenant.state)}</Badge>,
              },
              { header: t("tenants.labels"), cell: (tenant) => formatLabels(tenant.labels) },
              {
                header: t("common.actions"),
                cell: (tenant) => (
                  <div className="flex flex-wrap gap-2">
                    <Button asChild variant="outline" size="sm">
                      <Link href={`/admin/tenants/detail?id=${encodeURIComponent(tenant.tenantId ?? "")}`}>
                        {t("tenants.open")} <span className="sr-only">{tenant.slug}</span>
                      </Link>
                    </Button>
                    {tenant.state === "TENANT_STATE_ACTIVE" ? (
                      <Confirm
                        trigger={
                          <Button variant="outline" size="sm">
                            {t("tenants.suspend")} <span className="sr-only">{tenant.slug}</span>
                          </Button>
                        }
                        title={t("tenants.confirmSuspend", { name: tenant.displayName || tenant.slug || "" })}
                        confirmLabel={t("tenants.suspend")}
                        cancelLabel={t("common.cancel")}
                        onConfirm={() => action.mutate({ tenant, verb: "suspend" })}
                      />
                    ) : null}
                    {tenant.state === "TENANT_STATE_SUSPENDED" ? (
                      <Button variant="outline" size="sm" onClick={() => action.mutate({ tenant, verb: "resume" })}>
                        {t("tenants.resume")} <span className="sr-only">{tenant.slug}</span>
                      </Button>
                    ) : null}
                    {tenant.state !== "TENANT_STATE_DELETING" && tenant.state !== "TENANT_STATE_DELETED" ? (
                      <Confirm
                        trigger={
                          <Button variant="destructive" size="sm">
                            {t("common.delete")} <span className="sr-only">{tenant.slug}</span>
                          </Button>
                        }
                        title={t("tenants.confirmDelete", { name: tenant.displayName || tenant.slug || "" })}
                        typeToConfirm={tenant.slug ?? ""}
                        destructive
                        confirmLabel={t("common.delete")}
                        cancelLabel={t("common.cancel")}
                        onConfirm={() => action.mutate({ tenant, verb: "delete" })}
                      />
                    ) : null}
                  </div>
                ),
              },
            ]}
          />
          <Pager paging={paging} nextPageToken={list.data?.nextPageToken} />
        </Card>
      </div>
    </AppShell>
  );
}

function CreateTenant({ onCreated }: { onCreated: () => void }) {
  const t = useT();
  const form = useForm<{ slug: string; displayName: string; labels: string }>({
    defaultValues: { slug: "", displayName: "", labels: "" },
  });
  const [requestId, setRequestId] = useState(() => crypto.randomUUID());
  const create = useMutation({
    mutationFn: (values: { slug: string; displayName: string; labels: string }) =>
      api("TenantService_CreateTenant", {
        query: { requestId },
        body: { slug: values.slug, displayName: values.displayName, labels: parseLabels(values.labels) },
      }),
    onSuccess: () => {
      form.reset();
      setRequestId(crypto.randomUUID());
      onCreated();
    },
  });
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">{t("tenants.create")}</h2>
      <form onSubmit={form.handleSubmit((values) => create.mutate(values))} className="grid gap-3 sm:grid-cols-3">
        <Field label={t("tenants.slug")} error={fieldError(create.error, "slug")}>
          <Input {...form.register("slug", { required: true })} />
        </Field>
        <Field label={t("tenants.displayName")} error={fieldError(create.error, "display_name")}>
          <Input {...form.register("displayName")} />
        </Field>
        <Field label={t("tenants.labels")} error={fieldError(create.error, "labels")}>
          <Input {...form.register("labels")} placeholder="tier=gold" />
        </Field>
        <div className="sm:col-span-3">
          <Button type="submit" disabled={create.isPending}>
            {t("tenants.create")}
          </Button>
        </div>
      </form>
      <ErrorAlert error={create.error} />
    </Card>
  );
}

/** Migrate every tenant database, with progress as the server streams it. */
function MigrateAll() {
  const t = useT();
  const [progress, setProgress] = useState<{ completed: number; total: number; failed: number } | null>(null);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async () => {
    setError(null);
    setDone(false);
    setProgress({ completed: 0, total: 0, failed: 0 });
    try {
      let failed = 0;
      for await (const item of apiStream("TenantService_MigrateTenantDatabases", { body: {} })) {
        if (item.ok === false) failed += 1;
        setProgress({ completed: item.completed ?? 0, total: item.total ?? 0, failed });
      }
      setDone(true);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Card>
      <Button variant="outline" onClick={() => void run()}>
        {t("tenants.migrate")}
      </Button>
      {progress ? (
        <div className="mt-3">
          <progress
            aria-label={t("tenants.migrate")}
            max={Math.max(progress.total, 1)}
            value={progress.completed}
            className="w-full"
          />
          {done ? (
            <Alert tone="success" data-testid="migrate-done">
              {t("tenants.migrateDone", { ok: progress.completed - progress.failed, failed: progress.failed })}
            </Alert>
          ) : null}
        </div>
      ) : null}
      <ErrorAlert error={error} />
    </Card>
  );
}
