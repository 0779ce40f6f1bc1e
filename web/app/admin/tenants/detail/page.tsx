"use client";
// One tenant: state with its provisioning steps (live), settings and labels, database placement,
// and a way to manage its people as a platform administrator.
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useEffect } from "react";
import { useForm } from "react-hook-form";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert } from "@/components/error-alert";
import { Button } from "@/components/ui/button";
import { Badge, Card } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { useActingTenant } from "@/lib/acting-tenant";
import { api } from "@/lib/api";
import { useT } from "@/lib/i18n";
import { formatLabels, isTransitional, parseLabels, stateLabel, stateName } from "@/lib/tenants";

interface Editable {
  displayName: string;
  labels: string;
  settings: string;
}

function TenantDetail() {
  const t = useT();
  const router = useRouter();
  const tenantId = useSearchParams().get("id") ?? "";
  const queryClient = useQueryClient();
  const tenant = useQuery({
    queryKey: ["tenant", tenantId],
    queryFn: () => api("TenantService_GetTenant", { path: { tenantId } }),
    enabled: tenantId !== "",
    refetchInterval: (query) => (isTransitional(query.state.data?.tenant?.state) ? 1000 : false),
  });
  const data = tenant.data?.tenant;
  const form = useForm<Editable>({ defaultValues: { displayName: "", labels: "", settings: "" } });
  useEffect(() => {
    if (data) {
      form.reset({
        displayName: data.displayName ?? "",
        labels: formatLabels(data.labels),
        settings: formatLabels(data.settings as Record<string, string> | undefined),
      });
    }
  }, [data, form]);
  const save = useMutation({
    mutationFn: (values: Editable) =>
      api("TenantService_UpdateTenant", {
        path: { tenantId },
        query: { updateMask: "displayName,labels,settings" },
        body: {
          displayName: values.displayName,
          labels: parseLabels(values.labels),
          settings: parseLabels(values.settings),
          etag: data?.etag,
        },
      }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["tenant", tenantId] }),
  });
  return (
    <AppShell title={data?.displayName || data?.slug || t("tenants.title")}>
      <ErrorAlert error={tenant.error} />
      {data ? (
        <div className="flex flex-col gap-4">
          <Card>
            <p>
              {t("common.state")}: <Badge data-testid="tenant-state">{stateLabel(t, data.state)}</Badge>
            </p>
            <ol className="mt-2 list-decimal pl-6 text-sm" aria-label={t("tenants.provisioning", { step: "" })}>
              {(data.provisioning?.steps ?? []).map((step) => (
                <li key={step.name}>
                  {step.name}: {stateName(step.state, "STEP_STATE_")}
                </li>
              ))}
            </ol>
            <p className="mt-2 text-sm">
              {t("tenants.database")}: {data.database?.server} / {data.database?.database}
            </p>
            <Button
              className="mt-3"
              variant="outline"
              onClick={() => {
                useActingTenant.getState().actIn(tenantId, data.slug ?? tenantId);
                router.push("/admin/users");
              }}
            >
              {t("nav.users")} ({data.slug})
            </Button>
          </Card>
          <Card>
            <h2 className="mb-3 text-lg font-semibold">{t("tenants.settings")}</h2>
            <form onSubmit={form.handleSubmit((values) => save.mutate(values))} className="flex flex-col gap-3">
              <Field label={t("tenants.displayName")}>
                <Input {...form.register("displayName")} />
              </Field>
              <Field label={t("tenants.labels")}>
                <Input {...form.register("labels")} />
              </Field>
              <Field label={t("tenants.settingsField")}>
                <Input {...form.register("settings")} />
              </Field>
              <ErrorAlert error={save.error} />
              <Button type="submit" disabled={save.isPending}>
                {t("common.save")}
              </Button>
            </form>
          </Card>
        </div>
      ) : null}
    </AppShell>
  );
}

export default function TenantDetailPage() {
  return (
    <Suspense>
      <TenantDetail />
    </Suspense>
  );
}
