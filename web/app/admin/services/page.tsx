"use client";
// The tenant's service catalogue: enable or disable the services on offer, and configure each
// enabled one through a form rendered from its config schema.
import dynamic from "next/dynamic";
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { JsonObject } from "@tenantmesh/form-engine";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert } from "@/components/error-alert";
import { Loading } from "@/components/loading";
import { Button } from "@/components/ui/button";
import { Alert, Badge, Card } from "@/components/ui/card";
import { DataTable } from "@/components/ui/table";
import { useActingTenant } from "@/lib/acting-tenant";
import { api } from "@/lib/api";
import { useT } from "@/lib/i18n";

// A service's configuration form validates with the form engine: a chunk of its own, loaded when
// a configuration is opened.
const SchemaForm = dynamic(() => import("@/components/schema-form").then((m) => m.SchemaForm), { ssr: false, loading: Loading });

export default function TenantServicesPage() {
  const t = useT();
  const acting = useActingTenant((s) => s.tenantId);
  const queryClient = useQueryClient();
  // The service whose configuration is being edited; "enabling" when it is not enabled yet
  // (then saving the form enables it with that configuration).
  const [configuring, setConfiguring] = useState<{ name: string; enabling: boolean } | null>(null);
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
  const service = (available.data?.services ?? []).find((s) => s.name === configuring?.name);
  const hasSettings = (name: string) => {
    const schema = (available.data?.services ?? []).find((s) => s.name === name)?.configSchema as
      | { properties?: Record<string, unknown> }
      | undefined;
    return Object.keys(schema?.properties ?? {}).length > 0;
  };
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
                      <Button
                        variant="outline"
                        size="sm"
                        onClick={() =>
                          !on && hasSettings(name)
                            ? setConfiguring({ name, enabling: true })
                            : toggle.mutate({ name, enable: !on })
                        }
                      >
                        {on ? t("services.disable") : t("services.enable")} <span className="sr-only">{name}</span>
                      </Button>
                      {on ? (
                        <Button variant="outline" size="sm" onClick={() => setConfiguring({ name, enabling: false })}>
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
          <ConfigEditor
            key={`${configuring.name}-${String(configuring.enabling)}`}
            name={configuring.name}
            enabling={configuring.enabling && !enabledNames.has(configuring.name)}
            schema={(service.configSchema ?? {}) as JsonObject}
            onSaved={refresh}
          />
        ) : null}
      </div>
    </AppShell>
  );
}

function ConfigEditor({
  name,
  enabling,
  schema,
  onSaved,
}: {
  name: string;
  enabling: boolean;
  schema: JsonObject;
  onSaved: () => void;
}) {
  const t = useT();
  const acting = useActingTenant((s) => s.tenantId);
  const queryClient = useQueryClient();
  const [requestId] = useState(() => crypto.randomUUID());
  const current = useQuery({
    queryKey: ["enabled-service", acting, name],
    queryFn: () => api("EnabledServiceService_GetEnabledService", { path: { service: name } }),
    enabled: !enabling,
  });
  const save = useMutation({
    mutationFn: (config: JsonObject): Promise<unknown> =>
      enabling
        ? api("EnabledServiceService_EnableService", {
            body: { service: name, config: config as Record<string, unknown>, requestId },
          })
        : api("EnabledServiceService_UpdateServiceConfig", {
            path: { service: name },
            query: { etag: current.data?.enabledService?.etag },
            body: config as Record<string, unknown>,
          }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["enabled-service", acting, name] });
      onSaved();
    },
  });
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">{t("services.config", { name })}</h2>
      {enabling || current.data ? (
        <SchemaForm
          schema={schema}
          initial={(current.data?.enabledService?.config ?? {}) as JsonObject}
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
