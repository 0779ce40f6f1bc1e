"use client";
// The tenant's roles: built-in ones (read only) and custom ones, created and edited with the
// permission picker (grouped by service), deleted when no member holds them.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Schema } from "@tenantmesh/sdk";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert, fieldError } from "@/components/error-alert";
import { PermissionPicker } from "@/components/permission-picker";
import { Button } from "@/components/ui/button";
import { Alert, Badge, Card } from "@/components/ui/card";
import { Confirm } from "@/components/ui/confirm";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { DataTable } from "@/components/ui/table";
import { useActingTenant } from "@/lib/acting-tenant";
import { api } from "@/lib/api";
import { useT } from "@/lib/i18n";

type Role = Schema<"tenantmesh.auth.v1.Role">;

export default function RolesPage() {
  const t = useT();
  const acting = useActingTenant((s) => s.tenantId);
  const queryClient = useQueryClient();
  const roles = useQuery({ queryKey: ["roles", acting], queryFn: () => api("RoleService_ListRoles") });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["roles"] });
  // The role being edited (a fresh form each time: `key` below).
  const [editing, setEditing] = useState<Role | null>(null);
  const remove = useMutation({
    mutationFn: (name: string) => api("RoleService_DeleteRole", { path: { name } }),
    onSettled: refresh,
  });
  return (
    <AppShell title={t("roles.title")}>
      <div className="flex flex-col gap-4">
        {editing ? (
          <RoleForm
            key={editing.name}
            role={editing}
            onDone={() => {
              setEditing(null);
              refresh();
            }}
          />
        ) : (
          <RoleForm key="new" onDone={refresh} />
        )}
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
                    <div className="flex gap-2">
                      <Button variant="outline" size="sm" onClick={() => setEditing(role)}>
                        {t("roles.edit")} <span className="sr-only">{role.name}</span>
                      </Button>
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
                    </div>
                  ),
              },
            ]}
          />
        </Card>
      </div>
    </AppShell>
  );
}

/** Creates a role, or (given `role`) changes its description and permissions: the etag it was
 * read with goes along, so a change someone else made meanwhile is refused, not overwritten. */
function RoleForm({ role, onDone }: { role?: Role; onDone: () => void }) {
  const t = useT();
  const [name, setName] = useState(role?.name ?? "");
  const [description, setDescription] = useState(role?.description ?? "");
  const [permissions, setPermissions] = useState<string[]>(role?.permissions ?? []);
  const save = useMutation({
    mutationFn: () =>
      role
        ? api("RoleService_UpdateRole", {
            path: { name: role.name ?? "" },
            query: { updateMask: "description,permissions" },
            body: { description, permissions, etag: role.etag },
          })
        : api("RoleService_CreateRole", { body: { name, description, permissions } }),
    onSuccess: () => {
      if (!role) {
        setName("");
        setDescription("");
        setPermissions([]);
      }
      onDone();
    },
  });
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">{role ? t("roles.editing", { name: role.name ?? "" }) : t("roles.create")}</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
        className="flex flex-col gap-3"
      >
        {role ? null : (
          <Field label={t("common.name")} error={fieldError(save.error, "name")}>
            <Input required value={name} onChange={(event) => setName(event.target.value)} />
          </Field>
        )}
        <Field label={t("common.description")} error={fieldError(save.error, "description")}>
          <Input value={description} onChange={(event) => setDescription(event.target.value)} />
        </Field>
        <PermissionPicker value={permissions} onChange={setPermissions} />
        <ErrorAlert error={save.error} />
        {save.isSuccess && !role ? <Alert tone="success">{t("roles.saved")}</Alert> : null}
        <div className="flex gap-2">
          <Button type="submit" disabled={save.isPending}>
            {role ? t("common.save") : t("roles.create")}
          </Button>
          {role ? (
            <Button type="button" variant="outline" onClick={onDone}>
              {t("common.cancel")}
            </Button>
          ) : null}
        </div>
      </form>
    </Card>
  );
}
