"use client";
// The signed-in person's own account: password and second factor.
import { useState } from "react";
import { useForm } from "react-hook-form";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert, fieldError } from "@/components/error-alert";
import { Button } from "@/components/ui/button";
import { Alert, Card } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { api } from "@/lib/api";
import { useT } from "@/lib/i18n";
import { tokenTenant, useSession } from "@/lib/session";

export default function AccountPage() {
  const t = useT();
  return (
    <AppShell title={t("account.title")}>
      <div className="flex flex-col gap-4">
        <ChangePassword />
        <SecondFactor />
      </div>
    </AppShell>
  );
}

function ChangePassword() {
  const t = useT();
  const tenantId = tokenTenant(useSession((s) => s.tokens));
  const form = useForm<{ currentPassword: string; newPassword: string }>({
    defaultValues: { currentPassword: "", newPassword: "" },
  });
  const change = useMutation({
    mutationFn: (values: { currentPassword: string; newPassword: string }) =>
      api("AuthService_ChangePassword", { body: values, tenantId }),
    onSuccess: () => form.reset(),
  });
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">{t("account.changePassword")}</h2>
      <form onSubmit={form.handleSubmit((v) => change.mutate(v))} className="flex flex-col gap-3">
        <Field label={t("account.currentPassword")}>
          <Input type="password" autoComplete="current-password" {...form.register("currentPassword", { required: true })} />
        </Field>
        <Field label={t("reset.newPassword")} error={fieldError(change.error, "new_password")}>
          <Input type="password" autoComplete="new-password" {...form.register("newPassword", { required: true })} />
        </Field>
        <ErrorAlert error={change.error} />
        {change.isSuccess ? <Alert tone="success">✓</Alert> : null}
        <div>
          <Button type="submit">{t("account.changePassword")}</Button>
        </div>
      </form>
    </Card>
  );
}

function SecondFactor() {
  const t = useT();
  const tenantId = tokenTenant(useSession((s) => s.tokens));
  const queryClient = useQueryClient();
  const status = useQuery({ queryKey: ["mfa", tenantId], queryFn: () => api("MfaService_GetMfaStatus", { tenantId }) });
  const [code, setCode] = useState("");
  const enrol = useMutation({ mutationFn: () => api("MfaService_EnrolTotp", { body: {}, tenantId }) });
  const confirm = useMutation({
    mutationFn: () => api("MfaService_ConfirmTotp", { body: { code }, tenantId }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["mfa"] }),
  });
  const enrolled = (status.data as { totpEnabled?: boolean } | undefined)?.totpEnabled === true;
  return (
    <Card>
      <h2 className="mb-3 text-lg font-semibold">{t("account.mfa")}</h2>
      {confirm.data?.recoveryCodes ? (
        <Alert tone="success">
          {t("account.recoveryCodes")}
          <ul className="mt-1 font-mono">
            {confirm.data.recoveryCodes.map((c) => (
              <li key={c}>{c}</li>
            ))}
          </ul>
        </Alert>
      ) : enrolled ? (
        <Alert tone="info">{t("account.mfaOn")}</Alert>
      ) : enrol.data?.totp ? (
        <div className="flex flex-col gap-3">
          <p>
            {t("account.mfaSecret")}: <code data-testid="totp-secret">{enrol.data.totp.secret}</code>
          </p>
          <Field label={t("account.mfaConfirm")}>
            <Input autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} />
          </Field>
          <div>
            <Button onClick={() => confirm.mutate()}>{t("common.confirm")}</Button>
          </div>
        </div>
      ) : (
        <Button onClick={() => enrol.mutate()}>{t("account.mfaEnrol")}</Button>
      )}
      <ErrorAlert error={status.error ?? enrol.error ?? confirm.error} />
    </Card>
  );
}
