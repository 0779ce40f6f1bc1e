"use client";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert, fieldError } from "@/components/error-alert";
import { RolePicker } from "@/components/role-picker";
import { Button } from "@/components/ui/button";
import { Alert, Card } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { DataTable } from "@/components/ui/table";
import { useActingTenant } from "@/lib/acting-tenant";
import { api } from "@/lib/api";
import { useT } from "@/lib/i18n";

export default function ServiceAccountsPage() {
  const t = useT();
  const acting = useActingTenant((s) => s.tenantId);
  const queryClient = useQueryClient();
  const [roles, setRoles] = useState<string[]>([]);
  const form = useForm<{ name: string }>({ defaultValues: { name: "" } });
  const list = useQuery({
    queryKey: ["service-accounts", acting],
    queryFn: () => api("ServiceAccountService_ListServiceAccounts"),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["service-accounts"] });
  // The key is kept only in this component's state: shown once, gone on navigation.
  const create = useMutation({
    mutationFn: ({ name }: { name: string }) => api("ServiceAccountService_CreateServiceAccount", { body: { name, roles } }),
    onSuccess: () => {
      form.reset();
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (serviceAccountId: string) => api("ServiceAccountService_DeleteServiceAccount", { path: { serviceAccountId } }),
    onSettled: refresh,
  });
  return (
    <AppShell title={t("serviceAccounts.title")}>
      <div className="flex flex-col gap-4">
        <Card>
          <h2 className="mb-3 text-lg font-semibold">{t("serviceAccounts.create")}</h2>
          <form onSubmit={form.handleSubmit((values) => create.mutate(values))} className="flex flex-col gap-3">
            <Field label={t("common.name")} error={fieldError(create.error, "name")}>
              <Input {...form.register("name", { required: true })} />
            </Field>
            <RolePicker legend={t("users.roles")} value={roles} onChange={setRoles} />
            <div>
              <Button type="submit" disabled={create.isPending}>
                {t("common.create")}
              </Button>
            </div>
          </form>
          {create.data?.apiKey ? (
            <Alert tone="success" className="mt-3">
              {t("serviceAccounts.keyOnce")} <code data-testid="api-key" className="break-all">{create.data.apiKey}</code>
            </Alert>
          ) : null}
          <ErrorAlert error={create.error} />
        </Card>
        <Card>
          <ErrorAlert error={list.error ?? remove.error} />
          <DataTable
            caption={t("serviceAccounts.title")}
            rows={list.data?.serviceAccounts ?? []}
            rowKey={(a) => a.serviceAccountId ?? ""}
            empty={t("common.none")}
            columns={[
              { header: t("common.name"), cell: (a) => a.name },
              { header: t("users.roles"), cell: (a) => (a.roles ?? []).join(", ") },
              { header: "prefix", cell: (a) => <code>{a.apiKeyPrefix}</code> },
              {
                header: t("common.actions"),
                cell: (a) => (
                  <Button variant="outline" size="sm" onClick={() => remove.mutate(a.serviceAccountId ?? "")}>
                    {t("common.delete")} <span className="sr-only">{a.name}</span>
                  </Button>
                ),
              },
            ]}
          />
        </Card>
      </div>
    </AppShell>
  );
}
