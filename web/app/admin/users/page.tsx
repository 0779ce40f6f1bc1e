"use client";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert, fieldError } from "@/components/error-alert";
import { Pager } from "@/components/pager";
import { RolePicker } from "@/components/role-picker";
import { Button } from "@/components/ui/button";
import { Badge, Card } from "@/components/ui/card";
import { Confirm } from "@/components/ui/confirm";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { DataTable } from "@/components/ui/table";
import { useActingTenant } from "@/lib/acting-tenant";
import { api } from "@/lib/api";
import { useLocaleStore, useT } from "@/lib/i18n";
import { usePageTokens } from "@/lib/paging";

export default function UsersPage() {
  const t = useT();
  const acting = useActingTenant((s) => s.tenantId);
  const queryClient = useQueryClient();
  const paging = usePageTokens();
  const users = useQuery({
    queryKey: ["users", acting, paging.pageToken],
    queryFn: () => api("UserService_ListUsers", { query: { pageSize: 50, pageToken: paging.pageToken || undefined } }),
  });
  const members = useQuery({
    queryKey: ["memberships", acting],
    queryFn: () => api("MembershipService_ListMemberships", { query: { pageSize: 500 } }),
  });
  const rolesOf = new Map((members.data?.memberships ?? []).map((m) => [m.userId ?? "", m.roles ?? []]));
  const disable = useMutation({
    mutationFn: (userId: string) => api("UserService_DisableUser", { path: { userId }, body: {} }),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ["users"] }),
  });
  // A member homed in another tenant leaves this one (their account stays theirs); someone homed
  // here is disabled instead (the service refuses to remove a home membership).
  const removeMember = useMutation({
    mutationFn: (userId: string) => api("MembershipService_RemoveMembership", { path: { userId } }),
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: ["users"] });
      void queryClient.invalidateQueries({ queryKey: ["memberships"] });
    },
  });
  return (
    <AppShell title={t("users.title")}>
      <div className="flex flex-col gap-4">
        <CreateUser />
        <Card>
          <ErrorAlert error={users.error ?? disable.error ?? removeMember.error} />
          <DataTable
            caption={t("users.title")}
            rows={users.data?.users ?? []}
            rowKey={(user) => user.userId ?? ""}
            empty={t("common.none")}
            columns={[
              { header: t("users.displayName"), cell: (user) => <span data-testid="user-name">{user.displayName}</span> },
              { header: t("common.email"), cell: (user) => user.email },
              { header: t("users.roles"), cell: (user) => (rolesOf.get(user.userId ?? "") ?? []).join(", ") },
              {
                header: t("common.state"),
                cell: (user) => (user.disabled ? <Badge>{t("users.disabled")}</Badge> : null),
              },
              {
                header: t("common.actions"),
                cell: (user) =>
                  user.external ? (
                    <Confirm
                      trigger={
                        <Button variant="outline" size="sm">
                          {t("users.remove")} <span className="sr-only">{user.email}</span>
                        </Button>
                      }
                      title={t("users.confirmRemove", { email: user.email ?? "" })}
                      confirmLabel={t("users.remove")}
                      cancelLabel={t("common.cancel")}
                      destructive
                      onConfirm={() => removeMember.mutate(user.userId ?? "")}
                    />
                  ) : user.disabled ? null : (
                    <Confirm
                      trigger={
                        <Button variant="outline" size="sm">
                          {t("users.disable")} <span className="sr-only">{user.email}</span>
                        </Button>
                      }
                      title={`${t("users.disable")}: ${user.email ?? ""}`}
                      confirmLabel={t("users.disable")}
                      cancelLabel={t("common.cancel")}
                      destructive
                      onConfirm={() => disable.mutate(user.userId ?? "")}
                    />
                  ),
              },
            ]}
          />
          <Pager paging={paging} nextPageToken={users.data?.nextPageToken} />
        </Card>
        <MembershipRoles />
      </div>
    </AppShell>
  );
}

function CreateUser() {
  const t = useT();
  const locale = useLocaleStore((s) => s.locale);
  const queryClient = useQueryClient();
  const [roles, setRoles] = useState<string[]>(["member"]);
  const form = useForm<{ email: string; displayName: string; password: string }>({
    defaultValues: { email: "", displayName: "", password: "" },
  });
  const create = useMutation({
    mutationFn: (values: { email: string; displayName: string; password: string }) =>
      api("UserService_CreateUser", {
        body: { user: { email: values.email, displayName: values.displayName }, password: values.password, roles, locale },
      }),
    onSuccess: () => {
      form.reset();
      void queryClient.invalidateQueries({ queryKey: ["users"] });
      void queryClient.invalidateQueries({ queryKey: ["memberships"] });
    },
  });
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">{t("users.create")}</h2>
      <form onSubmit={form.handleSubmit((values) => create.mutate(values))} className="grid gap-3 sm:grid-cols-2">
        <Field label={t("common.email")} error={fieldError(create.error, "email")}>
          <Input type="email" {...form.register("email", { required: true })} />
        </Field>
        <Field label={t("users.displayName")} error={fieldError(create.error, "display_name")}>
          <Input {...form.register("displayName")} />
        </Field>
        <Field label={t("users.password")} error={fieldError(create.error, "password")}>
          <Input type="password" autoComplete="new-password" {...form.register("password")} />
        </Field>
        <RolePicker legend={t("users.roles")} value={roles} onChange={setRoles} />
        <div className="sm:col-span-2">
          <Button type="submit" disabled={create.isPending}>
            {t("users.create")}
          </Button>
        </div>
      </form>
      <ErrorAlert error={create.error} />
    </Card>
  );
}

/** Change the roles a member holds in this tenant. */
function MembershipRoles() {
  const t = useT();
  const acting = useActingTenant((s) => s.tenantId);
  const queryClient = useQueryClient();
  const members = useQuery({
    queryKey: ["memberships", acting],
    queryFn: () => api("MembershipService_ListMemberships", { query: { pageSize: 500 } }),
  });
  const [userId, setUserId] = useState("");
  const [roles, setRoles] = useState<string[]>([]);
  const member = (members.data?.memberships ?? []).find((m) => m.userId === userId);
  const save = useMutation({
    mutationFn: () =>
      api("MembershipService_UpdateMembership", {
        path: { userId },
        query: { updateMask: "roles" },
        body: { roles, etag: member?.etag },
      }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["memberships"] }),
  });
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">{t("users.memberRoles")}</h2>
      <div className="flex flex-col gap-3">
        <Field label={t("users.member")}>
          <select
            className="h-9 rounded-md border border-slate-500 bg-white px-2 text-sm"
            value={userId}
            onChange={(event) => {
              setUserId(event.target.value);
              setRoles((members.data?.memberships ?? []).find((m) => m.userId === event.target.value)?.roles ?? []);
            }}
          >
            <option value="">—</option>
            {(members.data?.memberships ?? []).map((m) => (
              <option key={m.userId} value={m.userId}>
                {m.email}
              </option>
            ))}
          </select>
        </Field>
        {userId ? <RolePicker legend={t("users.roles")} value={roles} onChange={setRoles} /> : null}
        <ErrorAlert error={save.error} />
        <div>
          <Button disabled={!userId || save.isPending} onClick={() => save.mutate()}>
            {t("common.save")}
          </Button>
        </div>
      </div>
    </Card>
  );
}
