"use client";
// The tenant's service catalogue: enable or disable the services on offer, and configure each
// enabled one through a form rendered from its config schema.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { JsonObject } from "@tenantmesh/form-engine";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert } from "@/components/error-alert";
import { SchemaForm } from "@/components/schema-form";
import { Button } from "@/components/ui/button";
import { Alert, Badge, Card } from "@/components/ui/card";
import { DataTable } from "@/components/ui/table";
import { useActingTenant } from "@/lib/acting-tenant";
import { api } from "@/lib/api";
import { useT } from "@/lib/i18n";

export default function TenantServicesPage() {
  const t = useT();
  const acting = useActingTenant((s) => s.tenantId);
  const queryClient = useQueryClient();
  const [configuring, setConfiguring] = useState<string | null>(null);
  const available = useQuery({
    queryKey: ["available-services", acting],
    queryFn: () => api("EnabledServiceService_ListAvailableServices", { query: { pageSize: 200 } }),
  });
  const enabled = useQuery({
    queryKey: ["enabled-services", acting],
    queryFn: () => api("EnabledServiceService_ListEnabledServices", { query: { pageSize: 200 } }),
  });
  const enabledNames = new Set((enabled.data?.enabledServices ?? []).map((s) => s.service ?? ""));
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["enabled-services"] });
  const toggle = useMutation({
    mutationFn: ({ name, enable }: { name: string; enable: boolean }): Promise<unknown> =>
      enable
        ? api("EnabledServiceService_EnableService", { body: { service: name, requestId: crypto.randomUUID() } })
        : api("EnabledServiceService_DisableService", { path: { service: name } }),
    onSettled: refresh,
  });
  const service = (available.data?.services ?? []).find((s) => s.name === configuring);
  return (
    <AppShell title={t("nav.enabledServices")}>
      <div className="flex flex-col gap-4">
        <Card>
          <ErrorAlert error={available.error ?? enabled.error ?? toggle.error} />
          <DataTable
            caption={t("nav.enabledServices")}
            rows={available.data?.services ?? []}
            rowKey={(s) => s.name ?? ""}
            empty={t("common.none")}
            columns={[
              { header: t("common.name"), cell: (s) => s.displayName || s.name },
              { header: t("common.description"), cell: (s) => s.description },
              {
                header: t("common.state"),
                cell: (s) => (enabledNames.has(s.name ?? "") ? <Badge>{t("services.enabled")}</Badge> : null),
              },
              {
                header: t("common.actions"),
                cell: (s) => {
                  const name = s.name ?? "";
                  const on = enabledNames.has(name);
                  return (
                    <div className="flex gap-2">
                      <Button variant="outline" size="sm" onClick={() => toggle.mutate({ name, enable: !on })}>
                        {on ? t("services.disable") : t("services.enable")} <span className="sr-only">{name}</span>
                      </Button>
                      {on ? (
                        <Button variant="outline" size="sm" onClick={() => setConfiguring(name)}>
                          {t("services.configure")} <span className="sr-only">{name}</span>
                        </Button>
                      ) : null}
                    </div>
                  );
                },
              },
            ]}
          />
        </Card>
        {configuring && service ? (
          <ConfigEditor key={configuring} name={configuring} schema={(service.configSchema ?? {}) as JsonObject} />
        ) : null}
      </div>
    </AppShell>
  );
}

function ConfigEditor({ name, schema }: { name: string; schema: JsonObject }) {
  const t = useT();
  const acting = useActingTenant((s) => s.tenantId);
  const queryClient = useQueryClient();
  const current = useQuery({
    queryKey: ["enabled-service", acting, name],
    queryFn: () => api("EnabledServiceService_GetEnabledService", { path: { service: name } }),
  });
  const save = useMutation({
    mutationFn: (config: JsonObject) =>
      api("EnabledServiceService_UpdateServiceConfig", {
        path: { service: name },
        query: { etag: current.data?.enabledService?.etag },
        body: config as Record<string, unknown>,
      }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["enabled-service", acting, name] }),
  });
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">{t("services.config", { name })}</h2>
      {current.data ? (
        <SchemaForm
          schema={schema}
          initial={(current.data.enabledService?.config ?? {}) as JsonObject}
          submitLabel={t("common.save")}
          busy={save.isPending}
          onSubmit={(config) => save.mutate(config)}
        />
      ) : null}
      {save.isSuccess ? <Alert tone="success" className="mt-3">✓</Alert> : null}
      <ErrorAlert error={current.error ?? save.error} />
    </Card>
  );
}
