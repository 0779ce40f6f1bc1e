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
import { Input, Select } from "@/components/ui/input";
import { DataTable } from "@/components/ui/table";
import { useActingTenant } from "@/lib/acting-tenant";
import { api } from "@/lib/api";
import { useFormat, useT } from "@/lib/i18n";
import { isLocale, type Locale } from "@/lib/messages";
import { stateLabel } from "@/lib/tenants";

export default function InvitationsPage() {
  const t = useT();
  const fmt = useFormat();
  const acting = useActingTenant((s) => s.tenantId);
  const queryClient = useQueryClient();
  const [roles, setRoles] = useState<string[]>(["member"]);
  const [locale, setLocale] = useState<Locale>("en");
  const form = useForm<{ email: string }>({ defaultValues: { email: "" } });
  const list = useQuery({
    queryKey: ["invitations", acting],
    queryFn: () => api("InvitationService_ListInvitations", { query: { pageSize: 100 } }),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["invitations"] });
  const invite = useMutation({
    mutationFn: ({ email }: { email: string }) => api("InvitationService_CreateInvitation", { body: { email, roles, locale } }),
    onSuccess: () => {
      form.reset();
      refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: (invitationId: string) => api("InvitationService_RevokeInvitation", { path: { invitationId }, body: {} }),
    onSettled: refresh,
  });
  // A new mail with a new link and expiry; the previous link stops working.
  const resend = useMutation({
    mutationFn: (invitation: { invitationId?: string; email?: string }) =>
      api("InvitationService_ResendInvitation", { path: { invitationId: invitation.invitationId ?? "" }, body: {} }),
    onSettled: refresh,
  });
  return (
    <AppShell title={t("invitations.title")}>
      <div className="flex flex-col gap-4">
        <Card>
          <form onSubmit={form.handleSubmit((values) => invite.mutate(values))} className="grid gap-3 sm:grid-cols-2">
            <Field label={t("common.email")} error={fieldError(invite.error, "email")}>
              <Input type="email" {...form.register("email", { required: true })} />
            </Field>
            <Field label={t("app.language")}>
              <Select value={locale} onChange={(event) => isLocale(event.target.value) && setLocale(event.target.value)}>
                <option value="en">English</option>
                <option value="id">Bahasa Indonesia</option>
              </Select>
            </Field>
            <RolePicker legend={t("users.roles")} value={roles} onChange={setRoles} />
            <div className="sm:col-span-2">
              <Button type="submit" disabled={invite.isPending}>
                {t("invitations.invite")}
              </Button>
            </div>
          </form>
          {invite.isSuccess ? (
            <Alert tone="success" className="mt-3">
              {t("invitations.sent", { email: invite.variables.email })}
            </Alert>
          ) : null}
          <ErrorAlert error={invite.error} />
        </Card>
        <Card>
          <ErrorAlert error={list.error ?? revoke.error ?? resend.error} />
          {resend.isSuccess ? (
            <Alert tone="success" className="mb-3">
              {t("invitations.resent", { email: resend.variables.email ?? "" })}
            </Alert>
          ) : null}
          <DataTable
            caption={t("invitations.title")}
            rows={list.data?.invitations ?? []}
            rowKey={(i) => i.invitationId ?? ""}
            empty={t("common.none")}
            columns={[
              { header: t("common.email"), cell: (i) => i.email },
              { header: t("users.roles"), cell: (i) => (i.roles ?? []).join(", ") },
              { header: t("common.state"), cell: (i) => stateLabel(t, i.state, "INVITATION_STATE_") },
              { header: t("invitations.expires"), cell: (i) => fmt.dateTime(i.expireTime) },
              {
                header: t("common.actions"),
                cell: (i) => (
                  <div className="flex gap-2">
                    {i.state === "INVITATION_STATE_PENDING" || i.state === "INVITATION_STATE_EXPIRED" ? (
                      <Button variant="outline" size="sm" disabled={resend.isPending} onClick={() => resend.mutate(i)}>
                        {t("invitations.resend")} <span className="sr-only">{i.email}</span>
                      </Button>
                    ) : null}
                    {i.state === "INVITATION_STATE_PENDING" ? (
                      <Button variant="outline" size="sm" onClick={() => revoke.mutate(i.invitationId ?? "")}>
                        {t("invitations.revoke")} <span className="sr-only">{i.email}</span>
                      </Button>
                    ) : null}
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
