"use client";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert, fieldError } from "@/components/error-alert";
import { PermissionPicker } from "@/components/permission-picker";
import { Button } from "@/components/ui/button";
import { Badge, Card } from "@/components/ui/card";
import { Confirm } from "@/components/ui/confirm";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { DataTable } from "@/components/ui/table";
import { useActingTenant } from "@/lib/acting-tenant";
import { api } from "@/lib/api";
import { useT } from "@/lib/i18n";

export default function RolesPage() {
  const t = useT();
  const acting = useActingTenant((s) => s.tenantId);
  const queryClient = useQueryClient();
  const [permissions, setPermissions] = useState<string[]>([]);
  const form = useForm<{ name: string; description: string }>({ defaultValues: { name: "", description: "" } });
  const roles = useQuery({ queryKey: ["roles", acting], queryFn: () => api("RoleService_ListRoles") });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["roles"] });
  const create = useMutation({
    mutationFn: (values: { name: string; description: string }) =>
      api("RoleService_CreateRole", { body: { ...values, permissions } }),
    onSuccess: () => {
      form.reset();
      setPermissions([]);
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (name: string) => api("RoleService_DeleteRole", { path: { name } }),
    onSettled: refresh,
  });
  return (
    <AppShell title={t("roles.title")}>
      <div className="flex flex-col gap-4">
        <Card>
          <h2 className="mb-3 text-lg font-semibold">{t("roles.create")}</h2>
          <form onSubmit={form.handleSubmit((values) => create.mutate(values))} className="flex flex-col gap-3">
            <Field label={t("common.name")} error={fieldError(create.error, "name")}>
              <Input {...form.register("name", { required: true })} />
            </Field>
            <Field label={t("common.description")}>
              <Input {...form.register("description")} />
            </Field>
            <PermissionPicker value={permissions} onChange={setPermissions} />
            <ErrorAlert error={create.error} />
            <div>
              <Button type="submit" disabled={create.isPending}>
                {t("roles.create")}
              </Button>
            </div>
          </form>
        </Card>
        <Card>
          <ErrorAlert error={roles.error ?? remove.error} />
          <DataTable
            caption={t("roles.title")}
            rows={roles.data?.roles ?? []}
            rowKey={(role) => role.name ?? ""}
            empty={t("common.none")}
            columns={[
              { header: t("common.name"), cell: (role) => role.name },
              {
                header: t("common.description"),
                cell: (role) => (
                  <>
                    {role.description} {role.builtIn ? <Badge>{t("roles.builtIn")}</Badge> : null}
                  </>
                ),
              },
              { header: t("roles.permissions"), cell: (role) => (role.permissions ?? []).join(", ") },
              {
                header: t("common.actions"),
                cell: (role) =>
                  role.builtIn ? null : (
                    <Confirm
                      trigger={
                        <Button variant="outline" size="sm">
                          {t("common.delete")} <span className="sr-only">{role.name}</span>
                        </Button>
                      }
                      title={`${t("common.delete")}: ${role.name ?? ""}`}
                      confirmLabel={t("common.delete")}
                      cancelLabel={t("common.cancel")}
                      destructive
                      onConfirm={() => remove.mutate(role.name ?? "")}
                    />
                  ),
              },
            ]}
          />
        </Card>
      </div>
    </AppShell>
  );
}
