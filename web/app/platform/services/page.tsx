"use client";
// The platform's service catalogue: registered services with their versions, instances with
// their health kept live from the registry's Watch stream, registering a service, and managing
// one (its details, a new version with the contract compatibility result).
import { useEffect, useState } from "react";
import { ServiceEditor } from "@/components/service-editor";
import { useForm } from "react-hook-form";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Schema } from "@tenantmesh/sdk";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert, fieldError } from "@/components/error-alert";
import { Button } from "@/components/ui/button";
import { Badge, Card } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input, Select } from "@/components/ui/input";
import { DataTable } from "@/components/ui/table";
import { api, apiStream } from "@/lib/api";
import { useT } from "@/lib/i18n";
import { stateName } from "@/lib/tenants";

type Instance = Schema<"tenantmesh.registry.v1.Instance">;

/** Instances by id, updated from Watch events as they arrive (until the page is left). */
function useLiveInstances(): Map<string, Instance> {
  const [instances, setInstances] = useState(new Map<string, Instance>());
  useEffect(() => {
    const stop = new AbortController();
    void (async () => {
      try {
        for await (const event of apiStream("DiscoveryService_Watch", { signal: stop.signal })) {
          const instance = event.instance;
          if (!instance?.instanceId) continue;
          setInstances((previous) => {
            const next = new Map(previous);
            if (event.type === "WATCH_EVENT_TYPE_REMOVED") {
              next.delete(instance.instanceId ?? "");
            } else {
              next.set(instance.instanceId ?? "", instance);
            }
            return next;
          });
        }
      } catch {
        // The stream ends when the page is left or the edge closes it; the list below stays.
      }
    })();
    return () => stop.abort();
  }, []);
  return instances;
}

export default function CatalogPage() {
  const t = useT();
  const queryClient = useQueryClient();
  const services = useQuery({
    queryKey: ["catalog"],
    queryFn: () => api("CatalogService_ListServices", { query: { pageSize: 200 } }),
  });
  const listed = useQuery({
    queryKey: ["instances"],
    queryFn: () => api("InstanceService_ListInstances", { query: { pageSize: 500 } }),
  });
  const live = useLiveInstances();
  const [managing, setManaging] = useState("");
  const managed = (services.data?.services ?? []).find((s) => s.name === managing);
  const instances = new Map((listed.data?.instances ?? []).map((i) => [i.instanceId ?? "", i]));
  live.forEach((instance, id) => instances.set(id, instance));
  const form = useForm<{ name: string; displayName: string; description: string; kind: string }>({
    defaultValues: { name: "", displayName: "", description: "", kind: "SERVICE_KIND_INTERNAL_GRPC" },
  });
  const register = useMutation({
    mutationFn: (values: { name: string; displayName: string; description: string; kind: string }) =>
      api("CatalogService_RegisterService", {
        query: { requestId: crypto.randomUUID() },
        body: {
          name: values.name,
          displayName: values.displayName,
          description: values.description,
          kind: values.kind as "SERVICE_KIND_INTERNAL_GRPC",
        },
      }),
    onSuccess: () => {
      form.reset();
      void queryClient.invalidateQueries({ queryKey: ["catalog"] });
    },
  });
  return (
    <AppShell title={t("services.title")}>
      <div className="flex flex-col gap-4">
        <Card>
          <h2 className="mb-3 text-lg font-semibold">{t("services.register")}</h2>
          <form onSubmit={form.handleSubmit((v) => register.mutate(v))} className="grid gap-3 sm:grid-cols-2">
            <Field label={t("common.name")} error={fieldError(register.error, "name")}>
              <Input {...form.register("name", { required: true })} />
            </Field>
            <Field label={t("services.displayName")}>
              <Input {...form.register("displayName")} />
            </Field>
            <Field label={t("common.description")}>
              <Input {...form.register("description")} />
            </Field>
            <Field label={t("services.kind")}>
              <Select {...form.register("kind")}>
                <option value="SERVICE_KIND_INTERNAL_GRPC">gRPC</option>
                <option value="SERVICE_KIND_EXTERNAL_HTTP">HTTP</option>
              </Select>
            </Field>
            <div className="sm:col-span-2">
              <Button type="submit" disabled={register.isPending}>
                {t("services.register")}
              </Button>
            </div>
          </form>
          <ErrorAlert error={register.error} />
        </Card>
        <Card>
          <ErrorAlert error={services.error} />
          <DataTable
            caption={t("services.title")}
            rows={services.data?.services ?? []}
            rowKey={(s) => s.name ?? ""}
            empty={t("common.none")}
            columns={[
              { header: t("common.name"), cell: (s) => s.name },
              { header: t("services.displayName"), cell: (s) => s.displayName },
              { header: t("services.kind"), cell: (s) => stateName(s.kind, "SERVICE_KIND_") },
              { header: t("services.versions"), cell: (s) => (s.versions ?? []).map((v) => v.version).join(", ") },
              {
                header: t("common.actions"),
                cell: (s) => (
                  <Button variant="outline" size="sm" onClick={() => setManaging(s.name ?? "")}>
                    {t("services.manageButton")} <span className="sr-only">{s.name}</span>
                  </Button>
                ),
              },
              {
                header: t("services.instances"),
                cell: (s) =>
                  [...instances.values()]
                    .filter((i) => i.service === s.name)
                    .map((i) => (
                      <Badge key={i.instanceId} className="mr-1">
                        {i.address} {stateName(i.health, "HEALTH_STATE_")}
                      </Badge>
                    )),
              },
            ]}
          />
        </Card>
        {managed ? <ServiceEditor key={managed.name} service={managed} onClose={() => setManaging("")} /> : null}
      </div>
    </AppShell>
  );
}
